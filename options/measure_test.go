package options

import (
	"context"
	"errors"
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
		{"doubling from the repeat cap", `var s = "x".repeat(1000000); while (true) s = s + s;`},
		{"doubling twice per step", `var s = "x".repeat(1000000); while (true) s = s + s + s + s;`},
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

// TestCatastrophicRegexp proves the regular-expression defence: a pattern that would
// backtrack exponentially (here with a back-reference, so goja would use regexp2, which
// nothing can interrupt) is refused at once, at load for a literal and at run time for a
// pattern built from a string; the same pattern without the back-reference runs on Go's
// linear-time engine and answers quickly.
func TestCatastrophicRegexp(t *testing.T) {
	is := is.New(t)
	input := `"` + longWord(5000) + `!"`
	start := time.Now()
	_, err := Load(withResolve(`/^(\w+\s?)*\1$/.test(`+input+`);`), Limits{})
	is.True(errors.Is(err, ErrInvalidScript))
	s := MustLoadIgnoringSamples(t, withResolve(`new RegExp("^(\\w+\\s?)*\\1$").test(`+input+`);`))
	_, err = s.Resolve(context.Background(), operatorRequest())
	is.True(errors.Is(err, ErrScriptFailed))
	s = MustLoad(withResolve(`if (/^(\w+\s?)*$/.test(`+input+`)) throw new Error("matched");`), Limits{})
	_, err = s.Resolve(context.Background(), operatorRequest())
	is.NoErr(err)
	is.True(time.Since(start) < 2*time.Second)
}

func longWord(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}
