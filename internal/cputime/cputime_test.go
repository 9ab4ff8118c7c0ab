package cputime_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/internal/cputime"
)

// Work on the CPU shows as CPU time; the test gives up by name after 10 s of wall time.
func TestProcessGrowsWithWork(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("not measured on this platform")
	}
	before := cputime.Process()
	deadline := time.Now().Add(10 * time.Second)
	sum := 0
	for cputime.Process() < before+10*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("10 s of busy work showed as %v of CPU time", cputime.Process()-before)
		}
		for i := range 100_000 {
			sum += i
		}
	}
	_ = sum
}
