package options

import (
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/token"

	"github.com/cardsaddon/extprod/ports"
)

// A mapUserToCard that is a template (docs/option-script.md, "Templates") is evaluated in Go.
//
// Most mappings only put the user's fields together:
//
//	function mapUserToCard(user) {
//	  return { commonName: user.familyName + ", " + user.givenName,
//	           elements: { DEPARTMENT: (user.department || "none").toUpperCase() } };
//	}
//
// Such a function reads nothing but its argument, keeps no state and calls no code of the
// script's, so its answer is a function of the user's fields alone, and running it in a runtime
// of the pool costs far more than the answer. compileMapTemplate recognises the shape — one
// return of an object literal of strings made from the user's text fields, string literals and
// template literals with +, || and the methods toUpperCase, toLowerCase and trim — in a script
// whose top level is shared (shared.go: mapUserToCard is then the one function the declaration
// made), and the order's call is answered by mapTemplate.overrides, checked as decodeOverrides
// checks what JavaScript returned. Where Go and JavaScript could differ (a field that is not
// valid UTF-8, a change of case or a trim of text that is not ASCII or is longer than
// Limits.MaxLength, a result the hand check does not pass), overrides declines and the call
// runs in JavaScript as any other: the answer is the one JavaScript gives, and FuzzMapTemplate
// compares the two.

// mapTemplate is a mapUserToCard compiled from the script: the fields of the overrides it
// returns (commonName, upn, email, costCentre) and, if it returns elements, theirs.
type mapTemplate struct {
	fields      []templateField
	hasElements bool
	elements    []templateField
}

// templateField is one property of the returned object: its name and its value.
type templateField struct {
	name  string
	value templateText
}

// templateText is a string expression of a template: its value for a user, or ok false when Go
// could give another answer than JavaScript (the call then runs in JavaScript).
type templateText func(u *ports.User) (s string, ok bool)

// overrides is what the template returns for u, as decodeOverrides would read it, or ok false
// when the call must run in JavaScript.
func (t *mapTemplate) overrides(u *ports.User) (_ *ports.CardOverrides, ok bool) {
	var doc overridesDoc
	for _, f := range t.fields {
		s, ok := f.value(u)
		if !ok {
			return nil, false
		}
		switch f.name {
		case "commonName":
			doc.CommonName = &s
		case "upn":
			doc.UPN = &s
		case "email":
			doc.Email = &s
		default: // "costCentre"
			doc.CostCentre = &s
		}
	}
	if t.hasElements {
		doc.Elements = make(map[string]string, len(t.elements))
		for _, f := range t.elements {
			s, ok := f.value(u)
			if !ok {
				return nil, false
			}
			doc.Elements[f.name] = s
		}
	}
	if !plainlyValid(&doc) {
		return nil, false // JavaScript's run words what is wrong (decodeOverrides)
	}
	return doc.overrides(), true
}

// compileMapTemplate returns the template of the script's mapUserToCard, or nil when it is not
// one. names are the top-level names of a script whose top level is shared (sharable); maxLen
// is Limits.MaxLength, beyond which the built-ins refuse a string (harden.go).
func compileMapTemplate(prg *ast.Program, names []string, maxLen int) *mapTemplate {
	declared := 0
	for _, n := range names {
		if n == "mapUserToCard" {
			declared++
		}
	}
	if declared != 1 {
		return nil // not defined, or defined twice (the last one would count)
	}
	var fn *ast.FunctionLiteral
	for _, st := range prg.Body {
		if d, ok := st.(*ast.FunctionDeclaration); ok && d.Function.Name.Name == "mapUserToCard" {
			fn = d.Function
		}
	}
	if fn == nil || fn.Async || fn.Generator || fn.ParameterList.Rest != nil || len(fn.ParameterList.List) > 1 {
		return nil
	}
	c := textCompiler{maxLen: maxLen}
	if len(fn.ParameterList.List) == 1 {
		b := fn.ParameterList.List[0]
		id, ok := b.Target.(*ast.Identifier)
		if !ok || b.Initializer != nil {
			return nil
		}
		c.param = id.Name.String()
	}
	body := fn.Body.List
	for len(body) > 0 && isDirective(body[0]) {
		body = body[1:]
	}
	if len(body) != 1 {
		return nil
	}
	ret, ok := body[0].(*ast.ReturnStatement)
	if !ok {
		return nil
	}
	obj, ok := ret.Argument.(*ast.ObjectLiteral)
	if !ok {
		return nil
	}
	t := &mapTemplate{}
	props, ok := templateProperties(obj)
	if !ok {
		return nil
	}
	for _, p := range props {
		switch p.name {
		case "commonName", "upn", "email", "costCentre":
			v := c.text(p.value)
			if v == nil {
				return nil
			}
			t.fields = append(t.fields, templateField{p.name, v})
		case "elements":
			eo, ok := p.value.(*ast.ObjectLiteral)
			if !ok {
				return nil
			}
			elems, ok := templateProperties(eo)
			if !ok || len(elems) > maxElements {
				return nil
			}
			t.hasElements = true
			for _, e := range elems {
				v := c.text(e.value)
				if v == nil {
					return nil
				}
				t.elements = append(t.elements, templateField{e.name, v})
			}
		default:
			return nil // an address, the photo or an unknown name: JavaScript's run decides
		}
	}
	return t
}

