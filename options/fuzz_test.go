package options

import (
	"context"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/cardsaddon/extprod/ports"
)

// FuzzLoad: any source loads or fails with a *ScriptError matching ErrInvalidScript; never a
// panic, never another error.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		DefaultSource(),
		withResolve("return options;"),
		withResolve(`"x".repeat(1e9);`),
		withResolve("while (true) {}"),
		"var options = {enabled: 'yes'}",
		"var options = {;",
		"",
		"/(a+)+\\1/",
		"var options = JSON.parse('{\"enabled\": true}');",
		DefaultSource() + "\nfunction mapUserToCard(u) { return { elements: { X: u.id } }; }",
		"//# sourceMappingURL=data:application/json;base64,e30=\nvar options = 1;",
		// The wrapper the top level runs in (script.go): attempts to close it.
		"}); globalThis.x = 1; (function () {",
		"var options = 1; }\n;(function () {",
		"return 1;",
		// Accessors, refused at load and at run time.
		"var options = { get enabled() { return true; } };",
		withResolve(`return Object.defineProperty({}, "enabled", { get: function () { return true; } });`),
		// Built-ins calling built-ins (issue 10): stopped by the guards.
		withResolve(`Array(2e4).fill("x".repeat(2e4)).map((function () {}).call, String.prototype.toUpperCase);`),
		withResolve(`for (;;) [3, 1, 2].sort((function () {}).call.bind(String.prototype.localeCompare));`),
		withResolve(`try { Object.prototype.x = 1; } catch (e) {} Symbol.for("x");`),
	} {
		f.Add(seed)
	}
	lim := Limits{TimeLimit: 20e6}.WithDefaults() // 20 ms keeps the fuzzer fast
	p := newPool(lim)                             // shared, as an Engine's: runtimes are reused
	f.Fuzz(func(t *testing.T, src string) {
		s, err := load(src, lim, p)
		if err != nil {
			var se *ScriptError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalidScript) {
				t.Fatalf("Load: untyped error %T %v", err, err)
			}
			return
		}
		if err := validateOptions(s.Options()); err != nil {
			t.Fatalf("loaded script has invalid options: %v", err)
		}
	})
}

// FuzzResolve: any context values resolve or fail with ErrScriptFailed, a script's result
// never depends on anything but the context, and the memos answer as an evaluation does.
func FuzzResolve(f *testing.F) {
	src := DefaultSource() + `
function resolve(ctx) {
  var o = Object.assign({}, options);
  o.enabled = ctx.user !== null && ctx.user.organisation.length % 2 === 0;
  o.approvalStep = ctx.actor.roles.indexOf("approver") >= 0;
  if (ctx.user !== null && ctx.user.attributes.fail === "yes") throw new Error("fail for " + ctx.user.email);
  return o;
}
function mapUserToCard(user) {
  var e = {};
  for (var k in user.attributes) e["ATTR_" + k.toUpperCase()] = user.attributes[k];
  return { commonName: user.givenName + " " + user.familyName, email: user.email, elements: e };
}`
	s := MustLoad(src, Limits{})
	f.Add("u-1", "Ada", "Lovelace", "ada@example.org", "Research", "site", "London", "operator", "operator")
	f.Add("", "", "", "", "", "", "", "", "temporary")
	f.Add("u-2", "\x00", "\u00e9", "x", "odd", "fail", "yes", "approver", "selfservice")
	f.Add("u-3", "a", "b", "c", "dd", "toString", "x", "selfservice", "batch")
	f.Fuzz(func(t *testing.T, id, given, family, email, org, attrKey, attrVal, role, channel string) {
		req := ports.OptionsRequest{
			Actor:   ports.Actor{ID: "actor", Roles: []ports.Role{ports.Role(role)}},
			Channel: ports.Channel(channel),
		}
		if channel != "temporary" {
			req.User = &ports.User{ID: id, State: ports.UserActive, GivenName: given, FamilyName: family,
				Email: email, Organisation: org, Attributes: map[string]string{attrKey: attrVal}}
		}
		r, err := s.Resolve(context.Background(), req)
		// The same order evaluated without the memos (memo.go): the same answer.
		var defaulted []string
		fresh, freshErr := s.evaluateWith(context.Background(), req, ErrScriptFailed, "", false, &defaulted)
		if (err == nil) != (freshErr == nil) || (err == nil && !cmp.Equal(r, fresh)) {
			t.Fatalf("memoized %+v, %v; evaluated %+v, %v", r, err, fresh, freshErr)
		}
		if err != nil {
			if !errors.Is(err, ErrScriptFailed) {
				t.Fatalf("untyped error %T %v", err, err)
			}
			for _, pd := range []string{email, given, family} {
				if len(pd) > 3 && utf8.ValidString(pd) && containsWord(err.Error(), pd) {
					t.Fatalf("error %q contains personal data %q", err, pd)
				}
			}
			return
		}
		if err := validateOptions(r.Options); err != nil {
			t.Fatalf("invalid options: %v", err)
		}
		if req.User != nil && r.Overrides == nil {
			t.Fatal("no overrides for a user")
		}
	})
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w {
			return true
		}
	}
	return false
}
