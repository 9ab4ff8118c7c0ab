package options

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"
)

// isolationScript tries, in every evaluation, to leave something for the next one in every way
// the pooled design has to close (docs/option-script.md, "Isolation"), then checks that it sees
// nothing the previous evaluation tried to leave. Every attempt is in a try block: on a frozen
// built-in it throws in strict mode, which is the point.
const isolationScript = `
var options = {
  enabled: false, approvalStep: false,
  productionTypes: [{ id: "standard", layoutId: "L-100", label: "Standard card" }],
  defaultProductionType: "standard", selectProductionType: false, queueCards: true,
  allowMultipleCardOrders: false, sendCardOrderedEmail: true
};
var counter = 0;
let letCounter = 0;
const constBox = { n: 0 };
function tag(strings) { return strings; }
function attempt(f) { try { f(); } catch (e) {} }
function resolve(ctx) {
  var seen = [];
  function check(what, leaked) { if (leaked) seen.push(what); }
  // What the previous evaluation may have left.
  counter++; letCounter++; constBox.n++;
  check("var counter", counter !== 1);
  check("let counter", letCounter !== 1);
  check("const object", constBox.n !== 1);
  check("global", typeof leakedGlobal !== "undefined" || globalThis.leakedGlobal !== undefined);
  check("Object.prototype", ({}).polluted !== undefined || Object.getOwnPropertyNames(Object.prototype).indexOf("polluted") >= 0);
  check("Array.prototype", [].polluted !== undefined || typeof [].pushed === "function");
  check("String.prototype.repeat", "ab".repeat(2) !== "abab");
  check("Array.prototype.indexOf", [1, 2].indexOf(2) !== 1);
  check("Function.prototype", (function () {}).polluted !== undefined);
  check("prototype chain", Object.getPrototypeOf(Array.prototype) !== Object.prototype || Object.getPrototypeOf(Object.prototype) !== null);
  check("JSON", JSON.stringify({ a: 1 }) !== '{"a":1}');
  check("Math.random", !(Math.random() >= 0 && Math.random() < 1) || Math.polluted !== undefined);
  check("Date", typeof Date.now() !== "number" || Date.polluted !== undefined || new Date(0).getTime() !== 0);
  check("Error", Error.prototype.polluted !== undefined || typeof Error.captureStackTrace === "function" && Error.stackTraceLimit !== undefined && Error.stackTraceLimit !== 10 && Error.stackTraceLimit !== Infinity);
  check("error stack", (new Error("x").stack || "").indexOf("previous") >= 0);
  check("Symbol registry", (function () { try { return Symbol.keyFor(Symbol.for("leak")) === "leak" && Symbol.for("leak").description === "leak" && typeof Symbol.for("leak").previous !== "undefined"; } catch (e) { return false; } })());
  check("Symbol.prototype", Symbol.prototype.polluted !== undefined);
  check("tagged template object", tag` + "`x`" + `.polluted !== undefined);
  check("iterator prototype", Object.getPrototypeOf([][Symbol.iterator]()).polluted !== undefined);
  check("generator prototype", Object.getPrototypeOf(function* () {}).polluted !== undefined);
  check("Promise", Promise.polluted !== undefined || Promise.prototype.polluted !== undefined);
  check("late promise job", typeof lateJob !== "undefined");
  check("Map.prototype", typeof Map.prototype.polluted !== "undefined");
  check("globalThis extensible", Object.isExtensible(globalThis) || !Object.isFrozen(Object.prototype));
  check("this at top level", topThis !== undefined);
  if (seen.length) throw new Error("left by the previous evaluation: " + seen.join(", "));

  // What this evaluation tries to leave.
  attempt(function () { globalThis.leakedGlobal = ctx.user && ctx.user.email; });
  attempt(function () { leakedGlobal2 = 1; });
  attempt(function () { Object.prototype.polluted = 1; });
  attempt(function () { Object.defineProperty(Object.prototype, "polluted", { value: 1 }); });
  attempt(function () { Array.prototype.polluted = 1; });
  attempt(function () { Array.prototype.pushed = function () {}; });
  attempt(function () { String.prototype.repeat = function () { return "pwned"; }; });
  attempt(function () { Array.prototype.indexOf = function () { return -1; }; });
  attempt(function () { (function () {}).constructor.prototype.polluted = 1; });
  attempt(function () { Object.getPrototypeOf(function () {}).polluted = 1; });
  attempt(function () { Object.setPrototypeOf(Array.prototype, null); });
  attempt(function () { Object.setPrototypeOf(Object.prototype, {}); });
  attempt(function () { Object.prototype.__proto__ = { polluted: 1 }; });
  attempt(function () { JSON.stringify = function () { return "pwned"; }; });
  attempt(function () { Math.random = function () { return 7; }; });
  attempt(function () { Math.polluted = 1; });
  attempt(function () { Date.now = function () { return "x"; }; });
  attempt(function () { Date.polluted = 1; });
  attempt(function () { Date.prototype.getTime = function () { return 1; }; });
  attempt(function () { Error.prototype.polluted = 1; });
  attempt(function () { Error.stackTraceLimit = 0; });
  attempt(function () { Error.prepareStackTrace = function () { return "previous"; }; });
  attempt(function () { Symbol.for("leak").previous = 1; });
  attempt(function () { Symbol.prototype.polluted = 1; });
  attempt(function () { tag` + "`x`" + `.polluted = 1; });
  attempt(function () { Object.getPrototypeOf([][Symbol.iterator]()).polluted = 1; });
  attempt(function () { Object.getPrototypeOf([][Symbol.iterator]()).next = function () { return { done: true }; }; });
  attempt(function () { Object.getPrototypeOf(function* () {}).polluted = 1; });
  attempt(function () { Promise.polluted = 1; Promise.prototype.polluted = 1; });
  attempt(function () { Promise.resolve().then(function () { globalThis.lateJob = 1; lateJob = 1; }); });
  attempt(function () { Map.prototype.polluted = function () {}; });
  // Private fields can be stamped on frozen objects (the return-override trick); the name
  // belongs to this evaluation's class, so the next evaluation cannot read it.
  attempt(function () {
    class Base { constructor(o) { return o; } }
    class Stamp extends Base { #secret = ctx.channel; }
    new Stamp(Object.prototype); new Stamp(globalThis);
  });
  attempt(function () { arguments.callee.polluted = 1; });
  return options;
}
var topThis = this;
`

