package options

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

// Red-team tests of the shared top level (shared.go) and the memo of answers (memo.go): scripts
// an administrator could install that try to carry state from one order to the next, or to make
// an answer differ from what a fresh evaluation of the script for that order gives. Each test
// asserts the promise, so it passes while the library keeps it. The tests named
// TestRedteamBreak... failed when written: each was a real leak or discrepancy, fixed since (see its comment).

// unsharedTwin is src with a call at its top level: the same script, which never shares its top
// level (sharable refuses it), so every call runs on a fresh one.
func unsharedTwin(src string) string { return src + "\nvar redteamUnshared = Object.keys({});\n" }

// orderOf is an operator order for a copy of testUser with the given id and department.
func orderOf(id, department string) ports.OptionsRequest {
	u := *testUser
	u.ID, u.Department = id, department
	return ports.OptionsRequest{User: &u, Actor: operatorRequest().Actor, Channel: ports.ChannelOperator}
}

// sameOutcome fails unless two answers to one order are equal, or both are errors.
func sameOutcome(t *testing.T, what string, want, got ports.Resolved, wantErr, gotErr error) {
	t.Helper()
	if (wantErr == nil) != (gotErr == nil) {
		t.Errorf("%s: errors differ: %v (expected) / %v (got)", what, wantErr, gotErr)
		return
	}
	if wantErr != nil {
		return
	}
	want.ScriptVersion, got.ScriptVersion = "", "" // the twin's source differs
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s: answers differ (-expected +got):\n%s", what, d)
	}
}

// freshAnswer evaluates the order without the memo (a non-nil defaulted bypasses it).
func freshAnswer(s *Script, r ports.OptionsRequest) (ports.Resolved, error) {
	var defaulted []string
	return s.evaluateWith(context.Background(), r, ErrScriptFailed, "", false, &defaulted)
}

