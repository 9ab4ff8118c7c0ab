package options

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

// TestSharable: which scripts may share their top level between calls (shared.go).
func TestSharable(t *testing.T) {
	base := enabledDefault()
	tests := []struct {
		name, src string
		want      bool
	}{
		{"the default script", base, true},
		{"resolve and mapUserToCard", memoScript, true},
		{"data and helpers", base + `var table = { Finance: true, "R&D": [1, -2, "x", null, undefined, ` + "`t`" + `] };
			const helper = function (x) { return table[x] === true; }, arrow = (x) => x;
			let short = { table };
			function resolve(ctx) { var o = Object.assign({}, options); o.approvalStep = helper(ctx.channel); return o; }`, true},
		{"writes through a local name", base + `function resolve(ctx) { var o = options; o.approvalStep = true; return o; }`, true},
		{"a property named like a top-level name", base + `function resolve(ctx) { var o = {}; o.options = 1; o.resolve++; return options; }`, true},
		{"arguments as a property in an arrow", base + `function resolve(ctx) { var f = (x) => x.arguments; return f({}) === undefined ? options : options; }`, true},
		{"a call at the top level", base + `var x = Object.keys(options);`, false},
		{"a member read at the top level", base + `var x = options.enabled;`, false},
		{"a computed key", base + `var x = { ["a" + "b"]: 1 };`, false},
		{"a spread", base + `var x = { ...options };`, false},
		{"a statement at the top level", base + `if (true) {}`, false},
		{"a class at the top level", base + `class C {}`, false},
		{"a function assigns a top-level name", base + `var n = 0; function resolve(ctx) { n = 1; return options; }`, false},
		{"a function counts in a top-level name", base + `var n = 0; function resolve(ctx) { n++; return options; }`, false},
		{"a nested function assigns a top-level name", base + `var n = 0; function resolve(ctx) { [1].forEach(function () { n += 1; }); return options; }`, false},
		{"destructuring into a top-level name", base + `var n = 0; function resolve(ctx) { [n] = [1]; return options; }`, false},
		{"for-in into a top-level name", base + `var k; function resolve(ctx) { for (k in ctx) {} return options; }`, false},
		{"a function replaces resolve", base + `function resolve(ctx) { resolve = null; return options; }`, false},
		{"writes to a top-level object by its name", base + `function resolve(ctx) { options.approvalStep = true; return options; }`, false},
		{"try", base + `function resolve(ctx) { try { return options; } catch (e) { return options; } }`, false},
		{"a promise", base + `function resolve(ctx) { Promise.resolve(1); return options; }`, false},
		{"then", base + `function resolve(ctx) { var p = ctx.x; if (p) p.then(function () {}); return options; }`, false},
		{"an async function", base + `async function f() {} function resolve(ctx) { return options; }`, false},
		{"Reflect", base + `function resolve(ctx) { Reflect.set({}, "a", 1); return options; }`, false},
		{"isFrozen", base + `function resolve(ctx) { return Object.isFrozen(options) ? options : options; }`, false},
		{"isFrozen as a string", base + `function resolve(ctx) { return Object["isFrozen"](options) ? options : options; }`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			prg, err := parser.ParseFile(nil, scriptName, tt.src, 0, parser.WithDisableSourceMaps)
			is.NoErr(err)
			_, ok := sharable(prg)
			is.Equal(ok, tt.want)
			s, err := Load(tt.src, Limits{})
			is.NoErr(err)
			is.Equal(s.shared != nil, tt.want)
		})
	}
}

