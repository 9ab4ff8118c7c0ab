package options

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

// Red-team tests of templates (template.go): a mapUserToCard answered in Go must give every
// user exactly what JavaScript gives (the overrides, or an error), and decline wherever Go could
// differ. Each test compares a script against its JavaScript twin: the same source loaded under
// the same limits, with its template removed.

// jsTwinOf is s loaded again under its own limits without its template.
func jsTwinOf(t testing.TB, s *Script) *Script {
	t.Helper()
	lim := s.Limits()
	js, err := Load(s.Source(), lim)
	if err != nil {
		t.Fatal(err)
	}
	js.mapTemplate = nil
	return js
}

// templateOrder is an operator order for u.
func templateOrder(u *ports.User) ports.OptionsRequest {
	return ports.OptionsRequest{User: u, Actor: ports.Actor{ID: "op", Roles: []ports.Role{ports.RoleOperator}}, Channel: ports.ChannelOperator}
}

// answersDiffer returns how s's answer to u differs from its JavaScript twin's ("" if not).
func answersDiffer(s, js *Script, u *ports.User) string {
	got, err := s.Resolve(context.Background(), templateOrder(u))
	want, wantErr := js.Resolve(context.Background(), templateOrder(u))
	if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		return "error " + errString(err) + ", JavaScript's " + errString(wantErr)
	}
	return cmp.Diff(want, got)
}

func errString(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}

// trickyTemplates are shapes a template accepts, each with something that could read
// differently in Go: escapes in names and literals, raw and cooked template text, names of
// Object.prototype, integer-like element names, directives, parentheses, a parameter named
// like a global or like the function, line terminators in literals.
var trickyTemplates = []string{
	"function mapUserToCard(u) { return { commonName: `a\r\nb${u.givenName}\rc` }; }",
	"function mapUserToCard(u) { return { commonName: `a\\\r\nb${u.givenName}\\u{1F600}\\x41\\0` }; }",
	`function mapUserToCard(u) { return { commonName: "\uD83D\uDE00" + u.givenName + 'a\u2028b' + "a\
b" }; }`,
	`function mapUserToCard(u) { return { \u0063ommonName: u.\u0067ivenName, "upn": u.upn }; }`,
	`function mapUserToCard(u) { return { elements: { if: u.givenName, class: u.id, "1": u.state, "01": u.id, constructor: u.familyName, toString: u.id, hasOwnProperty: u.email, valueOf: u.upn, 'a\u0000': u.id, '\u00e9': u.id, 'e\u0301': u.department } }; }`,
	`function mapUserToCard(u) { 'use strict'; 'another directive'; return ({ commonName: (u.givenName), }); }`,
	`function mapUserToCard(undefined) { return { commonName: undefined.givenName || undefined.familyName }; }`,
	`function mapUserToCard(mapUserToCard) { return { commonName: mapUserToCard.familyName }; }`,
	`function mapUserToCard(String) { return { commonName: String.givenName.toUpperCase() }; }`,
	"function mapUserToCard(u) { return { commonName: `${u.givenName}${u.familyName}`.toUpperCase().trim().toLowerCase(), costCentre: u.costCentre.trim() || 'none' }; }",
	`function mapUserToCard(u) { return { commonName: u.organisation + u.givenName, email: u.email || u.upn || "", upn: (u.upn || "x").toLowerCase() }; }`,
	`function mapUserToCard(u) { return { commonName: ('' || '').trim() || 'x', elements: {} }; }`,
	`var prefix = "Dr"; function resolve(ctx) { return options; } function mapUserToCard(u) { return { elements: { D: u.department.trim(), E: u.employeeNumber + u.state } }; }`,
}

// trickyUsers have text fields a template could read differently from JavaScript: a BOM, NUL,
// the non-characters, astral characters, encoded surrogates, invalid bytes, Unicode white space
// around ASCII, and lengths at the limits of a card's fields.
var trickyUsers = []*ports.User{
	{ID: "t-1", State: ports.UserActive, GivenName: "\ufeffAda", FamilyName: "\ufeff", Department: "\x00", CostCentre: "\uffff\ufffe"},
	{ID: "t-2", State: ports.UserActive, GivenName: "\U0001F600", FamilyName: "\U0010FFFF", Department: "\u00e9", Email: "\u2028", UPN: "\u0085x"},
	{ID: "t-3", State: ports.UserActive, GivenName: "\xed\xa0\x80", FamilyName: "\xed\xb0\x80", Department: "\xed\xa0\xbd\xed\xb8\x80", CostCentre: "\xc0\x80"},
	{ID: "t-4", State: ports.UserActive, GivenName: "\u00a0Ada\u3000", FamilyName: "\u2003", Department: "\ufeff eng \ufeff", CostCentre: "\u1680x"},
	{ID: "t-5", State: ports.UserActive, GivenName: strings.Repeat("g", 256), FamilyName: "", Department: strings.Repeat("d", 1024), CostCentre: strings.Repeat("c", 64), UPN: strings.Repeat("u", 256)},
	{ID: "t-6", State: ports.UserActive, GivenName: strings.Repeat("g", 257), Department: strings.Repeat("d", 1025), CostCentre: strings.Repeat("c", 65), Email: strings.Repeat("e", 257)},
	{ID: "t-7", State: ports.UserActive, GivenName: strings.Repeat("\U0001F600", 256), CostCentre: strings.Repeat("\u00e9", 64), Department: " \t\v\f\r\n x \x1c\x1d\x1e\x1f"},
	{ID: "", State: "", GivenName: "", FamilyName: "", Organisation: "\x7f", EmployeeNumber: "\x00\x00"},
}