// redteamWrites is a sharable script whose resolve tries, by the user's department, to write
// into what the shared top level made through every path mayLeak does not see (it only looks at
// assignment targets by top-level name: here every write goes through a local name, a call, a
// built-in or a default value), and reports in selectProductionType whether anything an earlier
// order wrote is visible.
var redteamWrites = enabledDefault() + `
var box = { n: 0, list: [], inner: { deep: [1] } };
var arr = [3, 1, 2];
var sorted = [1, 2, 3];
var holes = [1, , 3];
var table = { fn: function () { return box; }, arrow: () => box, nested: [{ k: "v" }] };
function helper() { return box; }
function tag(s) { return s; }
function withDefault(o = box) { return o; }
function resolve(ctx) {
  if (ctx.user === null) return options;
  var id = ctx.user.id; // (read: every order runs, none is answered from the memo)
  var b = helper(), l = b.list, a = arr, f = helper, t = table, fn = t.fn, h = helper, wd = withDefault, pt = options.productionTypes;
  var leaked = b.n !== 0 || l.length !== 0 || b.extra !== undefined || !("n" in b) || Object.getPrototypeOf(b) !== Object.prototype ||
    Object.keys(b).join() !== "n,list,inner" || b.inner.deep.join() !== "1" || a.join() !== "3,1,2" || sorted.join() !== "1,2,3" ||
    holes.length !== 3 || (1 in holes) || f.mark !== undefined || f.prototype.mark !== undefined || fn.mark !== undefined ||
    fn.prototype.mark !== undefined || t.nested[0].k !== "v" || t.nested.length !== 1 || pt.length !== 1 || pt[0].label !== "Standard card" ||
    options.approvalStep !== false || Object.keys(options).length !== 8 || tag` + "`x`" + `.mark !== undefined;
  var wrote = true;
  switch (ctx.user.department) {
  case "compound": b.n += 1; break;
  case "increment a member": b.n++; break;
  case "logical assignment": b.extra ??= 1; break;
  case "destructuring default": { let { list: dl = [] } = b; dl.push(1); } break;
  case "destructuring target": [b.n] = [1]; break;
  case "for-of head": for (b.n of [1]) {} break;
  case "for-in head": for (b.extra in { k: 1 }) {} break;
  case "Object.assign": Object.assign(b, { n: 1 }); break;
  case "push.call": Array.prototype.push.call(l, 1); break;
  case "sort": a.sort(); break;
  case "sort, sorted already": sorted.sort(); break;
  case "reverse": a.reverse(); break;
  case "fill": a.fill(0); break;
  case "copyWithin": a.copyWithin(0, 1); break;
  case "splice": a.splice(0, 1); break;
  case "length": a.length = 0; break;
  case "fill a hole": { let ho = holes; ho[1] = 2; } break;
  case "delete": delete b.n; break;
  case "setPrototypeOf": Object.setPrototypeOf(b, null); break;
  case "__proto__": b.__proto__ = Array.prototype; break;
  case "defineProperty": Object.defineProperty(b, "extra", { value: 1, enumerable: true }); break;
  case "defineProperties": Object.defineProperties(b, { extra: { value: 1 } }); break;
  case "default parameter": wd().n = 1; break;
  case "closure in a literal": { let cl = t.arrow; cl().n = 1; } break;
  case "function property": f.mark = 1; break;
  case "function prototype": f.prototype.mark = 1; break;
  case "prototype of an instance": Object.getPrototypeOf(new f()).mark = 1; break;
  case "nested function": fn.mark = 1; break;
  case "nested function prototype": fn.prototype.mark = 1; break;
  case "nested array": b.inner.deep.push(2); break;
  case "array of objects in a literal": t.nested[0].k = "w"; break;
  case "production types": pt[0].label = "x"; break;
  case "subclass": { class C extends f {} Object.getPrototypeOf(C.prototype).mark = 1; } break;
  case "private field stamp": { class B { constructor(o) { return o; } } class S extends B { #m = 1; } new S(b); } break;
  case "symbol key": b[Symbol.iterator] = null; break;
  case "template object": { let tg = tag; tg` + "`x`" + `.mark = 1; } break;
  case "reviver": JSON.parse('{"a":1}', function (k, v) { if (k === "a") h().n = 1; return v; }); break;
  case "comparator": [2, 1].sort(function (x, y) { h().n = 1; return x - y; }); break;
  case "map callback": [1].map(function () { l.push(1); }); break;
  case "getter": Object.defineProperty(b, "g", { get: function () { return 1; } }); break;
  case "freeze and seal": Object.freeze(b); Object.seal(a); break;
  default: wrote = false;
  }
  return Object.assign({}, options, { selectProductionType: leaked, allowMultipleCardOrders: wrote });
}`

// TestRedteamSharedWritesLeaveNothing: no write into the shared top level, by any of the paths
// of redteamWrites, is seen by a later order, and every order is answered as the same script on
// fresh top levels answers it.
func TestRedteamSharedWritesLeaveNothing(t *testing.T) {
	is := is.New(t)
	s, err := Load(redteamWrites, Limits{MaxConcurrent: 1})
	is.NoErr(err)
	is.True(s.shared != nil) // the script does share its top level
	twin, err := Load(unsharedTwin(redteamWrites), Limits{MaxConcurrent: 1})
	is.NoErr(err)
	is.True(twin.shared == nil)
	cases := []string{"compound", "increment a member", "logical assignment", "destructuring default", "destructuring target",
		"for-of head", "for-in head", "Object.assign", "push.call", "sort", "sort, sorted already", "reverse", "fill", "copyWithin",
		"splice", "length", "fill a hole", "delete", "setPrototypeOf", "__proto__", "defineProperty", "defineProperties",
		"default parameter", "closure in a literal", "function property", "function prototype", "prototype of an instance",
		"nested function", "nested function prototype", "nested array", "array of objects in a literal", "production types",
		"subclass", "private field stamp", "symbol key", "template object", "reviver", "comparator", "map callback", "getter",
		"freeze and seal", "none"}
	n := 0
	for round := 0; round < 2; round++ {
		for _, c := range cases {
			for _, dept := range []string{c, "none"} { // each attempt, then an order that only looks
				n++
				req := orderOf(fmt.Sprint("u-", n), dept)
				got, gotErr := s.Resolve(context.Background(), req)
				want, wantErr := twin.Resolve(context.Background(), req)
				sameOutcome(t, fmt.Sprintf("round %d, %q", round, dept), want, got, wantErr, gotErr)
				if gotErr == nil && got.Options.SelectProductionType {
					t.Errorf("round %d, %q: saw what an earlier order wrote", round, dept)
				}
			}
		}
	}
	sb := <-s.pool.idle
	defer func() { s.pool.idle <- sb }()
	is.True(sb.shared == s.shared && sb.sharedOK) // the calls did run on the shared top level
}

