package options

import (
	"errors"
	"reflect"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
)

// Regular expressions. goja runs a pattern with Go's linear-time regexp package when it can and
// falls back to the backtracking regexp2 engine otherwise (back-references, look-arounds, huge
// repeat counts). Neither vm.Interrupt nor anything else stops a regexp2 match in progress, and
// its only timeout is the package-level regexp2.DefaultMatchTimeout, which a library must not
// change for the whole process. So option scripts may only use patterns that goja runs with
// Go's regexp: checkPattern refuses any pattern that would need regexp2 under any combination
// of flags. Literals are checked at load (with their line); patterns built at run time are
// checked by the sandbox's RegExp (see sandbox.js), and no other way to compile a pattern
// remains (eval, the Function constructors and RegExp.prototype.compile are removed).

// errBacktracking is the message for a refused pattern.
const errBacktracking = "regular expression needs backtracking (back-reference, look-ahead or look-behind, or a very large repeat count), which option scripts do not allow because it cannot be stopped by the time limit"

// checkPattern returns a non-empty message when goja would compile pattern with regexp2 for some
// flags. A pattern that is a syntax error is left to goja, which throws a SyntaxError.
func checkPattern(pattern string) string {
	// goja rewrites non-BMP characters and escaped surrogate pairs before the transformation;
	// rather than mirror that, refuse them (rare in option scripts).
	for _, r := range pattern {
		if r > 0xFFFF || r == utf8.RuneError {
			return "regular expression with characters outside the Basic Multilingual Plane is not supported in option scripts"
		}
	}
	if strings.Contains(strings.ToLower(pattern), `\ud`) {
		return "regular expression with escaped surrogates is not supported in option scripts"
	}
	for _, dotAll := range []bool{false, true} {
		for _, unicode := range []bool{false, true} {
			re2, err := parser.TransformRegExp(pattern, dotAll, unicode)
			if err != nil {
				var incompat parser.RegexpErrorIncompatible
				if errors.As(err, &incompat) {
					return errBacktracking
				}
				continue // a syntax error in this mode: goja throws, no regexp2
			}
			if _, err := regexp.Compile("(?ims:" + re2 + ")"); err != nil {
				var se *syntax.Error
				if errors.As(err, &se) && se.Code == syntax.ErrInvalidRepeatSize {
					return errBacktracking
				}
			}
		}
	}
	return ""
}

// regexpLiterals returns every regular-expression literal of a parsed program.
func regexpLiterals(prg *ast.Program) []*ast.RegExpLiteral {
	var out []*ast.RegExpLiteral
	astPkg := reflect.TypeOf(ast.Program{}).PkgPath()
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Pointer:
			if v.IsNil() || v.Type().Elem().PkgPath() != astPkg {
				return
			}
			if seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			if lit, ok := v.Interface().(*ast.RegExpLiteral); ok {
				out = append(out, lit)
				return
			}
			walk(v.Elem())
		case reflect.Struct:
			if v.Type().PkgPath() != astPkg {
				return
			}
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(prg))
	return out
}