// TestRedteamTemplateTrickyShapesAnswerAsJavaScript: each tricky shape is a template, and gives
// every tricky user (and the package's template users) JavaScript's answer or error.
func TestRedteamTemplateTrickyShapesAnswerAsJavaScript(t *testing.T) {
	users := append(append([]*ports.User{}, trickyUsers...), templateUsers...)
	for i, src := range trickyTemplates {
		s, err := Load(enabledDefault()+"\n"+src, Limits{})
		if err != nil {
			t.Fatalf("shape %d does not load: %v", i, err)
		}
		if s.mapTemplate == nil {
			t.Errorf("shape %d is not a template (the test would compare JavaScript with itself): %s", i, src)
			continue
		}
		js := jsTwinOf(t, s)
		for _, u := range users {
			if d := answersDiffer(s, js, u); d != "" {
				t.Errorf("shape %d, user %q: %s\n%s", i, u.ID, src, d)
			}
		}
	}
}

// TestRedteamTemplateRefusesWhatReadsDifferently: shapes whose JavaScript does something a
// template does not model are not templates: the prototype set through an escaped __proto__,
// a name given twice through an escape, a number key, a sequence, unary plus, ??, optional
// chaining, a bracket read, this, a default, two declarations of mapUserToCard (function and
// var, function twice), a class at the top level, empty statements.
func TestRedteamTemplateRefusesWhatReadsDifferently(t *testing.T) {
	for name, src := range map[string]string{
		"escaped __proto__ (identifier)": `function mapUserToCard(u) { return { elements: { \u005f_proto__: u.givenName } }; }`,
		"escaped __proto__ (string)":     `function mapUserToCard(u) { return { elements: { "\u005f_proto__": u.givenName } }; }`,
		"a name twice through an escape": `function mapUserToCard(u) { return { commonName: u.givenName, "\u0063ommonName": u.familyName }; }`,
		"an element name twice":          `function mapUserToCard(u) { return { elements: { a: u.givenName, "a": u.familyName } }; }`,
		"a number key":                   `function mapUserToCard(u) { return { elements: { 1: u.givenName } }; }`,
		"a sequence":                     `function mapUserToCard(u) { return { commonName: (0, u.givenName) }; }`,
		"a sequence around the object":   `function mapUserToCard(u) { return (0, { commonName: u.givenName }); }`,
		"unary plus":                     `function mapUserToCard(u) { return { commonName: "" + +u.givenName }; }`,
		"??":                             `function mapUserToCard(u) { return { commonName: u.givenName ?? "x" }; }`,
		"optional chaining":              `function mapUserToCard(u) { return { commonName: u?.givenName }; }`,
		"an optional call":               `function mapUserToCard(u) { return { commonName: u.givenName.trim?.() }; }`,
		"a bracket read":                 `function mapUserToCard(u) { return { commonName: u["givenName"] }; }`,
		"this":                           `function mapUserToCard(u) { return { commonName: this.givenName }; }`,
		"a var of the same name":         `var mapUserToCard; function mapUserToCard(u) { return { commonName: u.givenName }; }`,
		"declared twice, same body":      `function mapUserToCard(u) { return { commonName: u.givenName }; } function mapUserToCard(u) { return { commonName: u.givenName }; }`,
		"a class at the top level":       `class K {} function mapUserToCard(u) { return { commonName: u.givenName }; }`,
		"an empty statement first":       `function mapUserToCard(u) { ; return { commonName: u.givenName }; }`,
		"assigned in resolve":            `function resolve(ctx) { mapUserToCard = null; return options; } function mapUserToCard(u) { return { commonName: u.givenName }; }`,
		"a generator":                    `function* mapUserToCard(u) { return { commonName: u.givenName }; }`,
		"a method of the user":           `function mapUserToCard(u) { return { commonName: u.toString() }; }`,
		"a method of a number":           `function mapUserToCard(u) { return { commonName: (1).toString() }; }`,
	} {
		if templateOf(t, enabledDefault()+"\n"+src) != nil {
			t.Errorf("%s: compiled to a template: %s", name, src)
		}
	}
}