// TestRedteamTopLevelsThatCannotBeFrozenAreNotShared: top-level values that are not plain
// objects, arrays or script functions — a generator function, an object with another prototype,
// the top level's own arguments object — pass sharable (they are written as literals and names)
// but must not be shared: writes to them are not seen by later orders.
func TestRedteamTopLevelsThatCannotBeFrozenAreNotShared(t *testing.T) {
	for name, decl := range map[string]string{
		"generator function":            "function* target() {}",
		"generator function prototype":  "function* gen() {} var target = gen; function pick(x) { return x.prototype; }",
		"generator in a literal":        "var target = { g: function* () {} }; function pick(x) { return x.g; }",
		"object with another prototype": "var target = { __proto__: { p: 1 } }; function pick(x) { return Object.getPrototypeOf(x); }",
		"null prototype":                "var target = { __proto__: null };",
		"arguments of the top level":    "var target = arguments;",
		"built-in held by a name":       "var target = Math; function pick(x) { return {}; }",
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			pick := ""
			if !strings.Contains(decl, "function pick") {
				pick = "function pick(x) { return x; }"
			}
			src := enabledDefault() + "\n" + decl + "\n" + pick + `
function resolve(ctx) {
  if (ctx.user === null) return options;
  var o = pick(target), seen = o.mark !== undefined;
  o.mark = ctx.user.id;
  return Object.assign({}, options, { selectProductionType: seen });
}`
			s, err := Load(src, Limits{MaxConcurrent: 1})
			if err != nil {
				return // refused at load: nothing to leak
			}
			for i := 0; i < 3; i++ {
				r, err := s.Resolve(context.Background(), orderOf(fmt.Sprint("u-", i), "d"))
				if err == nil {
					is.True(!r.Options.SelectProductionType) // nothing left by an earlier order
				}
			}
		})
	}
}

