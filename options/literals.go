package options

import (
	"math/big"
	"reflect"

	"github.com/dop251/goja/ast"
)

// Literals refused at load.
//
//   - Regular expressions: goja runs some patterns, and every pattern with the g or y flag and a
//     lastIndex other than 0 or on non-ASCII input, on the backtracking regexp2 engine, whose
//     matches nothing can interrupt (its only timeout is global to the process). Option scripts
//     get no regular expressions at all: literals are refused here, the RegExp global is removed
//     and the String.prototype methods that would build one from a string throw (sandbox.js).
//   - Getters and setters (object literal and class accessors): a result read from the script
//     must be plain data, read without running the script's code (decode.go). Together with
//     Object.defineProperty and its kin refusing accessor descriptors (sandbox.js), no object a
//     script makes has an accessor property.
//   - arguments inside an arrow function: goja's compiler reads it from a stale stack slot
//     instead of the enclosing function's arguments object (it never moves that object to the
//     closure's scope), so the arrow could read values of earlier calls — including the
//     sandbox's own captured originals — and write to them (docs/option-script.md, "No state
//     between orders"). Refused wherever an arrow function holds the name.
//   - BigInt: a BigInt operation allocates by a number the script chooses (1n << (2n ** 40n),
//     BigInt.asUintN(2 ** 40, -1n)) in one uninterruptible step. Literals are refused here and
//     the BigInt global is removed, so no BigInt value can exist in a run.

const (
	msgRegExp    = "regular expressions are not available in option scripts; use includes, startsWith, endsWith or indexOf"
	msgBigInt    = "BigInt is not available in option scripts"
	msgAccess    = "getters and setters are not available in option scripts; use plain properties"
	msgArrowArgs = "arguments inside an arrow function is not available in option scripts; use a rest parameter (...args) or a function expression"
)

// forbiddenLiteral returns the position (1-based file.Idx) and message of the first regular
// expression or BigInt literal of a parsed program, or "" when there is none. The program's
// depth is bounded by checkNesting, so the recursion here is too.
func forbiddenLiteral(prg *ast.Program) (idx int, msg string) {
	astPkg := reflect.TypeOf(ast.Program{}).PkgPath()
	bigIntType := reflect.TypeOf((*big.Int)(nil))
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value) bool
	walk = func(v reflect.Value) bool {
		switch v.Kind() {
		case reflect.Interface:
			return !v.IsNil() && walk(v.Elem())
		case reflect.Pointer:
			if v.IsNil() || v.Type().Elem().PkgPath() != astPkg || seen[v.Pointer()] {
				return false
			}
			seen[v.Pointer()] = true
			switch lit := v.Interface().(type) {
			case *ast.RegExpLiteral:
				idx, msg = int(lit.Idx), msgRegExp
				return true
			case *ast.PropertyKeyed:
				if lit.Kind == ast.PropertyKindGet || lit.Kind == ast.PropertyKindSet {
					idx, msg = int(lit.Idx0()), msgAccess
					return true
				}
			case *ast.MethodDefinition:
				if lit.Kind == ast.PropertyKindGet || lit.Kind == ast.PropertyKindSet {
					idx, msg = int(lit.Idx), msgAccess
					return true
				}
			case *ast.ArrowFunctionLiteral:
				if at := argumentsIn(lit); at > 0 {
					idx, msg = at, msgArrowArgs
					return true
				}
			case *ast.NumberLiteral:
				if lit.Value != nil && reflect.TypeOf(lit.Value) == bigIntType {
					idx, msg = int(lit.Idx), msgBigInt
					return true
				}
				return false
			}
			return walk(v.Elem())
		case reflect.Struct:
			if v.Type().PkgPath() != astPkg {
				return false
			}
			for i := 0; i < v.NumField(); i++ {
				if walk(v.Field(i)) {
					return true
				}
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				if walk(v.Index(i)) {
					return true
				}
			}
		}
		return false
	}
	walk(reflect.ValueOf(prg))
	return idx, msg
}

// argumentsIn returns the position (1-based file.Idx) of the first name "arguments" anywhere
// in the arrow function f (its parameters and body, nested functions too; not a property name
// such as x.arguments), or 0.
func argumentsIn(f *ast.ArrowFunctionLiteral) int {
	at := 0
	walkNames(f, reflect.TypeOf(ast.Program{}).PkgPath(), func(id *ast.Identifier) walkStep {
		if id.Name == "arguments" {
			at = int(id.Idx)
			return stop
		}
		return descend
	})
	return at
}
