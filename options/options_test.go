package options

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/ports"
	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"
)

// withResolve appends a resolve function with the given body to the default script.
func withResolve(body string) string {
	return DefaultSource() + "\nfunction resolve(ctx) {\n" + body + "\nreturn options;\n}\n"
}

var testUser = &ports.User{
	ID: "u-1", State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace",
	Email: "ada@example.org", UPN: "ada@corp.example.org", Organisation: "Research",
	Department: "Engines", EmployeeNumber: "1815", Attributes: map[string]string{"site": "London"},
}

func operatorRequest() ports.OptionsRequest {
	return ports.OptionsRequest{User: testUser, Actor: ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}, Channel: ports.ChannelOperator}
}

func TestDefaultScriptYieldsDefaultOptions(t *testing.T) {
	is := is.New(t)
	s, err := Load(DefaultSource(), Limits{})
	is.NoErr(err)
	is.True(!s.HasResolve() && !s.HasMapUserToCard()) // the examples are commented out
	r, err := s.Resolve(context.Background(), operatorRequest())
	is.NoErr(err)
	if d := cmp.Diff(ports.DefaultOptions(), r.Options); d != "" {
		t.Fatalf("default script options (-want +got):\n%s", d)
	}
	is.Equal(r.Overrides, nil)
	is.Equal(r.ScriptVersion, s.Version())
	is.Equal(len(s.Version()), 64)
	// Every option of the contract is documented in the default script.
	for _, name := range names(optionTable) {
		is.True(strings.Contains(DefaultSource(), "  "+name+": "))
	}
}

func TestResolveReturnsCallersCopy(t *testing.T) {
	is := is.New(t)
	s := MustLoad(DefaultSource(), Limits{})
	r1, _ := s.Resolve(context.Background(), operatorRequest())
	r1.Options.ProductionTypes[0].ID = "corrupted"
	r2, _ := s.Resolve(context.Background(), operatorRequest())
	is.Equal(r2.Options.ProductionTypes[0].ID, "standard")
}

func TestCommentedExamplesWork(t *testing.T) {
	is := is.New(t)
	// Uncomment the examples of the default script: they must be valid.
	var b strings.Builder
	inExample := false
	for _, line := range strings.Split(DefaultSource(), "\n") {
		if strings.HasPrefix(line, "// function ") {
			inExample = true
		}
		if inExample {
			line = strings.TrimPrefix(line, "// ")
			inExample = line != "}"
		}
		b.WriteString(line + "\n")
	}
	s, err := Load(b.String(), Limits{})
	is.NoErr(err)
	is.True(s.HasResolve() && s.HasMapUserToCard())
	is.True(s.mapTemplate != nil) // the example mapping is a template: answered in Go
	r, err := s.Resolve(context.Background(), operatorRequest())
	is.NoErr(err)
	is.True(r.Options.ApprovalStep) // organisation Research
	is.Equal(*r.Overrides.CommonName, "Lovelace, Ada")
	is.Equal(r.Overrides.Elements, map[string]string{"DEPARTMENT": "ENGINES"})
}