// redteamObservations is a sharable script whose results report what it observes of its own top
// level: on the shared top level (frozen) it must observe what it does on a fresh one.
var redteamObservations = enabledDefault() + `
var arr = [3, 1, 2];
var holes = [1, , 3];
var table = { fn: function (a, b) { return a; }, arrow: (x) => x, list: [{ k: "v" }] };
function helper(a) { return a; }
function tag(s) { return s; }
function site() { return tag` + "`x${1}y`" + `; }
function resolve(ctx) {
  var out = [];
  function put(k, v) { out.push(k + "=" + String(v)); }
  var id = ctx.user === null ? "" : ctx.user.id;
  put("source", String(resolve).length + "/" + String(helper) + "/" + String(table.arrow));
  put("stack", new Error("x").stack);
  put("names", helper.name + helper.length + table.fn.name + table.fn.length + table.arrow.name + table.arrow.length);
  put("prototype", Object.keys(helper.prototype).join() + ("prototype" in table.arrow) + (helper.prototype.constructor === helper));
  put("arrow names", table.arrow.name + table.arrow.length);
  put("keys", Object.keys(options).join() + "/" + Object.keys(table).join() + "/" + Object.keys(arr).join() + "/" + Object.keys(holes).join());
  put("json", JSON.stringify(options) + JSON.stringify(holes) + JSON.stringify(table));
  put("entries", JSON.stringify(Object.entries(table.list[0])) + Object.entries(helper).length + Object.values(arr).join());
  put("for-in", (function () { var s = []; for (var k in table) s.push(k); for (var j in holes) s.push(j); for (var m in helper) s.push(m); return s.join(); })());
  put("copies", [...arr].join() + arr.slice().sort().join() + arr.map(function (x) { return x * 2; }).join() + arr.concat([4]).join() + Array.from(holes).join());
  put("kinds", Array.isArray(arr) + "" + (options instanceof Object) + (new helper(1) instanceof helper) + (Object.getPrototypeOf(helper) === Object.getPrototypeOf(function () {})) + typeof table.fn);
  put("template", (site() === site()) + JSON.stringify(site()) + JSON.stringify(site().raw));
  put("symbols", Object.getOwnPropertySymbols(options).length + Object.getOwnPropertySymbols(helper).length);
  put("in", ("n" in table) + "" + (1 in holes) + ("length" in helper) + Object.prototype.hasOwnProperty.call(helper, "prototype"));
  put("assign", JSON.stringify(Object.assign({}, options, table.list[0])));
  put("stringify a function", JSON.stringify({ f: helper, a: [table.arrow] }));
  put("seal", Object.seal({}) !== null);
  put("freeze", Object.freeze(Object.assign({}, table.list[0])).k);
  var types = [options.productionTypes[0]];
  for (var i = 0; i < out.length; i++) types.push({ id: "t" + i, layoutId: "L", label: out[i].slice(0, 250) });
  return Object.assign({}, options, { productionTypes: types });
}`

// TestRedteamSharedObservesAsFresh: what a call observes of its own top level (source text,
// stack traces, key lists and order, copies, template objects, prototypes) is the same on the
// shared top level as on a fresh one. (Object.getOwnPropertyNames, which lists a frozen
// function's properties in another order, makes a script not share: TestRedteamBreakFunctionKeyOrder.)
func TestRedteamSharedObservesAsFresh(t *testing.T) {
	is := is.New(t)
	s, err := Load(redteamObservations, Limits{MaxConcurrent: 1})
	is.NoErr(err)
	is.True(s.shared != nil)
	twin, err := Load(unsharedTwin(redteamObservations), Limits{MaxConcurrent: 1})
	is.NoErr(err)
	for i := 0; i < 3; i++ {
		req := orderOf(fmt.Sprint("u-", i), "d")
		got, gotErr := s.Resolve(context.Background(), req)
		want, wantErr := twin.Resolve(context.Background(), req)
		sameOutcome(t, fmt.Sprint("order ", i), want, got, wantErr, gotErr)
	}
}

// TestRedteamBreakFunctionKeyOrder — A REAL DISCREPANCY (failed when written). freezeShared
// freezes the script's functions, and in goja a frozen function lists its own properties in
// another order: Object.getOwnPropertyNames(resolve) is "length,name,prototype" on the shared
// top level and "prototype,length,name" on a fresh one. No exception, no name computed at run
// time: the call's result differs between the two (and the memo then keeps the shared one).
// Fixed: getOwnPropertyNames is in notShared (getOwnPropertyDescriptors and Reflect.ownKeys were
// already).
func TestRedteamBreakFunctionKeyOrder(t *testing.T) {
	is := is.New(t)
	src := enabledDefault() + `
function helper() {}
function resolve(ctx) { return options; }
function mapUserToCard(user) {
  var id = user.id;
  return { commonName: Object.getOwnPropertyNames(resolve).join() + "/" + Object.getOwnPropertyNames(helper).join() };
}`
	s, err := Load(src, Limits{MaxConcurrent: 1})
	is.NoErr(err)
	is.True(s.shared == nil) // the fix: getOwnPropertyNames keeps the script from sharing
	twin, err := Load(unsharedTwin(src), Limits{MaxConcurrent: 1})
	is.NoErr(err)
	req := orderOf("u-1", "d")
	got, gotErr := s.Resolve(context.Background(), req)
	want, wantErr := twin.Resolve(context.Background(), req)
	sameOutcome(t, "getOwnPropertyNames of script functions", want, got, wantErr, gotErr)
}

