package options

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// TestConcatenationGrowth measures what the sandbox leaves to the time limit: string growth by
// concatenation (+, +=, template literals), which no built-in can cap. The figures go into the
// package documentation; the test only checks the run ends with ErrTimeLimit.
func TestConcatenationGrowth(t *testing.T) {
	for _, tt := range []struct{ name, body string }{
		{"doubling from one character", `var s = "x"; while (true) s += s;`},
		{"doubling from the repeat cap", `var s = "x".repeat(20000); while (true) s = s + s;`},
		{"doubling twice per step", `var s = "x".repeat(20000); while (true) s = s + s + s + s;`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			var err error
			start := time.Now()
			live, total := heapGrowth(func() { _, err = Load(withResolve(tt.body), Limits{}) })
			is.True(errors.Is(err, ErrTimeLimit))
			t.Logf("heap grew %d MiB (allocated %d MiB) in %v", live>>20, total>>20, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestRedTeamScriptsFailFast: the scripts of the red-team review that crashed the process, or
// ran for seconds uninterruptibly, or allocated without bound, now fail at once with a typed
// error. The nesting scripts run in a child process under a memory cap (ulimit -v): without the
// fix they overflow the Go stack, which no recover can catch.
func TestRedTeamScriptsFailFast(t *testing.T) {
	inMemoryCappedChild(t, 2_000_000, redTeamChild)
}

func redTeamChild(t *testing.T) {
	const n = 499990
	for _, src := range []string{
		"var options = " + strings.Repeat("[", n) + strings.Repeat("]", n),
		"var options = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n),
		"var options = " + strings.Repeat("!", 1e6) + "1",
		"var options = " + strings.Repeat("[", 130000) + strings.Repeat("]", 130000),
		"var options = " + strings.Repeat("!", 250000) + "1",
		"var options = " + strings.Repeat("a:", 100000) + "1",
		`var r = /(a+)+b/g; r.lastIndex = 1; r.exec("x" + "a".repeat(28));`,
		`var options = BigInt.asUintN(2 ** 40, -1n);`,
		`var options = 1n << (2n ** 40n);`,
		`var options = 2n ** 400000000n;`,
	} {
		start := time.Now()
		_, err := Load(src, Limits{})
		var se *ScriptError
		if !errors.Is(err, ErrInvalidScript) || !errors.As(err, &se) {
			t.Fatalf("%.40q: %v", src, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%.40q: took %v", src, d)
		}
	}
	// At run time: no way to build a regular expression or a BigInt remains.
	for _, body := range []string{
		`new RegExp("(a+)+b", "g").exec("x" + "a".repeat(28));`,
		`"x".repeat(28).match("(a+)+b");`,
		`"x".repeat(28).search("(a+)+b");`,
		`Object.getPrototypeOf("").match.call("aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "(a+)+b");`,
		`BigInt(1);`,
	} {
		s := MustLoadIgnoringSamples(t, withResolve(body))
		start := time.Now()
		_, err := s.Resolve(context.Background(), operatorRequest())
		if !errors.Is(err, ErrScriptFailed) || time.Since(start) > time.Second {
			t.Fatalf("%s: %v after %v", body, err, time.Since(start))
		}
	}
}