func TestResolveWithScript(t *testing.T) {
	src := DefaultSource() + `
function resolve(ctx) {
  var o = Object.assign({}, options);
  o.enabled = true;
  o.approvalStep = ctx.channel === "selfservice";
  o.queueCards = ctx.user === null;
  o.allowMultipleCardOrders = ctx.actor.roles.indexOf("operator") >= 0;
  if (ctx.user !== null && ctx.user.attributes.site === "London") {
    o.productionTypes = [{ id: "uk", layoutId: "L-UK", label: "UK card" }];
    o.defaultProductionType = "uk";
  }
  return o;
}
function mapUserToCard(user) {
  return { commonName: user.familyName.toUpperCase(), upn: user.email, elements: { SITE: user.attributes.site || "" } };
}
`
	s := MustLoad(src, Limits{})
	tests := []struct {
		name string
		req  ports.OptionsRequest
		want ports.Resolved
	}{
		{"operator, London", operatorRequest(), ports.Resolved{
			Options: ports.Options{Enabled: true, AllowMultipleCardOrders: true, SendCardOrderedEmail: true,
				ProductionTypes: []ports.ProductionType{{ID: "uk", LayoutID: "L-UK", Label: "UK card"}}, DefaultProductionType: "uk"},
			Overrides: &ports.CardOverrides{CommonName: ptr("LOVELACE"), UPN: ptr("ada@example.org"), Elements: map[string]string{"SITE": "London"}},
		}},
		{"temporary: no user, no mapping", ports.OptionsRequest{Actor: ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}, Channel: ports.ChannelTemporary},
			ports.Resolved{Options: ports.Options{Enabled: true, QueueCards: true, AllowMultipleCardOrders: true, SendCardOrderedEmail: true,
				ProductionTypes: ports.DefaultOptions().ProductionTypes, DefaultProductionType: "standard"}}},
		{"selfservice", ports.OptionsRequest{User: &ports.User{ID: "u-2", State: ports.UserActive, FamilyName: "X"}, Actor: ports.Actor{ID: "u-2", Roles: []ports.Role{ports.RoleSelfService}}, Channel: ports.ChannelSelfService},
			ports.Resolved{Options: ports.Options{Enabled: true, ApprovalStep: true, SendCardOrderedEmail: true,
				ProductionTypes: ports.DefaultOptions().ProductionTypes, DefaultProductionType: "standard"},
				Overrides: &ports.CardOverrides{CommonName: ptr("X"), UPN: ptr(""), Elements: map[string]string{"SITE": ""}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Resolve(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.ScriptVersion = s.Version()
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestInvalidScripts: every way a script is rejected at load names the line and the option.
func TestInvalidScripts(t *testing.T) {
	opts := func(replace, with string) string {
		src := DefaultSource()
		if !strings.Contains(src, replace) {
			t.Fatalf("default script lacks %q", replace)
		}
		return strings.Replace(src, replace, with, 1)
	}
	tests := []struct {
		name     string
		src      string
		at       string // the expected line is the first line containing at ("": not checked)
		option   string
		contains string
	}{
		{"syntax error", "var options = {\n  enabled: false\n  approvalStep: false\n};", "approvalStep", "", "syntax error"},
		{"wrong type", opts("queueCards: true", `queueCards: "yes"`), "queueCards:", "queueCards", "must be true or false, got string"},
		{"number for boolean", opts("enabled: false", "enabled: 0"), "  enabled: 0", "enabled", "got number"},
		{"null", opts("approvalStep: false", "approvalStep: null"), "approvalStep: null", "approvalStep", "got null"},
		{"undefined", opts("approvalStep: false", "approvalStep: undefined"), "approvalStep: undefined", "approvalStep", "got undefined"},
		{"unknown option", opts("queueCards: true", "queueCards: true, queueCard: true"), "queueCard: true", "queueCard", "did you mean queueCards"},
		{"missing option", opts("sendCardOrderedEmail: true", ""), "", "sendCardOrderedEmail", "missing option"},
		{"no options at all", "var x = 1;", "", "options", "must define the options"},
		{"options not an object", "var options = [];", "var options", "options", "must be an object, got array"},
		{"empty production types", opts(`{ id: "standard", layoutId: "L-100", label: "Standard card" }`, ""), "  productionTypes:", "productionTypes", "at least 1"},
		{"default type not listed", opts(`defaultProductionType: "standard"`, `defaultProductionType: "premium"`), "  defaultProductionType:", "defaultProductionType", "one of the ids"},
		{"duplicate ids", opts(`{ id: "standard", layoutId: "L-100", label: "Standard card" }`, `{ id: "standard", layoutId: "L-100", label: "A" }, { id: "standard", layoutId: "L-200", label: "B" }`), "  productionTypes:", "productionTypes", "unique"},
		{"blank id", opts(`{ id: "standard", layoutId: "L-100", label: "Standard card" }`, `{ id: "  ", layoutId: "L-100", label: "A" }`), "  productionTypes:", "productionTypes[0].id", "blank"},
		{"unknown production type field", opts(`label: "Standard card" }`, `label: "Standard card", layout: "x" }`), "", "productionTypes[0].layout", "unknown field"},
		{"production type not an object", opts(`{ id: "standard", layoutId: "L-100", label: "Standard card" }`, `"standard"`), "  productionTypes:", "productionTypes[0]", "must be an object, got string"},
		{"resolve not a function", DefaultSource() + "\nvar resolve = 5;", "", "resolve", "must be a function"},
		{"resolve returns wrong type", withResolve("return 42;"), "", "resolve().options", "got number"},
		{"resolve returns incomplete options", withResolve("return {enabled: true};"), "", "resolve().approvalStep", "missing option"},
		{"resolve fails on temporary (user null)", withResolve("var x = ctx.user.organisation;"), "var x = ctx", "", "TypeError"},
		{"mapUserToCard unknown field", DefaultSource() + "\nfunction mapUserToCard(u) { return { commonname: 'x' }; }", "", "mapUserToCard().commonname", "did you mean commonName"},
		{"mapUserToCard element not a string", DefaultSource() + "\nfunction mapUserToCard(u) { return { elements: { A: 1 } }; }", "", "mapUserToCard().elements.A", "must be a string"},
		{"mapUserToCard sets the photo", DefaultSource() + "\nfunction mapUserToCard(u) { return { photo: 'x' }; }", "", "mapUserToCard().photo", "may not set the photo"},
		{"mapUserToCard sets the photo URL", DefaultSource() + "\nfunction mapUserToCard(u) { return { commonName: 'x', photoUrl: 'http://x' }; }", "", "mapUserToCard().photoUrl", "may not set the photo"},
		{"mapUserToCard cost centre not a string", DefaultSource() + "\nfunction mapUserToCard(u) { return { costCentre: 42 }; }", "", "mapUserToCard().costCentre", "must be a string"},
		{"mapUserToCard address not an object", DefaultSource() + "\nfunction mapUserToCard(u) { return { deliveryAddress: 'Main St' }; }", "", "mapUserToCard().deliveryAddress", "must be an object, got string"},
		{"mapUserToCard address unknown field", DefaultSource() + "\nfunction mapUserToCard(u) { return { deliveryAddress: { addressOne: 'a', postalCode: '1', city: 'c', countryCode: 'GB', zip: '1' } }; }", "", "mapUserToCard().deliveryAddress.zip", "unknown address field"},
		{"mapUserToCard address field not a string", DefaultSource() + "\nfunction mapUserToCard(u) { return { deliveryAddress: { addressOne: 'a', postalCode: 1, city: 'c', countryCode: 'GB' } }; }", "", "mapUserToCard().deliveryAddress.postalCode", "must be a string"},
		{"mapUserToCard address without a city", DefaultSource() + "\nfunction mapUserToCard(u) { return { deliveryAddress: { addressOne: 'a', postalCode: '1', countryCode: 'GB' } }; }", "", "mapUserToCard().deliveryAddress.city", ""},
		{"mapUserToCard address bad country", DefaultSource() + "\nfunction mapUserToCard(u) { return { deliveryAddress: { addressOne: 'a', postalCode: '1', city: 'c', countryCode: 'gbr' } }; }", "", "mapUserToCard().deliveryAddress.countryCode", ""},
		{"mapUserToCard returns nothing", DefaultSource() + "\nfunction mapUserToCard(u) { }", "", "mapUserToCard()", "must be an object, got undefined"},
		{"top level throws", "throw new Error('nope');", "throw", "", "uncaught exception: Error: nope"},
		{"backtracking regexp literal", DefaultSource() + "\nvar re = /^(\\w+\\s?)*\\1$/;", "var re", "", "regular expressions are not available"},
		{"look-ahead literal", DefaultSource() + "\nvar re = /a(?=b)/;", "var re", "", "regular expressions are not available"},
		{"any regexp literal", DefaultSource() + "\nfunction resolve(ctx) { return /a/.test(ctx.channel) ? options : options; }", "/a/", "", "regular expressions are not available"},
		{"regexp2 fallback via lastIndex", DefaultSource() + "\nvar r = /(a+)+b/g; r.lastIndex = 1; r.exec(\"x\" + \"a\".repeat(28));", "/(a+)", "", "regular expressions are not available"},
		{"getter in an object literal", DefaultSource() + "\nfunction resolve(ctx) { return { get enabled() { return true; } }; }", "get enabled", "", "getters and setters are not available"},
		{"setter in a class", DefaultSource() + "\nclass C { set x(v) {} }", "set x", "", "getters and setters are not available"},
		{"arguments in an arrow function", DefaultSource() + "\nfunction resolve(ctx) { var f = () => arguments; return f() ? options : options; }", "() => arguments", "", "arguments inside an arrow function"},
		{"BigInt literal", DefaultSource() + "\nvar big = 1n << (2n ** 40n);", "1n", "", "BigInt is not available"},
		{"BigInt literal in resolve", DefaultSource() + "\nfunction resolve(ctx) { return BigInt.asUintN(2 ** 40, -1n) ? options : options; }", "-1n", "", "BigInt is not available"},
		{"deeply nested brackets", "var options =\n" + strings.Repeat("[", 120000) + strings.Repeat("]", 120000), strings.Repeat("[", 257), "", "nested more than 256 levels"},
		{"deeply nested parentheses", "var options =\n" + strings.Repeat("(", 120000) + "1" + strings.Repeat(")", 120000), strings.Repeat("(", 257), "", "nested more than 256 levels"},
		{"deeply nested template substitutions", "var options =\n" + strings.Repeat("`${", 1000) + strings.Repeat("}`", 1000), strings.Repeat("`${", 257), "", "nested more than 256 levels"},
		{"long run of prefix operators", "var options =\n" + strings.Repeat("!", 200000) + "1;", strings.Repeat("!", 257), "", "prefix operators"},
		{"long run of prefix words", "var options =\n" + strings.Repeat("typeof ", 1000) + "1;", strings.Repeat("typeof ", 257), "", "prefix operators"},
		{"nesting hidden from the lexer", "var options =\n`${a b`" + strings.Repeat("[", 9000), "[[[", "", "more than 8192 operators"},
		{"nested duplicate labels", strings.Repeat("a:", 5000) + ";", "", "", "more than 1024 colons"},
		{"red-team nesting over the size cap", "var options = " + strings.Repeat("[", 499990) + strings.Repeat("]", 499990), "", "", "longer than"},
		{"source map comment does not read files", "//# sourceMappingURL=/dev/zero\nvar options = 1;", "var options", "options", "must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			_, err := Load(tt.src, Limits{})
			is.True(err != nil)
			is.True(errors.Is(err, ErrInvalidScript))
			is.True(!errors.Is(err, ErrScriptFailed))
			var se *ScriptError
			is.True(errors.As(err, &se))
			if tt.at != "" {
				i := strings.Index(tt.src, tt.at)
				is.True(i >= 0)
				is.Equal(se.Line, strings.Count(tt.src[:i], "\n")+1)
				is.True(se.Column > 0)
			}
			is.Equal(se.Option, tt.option)
			if !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("error %q lacks %q", err, tt.contains)
			}
		})
	}
}

// heapGrowth runs f and returns how much the live heap grew (after GC) and how much was
// allocated in total.
func heapGrowth(f func()) (live, total int64) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	// Collected first: live is what the heap keeps afterwards, not the garbage a fast machine
	// made before the limit stopped the script (the peak is bounded by the memory-capped child
	// processes of redteam_test.go).
	runtime.GC()
	runtime.ReadMemStats(&after)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc), int64(after.TotalAlloc - before.TotalAlloc)
}

// TestHostileScripts: each hostile script ends in a typed error within its limit, the process
// heap grows by less than 64 MiB, and the engine keeps the script in force.
func TestHostileScripts(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name  string
		body  string // the body of resolve
		cause error  // ErrTimeLimit, ErrCallDepth, ErrSizeLimit or nil (a plain throw)
		msg   string
	}{
		{"infinite loop", "while (true) {}", ErrTimeLimit, "time limit"},
		{"infinite loop with catch", "for (;;) { try { while (true) {} } catch (e) {} }", ErrTimeLimit, "time limit"},
		{"deep recursion", "function f(n) { return f(n + 1) + 1; } f(0);", ErrCallDepth, "call depth"},
		{"recursion through toString", "var o = { toString: function () { return String(o); } }; String(o);", ErrCallDepth, "call depth"},
		{"repeat", `"x".repeat(1e9);`, ErrSizeLimit, "repeat"},
		{"repeat just over", `"ab".repeat(500001);`, ErrSizeLimit, "repeat"},
		{"padStart", `"x".padStart(1e9);`, ErrSizeLimit, "padStart"},
		{"padEnd", `"x".padEnd(1e9, "abc");`, ErrSizeLimit, "padEnd"},
		{"Array(n)", `Array(1e9);`, ErrSizeLimit, "Array"},
		{"new Array(n).fill()", `new Array(1e9).fill(0);`, ErrSizeLimit, "Array"},
		{"subclassed Array", `class A extends Array {}; new A(1e9);`, ErrSizeLimit, "Array"},
		{"fill on lengthened array", `var a = []; a.length = 1e9; a.fill(0);`, ErrSizeLimit, "fill"},
		{"join of a sparse array", `var a = []; a.length = 1e9; a.join("x");`, ErrSizeLimit, "join"},
		{"join of big strings", `var s = "x".repeat(19999); [s, s, s].join("");`, ErrSizeLimit, "join"},
		{"String() of a sparse array", `var a = []; a[1e9] = 1; String(a);`, ErrSizeLimit, "join"},
		{"indexOf over a sparse array", `var a = []; a.length = 4e9; a.indexOf(1);`, ErrSizeLimit, "indexOf"},
		{"spread of a sparse array", `var a = []; a.length = 1e9; [...a];`, ErrSizeLimit, "values"},
		{"Array.from of an array-like", `Array.from({ length: 1e9 });`, ErrSizeLimit, "Array.from"},
		{"apply with an array-like", `Math.max.apply(null, { length: 1e9 });`, ErrSizeLimit, "argument list"},
		{"Reflect.apply with an array-like", `Reflect.apply(Math.max, null, { length: 1e9 });`, ErrSizeLimit, "argument list"},
		{"generic array method on an object", `Array.prototype.fill.call({ length: 1e9 }, 0);`, nil, "arrays only"},
		{"concat of spreadable object", `var o = { length: 1e9 }; o[Symbol.isConcatSpreadable] = true; var r = [].concat(o); throw new Error(r.length === 1 ? "not spread" : "spread");`, nil, "not spread"},
		{"descriptors of a long string", `Object.getOwnPropertyDescriptors("x".repeat(2e4));`, ErrSizeLimit, "getOwnPropertyDescriptors"},
		{"entries of a long string", `var s = "x".repeat(2e4); Object.entries(s.slice(0, 300));`, ErrSizeLimit, "entries"},
		{"assign from a long string", `Object.assign({}, "x".repeat(400));`, ErrSizeLimit, "assign"},
		{"keys of a String object", `Object.keys(new String("x".repeat(400)));`, ErrSizeLimit, "keys"},
		{"entries of a long array", `Object.entries(new Array(4000).fill(0));`, ErrSizeLimit, "entries"},
		{"ownKeys of a long string", `Reflect.ownKeys(new String("x".repeat(400)));`, ErrSizeLimit, "ownKeys"},
		{"JSON.parse of a long text", `JSON.parse("[" + "[],".repeat(6666) + "[]]");`, ErrSizeLimit, "JSON.parse"},
		{"concat over the cap", `var s = "x".repeat(12000); s.concat(s).split("");`, ErrSizeLimit, "concat"},
		{"replace with $' expansions", `var s = "x".repeat(2000); s.replaceAll("x", "$'");`, ErrSizeLimit, "replace"},
		{"JSON.stringify of a sparse array", `var a = []; a.length = 1e9; JSON.stringify({ a: a });`, ErrSizeLimit, "JSON.stringify"},
		{"JSON.stringify deep nesting", `var a = []; for (var i = 0; i < 10000; i++) a = [a]; JSON.stringify(a);`, ErrSizeLimit, "nesting"},
		{"JSON.parse deep nesting", `JSON.parse("[".repeat(1000) + "]".repeat(1000));`, ErrSizeLimit, "nesting"},
		{"flat of a cyclic array", `var a = [1]; a.push(a); a.flat(Infinity);`, ErrCallDepth, "call depth"},
		{"typed arrays are gone", `new Uint8Array(1e9);`, nil, "Uint8Array is not defined"},
		{"RegExp is gone", `new RegExp("(a+)+b", "g").exec("x" + "a".repeat(28));`, nil, "RegExp is not defined"},
		{"no regexp via match", `"x".match("(a+)+b");`, nil, "regular expressions are not available"},
		{"no regexp via matchAll", `"x".matchAll("(a+)+b");`, nil, "regular expressions are not available"},
		{"no regexp via search", `"x".search("(a+)+b");`, nil, "regular expressions are not available"},
		{"BigInt is gone", `BigInt.asUintN(Math.pow(2, 40), BigInt(-1));`, nil, "BigInt is not defined"},
		{"limit errors carry no host object", `try { "x".repeat(2e5); } catch (e) {
			var leaks = [e.value !== undefined, !(e instanceof RangeError), Object.getOwnPropertyNames(e).indexOf("value") >= 0, typeof e.Error, typeof e.Unwrap];
			throw new Error(leaks.join() === "false,false,false,undefined,undefined" ? "clean" : "host value: " + leaks.join() + " " + Object.keys(e.value || {}));
		}`, nil, "clean"},
		{"caught limit error rethrown is still a size limit", `var saved; try { "x".repeat(2e5); } catch (e) { saved = e; } saved.message = "changed"; throw saved;`, ErrSizeLimit, "repeat"},
		{"eval is gone", `eval("1");`, nil, "eval is not defined"},
		{"Function constructor is gone", `(function () {}).constructor("return this")();`, nil, "Function constructor"},
		{"generator Function constructor is gone", `(function* () {}).constructor("yield 1");`, nil, "Function constructor"},
		{"getter on the result that throws", `return Object.defineProperty(Object.assign({}, options), "enabled", { enumerable: true, get: function () { throw new Error("secret " + ctx.user.email); } });`, nil, "getters and setters are not available"},
		{"getter on the result that loops", `return Object.defineProperty(Object.assign({}, options), "enabled", { enumerable: true, get: function () { while (true) {} } });`, nil, "getters and setters are not available"},
		{"getter on a production type", `var o = Object.assign({}, options); o.productionTypes = [Object.defineProperty({ id: "standard", layoutId: "L-100" }, "label", { enumerable: true, get: function () { throw new Error(ctx.user.email); } })]; return o;`, nil, "getters and setters are not available"},
		{"hole filled from Array.prototype", `try { Array.prototype[1] = { id: "x", layoutId: "L-1", label: "X" }; } catch (e) {} var o = Object.assign({}, options); o.productionTypes = [options.productionTypes[0], , ]; return o;`, nil, "hole"},
		{"getter through defineProperties", `return Object.defineProperties(Object.assign({}, options), { enabled: { enumerable: true, get: function () { return true; } } });`, nil, "getters and setters are not available"},
		{"setter through Object.create", `return Object.create(null, { enabled: { enumerable: true, set: function (v) {} } });`, nil, "getters and setters are not available"},
		{"getter through Reflect.defineProperty", `var o = Object.assign({}, options); Reflect.defineProperty(o, "enabled", { enumerable: true, get: function () { return true; } }); return o;`, nil, "getters and setters are not available"},
		{"getter inherited by the descriptor", `return Object.defineProperty(Object.assign({}, options), "enabled", Object.create({ get: function () { return true; } }));`, nil, "getters and setters are not available"},
		{"throw", `throw new Error("refused for " + ctx.user.email);`, nil, "refused for"},
		{"throw a non-error", `throw ctx.user;`, nil, "uncaught exception"},
		{"throw an object whose toString loops", `throw { toString: function () { while (true) {} } };`, ErrTimeLimit, "time limit"},
		{"host objects", `if (typeof require !== "undefined" || typeof console !== "undefined" || typeof process !== "undefined") throw new Error("host object");
			var names = Object.getOwnPropertyNames(globalThis).concat(Object.getOwnPropertyNames(this || {}));
			if (names.indexOf("require") >= 0) throw new Error("require"); throw new Error("clean");`, nil, "clean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			// Install-time: the engine refuses it and keeps the script in force.
			// Generous time for the cases not about time: -race and a busy machine slow
			// everything down, and these must end by their own limit.
			lim := Limits{TimeLimit: 2 * time.Second}
			if tt.cause == ErrTimeLimit {
				lim = Limits{}
			}
			store := &fakeStore{}
			e, err := NewEngine(context.Background(), store, &EngineConfig{RefreshInterval: -1, Limits: lim})
			is.NoErr(err)
			_, before, _ := e.Current(context.Background())
			var installErr error
			live, _ := heapGrowth(func() {
				_, installErr = e.Install(context.Background(), withResolve(tt.body), before)
			})
			is.True(errors.Is(installErr, ErrInvalidScript))
			_, after, _ := e.Current(context.Background())
			is.Equal(after, before)
			is.True(live < 64*mib)
			assertCause(t, installErr, tt.cause, tt.msg)

			// Order-time: the same body in a script that loaded because it only misbehaves for
			// one user.
			s, err := Load(DefaultSource()+"\nfunction resolve(ctx) {\nif (ctx.user !== null && ctx.user.id === 'u-1') {\n"+tt.body+"\n}\nreturn options;\n}\n", lim)
			is.NoErr(err)
			var resolveErr error
			start := time.Now()
			live, _ = heapGrowth(func() {
				_, resolveErr = s.Resolve(context.Background(), operatorRequest())
			})
			is.True(time.Since(start) < 10*time.Second)
			is.True(errors.Is(resolveErr, ErrScriptFailed))
			is.True(live < 64*mib)
			assertCause(t, resolveErr, tt.cause, tt.msg)
			if tt.cause == nil {
				// A thrown value's text is kept out of the order-time message.
				var se *ScriptError
				is.True(errors.As(resolveErr, &se))
				is.True(strings.HasPrefix(se.Message, "uncaught") || se.Detail == "")
			}
			// Order-time messages carry no personal data.
			for _, pd := range []string{testUser.Email, testUser.GivenName, testUser.FamilyName, testUser.UPN} {
				is.True(!strings.Contains(resolveErr.Error(), pd))
			}
		})
	}
}