// TestRedteamBreakStaleStackThroughArrowArguments — A REAL LEAK BETWEEN ORDERS (failed when
// written), for every script, shared top level or not. goja compiles `arguments` inside an arrow
// function (whose enclosing function does not itself use arguments) as a read of a stack slot of
// the arrow's own frame (scope.lookupName binds "arguments" in the outer function without moving
// it to the stash; the arrow then runs loadStack1 at its own base). Called right after a built-in
// that sandbox.js wraps, the arrow reads what that wrapper left on the stack: the captured
// originals (String.prototype.repeat, Reflect.apply, Object.defineProperty, the Go helpers of
// sandbox.go). Those are never frozen (harden.js only freezes what the global object reaches)
// and live as long as the runtime: one order writes the user's email on the original repeat, the
// next order on that runtime reads it. The same function is unguarded: it repeats past
// MaxLength (and can allocate without bound), and other slots give "index out of range" engine
// panics. Fixed: `arguments` inside arrow functions is refused at load (literals.go).
func TestRedteamBreakStaleStackThroughArrowArguments(t *testing.T) {
	var probes strings.Builder
	var names []string
	for n := 0; n < 16; n++ { // the slot the arrow reads moves with the number of locals
		fmt.Fprintf(&probes, "function p%d() { ", n)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&probes, "var l%d = %d; ", i, i)
		}
		probes.WriteString("var g = () => arguments; deep(40); \"x\".repeat(2); return g(); }\n")
		names = append(names, fmt.Sprint("p", n))
	}
	src := enabledDefault() + probes.String() + "var probes = [" + strings.Join(names, ", ") + `];
function deep(k) { var a = 1, b = 2, c = 3; if (k > 0) deep(k - 1); return a + b + c; }
function original() {
  for (var i = 0; i < probes.length; i++) {
    var v = probes[i]();
    if (typeof v === "function" && v.name === "repeat" && v !== String.prototype.repeat) return v;
  }
  return null;
}
function resolve(ctx) { return options; }
function mapUserToCard(user) {
  var o = original();
  if (o === null) return { commonName: "nothing found" };
  var previous = o.seen;
  o.seen = user.email;
  return { commonName: "previous order: " + String(previous), elements: { CAP: String(o.call("x", 25000).length) } };
}`
	s, err := Load(src, Limits{MaxConcurrent: 1})
	if err != nil {
		if !errors.Is(err, ErrInvalidScript) || !strings.Contains(err.Error(), "arrow function") {
			t.Fatalf("refused for another reason: %v", err)
		}
		return // refused at load: the fix
	}
	var emails []string
	for i := 0; i < 3; i++ {
		req := orderOf(fmt.Sprint("u-", i), "d")
		req.User.Email = fmt.Sprint("person", i, "@example.org")
		r, err := s.Resolve(context.Background(), req)
		if err != nil {
			continue // failing is not leaking
		}
		for _, e := range append(emails, "sam.sample@example.org") {
			if strings.Contains(*r.Overrides.CommonName, e) {
				t.Errorf("order %d saw the email of an earlier order: %q", i, *r.Overrides.CommonName)
			}
		}
		if r.Overrides.Elements["CAP"] == "25000" {
			t.Errorf("order %d repeated a string past MaxLength (%d) with an unguarded built-in", i, s.lim.MaxLength)
		}
		emails = append(emails, req.User.Email)
	}
}

