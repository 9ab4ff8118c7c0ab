package options

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

func TestFindKey(t *testing.T) {
	tests := []struct {
		src, key string
		want     int
	}{
		{"var options = { enabled: true }", "enabled", 16},
		{"x.enabled2 = 1; enabled = 2", "enabled", 16},
		{`{ "queueCards" : true }`, "queueCards", 3},
		{"aenabled: 1", "enabled", -1},
		{"aaaab: 1", "aab", -1},
		{"aaab: 1, aab: 2", "aab", 9},
		{"enabled\n\n  (", "enabled", 0},
		{"enabled", "enabled", -1},
	}
	for _, tt := range tests {
		if got := findKey(tt.src, tt.key); got != tt.want {
			t.Errorf("findKey(%q, %q) = %d, want %d", tt.src, tt.key, got, tt.want)
		}
	}
}

// TestUnknownOptionNameLocatedInLinearTime: the red-team script of issue 10 (an unknown option
// whose name is most of a 250 KB source) took 75 s to load, because locating the name searched
// the source with a pattern built from it. Load now ends in well under a second; the watchdog
// deadline is generous (a safety bound, not a performance assertion).
func TestUnknownOptionNameLocatedInLinearTime(t *testing.T) {
	is := is.New(t)
	name := strings.Repeat("a", 120_000)
	src := strings.Replace(DefaultSource(), "queueCards: true", "queueCards: true, "+name+": true", 1) +
		"\n// " + strings.Repeat("a", 120_000) + "\n"
	for _, name := range []string{name, "a" + strings.Repeat("ab", 60)} {
		done := make(chan error, 1)
		go func() {
			_, err := Load(strings.Replace(src, strings.Repeat("a", 120_000)+": true", name+": true", 1), Limits{})
			done <- err
		}()
		select {
		case err := <-done:
			is.True(errors.Is(err, ErrInvalidScript))
		case <-time.After(20 * time.Second):
			t.Fatal("Load of a script with a long unknown option name did not end within 20 s")
		}
	}
}