// sharedAttempts is a sharable script whose resolve writes, through local names, to every
// kind of object its top level made — chosen by the user's department — and first looks for
// anything an earlier order left there (selectProductionType: true in its result). On a shared top level each write throws, and the call runs
// again on a fresh top level, where it succeeds: the results are those of fresh top levels.
var sharedAttempts = enabledDefault() + `
var box = { n: 0, list: [] };
var helper = function () { return box; };
function resolve(ctx) {
  if (ctx.user === null) return options;
  var id = ctx.user.id; // (read, so that every order runs: the memo keys on it)
  var b = box, l = box.list, o = options, pts = options.productionTypes, f = resolve, h = helper, p = resolve.prototype;
  var leaked = b.n !== 0 || l.length !== 0 || b.extra !== undefined || o.approvalStep !== false || pts.length !== 1 ||
      f.mark !== undefined || h.mark !== undefined || p.mark !== undefined || helper() !== box;
  var wrote = true;
  switch (ctx.user.department) {
  case "counter": b.n = 1; break;
  case "push": l.push(1); break;
  case "new property": b.extra = 1; break;
  case "delete": delete b.n; b.n = 0; break;
  case "production types": pts.push({ id: "x", layoutId: "y", label: "z" }); pts.pop(); break;
  case "function": f.mark = 1; h.mark = 1; break;
  case "prototype": p.mark = 1; break;
  case "define": Object.defineProperty(b, "n", { value: 0 }); break;
  case "assign": Object.assign(o, { queueCards: false }); o.queueCards = true; break;
  case "options": o.approvalStep = true; return o;
  default: wrote = false;
  }
  return Object.assign({}, options, { allowMultipleCardOrders: wrote, selectProductionType: leaked });
}`

// TestSharedTopLevelKeepsNothing: orders that write to the shared top level's objects get the
// results of a fresh top level, and no later order sees what they wrote; and the top level was
// shared (the runtime keeps it for the next call).
func TestSharedTopLevelKeepsNothing(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	s, err := Load(sharedAttempts, Limits{MaxConcurrent: 1})
	is.NoErr(err)
	is.True(s.shared != nil)
	writes := []string{"counter", "push", "new property", "delete", "production types", "function", "prototype", "define", "assign", "options"}
	for round := 0; round < 3; round++ {
		for i, w := range append(writes, "none") {
			u := *testUser
			u.ID, u.Department = fmt.Sprint("u-", round, "-", i), w
			r, err := s.Resolve(ctx, ports.OptionsRequest{User: &u, Actor: operatorRequest().Actor, Channel: ports.ChannelOperator})
			is.NoErr(err)
			// A write fell back, and the script stopped sharing (defining a property as it is
			// is no change, and allowed on a frozen object).
			if fellBack := w != "none" && w != "define"; s.sharingOff.Load() != fellBack {
				t.Errorf("%s: stopped sharing %v", w, s.sharingOff.Load())
			}
			s.sharingOff.Store(false)                // (shared again, to try the next write)
			is.True(!r.Options.SelectProductionType) // nothing left by the orders before
			is.Equal(r.Options.ApprovalStep, w == "options")
			is.Equal(r.Options.AllowMultipleCardOrders, w != "options" && w != "none")
			is.Equal(len(r.Options.ProductionTypes), 1)
		}
	}
	sb := <-s.pool.idle
	defer func() { s.pool.idle <- sb }()
	is.True(sb.shared == s.shared && sb.sharedOK) // the top level is shared on this runtime
	frozen, err := sb.isFrozen(nil, sb.sharedG.options)
	is.NoErr(err)
	is.True(frozen.ToBoolean())
}

// TestRuntimesOfStampingScriptsAreReplaced: a script that can declare private class fields (a
// "#" in its source) gets a new runtime after maxStampingUses evaluations; one that cannot keeps
// its runtime.
func TestRuntimesOfStampingScriptsAreReplaced(t *testing.T) {
	for _, tt := range []struct {
		name, comment string
		runtimes      int32
	}{{"stamping", "// #private", 2}, {"not stamping", "// no private names", 1}} {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			s, err := Load(enabledDefault()+tt.comment+"\nfunction resolve(ctx) { return ctx.user !== null && ctx.user.id === 'x' ? null : options; }", Limits{MaxConcurrent: 1})
			is.NoErr(err)
			built := s.pool.built.Load() // by the install's runs
			for i := 0; i <= maxStampingUses; i++ {
				u := *testUser
				u.ID = fmt.Sprint("u-", i) // read by resolve: no answer from the memo
				_, err := s.Resolve(context.Background(), ports.OptionsRequest{User: &u, Actor: operatorRequest().Actor, Channel: ports.ChannelOperator})
				is.NoErr(err)
			}
			is.Equal(s.pool.built.Load()-built+1, tt.runtimes)
		})
	}
}