// TestRedteamBreakTopLevelRandomIsMemoized — A REAL MEMO DISCREPANCY (failed when written). A
// script that is not shared runs its top level afresh in every call, and a top level may ask for
// a random number or the time (var now = Date.now(); var coin = Math.random() < 0.5). The
// sandbox marks the call impure, but Script.call then starts the call's order data
// (sb.orderData), which sets sb.impure = false again: the result is memoized, and every later
// order with the same reads gets the first order's coin — or the first order's date, so a
// script that switches an option on from a given day never switches it. Fixed: sb.impure is reset
// at the start of every call, before its top level runs (sandbox.startCall).
func TestRedteamBreakTopLevelRandomIsMemoized(t *testing.T) {
	for name, src := range map[string]string{
		"Math.random": enabledDefault() + `
var coin = Math.random() < 0.5;
function resolve(ctx) { return Object.assign({}, options, { approvalStep: coin }); }`,
		"Date.now": enabledDefault() + `
var now = Date.now();
function resolve(ctx) { return Object.assign({}, options, { approvalStep: now % 2 === 0 }); }`,
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Load(src, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[bool]bool{}
			for i := 0; i < 64; i++ {
				r, err := s.Resolve(context.Background(), operatorRequest())
				if err != nil {
					t.Fatal(err)
				}
				seen[r.Options.ApprovalStep] = true
			}
			if s.resolveMemo.results != 0 {
				t.Errorf("a result that depends on the time or a random number was memoized (%d results)", s.resolveMemo.results)
			}
			if name == "Math.random" && len(seen) != 2 {
				t.Errorf("64 orders all got the same coin: %v", seen)
			}
		})
	}
}

// TestRedteamBreakStepCountPassesFromResolveToMap — A REAL MEMO DISCREPANCY (failed when
// written). The steps of built-in iterators are counted per object in sb.steps, which is cleared
// per evaluation, not per call, and the counting next of sandbox.js counts its this before the
// original refuses a non-iterator: resolve can count steps on a frozen built-in (Math) and
// mapUserToCard can see the count (a RangeError instead of a TypeError). So mapUserToCard learns
// the channel, which it is never given, while its memo keys on its own reads only: an order is
// answered with what an order on another channel got, and differs from a fresh evaluation. It
// also breaks "resolve and mapUserToCard cannot pass values to each other". Fixed: clear sb.steps
// at the start of every call (sandbox.startCall).
func TestRedteamBreakStepCountPassesFromResolveToMap(t *testing.T) {
	is := is.New(t)
	s, err := Load(enabledDefault()+`
var next = Object.getPrototypeOf([][Symbol.iterator]()).next;
function burn(n) { for (var i = 0; i < n; i++) { try { next.call(Math); } catch (e) { if (e instanceof RangeError) return true; } } return false; }
function resolve(ctx) { if (ctx.channel === "batch") burn(5000); return options; }
function mapUserToCard(user) { return { commonName: burn(1) ? "resolve ran on the batch channel" : "nothing seen" }; }`, Limits{MaxLength: 1000})
	is.NoErr(err)
	for _, ch := range []ports.Channel{ports.ChannelOperator, ports.ChannelBatch, ports.ChannelBatch} {
		req := operatorRequest()
		req.Channel = ch
		got, gotErr := s.Resolve(context.Background(), req)
		want, wantErr := freshAnswer(s, req)
		sameOutcome(t, string(ch), want, got, wantErr, gotErr)
	}
}

// TestRedteamBreakFallbackSharesTheTimeLimit — A REAL DISCREPANCY (failed when written, with a
// call that took two thirds of the limit before writing). A call that fails on the shared top
// level runs again on a fresh one within the same evaluation, and so within the same time limit:
// a call that takes two thirds of the limit and then writes to a frozen object (through a local
// name, which keeps the script sharable) took twice that and was stopped at the limit, where the
// same script evaluated fresh succeeds. Fixed: the second run starts the limit again (each call
// has a limit of its own, sandbox.startCall), and a script whose call fell back and then
// succeeded stops sharing. Checked here without timing: the limit's restarts are counted.
func TestRedteamBreakFallbackSharesTheTimeLimit(t *testing.T) {
	is := is.New(t)
	src := enabledDefault() + `
function resolve(ctx) {
  if (ctx.user === null || ctx.user.id === "sample-user") return options;
  var o = options;
  o.queueCards = o.queueCards; // fails on the shared, frozen options; fine on a fresh one
  return o;
}`
	s, err := Load(src, Limits{MaxConcurrent: 1})
	is.NoErr(err)
	is.True(s.shared != nil)
	restarts := func() int32 {
		sb := <-s.pool.idle
		defer func() { s.pool.idle <- sb }()
		return sb.timer.restarts.Load()
	}
	before := restarts()
	_, err = s.Resolve(context.Background(), operatorRequest())
	is.NoErr(err)
	is.Equal(restarts()-before, int32(1)) // the second run started the limit again
	is.True(s.sharingOff.Load())          // and the script no longer shares
}