// TestRedteamTemplateLoadErrorsAsJavaScript: a template whose sample run fails is refused at
// load with the message its JavaScript twin (the same script, not sharing its top level, so no
// template) gets.
func TestRedteamTemplateLoadErrorsAsJavaScript(t *testing.T) {
	is := is.New(t)
	for name, src := range map[string]string{
		"a name too long":          `function mapUserToCard(u) { return { commonName: "` + strings.Repeat("x", 257) + `" }; }`,
		"a cost centre too long":   `function mapUserToCard(u) { return { costCentre: u.department + u.department + u.department + u.department }; }`,
		"a blank element name":     `function mapUserToCard(u) { return { elements: { " ": u.id } }; }`,
		"an element name too long": `function mapUserToCard(u) { return { elements: { "` + strings.Repeat("k", 65) + `": u.id } }; }`,
		"an element too long":      "function mapUserToCard(u) { return { elements: { K: `" + strings.Repeat("v", 1020) + "${u.id}` } }; }",
	} {
		full := enabledDefault() + "\n" + src
		s, err := Load(full, Limits{})
		_, twinErr := Load(unsharedTwin(full), Limits{})
		is.True(s == nil)
		is.True(err != nil && twinErr != nil)
		if err.Error() != twinErr.Error() {
			t.Errorf("%s: %v; JavaScript's: %v", name, err, twinErr)
		}
		is.True(errors.Is(err, ErrInvalidScript))
	}
}

// TestRedteamTemplateTrimOfLongField: a field longer than MaxLength (20,000 by default) that
// trims to a short value. JavaScript's trim is a guarded built-in that refuses a string longer
// than MaxLength (ErrSizeLimit); the template declines a receiver longer than MaxLength, so the
// order gets JavaScript's error. (Found by this test: the template trimmed it and answered.)
func TestRedteamTemplateTrimOfLongField(t *testing.T) {
	is := is.New(t)
	s := MustLoad(enabledDefault()+"\nfunction mapUserToCard(u) { return { elements: { DEPT: u.department.trim() } }; }", Limits{})
	is.True(s.mapTemplate != nil)
	js := jsTwinOf(t, s)
	u := &ports.User{ID: "u-long", State: ports.UserActive, Department: strings.Repeat(" ", DefaultMaxLength+1) + "Eng"}
	_, jsErr := js.Resolve(context.Background(), templateOrder(u))
	is.True(errors.Is(jsErr, ErrSizeLimit)) // JavaScript refuses it
	if d := answersDiffer(s, js, u); d != "" {
		t.Fatalf("the template answers a trim of a field longer than MaxLength, JavaScript fails: %s", d)
	}
}

// TestRedteamTemplateSmallMaxLength: under a MaxLength below the card's field limits, a
// change of case of a field longer than MaxLength fails in JavaScript (ErrSizeLimit) and the
// template does not answer it.
func TestRedteamTemplateSmallMaxLength(t *testing.T) {
	is := is.New(t)
	s := MustLoad(enabledDefault()+"\nfunction mapUserToCard(u) { return { commonName: u.givenName.toUpperCase() }; }", Limits{MaxLength: 100})
	is.True(s.mapTemplate != nil)
	js := jsTwinOf(t, s)
	u := &ports.User{ID: "u-200", State: ports.UserActive, GivenName: strings.Repeat("a", 200)}
	_, jsErr := js.Resolve(context.Background(), templateOrder(u))
	is.True(errors.Is(jsErr, ErrSizeLimit))
	if d := answersDiffer(s, js, u); d != "" {
		t.Fatalf("under MaxLength 100 the template upper-cases a 200-character name, JavaScript fails: %s", d)
	}
}

// TestRedteamTemplateLoadUnderSmallMaxLength: at load, mapUserToCard runs for the sample user;
// a template's sample run is answered in Go. Under MaxLength 16, JavaScript refuses
// "Sample Department".toUpperCase() (17 characters): the script must be refused at load as its
// JavaScript twin is. (Found by this test: the template's script loaded, its twin did not.)
func TestRedteamTemplateLoadUnderSmallMaxLength(t *testing.T) {
	is := is.New(t)
	src := enabledDefault() + "\nfunction mapUserToCard(u) { return { elements: { D: u.department.toUpperCase() } }; }"
	lim := Limits{MaxLength: 16}
	_, twinErr := Load(unsharedTwin(src), lim)
	is.True(errors.Is(twinErr, ErrInvalidScript) && errors.Is(twinErr, ErrSizeLimit))
	_, err := Load(src, lim)
	is.True(err != nil)
	is.Equal(err.Error(), twinErr.Error())
}