// isDirective reports whether st is a directive ("use strict").
func isDirective(st ast.Statement) bool {
	e, ok := st.(*ast.ExpressionStatement)
	if !ok {
		return false
	}
	_, ok = e.Expression.(*ast.StringLiteral)
	return ok
}

// literalProperty is a property of an object literal: a plain name and the expression of its
// value.
type literalProperty struct {
	name  string
	value ast.Expression
}

// templateProperties returns the properties of o, each a plain name: value (no computed name,
// no method, getter, spread or shorthand, no name twice, no __proto__, which would set the
// prototype instead).
func templateProperties(o *ast.ObjectLiteral) ([]literalProperty, bool) {
	props := make([]literalProperty, 0, len(o.Value))
	for _, p := range o.Value {
		kp, ok := p.(*ast.PropertyKeyed)
		if !ok || kp.Computed || kp.Kind != ast.PropertyKindValue {
			return nil, false
		}
		var name string
		switch k := kp.Key.(type) {
		case *ast.StringLiteral:
			name = k.Value.String()
		case *ast.Identifier:
			name = k.Name.String()
		default:
			return nil, false
		}
		if name == "__proto__" || !plainText(name) {
			return nil, false
		}
		for _, q := range props {
			if q.name == name {
				return nil, false
			}
		}
		props = append(props, literalProperty{name, kp.Value})
	}
	return props, true
}

// plainText reports whether a literal's text reads the same in Go and in JavaScript: valid
// UTF-8 that holds no replaced character (a lone surrogate of the source becomes one).
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, utf8.RuneError)
}

// textFields are the user's fields that are always strings for a script (request.go).
var textFields = map[string]bool{"id": true, "state": true, "givenName": true, "familyName": true, "email": true,
	"upn": true, "organisation": true, "department": true, "employeeNumber": true, "costCentre": true}

// textCompiler compiles the string expressions of a template over the function's parameter
// (param, "" for none); maxLen is Limits.MaxLength.
type textCompiler struct {
	param  string
	maxLen int
}

// text compiles a string expression of a template, or returns nil when e is not one.
func (c textCompiler) text(e ast.Expression) templateText {
	switch e := e.(type) {
	case *ast.StringLiteral:
		s := e.Value.String()
		if !plainText(s) {
			return nil
		}
		return func(*ports.User) (string, bool) { return s, true }
	case *ast.DotExpression:
		id, ok := e.Left.(*ast.Identifier)
		key := e.Identifier.Name.String()
		if !ok || c.param == "" || id.Name.String() != c.param || !textFields[key] {
			return nil
		}
		return func(u *ports.User) (string, bool) {
			s := userField(u, key).text
			return s, utf8.ValidString(s) // (goja would replace what is not)
		}
	case *ast.TemplateLiteral:
		return c.templateLiteral(e)
	case *ast.BinaryExpression:
		l, r := c.text(e.Left), c.text(e.Right)
		if l == nil || r == nil {
			return nil
		}
		switch e.Operator {
		case token.PLUS:
			return func(u *ports.User) (string, bool) {
				a, ok1 := l(u)
				b, ok2 := r(u)
				return a + b, ok1 && ok2
			}
		case token.LOGICAL_OR: // a string is true unless empty; the right side only runs then
			return func(u *ports.User) (string, bool) {
				if a, ok := l(u); !ok || a != "" {
					return a, ok
				}
				return r(u)
			}
		}
	case *ast.CallExpression:
		m, ok := e.Callee.(*ast.DotExpression)
		if !ok || len(e.ArgumentList) != 0 {
			return nil
		}
		recv := c.text(m.Left)
		if recv == nil {
			return nil
		}
		var f func(string) string
		switch m.Identifier.Name.String() {
		case "toUpperCase":
			f = strings.ToUpper
		case "toLowerCase":
			f = strings.ToLower
		case "trim":
			f = strings.TrimSpace
		default:
			return nil
		}
		// On ASCII text Go's case mapping and white space are JavaScript's; beyond it they
		// differ ("ß".toUpperCase() is "SS", U+0085 is not white space in JavaScript). And the
		// built-in refuses text longer than MaxLength (its length: ASCII is one unit a byte).
		maxLen := c.maxLen
		return func(u *ports.User) (string, bool) {
			s, ok := recv(u)
			if !ok || !isASCII(s) || len(s) > maxLen {
				return "", false
			}
			return f(s), true
		}
	}
	return nil
}

// templateLiteral compiles an untagged template literal whose substitutions are string
// expressions.
func (c textCompiler) templateLiteral(e *ast.TemplateLiteral) templateText {
	if e.Tag != nil || len(e.Elements) != len(e.Expressions)+1 {
		return nil
	}
	parts := make([]string, len(e.Elements))
	for i, el := range e.Elements {
		if !el.Valid || !plainText(el.Parsed.String()) {
			return nil
		}
		parts[i] = el.Parsed.String()
	}
	subs := make([]templateText, len(e.Expressions))
	for i, x := range e.Expressions {
		if subs[i] = c.text(x); subs[i] == nil {
			return nil
		}
	}
	return func(u *ports.User) (string, bool) {
		var b strings.Builder
		b.WriteString(parts[0])
		for i, sub := range subs {
			s, ok := sub(u)
			if !ok {
				return "", false
			}
			b.WriteString(s)
			b.WriteString(parts[i+1])
		}
		return b.String(), true
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