// redteamReads reads the order's data in every way a script can: through JSON, key lists, for-in,
// in, hasOwnProperty, spreads, Object.entries and values, descriptors, iteration and array
// methods on the roles, identity, Map order, templates; and adds what else could vary between
// two runs of the same reads (stack traces, locale formatting).
var redteamReads = enabledDefault() + `
function resolve(ctx) {
  var out = [], u = ctx.user, roles = ctx.actor.roles;
  function put(k, v) { out.push(k + "=" + String(v)); }
  put("json", JSON.stringify(ctx));
  put("keys", Object.keys(ctx).join() + Object.getOwnPropertyNames(ctx.actor).join());
  put("same", (ctx.user === u) + "" + (roles === ctx.actor.roles));
  put("roles", [...roles].join("|") + Array.from(roles).length + roles.includes("operator") + roles.indexOf("approver") + roles.slice(1).join() + roles[2]);
  put("for-of", (function () { var s = ""; for (var r of roles) s += r; return s; })());
  put("roles json", JSON.stringify(roles) + ` + "`${roles}`" + ` + Object.keys(roles).join() + Object.prototype.toString.call(roles));
  put("in", ("user" in ctx) + "" + ("nothing" in ctx) + Object.prototype.hasOwnProperty.call(ctx, "channel"));
  if (u !== null) {
    var at = u.attributes;
    put("entries", JSON.stringify(Object.entries(at)) + Object.values(at).join());
    put("spread", JSON.stringify({ ...at }) + JSON.stringify(Object.assign({}, u.deliveryAddress)));
    put("for-in", (function () { var s = []; for (var k in at) s.push(k); for (var j in u) s.push(j); return s.join(); })());
    put("own", Object.prototype.hasOwnProperty.call(at, "floor") + "" + ("site" in at) + at.floor + u.nothing);
    put("descriptor", JSON.stringify(Object.getOwnPropertyDescriptor(u, "department")) + JSON.stringify(Object.getOwnPropertyDescriptor(at, "site")));
    put("address", u.deliveryAddress === null ? "none" : Object.entries(u.deliveryAddress).join(";"));
    var m = new Map([[u, 1], [at, 2], [roles, 3]]);
    m.set(u.deliveryAddress, 4);
    put("map", Array.from(m.values()).join() + m.size);
    put("photo", u.hasPhoto);
  }
  put("stack", new Error("x").stack);
  put("locale", (1234567.891).toLocaleString() + "a".localeCompare("b") + typeof Intl + ("\u00e9").normalize("NFD").length);
  put("text", String(ctx) + ` + "`${ctx.channel}`" + `);
  var types = [options.productionTypes[0]];
  for (var i = 0; i < out.length; i++) types.push({ id: "t" + i, layoutId: "L", label: out[i].slice(0, 250) });
  return Object.assign({}, options, { productionTypes: types });
}
function mapUserToCard(user) {
  return { commonName: JSON.stringify(user).slice(0, 256), elements: {
    K: Object.keys(user.attributes).join() + "/" + Object.keys(user).length,
    A: user.deliveryAddress === null ? "none" : JSON.stringify(Object.entries(user.deliveryAddress)),
    S: new Error("m").stack,
    I: ("site" in user.attributes) + "" + (user.attributes === user.attributes) } };
}`

