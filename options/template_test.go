package options

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dop251/goja/parser"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

// templateScripts are mapUserToCard functions that are templates (template.go), each using the
// constructs a template may use.
var templateScripts = []string{
	`function mapUserToCard(user) { return { commonName: user.familyName + ", " + user.givenName, elements: { DEPARTMENT: (user.department || "none").toUpperCase() } }; }`,
	`function mapUserToCard(u) { "use strict"; return { "upn": u.email.toLowerCase(), email: u.upn || u.email, costCentre: u.costCentre.trim() }; }`,
	"function mapUserToCard(u) { return { commonName: `${u.givenName} ${u.familyName}`, elements: { ORG: u.organisation, 'EMPLOYEE NO': `#${u.employeeNumber || u.id}` } }; }",
	`function mapUserToCard(u) { return { elements: { LOWER: u.state.toLowerCase().trim(), KEEP: "Straße", NONE: u.department || u.organisation || "" } }; }`,
	`function mapUserToCard() { return { commonName: "Card holder", elements: {} }; }`,
}

// notTemplates are mapUserToCard functions (and scripts) that are not templates: each runs in
// JavaScript.
var notTemplates = map[string]string{
	"a local name":           `function mapUserToCard(u) { var n = u.givenName; return { commonName: n }; }`,
	"two statements":         `function mapUserToCard(u) { if (u.id === "x") return {}; return { commonName: u.givenName }; }`,
	"a top-level name":       `var prefix = "Dr "; function mapUserToCard(u) { return { commonName: prefix + u.givenName }; }`,
	"a call of the script's": `function f(s) { return s; } function mapUserToCard(u) { return { commonName: f(u.givenName) }; }`,
	"an unknown field":       `function mapUserToCard(u) { return { commonName: u.nickname }; }`,
	"a field not a string":   `function mapUserToCard(u) { return { commonName: u.hasPhoto + "" }; }`,
	"a nested field":         `function mapUserToCard(u) { return { commonName: u.deliveryAddress.city }; }`,
	"a computed name":        `function mapUserToCard(u) { return { ["common" + "Name"]: u.givenName }; }`,
	"a name twice":           `function mapUserToCard(u) { return { commonName: u.givenName, commonName: u.familyName }; }`,
	"__proto__":              `function mapUserToCard(u) { return { elements: { __proto__: u.givenName } }; }`,
	"a spread":               `function mapUserToCard(u) { return { ...{ commonName: u.givenName } }; }`,
	"a shorthand":            `function mapUserToCard(u) { var commonName = "x"; return { commonName }; }`,
	"a getter":               `function mapUserToCard(u) { return { get commonName() { return u.givenName; } }; }`,
	"an address":             `function mapUserToCard(u) { return { deliveryAddress: { addressOne: u.id, city: "x", postalCode: "1", countryCode: "CH" } }; }`,
	"an unknown override":    `function mapUserToCard(u) { return { nickname: u.givenName }; }`,
	"elements not literal":   `function mapUserToCard(u) { return { elements: u.attributes }; }`,
	"another method":         `function mapUserToCard(u) { return { commonName: u.givenName.toLocaleUpperCase() }; }`,
	"a method with argument": `function mapUserToCard(u) { return { commonName: u.givenName.trim(1) }; }`,
	"a number":               `function mapUserToCard(u) { return { commonName: u.givenName + 1 }; }`,
	"another operator":       `function mapUserToCard(u) { return { commonName: u.givenName && u.familyName }; }`,
	"a tagged template":      "function mapUserToCard(u) { return { commonName: String.raw`${u.givenName}` }; }",
	"a default parameter":    `function mapUserToCard(u = {}) { return { commonName: u.givenName }; }`,
	"a destructured one":     `function mapUserToCard({ givenName }) { return { commonName: givenName }; }`,
	"two parameters":         `function mapUserToCard(u, v) { return { commonName: u.givenName }; }`,
	"an arrow function":      `var mapUserToCard = (u) => ({ commonName: u.givenName });`,
	"declared twice":         `function mapUserToCard(u) { return { commonName: u.givenName }; } function mapUserToCard(u) { return {}; }`,
	"a top level that runs":  `var n = String(1); function mapUserToCard(u) { return { commonName: u.givenName }; }`,
}

// TestTemplateShapes: the templates compile to one; every other shape does not, and runs in
// JavaScript.
func TestTemplateShapes(t *testing.T) {
	for i, src := range templateScripts {
		s, err := Load(enabledDefault()+"\n"+src, Limits{})
		if err != nil {
			t.Fatalf("template %d: %v", i, err)
		}
		if s.mapTemplate == nil {
			t.Errorf("template %d is not compiled: %s", i, src)
		}
	}
	for name, src := range notTemplates {
		if templateOf(t, enabledDefault()+"\n"+src) != nil {
			t.Errorf("%s: compiled to a template: %s", name, src)
		}
	}
}

// templateOf is the template loading src would compile (nil for none), whether or not the
// script then loads (its sample runs may fail).
func templateOf(t *testing.T, src string) *mapTemplate {
	t.Helper()
	prg, err := parser.ParseFile(nil, scriptName, src, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil // (a script that does not parse has none)
	}
	names, ok := sharable(prg)
	if !ok {
		return nil
	}
	return compileMapTemplate(prg, names, DefaultMaxLength)
}

