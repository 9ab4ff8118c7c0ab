package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependenciesPointInward checks docs/writing-an-adapter.md's rule: the domain pulls in no goja, net/http or
// SQL, and no driven adapter imports the domain.
func TestDependenciesPointInward(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	const mod = "github.com/cardsaddon/extprod/"
	for _, d := range deps(mod + "cardorder") {
		if strings.Contains(d, "goja") || d == "net/http" || d == "database/sql" {
			t.Errorf("cardorder depends on %s", d)
		}
	}
	for _, adapter := range []string{"adapters/memory", "adapters/gocards", "adapters/gocards/gocardsfake", "options", "ports/portstest"} {
		for _, d := range deps(mod + adapter) {
			if d == mod+"cardorder" {
				t.Errorf("%s imports cardorder", adapter)
			}
		}
	}
}