// smallOrder draws an order from a small space, so that many orders read alike and the memo
// answers them, in every shape the views have: no user, no address, attribute sets, role lists.
func smallOrder(rng *rand.Rand) ports.OptionsRequest {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	attrs := []map[string]string{{}, {"site": "1"}, {"site": "2", "weird key": "1"}}[rng.IntN(3)]
	u := &ports.User{ID: "u-1", State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace",
		Email: "ada@example.org", Organisation: pick("Finance", "Research"), Department: "Labs", PhotoURL: "p",
		Attributes: attrs}
	if rng.IntN(2) == 0 {
		u.DeliveryAddress = &ports.Address{AddressOne: "1 Road", PostalCode: "1", City: "A", CountryCode: "GB"}
	}
	roles := []ports.Role{ports.RoleOperator, "approver", "auditor"}[:rng.IntN(3)]
	ch := ports.Channel(pick(string(ports.ChannelOperator), string(ports.ChannelSelfService), string(ports.ChannelBatch), string(ports.ChannelTemporary)))
	if ch == ports.ChannelTemporary {
		u = nil
	}
	return ports.OptionsRequest{User: u, Actor: ports.Actor{ID: "a", Roles: roles}, Channel: ch}
}

// TestRedteamMemoReadsEveryWay: whatever way a script reads the order's data, an order answered
// from the memo gets what a fresh evaluation gives; and the memo did answer.
func TestRedteamMemoReadsEveryWay(t *testing.T) {
	is := is.New(t)
	for _, src := range []string{redteamReads, unsharedTwin(redteamReads)} {
		s, err := Load(src, Limits{})
		is.NoErr(err)
		rng := rand.New(rand.NewPCG(7, 8))
		const orders = 160
		for i := 0; i < orders; i++ {
			req := smallOrder(rng)
			got, gotErr := s.Resolve(context.Background(), req)
			is.NoErr(gotErr)
			want, wantErr := freshAnswer(s, req)
			sameOutcome(t, fmt.Sprintf("order %d (shared %v)", i, s.shared != nil), want, got, wantErr, gotErr)
		}
		is.True(!s.resolveMemo.off && !s.mapMemo.off)
		t.Logf("%d orders, %d memoized results", orders, s.resolveMemo.results)
		is.True(s.resolveMemo.results > 0 && s.resolveMemo.results < orders*2/3) // the memo answered many orders
	}
}

// TestRedteamMemoCallsDoNotTalk: resolve and mapUserToCard of one order cannot pass a value to
// each other through anything but the step counts (TestRedteamBreakStepCountPassesFromResolveToMap):
// not through promise jobs, the shared top level, stamps on frozen objects, or errors, so a
// memoized mapUserToCard answers as a fresh evaluation does.
func TestRedteamMemoCallsDoNotTalk(t *testing.T) {
	is := is.New(t)
	src := enabledDefault() + `
var shared = { k: 1 };
class Box { constructor(o) { return o; } }
class Stamp extends Box { #channel; constructor(o, c) { super(o); this.#channel = c; } static read(o) { return #channel in o ? o.#channel : "none"; } }
function resolve(ctx) {
  Promise.resolve().then(function () { var s = shared; try { s.channel = ctx.channel; } catch (e) {} });
  try { new Stamp(shared, ctx.channel); } catch (e) {}
  try { new Stamp(Math, ctx.channel); } catch (e) {}
  return options;
}
function mapUserToCard(user) {
  var seen = [shared.channel, Stamp.read(shared), Stamp.read(Math)];
  return { commonName: seen.join() };
}`
	s, err := Load(src, Limits{})
	is.NoErr(err)
	for _, ch := range []ports.Channel{ports.ChannelOperator, ports.ChannelBatch, ports.ChannelSelfService} {
		req := operatorRequest()
		req.Channel = ch
		got, gotErr := s.Resolve(context.Background(), req)
		want, wantErr := freshAnswer(s, req)
		sameOutcome(t, string(ch), want, got, wantErr, gotErr)
		is.Equal(*got.Overrides.CommonName, ",none,none")
	}
}
