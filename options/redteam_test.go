package options

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// watchdog is the safety bound of the red-team tests: far above the 50 ms limit (a broken limit
// fails by name within seconds), not a performance assertion.
const watchdog = 10 * time.Second

// builtinLoops are the scripts of issue 10: all their work happens inside built-ins that call
// other built-ins (a built-in passed as a callback, call/bind/apply of built-ins), where goja
// runs no script code and so checks no interrupt. Each runs in resolve, for every user but the
// sample one (so it installs), and as the body of an install.
var builtinLoops = []struct{ name, body string }{
	{"map with call of toUpperCase (the issue's script)", `var s = "x".repeat(2e4), call = (function () {}).call;
		Array(2e4).fill(s).map(call, String.prototype.toUpperCase);`},
	{"map with normalize bound to a long string", `var s = "\u00e9".repeat(2e4);
		Array(2e4).fill("NFD").map(String.prototype.normalize.bind(s));`},
	{"forEach with localeCompare bound to a long string", `var s = "\u00e9".repeat(2e4);
		Array(2e4).fill(s).forEach(String.prototype.localeCompare.bind(s));`},
	{"map with apply of a bound localeCompare", `var s = "\u00e9".repeat(2e4), apply = (function () {}).apply;
		Array(2e4).fill([s]).map(function (a) { return a; }).map(apply.bind(String.prototype.localeCompare, s));`},
	{"sort with a comparator bound to localeCompare", `var s = "\u00e9".repeat(19999);
		var a = Array(2e4).fill(0).map(function (_, i) { return s + (i % 10); });
		a.sort((function () {}).call.bind(String.prototype.localeCompare));`},
	{"reduce with bound call of concat", `var s = "x".repeat(2e4);
		Array(2e4).fill(s).reduce((function () {}).call.bind(String.prototype.localeCompare), s);`},
	{"replaceAll with a bound native replacer", `var s = "x".repeat(2e4);
		for (;;) s.replaceAll("x", (function () {}).call.bind(String.prototype.toUpperCase));`},
	{"replace with padEnd replacer growing the result", `"x".repeat(2e4).replaceAll("x", (function () {}).call.bind(String.prototype.padEnd));`},
	{"JSON.parse reviver bound to a native", `var t = "[" + Array(90).fill("\"" + "\u00e9".repeat(19) + "\"").join(",") + "]";
		for (;;) JSON.parse(t, (function () {}).call.bind(String.prototype.toUpperCase));`},
	{"nested natives: map inside map by bind", `var inner = Array.prototype.map.bind(Array(2e4).fill("\u00e9".repeat(200)), (function () {}).call, String.prototype.toUpperCase);
		Array(2e4).fill(0).map((function () {}).call, inner);`},
	{"a string grown past the cap by + goes into no built-in", `var s = "\u00e9".repeat(2e4); for (var i = 0; i < 8; i++) s += s;
		Array(2e4).fill(s).map((function () {}).call, String.prototype.normalize);`},
	{"Set and Map callbacks", `var m = new Map(); for (var i = 0; i < 2e4; i++) m.set(i, "\u00e9".repeat(2e4));
		for (;;) m.forEach((function () {}).call, String.prototype.normalize);`},
	{"promise job chain", `var p = Promise.resolve(); for (;;) p = p.then((function () {}).call.bind(String.prototype.normalize, "\u00e9".repeat(2e4)));`},
}