func assertCause(t *testing.T, err error, cause error, msg string) {
	t.Helper()
	var se *ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("%v is not a *ScriptError", err)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf("error %q: want cause %v", err, cause)
	}
	if cause == nil && se.Err != nil {
		t.Fatalf("error %q: unexpected cause %v", err, se.Err)
	}
	if se.Function == "" || se.Line == 0 {
		t.Fatalf("error %q: no function or line", err)
	}
	if !strings.Contains(err.Error(), msg) && !strings.Contains(se.Detail, msg) {
		t.Fatalf("error %q (detail %q) lacks %q", err, se.Detail, msg)
	}
}

func TestHostObjectsAbsent(t *testing.T) {
	is := is.New(t)
	// The standard ECMAScript globals, less what the sandbox removes, plus the script's own.
	const allowed = "AggregateError,Array,Boolean,Date,Error,EvalError,GoError,Infinity,JSON,Map,Math,NaN,Number,Object,Promise,RangeError,ReferenceError,Reflect,Set,String,Symbol,SyntaxError,TypeError,URIError,decodeURI,decodeURIComponent,encodeURI,encodeURIComponent,escape,globalThis,isFinite,isNaN,options,parseFloat,parseInt,resolve,undefined,unescape"
	s, err := Load(withResolve(`
		var allowed = "`+allowed+`".split(",");
		var unexpected = Object.getOwnPropertyNames(globalThis).filter(function (n) { return allowed.indexOf(n) < 0; });
		if (unexpected.length) throw new Error("unexpected globals: " + unexpected.join());
		if (this !== undefined) throw new Error("this is " + typeof this);
		var probes = [typeof require, typeof console, typeof process, typeof module, typeof exports, typeof setTimeout, typeof eval, typeof Function, typeof Proxy, typeof ArrayBuffer, typeof WeakRef];
		if (probes.join() !== "undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined") throw new Error("host object: " + probes.join());`), Limits{})
	is.NoErr(err)
	_, err = s.Resolve(context.Background(), operatorRequest())
	is.NoErr(err)
}