// TestIsolationBetweenPooledEvaluations: one runtime (MaxConcurrent 1) serves evaluation after
// evaluation of isolationScript; none sees anything the previous one tried to leave. The test
// also checks that the runtime really was reused, or it would prove nothing.
func TestIsolationBetweenPooledEvaluations(t *testing.T) {
	is := is.New(t)
	// A generous limit: this test is not about time, and a loaded machine must not fail it.
	s, err := Load(isolationScript, Limits{MaxConcurrent: 1, TimeLimit: 5 * time.Second})
	is.NoErr(err)
	for i := 0; i < 20; i++ {
		_, err := s.Resolve(context.Background(), operatorRequest())
		is.NoErr(err)
	}
	is.Equal(len(s.pool.idle), 1)
	sb := <-s.pool.idle
	is.True(sb.uses >= 20) // the same runtime served every evaluation (and the load's)
	is.True(!sb.broken)
}

// TestIsolationAfterFailures: a run that is stopped (time limit) or throws does not leave its
// partial work for the next evaluation either.
func TestIsolationAfterFailures(t *testing.T) {
	is := is.New(t)
	src := isolationScript + `
var inner = resolve;
resolve = function (ctx) {
  var o = inner(ctx);
  if (ctx.actor.id === "loop") { Promise.resolve().then(function () { while (true) {} }); while (true) {} }
  if (ctx.actor.id === "throw") throw new Error("thrown");
  return o;
};`
	s, err := Load(src, Limits{MaxConcurrent: 1, TimeLimit: 500 * time.Millisecond})
	is.NoErr(err)
	for _, actor := range []string{"loop", "ok", "throw", "ok", "throw", "loop", "ok"} {
		req := operatorRequest()
		req.Actor.ID = actor
		_, err := s.Resolve(context.Background(), req)
		is.Equal(err == nil, actor == "ok")
	}
}

// TestJobsQueuedWhileDescribingAnError: a thrown object whose toString (run to describe the
// error) queues a promise job that never ends: the job runs in the failing evaluation, under its
// limit, and not in the next order's, which succeeds.
func TestJobsQueuedWhileDescribingAnError(t *testing.T) {
	is := is.New(t)
	src := enabledDefault() + `
function resolve(ctx) {
  if (ctx.actor.id === "throw") throw { toString: function () { Promise.resolve().then(function () { for (;;) {} }); return "thrown"; } };
  return options;
}`
	s, err := Load(src, Limits{MaxConcurrent: 1, TimeLimit: 200 * time.Millisecond})
	is.NoErr(err)
	for _, actor := range []string{"throw", "ok", "throw", "ok"} {
		req := operatorRequest()
		req.Actor.ID = actor
		_, err := s.Resolve(context.Background(), req)
		is.Equal(err == nil, actor == "ok")
	}
}