// TestStoppedWhileSharingStaysStopped: when the time limit stops the evaluation while the shared
// top level is being made (goja clears its interrupt on the way out), the call ends stopped; it
// does not go on to a fresh top level with no limit left armed.
func TestStoppedWhileSharingStaysStopped(t *testing.T) {
	is := is.New(t)
	s, err := Load(enabledDefault()+"\nfunction resolve(ctx) { if (ctx.user !== null && ctx.user.id === 'loop') for (;;) {} return options; }", Limits{MaxConcurrent: 1})
	is.NoErr(err)
	sb, err := s.pool.acquire(context.Background())
	is.NoErr(err)
	defer s.pool.release(sb)
	sb.shared = nil // (the install's runs made it: make it again, stopped)
	req := operatorRequest()
	u := *req.User
	u.ID, req.User = "loop", &u
	var callErr error
	within(t, watchdog, func() {
		_ = sb.run(context.Background(), false, func() error {
			// The limit fires just as the call starts (and, having fired, is not armed again).
			sb.timer.mu.Lock()
			sb.timer.done = true
			sb.timer.t.Stop()
			sb.timer.mu.Unlock()
			sb.halt(ErrTimeLimit)
			_, callErr = s.call(sb, &evalState{}, &req, "resolve", false, func(g globals, d *orderData) (bool, error) {
				_, err := g.resolve(goja.Undefined(), d.ctx())
				return false, err
			})
			return nil
		})
	})
	is.True(errors.Is(callErr, ErrTimeLimit))
}

// TestCancelledOrderIsNotAnswered: an order whose context has ended gets no answer, not even one
// the memo holds.
func TestCancelledOrderIsNotAnswered(t *testing.T) {
	is := is.New(t)
	s, err := Load(memoScript, Limits{})
	is.NoErr(err)
	_, err = s.Resolve(context.Background(), operatorRequest())
	is.NoErr(err) // (now in the memo)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Resolve(ctx, operatorRequest())
	is.True(errors.Is(err, ErrScriptFailed) && errors.Is(err, context.Canceled))
}

// TestOwnFailuresRunOnce: a call that fails on the shared top level for a reason of its own (it
// throws, returns something invalid, or hits a size limit) is not run again on a fresh top level,
// and the script keeps sharing.
func TestOwnFailuresRunOnce(t *testing.T) {
	for name, body := range map[string]string{
		"throws":         `throw new Error("no");`,
		"invalid":        `return { enabled: "yes" };`,
		"size limit":     `return "x".repeat(1e9);`,
		"a RangeError":   `return [].length = -1;`,
		"a script's own": `null.x;`, // a TypeError: runs again, and fails again
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			s, err := Load(enabledDefault()+"\nfunction resolve(ctx) { if (ctx.user === null || ctx.user.id !== 'bad') return options; "+body+" }", Limits{MaxConcurrent: 1})
			is.NoErr(err)
			sb := <-s.pool.idle
			before := sb.timer.restarts.Load()
			s.pool.idle <- sb
			req := operatorRequest()
			u := *req.User
			u.ID, req.User = "bad", &u
			_, err = s.Resolve(context.Background(), req)
			is.True(errors.Is(err, ErrScriptFailed))
			sb = <-s.pool.idle
			defer func() { s.pool.idle <- sb }()
			is.Equal(sb.timer.restarts.Load()-before, map[bool]int32{true: 1, false: 0}[name == "a script's own"])
			is.True(!s.sharingOff.Load())
		})
	}
}