// MustLoadIgnoringSamples loads a script whose resolve fails on purpose for the sample contexts
// (channel temporary with actor "x" is not sampled): it wraps resolve to succeed for samples.
func MustLoadIgnoringSamples(t *testing.T, src string) *Script {
	t.Helper()
	i := strings.LastIndex(src, "function resolve(ctx) {") + len("function resolve(ctx) {")
	src = src[:i] + "\nif (ctx.actor.id.indexOf('sample') === 0) return options;" + src[i:]
	s, err := Load(src, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContextIsReadOnlyCopy(t *testing.T) {
	is := is.New(t)
	s, err := Load(withResolve(`
		"use strict";
		var failed = [];
		try { ctx.channel = "x"; failed.push("channel"); } catch (e) {}
		try { ctx.actor.roles.push("admin"); failed.push("roles"); } catch (e) {}
		if (ctx.user !== null) {
			try { ctx.user.email = "x"; failed.push("email"); } catch (e) {}
			try { ctx.user.attributes.site = "x"; failed.push("attributes"); } catch (e) {}
		}
		if (failed.length) throw new Error("writable: " + failed.join());`), Limits{})
	is.NoErr(err)
	u := *testUser
	u.Attributes = map[string]string{"site": "London"}
	_, err = s.Resolve(context.Background(), ports.OptionsRequest{User: &u, Actor: ports.Actor{ID: "a", Roles: []ports.Role{"operator"}}, Channel: "operator"})
	is.NoErr(err)
	is.Equal(u.Attributes["site"], "London")
}

func TestContextDeadlineHonoured(t *testing.T) {
	is := is.New(t)
	s, err := Load(DefaultSource()+"\nfunction resolve(ctx) { if (ctx.user && ctx.user.id === 'u-1') while (true) {} return options; }", Limits{TimeLimit: time.Minute})
	is.NoErr(err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = s.Resolve(ctx, operatorRequest())
	is.True(errors.Is(err, ErrScriptFailed))
	is.True(errors.Is(err, context.DeadlineExceeded))
	is.True(!errors.Is(err, ErrTimeLimit))

	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err = s.Resolve(done, operatorRequest())
	is.True(errors.Is(err, ErrScriptFailed))
	is.True(errors.Is(err, context.Canceled))
}

func TestLimitsConfigurable(t *testing.T) {
	is := is.New(t)
	_, err := Load(withResolve(`"x".repeat(11);`), Limits{MaxLength: 10})
	is.True(errors.Is(err, ErrSizeLimit))
	_, err = Load(withResolve(`function f(n) { return n === 0 ? 0 : f(n - 1); } f(20);`), Limits{MaxCallDepth: 10})
	is.True(errors.Is(err, ErrCallDepth))
	_, err = Load(withResolve(`function f(n) { return n === 0 ? 0 : f(n - 1); } f(20);`), Limits{MaxCallDepth: 100})
	is.NoErr(err)
	_, err = Load(DefaultSource(), Limits{TimeLimit: -1})
	is.True(err != nil)
	is.Equal(Limits{}.WithDefaults(), Limits{TimeLimit: 50 * time.Millisecond, MaxCallDepth: 256, MaxLength: DefaultMaxLength, MaxConcurrent: runtime.NumCPU()})
}

func TestOrderTimeErrorsHidePersonalData(t *testing.T) {
	is := is.New(t)
	s := MustLoadIgnoringSamples(t, withResolve(`
		var o = Object.assign({}, options);
		o[ctx.user.email] = true;
		return o;`))
	_, err := s.Resolve(context.Background(), operatorRequest())
	is.True(errors.Is(err, ErrScriptFailed))
	is.True(!strings.Contains(err.Error(), testUser.Email))
	var se *ScriptError
	is.True(errors.As(err, &se))
	is.Equal(se.Detail, testUser.Email) // kept apart for a dry run
	is.Equal(se.Option, "options")
}

func TestConcurrentResolve(t *testing.T) {
	s := MustLoad(DefaultSource()+"\nfunction resolve(ctx) { var o = Object.assign({}, options); o.enabled = ctx.channel === 'batch'; return o; }", Limits{TimeLimit: 5 * time.Second})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ch := ports.ChannelOperator
			if i%2 == 0 {
				ch = ports.ChannelBatch
			}
			for j := 0; j < 20; j++ {
				r, err := s.Resolve(context.Background(), ports.OptionsRequest{User: testUser, Channel: ch})
				if err != nil || r.Options.Enabled != (ch == ports.ChannelBatch) {
					t.Errorf("resolve: %v %v", r.Options.Enabled, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
}

// TestScriptSeesTheFullUser: ctx.user and the user of mapUserToCard carry the cost centre, the
// delivery address (or null) and whether there is a photo — never the photo; mapUserToCard's
// costCentre and deliveryAddress become overrides.
func TestScriptSeesTheFullUser(t *testing.T) {
	src := DefaultSource() + `
function resolve(ctx) {
  if (ctx.user !== null && ctx.user.id !== "sample-user") {
    var u = ctx.user, keys = Object.keys(u).sort().join();
    if (keys !== "attributes,costCentre,deliveryAddress,department,email,employeeNumber,familyName,givenName,hasPhoto,id,organisation,state,upn")
      throw new Error("keys: " + keys);
    try { u.id = "x"; throw new Error("writable"); } catch (e) { if (!(e instanceof TypeError)) throw e; }
    if (u.deliveryAddress !== null) { try { u.deliveryAddress.city = "x"; throw new Error("writable"); } catch (e) { if (!(e instanceof TypeError)) throw e; } }
  }
  return options;
}
function mapUserToCard(user) {
  var r = { costCentre: user.costCentre + (user.hasPhoto ? "-photo" : "-none") };
  if (user.deliveryAddress !== null) {
    var a = user.deliveryAddress;
    r.deliveryAddress = { recipient: user.givenName, addressOne: a.addressOne, addressTwo: a.addressTwo, postalCode: a.postalCode, city: a.city.toUpperCase(), countryCode: a.countryCode };
  }
  return r;
}`
	s := MustLoad(src, Limits{})
	addr := &ports.Address{Recipient: "Mail room", AddressOne: "12 St James's Square", AddressTwo: "Floor 2", PostalCode: "SW1Y 4LB", City: "London", CountryCode: "GB"}
	withPhoto := &ports.User{ID: "u-3", State: ports.UserActive, GivenName: "Ada", CostCentre: "CC-7", DeliveryAddress: addr, PhotoURL: "https://dir.example.org/photo/u-3"}
	noAddress := &ports.User{ID: "u-4", State: ports.UserActive, GivenName: "Bob", CostCentre: "CC-8"}
	tests := []struct {
		name string
		user *ports.User
		want *ports.CardOverrides
	}{
		{"address and photo", withPhoto, &ports.CardOverrides{CostCentre: ptr("CC-7-photo"), DeliveryAddress: &ports.Address{
			Recipient: "Ada", AddressOne: "12 St James's Square", AddressTwo: "Floor 2", PostalCode: "SW1Y 4LB", City: "LONDON", CountryCode: "GB"}}},
		{"no address, no photo", noAddress, &ports.CardOverrides{CostCentre: ptr("CC-8-none")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Resolve(context.Background(), ports.OptionsRequest{User: tt.user, Actor: ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}, Channel: ports.ChannelOperator})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got.Overrides); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}
