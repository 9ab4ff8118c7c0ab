// Hardening, run once per pooled runtime after sandbox.js (see harden.go and
// docs/option-script.md). It is called with h, the Go helpers of harden.go, which the script
// never sees. It
//   1. removes the runtime-wide state a script could fill in one evaluation and read in the next
//      (the Symbol.for registry, weak collections keyed by built-ins);
//   2. replaces every native function reachable from the global object or from an intrinsic
//      that is not (the iterator and generator prototypes, %ThrowTypeError%) by a guard
//      (h.wrap): a built-in called by another built-in, with no script code in between, still
//      notices the time limit, and no built-in accepts a string longer than the cap;
//   3. freezes everything it reached, the global object included.
// Functions of sandbox.js are script code already (the interrupt is checked when they run) and
// are left as they are, frozen.
(function (h) {
	"use strict";
	var g = globalThis, O = Object;
	var ownKeys = Reflect.ownKeys, gopd = O.getOwnPropertyDescriptor, dp = h.defineProperty; // the original
	var gp = O.getPrototypeOf, setProto = O.setPrototypeOf, freeze = O.freeze;
	var apply = Reflect.apply, M = Map, mapGet = M.prototype.get, mapSet = M.prototype.set;
	var FP = gp(function () {}), fnToString = FP.toString, indexOf = String.prototype.indexOf;

	function deny(what) {
		return function () { throw h.typeError(what + " is not available in option scripts"); };
	}
	// 1. State that would outlive an evaluation.
	dp(Symbol, "for", { value: deny("Symbol.for"), writable: true, configurable: true });
	dp(Symbol, "keyFor", { value: deny("Symbol.keyFor"), writable: true, configurable: true });
	delete g.WeakMap;
	delete g.WeakSet;

	// Intrinsics the global object does not reach.
	var genFn = gp(function* () {});
	var roots = [g, genFn, genFn.prototype, gp(genFn.prototype), gp(async function () {}),
		gp([][Symbol.iterator]()), gp(""[Symbol.iterator]()), gp(new Map()[Symbol.iterator]()),
		gp(new Set()[Symbol.iterator]()),
		gopd((function () { return arguments; })(), "callee").get];

	function isNative(f) {
		return apply(indexOf, apply(fnToString, f, []), ["[native code]"]) >= 0;
	}

	// 2. Guards, one per native function (the same function reached twice gets the same guard).
	var guards = new M();
	function guardOf(f) {
		var w = apply(mapGet, guards, [f]);
		if (w !== undefined) return w;
		if (f === FP || !isNative(f) || h.isGuard(f)) {
			w = f;
		} else if (gopd(f, "prototype") !== undefined) {
			w = constructorGuard(f);
		} else {
			w = h.wrap(f);
		}
		apply(mapSet, guards, [f, w]);
		return w;
	}
	// A constructor keeps working with new, instanceof and extends: W takes over its prototype
	// object and its static members (guarded when the walk reaches W).
	function constructorGuard(C) {
		var call = h.wrap(C), construct = h.wrapConstruct(C);
		var W = function () {
			return new.target === undefined ? apply(call, this, arguments) : construct(arguments, new.target);
		};
		apply(mapSet, guards, [C, W]);
		var keys = ownKeys(C);
		for (var i = 0; i < keys.length; i++) {
			var k = keys[i];
			if (k === "prototype") continue;
			dp(W, k, gopd(C, k));
		}
		dp(W, "prototype", { value: C.prototype, writable: false, enumerable: false, configurable: false });
		var parent = gp(C);
		if (typeof parent === "function" && parent !== FP) setProto(W, guardOf(parent));
		return W;
	}

	var seen = new M(), queue = [];
	function visit(v) {
		if ((typeof v === "object" && v !== null) || typeof v === "function") {
			if (apply(mapGet, seen, [v]) === undefined) {
				apply(mapSet, seen, [v, true]);
				queue[queue.length] = v;
			}
		}
	}
	for (var r = 0; r < roots.length; r++) visit(roots[r]);
	for (var q = 0; q < queue.length; q++) {
		var o = queue[q], keys = ownKeys(o);
		for (var i = 0; i < keys.length; i++) {
			var k = keys[i], d = gopd(o, k);
			if (d === undefined) continue;
			if ("value" in d) {
				var v = d.value;
				if (typeof v === "function") {
					var w = guardOf(v);
					if (w !== v && (d.writable || d.configurable)) {
						d.value = w;
						dp(o, k, d);
						v = w;
					}
				}
				visit(v);
			} else {
				var changed = false;
				if (typeof d.get === "function" && guardOf(d.get) !== d.get) { d.get = guardOf(d.get); changed = true; }
				if (typeof d.set === "function" && guardOf(d.set) !== d.set) { d.set = guardOf(d.set); changed = true; }
				if (changed && d.configurable) dp(o, k, d);
				visit(d.get);
				visit(d.set);
			}
		}
		visit(gp(o));
	}

	// 3. Freeze everything reached.
	for (q = 0; q < queue.length; q++) freeze(queue[q]);
	return queue.length;
})
