// The sandbox prelude. It runs in every fresh runtime before the administrator's script, and is
// called with h, an object of Go helpers (see sandbox.go) that the script never sees. It removes
// what an option script must not reach and wraps the built-ins that allocate by a number the
// script chooses. The wrappers only use references captured here, never a property the script
// could replace later (the script runs after this, in the same runtime).
(function (h) {
	"use strict";
	var g = globalThis;
	// Only what the wrappers need is touched here: goja builds each built-in on first use, so
	// every capture costs (errors come from h.typeError, the well-known symbols from h).
	var O = Object, A = Array, S = String, F = Function, J = JSON, M = Map;
	var dp = O.defineProperty, gp = O.getPrototypeOf, gopd = O.getOwnPropertyDescriptor;
	var objToString = O.prototype.toString;
	var apply = Reflect.apply, construct = Reflect.construct, isArray = A.isArray;
	var mapGet = M.prototype.get, mapSet = M.prototype.set;
	var symIter = h.symIterator, symSpecies = h.symSpecies;
	var AP = A.prototype, SP = S.prototype, FP = F.prototype;
	var max = h.max, maxDepth = h.maxDepth;

	function def(o, k, v) { dp(o, k, { value: v, writable: true, enumerable: false, configurable: true }); }
	function put(a, i, v) { dp(a, i, { value: v, writable: true, enumerable: true, configurable: true }); }
	function named(fn) { return fn; } // (setting each wrapper's name doubled the cost of a sandbox)
	function deny(what) {
		return function () { throw h.typeError(what + " is not available in option scripts"); };
	}
	function str(v, what) {
		if (v === undefined || v === null) throw h.typeError(what + " called on null or undefined");
		var s = S(v);
		h.limit(s.length, what); // a string grown past the cap by + goes into no built-in
		return s;
	}

	// 1. No code generation at run time: what load checks (literals.go) stays true at run time.
	delete g.eval;
	delete g.Function;
	var fnProtos = [FP, gp(function* () {}), gp(async function () {})]; // goja has no async generators
	for (var i = 0; i < fnProtos.length; i++) def(fnProtos[i], "constructor", deny("The Function constructor"));

	// 2. Nothing an option needs and much a script could abuse: proxies (they defeat the checks
	// below), binary buffers (allocate by a number), weak references (non-deterministic).
	var gone = ["Proxy", "ArrayBuffer", "SharedArrayBuffer", "DataView", "Atomics", "WeakRef",
		"FinalizationRegistry", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array",
		"Uint16Array", "Int32Array", "Uint32Array", "Float16Array", "Float32Array", "Float64Array",
		"BigInt64Array", "BigUint64Array"];
	for (i = 0; i < gone.length; i++) delete g[gone[i]];
	delete S.raw;

	// 3. No regular expressions (literals are refused at load, see literals.go): goja runs some
	// matches on a backtracking engine nothing can interrupt. Without RegExp and literals no
	// regular expression can exist; the methods that would build one from a string throw.
	// No BigInt either (literals refused at load): its operations allocate unboundedly.
	delete g.RegExp;
	delete g.BigInt;
	function noRegExp(name) {
		def(SP, name, named(function () {
			throw h.typeError("String.prototype." + name + ": regular expressions are not available in option scripts; use includes, startsWith, endsWith or indexOf");
		}, name));
	}
	noRegExp("match");
	noRegExp("matchAll");
	noRegExp("search");

	// 4. Strings built by a number the script chooses.
	var repeatO = SP.repeat, padStartO = SP.padStart, padEndO = SP.padEnd, splitO = SP.split;
	var joinO = AP.join, replaceO = SP.replace, replaceAllO = SP.replaceAll;
	def(SP, "repeat", named(function (count) {
		var s = str(this, "String.prototype.repeat"), n = h.toInteger(count);
		if (n > 0 && n !== Infinity) h.limit(s.length * n, "String.prototype.repeat");
		return apply(repeatO, s, [n]);
	}, "repeat"));
	function pad(name, orig) {
		def(SP, name, named(function (maxLength, fill) {
			var s = str(this, "String.prototype." + name), n = h.toLength(maxLength);
			h.limit(n, "String.prototype." + name);
			return apply(orig, s, [n, fill]);
		}, name));
	}
	pad("padStart", padStartO);
	pad("padEnd", padEndO);
	def(SP, "split", named(function (sep, limit) {
		var s = str(this, "String.prototype.split");
		var l = limit === undefined ? max + 1 : h.toUint32(limit);
		if (l > max + 1) l = max + 1;
		var r = apply(splitO, s, [sep, l]);
		if (isArray(r)) h.limit(r.length, "String.prototype.split");
		return r;
	}, "split"));
	def(SP, "concat", named(function () {
		var parts = [str(this, "String.prototype.concat")], n = parts[0].length;
		for (var i = 0; i < arguments.length; i++) {
			var p = S(arguments[i]);
			n += p.length;
			h.limit(n, "String.prototype.concat");
			put(parts, i + 1, p);
		}
		return apply(joinO, parts, [""]);
	}, "concat"));
	function replacer(name, orig) {
		def(SP, name, named(function (pattern, replacement) {
			var s = str(this, "String.prototype." + name);
			if (typeof replacement === "function") {
				// The result is bounded like a string replacement's: the replacer's results
				// add up, and the sum may not pass the cap.
				var fn = replacement, total = s.length;
				replacement = function () {
					var r = S(apply(fn, undefined, arguments));
					total += r.length;
					h.limit(total, "String.prototype." + name + " (result length)");
					return r;
				};
			} else {
				replacement = S(replacement);
				var matches = s.length + 1;
				if (pattern === null || (typeof pattern !== "object" && typeof pattern !== "function")) {
					var p = S(pattern);
					pattern = p;
					matches = name === "replace" ? 1 : (p.length === 0 ? s.length + 1 : Math.floor(s.length / p.length) + 1);
				}
				h.replaceBound(s.length, replacement, matches);
			}
			return apply(orig, s, [pattern, replacement]);
		}, name));
	}
	replacer("replace", replaceO);
	replacer("replaceAll", replaceAllO);

	// 5. Arrays: no array longer than max reaches a built-in that loops over it natively.
	function ArrayW(len) {
		if (arguments.length === 1 && typeof len === "number") h.limit(len, "Array");
		return construct(A, arguments, new.target === undefined ? A : new.target);
	}
	dp(ArrayW, "name", { value: "Array", configurable: true });
	ArrayW.prototype = AP;
	def(AP, "constructor", ArrayW);
	dp(ArrayW, symSpecies, { get: function () { return this; }, configurable: true });
	def(ArrayW, "isArray", isArray);
	def(ArrayW, "of", A.of);
	def(ArrayW, "from", named(function (items, mapFn, thisArg) {
		if (mapFn !== undefined && typeof mapFn !== "function") throw h.typeError("Array.from: mapper is not a function");
		if (items === undefined || items === null) throw h.typeError("Array.from: items is null or undefined");
		var list = [], n = 0, itf = items[symIter];
		if (itf !== undefined && itf !== null) {
			var it = apply(itf, items, []), next = it.next;
			for (;;) {
				var r = apply(next, it, []);
				if (O(r) !== r) throw h.typeError("Array.from: iterator result is not an object");
				if (r.done) break;
				h.limit(n + 1, "Array.from");
				put(list, n, mapFn === undefined ? r.value : apply(mapFn, thisArg, [r.value, n]));
				n++;
			}
		} else {
			var o = O(items), len = h.toLength(o.length);
			h.limit(len, "Array.from");
			for (var k = 0; k < len; k++) put(list, k, mapFn === undefined ? o[k] : apply(mapFn, thisArg, [o[k], k]));
		}
		return list;
	}, "from"));
	def(g, "Array", ArrayW);

	// Every method but those wrapped below (sandbox.go, arraySpecial) checks its this with
	// h.arrayThis, then calls the original; installed from Go, which costs half as much.
	h.guardArrayMethods(AP);
	def(AP, symIter, AP.values);
	var join = named(function (sep) {
		h.arrayThis(this, "Array.prototype.join");
		var len = this.length, s = sep === undefined ? "," : S(sep), parts = [], total = 0;
		for (var i = 0; i < len; i++) {
			var v = this[i], p = v === undefined || v === null ? "" : S(v);
			total += p.length + (i > 0 ? s.length : 0);
			h.limit(total, "Array.prototype.join");
			put(parts, i, p);
		}
		return apply(joinO, parts, [s]);
	}, "join");
	def(AP, "join", join);
	def(AP, "toString", named(function () {
		if (!isArray(this)) throw h.typeError("Array.prototype.toString called on a non-array");
		var j = this.join;
		return typeof j === "function" ? apply(j, this, []) : apply(objToString, this, []);
	}, "toString"));
	def(AP, "toLocaleString", named(function () { return apply(join, this, [","]); }, "toLocaleString"));
	var concatO = AP.concat;
	def(AP, "concat", named(function () {
		h.arrayThis(this, "Array.prototype.concat");
		var args = [], total = this.length;
		for (var i = 0; i < arguments.length; i++) {
			var a = arguments[i];
			if (isArray(a)) {
				h.arrayThis(a, "Array.prototype.concat");
				total += a.length;
				put(args, i, a);
			} else {
				total += 1;
				put(args, i, [a]); // a non-array is always one element: Symbol.isConcatSpreadable is ignored
			}
			h.limit(total, "Array.prototype.concat");
		}
		return apply(concatO, this, args);
	}, "concat"));
	var flat = named(function (depth) {
		h.arrayThis(this, "Array.prototype.flat");
		var dd = depth === undefined ? 1 : h.toInteger(depth), out = [], n = 0;
		function rec(a, d) {
			var len = a.length;
			h.limit(len, "Array.prototype.flat");
			for (var i = 0; i < len; i++) {
				if (!(i in a)) continue;
				var v = a[i];
				if (d > 0 && isArray(v)) rec(v, d - 1);
				else {
					h.limit(n + 1, "Array.prototype.flat");
					put(out, n++, v);
				}
			}
		}
		rec(this, dd);
		return out;
	}, "flat");
	def(AP, "flat", flat);
	var mapG = AP.map;
	def(AP, "flatMap", named(function (fn, thisArg) {
		return apply(flat, apply(mapG, this, [fn, thisArg]), [1]);
	}, "flatMap"));

	// Built-in iterators: at most max steps each, so a spread or for-of driven natively ends.
	function counted(proto, what) {
		var nextO = proto.next;
		def(proto, "next", named(function () {
			h.step(this, what);
			return apply(nextO, this, arguments);
		}, "next"));
	}
	counted(gp([][symIter]()), "array iterator");
	counted(gp(""[symIter]()), "string iterator");
	counted(gp(new Map()[symIter]()), "map iterator");
	counted(gp(new Set()[symIter]()), "set iterator");

	// Argument lists from array-likes.
	def(FP, "apply", named(function (thisArg, args) {
		return apply(this, thisArg, args === undefined || args === null ? [] : h.arrayLike(args));
	}, "apply"));
	def(Reflect, "apply", named(function (fn, thisArg, args) {
		return apply(fn, thisArg, h.arrayLike(args));
	}, "apply"));
	def(Reflect, "construct", named(function (C, args, newTarget) {
		return construct(C, h.arrayLike(args), arguments.length < 3 ? C : newTarget);
	}, "construct"));

	// 6. Reflection that makes one value per element (Object.keys, entries, descriptors…) of a
	// string or an array: a string grows cheaply past any cap by concatenation, and one
	// descriptor per character is hundreds of bytes, so these take short strings (a hundredth of
	// the cap) and arrays up to a tenth of the cap.
	// (Installed from Go, h.guardReflective: a guard per function, no interpreted wrapper.)
	h.guardReflective(O, "Object.", ["keys", "values", "entries", "assign", "getOwnPropertyNames", "getOwnPropertyDescriptors", "fromEntries"]);
	h.guardReflective(Reflect, "Reflect.", ["ownKeys"]);

	// 7. No accessors on the script's objects (literals.go refuses getter and setter syntax):
	// results are then plain data, read without running the script's code (decode.go).
	function noAccessor(d, what) {
		if (d !== null && (typeof d === "object" || typeof d === "function") && ("get" in d || "set" in d)) {
			throw h.typeError(what + ": getters and setters are not available in option scripts; use plain properties");
		}
	}
	function noAccessors(props, what) {
		if (props === undefined || props === null) return;
		var o = O(props), keys = Reflect.ownKeys(o);
		for (var i = 0; i < keys.length; i++) noAccessor(o[keys[i]], what);
	}
	var defineO = O.defineProperty, definePropsO = O.defineProperties, createO = O.create, reflectDefineO = Reflect.defineProperty;
	def(O, "defineProperty", named(function (o, k, d) { noAccessor(d, "Object.defineProperty"); return apply(defineO, O, [o, k, d]); }, "defineProperty"));
	def(O, "defineProperties", named(function (o, props) { noAccessors(props, "Object.defineProperties"); return apply(definePropsO, O, [o, props]); }, "defineProperties"));
	def(O, "create", named(function (proto, props) { noAccessors(props, "Object.create"); return apply(createO, O, arguments.length < 2 ? [proto] : [proto, props]); }, "create"));
	h.defineProperty = defineO; // for harden.js, which runs next
	def(Reflect, "defineProperty", named(function (o, k, d) { noAccessor(d, "Reflect.defineProperty"); return apply(reflectDefineO, Reflect, [o, k, d]); }, "defineProperty"));

	// 8. (The ctx of resolve and its user are read-only views made in Go: request.go.)

	// 9. JSON: bounded nesting and array lengths (goja recurses natively).
	var stringifyO = J.stringify, parseO = J.parse;
	def(J, "stringify", named(function (value, replacerFn, space) {
		if (isArray(replacerFn)) throw h.typeError("JSON.stringify with an array replacer is not available in option scripts");
		var user = typeof replacerFn === "function" ? replacerFn : undefined, depth = new M();
		function check(key, v) {
			if (user !== undefined) v = apply(user, this, [key, v]);
			if (v !== null && typeof v === "object") {
				var dd = (apply(mapGet, depth, [this]) || 0) + 1;
				if (dd > maxDepth) h.limit(Infinity, "JSON.stringify nesting");
				apply(mapSet, depth, [v, dd]);
				if (isArray(v)) h.arrayThis(v, "JSON.stringify");
			}
			return v;
		}
		return apply(stringifyO, J, [value, check, space]);
	}, "stringify"));
	def(J, "parse", named(function (text, reviver) {
		var t = S(text);
		h.jsonDepth(t);
		h.limit(t.length * 10, "JSON.parse"); // a value per few characters: text up to a tenth of the cap
		return apply(parseO, J, [t, reviver]);
	}, "parse"));
})