// TestBuiltinLoopsStop: each script of builtinLoops ends within the watchdog with ErrTimeLimit
// or ErrSizeLimit, as an install (refused, the previous script stays in force) and as an order
// (script_failed), and the heap does not keep what the script allocated.
func TestBuiltinLoopsStop(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range builtinLoops {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			ctx := context.Background()
			e, err := NewEngine(ctx, &fakeStore{}, &EngineConfig{RefreshInterval: -1})
			is.NoErr(err)
			_, before, _ := e.Current(ctx)
			var installErr error
			live, _ := heapGrowth(func() {
				within(t, watchdog, func() { _, installErr = e.Install(ctx, withResolve(tt.body), before) })
			})
			is.True(errors.Is(installErr, ErrInvalidScript))
			is.True(errors.Is(installErr, ErrTimeLimit) || errors.Is(installErr, ErrSizeLimit))
			_, after, _ := e.Current(ctx)
			is.Equal(after, before)
			is.True(live < 64*mib)

			src := DefaultSource() + "\nfunction resolve(ctx) {\nif (ctx.user !== null && ctx.user.id !== 'sample-user') {\n" + tt.body + "\n}\nreturn options;\n}\n"
			v, err := e.Install(ctx, src, before)
			is.NoErr(err)
			var resolveErr error
			live, _ = heapGrowth(func() {
				within(t, watchdog, func() { _, resolveErr = e.Resolve(ctx, operatorRequest()) })
			})
			is.True(errors.Is(resolveErr, ErrScriptFailed))
			is.True(errors.Is(resolveErr, ErrTimeLimit) || errors.Is(resolveErr, ErrSizeLimit))
			is.True(live < 64*mib)
			// The runtime it ran on is replaced or clean: the next order on the same engine
			// with an honest user still works.
			_, cur, _ := e.Current(ctx)
			is.Equal(cur, v)
			r, err := e.Resolve(ctx, sampleRequest("operator"))
			is.NoErr(err)
			is.Equal(r.ScriptVersion, v)
		})
	}
}

// within runs f and fails the test by name if it does not return within d.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("did not end within the watchdog deadline of %v", d)
	}
}

// TestBuiltinLoopsInMemoryCappedChild: the script made the example host die with
// "fatal error: out of memory". In a child process under a 2 GB address-space cap, the whole
// family runs as orders, one after the other and eight at once, and the child survives.
func TestBuiltinLoopsInMemoryCappedChild(t *testing.T) {
	inMemoryCappedChild(t, 3_000_000, builtinLoopsChild)
}

// inMemoryCappedChild runs the test t again in a child process under an address-space cap of
// capKB KiB (ulimit -v), where it calls child; the parent passes when the child's test passes.
// A fatal runtime error (out of memory, a Go stack overflow) kills only the child.
func inMemoryCappedChild(t *testing.T, capKB int, child func(*testing.T)) {
	if os.Getenv("OPTIONS_CHILD") == t.Name() {
		child(t)
		return
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to set a memory cap")
	}
	cmd := exec.Command("sh", "-c", fmt.Sprintf(`ulimit -v %d && exec "$0" -test.run='^%s$' -test.v`, capKB, t.Name()), os.Args[0])
	cmd.Env = append(os.Environ(), "OPTIONS_CHILD="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func builtinLoopsChild(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(ctx, &fakeStore{}, &EngineConfig{RefreshInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	for i, tt := range builtinLoops {
		body.WriteString("if (ctx.actor.id === 'op-" + string(rune('a'+i)) + "') {\n" + tt.body + "\n}\n")
	}
	_, v, _ := e.Current(ctx)
	src := DefaultSource() + "\nfunction resolve(ctx) {\nif (ctx.user !== null && ctx.user.id !== 'sample-user') {\n" + body.String() + "\n}\nreturn options;\n}\n"
	if _, err := e.Install(ctx, src, v); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8*len(builtinLoops))
	for round := 0; round < 2; round++ {
		for i := range builtinLoops {
			go func() {
				req := operatorRequest()
				req.Actor.ID = "op-" + string(rune('a'+i))
				_, err := e.Resolve(ctx, req)
				errs <- err
			}()
		}
	}
	// A safety bound: each order stops at its time limit of CPU time, or on a machine too busy
	// to give it that much, at the time limit plus WallSlack of wall time; MaxConcurrent run at
	// once.
	rounds := time.Duration(2*len(builtinLoops)/e.lim.MaxConcurrent + 1)
	within(t, 6*watchdog+rounds*(e.lim.TimeLimit+WallSlack), func() {
		for range 2 * len(builtinLoops) {
			if err := <-errs; !errors.Is(err, ErrScriptFailed) {
				t.Errorf("want script_failed, got %v", err)
			}
		}
	})
}
