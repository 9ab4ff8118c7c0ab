package options

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"
)

// TestGoArrayGuards: the Array.prototype guards installed from Go (guardArrayMethods) behave as
// the JavaScript ones did: every guarded method refuses array-likes and over-long arrays, and an
// exception or an interrupt inside a callback goes through the guard unchanged.
func TestGoArrayGuards(t *testing.T) {
	is := is.New(t)
	_, err := Load(withResolve(`
		var methods = Object.getOwnPropertyNames(Array.prototype).filter(function (n) {
			return typeof Array.prototype[n] === "function" && n !== "constructor";
		});
		var long = []; long.length = 1e9;
		methods.forEach(function (n) {
			try { Array.prototype[n].call({ length: 1e9 }); throw new Error("array-like accepted by " + n); }
			catch (e) { if (!(e instanceof TypeError) && String(e).indexOf("limit") < 0) throw e; }
			try { long[n](); throw new Error("long array accepted by " + n); }
			catch (e) { if (String(e).indexOf("limit") < 0) throw new Error(n + ": " + e); }
		});
		var caught;
		try { [1].map(function () { throw new RangeError("inner"); }); } catch (e) { caught = e; }
		if (!(caught instanceof RangeError) || caught.message !== "inner") throw new Error("exception changed");
		if ([3, 1, 2].sort().join() !== "1,2,3" || [1, 2].map(function (x) { return x * 2; })[1] !== 4) throw new Error("wrong result");`), Limits{})
	is.NoErr(err)

	s, err := Load(DefaultSource()+"\nfunction resolve(ctx) { if (ctx.user && ctx.user.id === 'u-1') [1].forEach(function () { while (true) {} }); return options; }", Limits{})
	is.NoErr(err)
	start := time.Now()
	_, err = s.Resolve(context.Background(), operatorRequest())
	is.True(errors.Is(err, ErrTimeLimit))
	is.True(time.Since(start) < 5*time.Second)
	var se *ScriptError
	is.True(errors.As(err, &se))
	is.Equal(se.Line, len(splitLines(DefaultSource()))+1) // the loop's line, inside the callback
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