// templateUsers are users whose fields are ASCII (the template answers), empty, beyond ASCII
// (a change of case goes to JavaScript), not valid UTF-8 (any use goes to JavaScript) or too
// long for a card (JavaScript's run words the error).
var templateUsers = []*ports.User{
	testUser,
	{ID: "u-2", State: ports.UserActive},
	{ID: "u-3", State: ports.UserActive, GivenName: "Jürgen", FamilyName: "Straße", Department: "straße", Organisation: "Ωmega", CostCentre: " \u00a0x\u0085 "},
	{ID: "u-4", State: ports.UserActive, GivenName: "\xff", FamilyName: "ok", Department: "\xfe", Email: "a@b"},
	{ID: "u-5", State: ports.UserActive, GivenName: strings.Repeat("x", 300), Department: strings.Repeat("d", 1100), CostCentre: strings.Repeat("c", 70)},
	{ID: "u-6", State: ports.UserActive, GivenName: " \t Ada \n", Department: "\v", CostCentre: "\t\r\n\f\v "},
}

// TestTemplateAnswersAsJavaScript: each template gives every user the answer (or the error)
// JavaScript gives, and answers itself where Go and JavaScript agree by construction.
func TestTemplateAnswersAsJavaScript(t *testing.T) {
	for i, src := range templateScripts {
		s := MustLoad(enabledDefault()+"\n"+src, Limits{})
		js := jsTwinOf(t, s)
		answered := 0
		for _, u := range templateUsers {
			if d := answersDiffer(s, js, u); d != "" {
				t.Fatalf("template %d, user %s: %s", i, u.ID, d)
			}
			if _, ok := s.mapTemplate.overrides(u); ok {
				answered++
			}
		}
		if answered < 2 { // testUser and the empty one at least
			t.Errorf("template %d answered %d of %d users", i, answered, len(templateUsers))
		}
	}
}

// TestTemplateDeclines: Go declines where it could differ from JavaScript, and the order is
// answered by JavaScript.
func TestTemplateDeclines(t *testing.T) {
	is := is.New(t)
	s := MustLoad(enabledDefault()+"\n"+templateScripts[0], Limits{})
	_, ok := s.mapTemplate.overrides(templateUsers[2]) // "straße".toUpperCase() is "STRASSE"
	is.True(!ok)
	r, err := s.Resolve(context.Background(), ports.OptionsRequest{User: templateUsers[2], Actor: ports.Actor{ID: "op"}, Channel: ports.ChannelOperator})
	is.NoErr(err)
	is.Equal(r.Overrides.Elements["DEPARTMENT"], "STRASSE")
	_, ok = s.mapTemplate.overrides(templateUsers[3]) // not valid UTF-8
	is.True(!ok)
	_, ok = s.mapTemplate.overrides(templateUsers[4]) // too long: JavaScript's run words it
	is.True(!ok)
	_, err = s.Resolve(context.Background(), ports.OptionsRequest{User: templateUsers[4], Actor: ports.Actor{ID: "op"}, Channel: ports.ChannelOperator})
	is.True(errors.Is(err, ErrScriptFailed) && strings.Contains(err.Error(), "commonName: must have at most 256 characters"))
}

// FuzzMapTemplate: for any user, the templates above, those of the red-team tests and one that
// trims and changes the case of concatenations (which JavaScript caps at MaxLength) answer as
// JavaScript does wherever they answer.
func FuzzMapTemplate(f *testing.F) {
	srcs := append(append([]string{
		"function mapUserToCard(u) { return { commonName: (u.givenName + u.familyName).trim(), costCentre: `${u.costCentre}`.toUpperCase().trim(), elements: { A: (u.department || u.organisation).toLowerCase(), B: u.email + u.upn } }; }",
	}, templateScripts...), trickyTemplates...)
	scripts := make([]*Script, len(srcs))
	js := make([]*Script, len(srcs))
	for i, src := range srcs {
		scripts[i] = MustLoad(enabledDefault()+"\n"+src, Limits{MaxLength: 300})
		js[i] = jsTwinOf(f, scripts[i])
	}
	for _, u := range append(append([]*ports.User{}, trickyUsers...), templateUsers...) {
		f.Add(u.ID, u.GivenName, u.FamilyName, u.Email, u.UPN, u.Department, u.CostCentre, u.Organisation)
	}
	f.Fuzz(func(t *testing.T, id, given, family, email, upn, dept, cc, org string) {
		u := &ports.User{ID: id, State: ports.UserActive, GivenName: given, FamilyName: family, Email: email, UPN: upn,
			Department: dept, CostCentre: cc, Organisation: org, EmployeeNumber: family}
		for i := range scripts {
			if _, ok := scripts[i].mapTemplate.overrides(u); !ok {
				continue // JavaScript answers
			}
			if d := answersDiffer(scripts[i], js[i], u); d != "" {
				t.Fatalf("template %d: %s", i, d)
			}
		}
	})
}
