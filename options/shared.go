package options

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/token"
)

// A shared top level (docs/option-script.md, "No state between orders").
//
// Each call of resolve or mapUserToCard needs the script's top level, and running it afresh per
// call costs about as much as the call itself. For a script whose top level only declares — data
// written as literals, and functions — and whose functions never assign to a top-level name, a
// pooled runtime runs the top level once, freezes everything it made (sandbox.freezeShared), and
// calls the functions of that one run for every order. Nothing an order does can then outlast it:
//   - no code runs at the top level, so the only things older than a call are the top-level
//     bindings (never assigned by a function: checked here), the objects they hold (frozen) and
//     the built-ins (frozen); every scope a call creates is its own;
//   - a call that modifies a frozen object gets a TypeError, and is then run again on a fresh
//     top level, with a time limit of its own (Script.call), so its result is the one it would
//     have had without the sharing; the script then stops sharing. Constructs that would see the
//     TypeError, or the freezing, without failing are not shared (try, async functions and
//     promises, Reflect, isFrozen and kin) — when named in the source: a script that builds
//     such a name at run time (Object["is" + "Frozen"]) can tell a shared top level from a fresh
//     one, and its answer may differ. That is the script's own answer, not another order's data.
//
// sharable decides; anything it does not know is not shared. A script that is not shared runs
// its top level afresh for every call, as before.

// notShared are names whose use keeps a script from sharing its top level: they catch the
// TypeError of a write to a frozen object, or tell frozen objects apart, without failing.
var notShared = map[string]bool{"Promise": true, "then": true, "catch": true, "finally": true, "Reflect": true,
	"isFrozen": true, "isSealed": true, "isExtensible": true, "getOwnPropertyDescriptor": true,
	"getOwnPropertyDescriptors": true, "preventExtensions": true,
	// (freezing lists a function's own properties in another order)
	"getOwnPropertyNames": true}

// sharable reports whether the script prg may share its top level between calls, and returns
// the names the top level declares.
func sharable(prg *ast.Program) (names []string, ok bool) {
	for _, st := range prg.Body {
		switch st := st.(type) {
		case *ast.FunctionDeclaration:
			if st.Function.Name == nil {
				return nil, false
			}
			names = append(names, st.Function.Name.Name.String())
		case *ast.VariableStatement:
			if names, ok = declared(st.List, names); !ok {
				return nil, false
			}
		case *ast.LexicalDeclaration:
			if names, ok = declared(st.List, names); !ok {
				return nil, false
			}
		case *ast.EmptyStatement:
		case *ast.ExpressionStatement:
			if _, directive := st.Expression.(*ast.StringLiteral); !directive {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	top := make(map[string]bool, len(names))
	for _, n := range names {
		top[n] = true
	}
	return names, !mayLeak(prg, top)
}

// declared adds the names of a top-level declaration; each must be a plain name whose value is
// data or a function (inert).
func declared(list []*ast.Binding, names []string) ([]string, bool) {
	for _, b := range list {
		id, ok := b.Target.(*ast.Identifier)
		if !ok || (b.Initializer != nil && !inert(b.Initializer)) {
			return nil, false
		}
		names = append(names, id.Name.String())
	}
	return names, true
}

// inert reports whether evaluating e runs no code and makes only plain objects, arrays and
// functions: literals, names, and functions (made, not called).
func inert(e ast.Expression) bool {
	switch e := e.(type) {
	case *ast.StringLiteral, *ast.NumberLiteral, *ast.BooleanLiteral, *ast.NullLiteral, *ast.Identifier:
		return true
	case *ast.FunctionLiteral:
		return !e.Async
	case *ast.ArrowFunctionLiteral:
		return !e.Async
	case *ast.TemplateLiteral:
		return e.Tag == nil && len(e.Expressions) == 0
	case *ast.UnaryExpression:
		_, num := e.Operand.(*ast.NumberLiteral)
		return num && (e.Operator == token.MINUS || e.Operator == token.PLUS)
	case *ast.ArrayLiteral:
		for _, v := range e.Value {
			if v != nil && !inert(v) {
				return false
			}
		}
		return true
	case *ast.ObjectLiteral:
		for _, p := range e.Value {
			switch p := p.(type) {
			case *ast.PropertyKeyed:
				if p.Computed || p.Kind != ast.PropertyKindValue || !inert(p.Value) {
					return false
				}
			case *ast.PropertyShort:
				if p.Initializer != nil {
					return false
				}
			default:
				return false
			}
		}
		return true
	}
	return false
}

// mayLeak reports whether anything in prg could carry state past a call or notice the freezing:
// an assignment to (or ++/-- of) a name the top level declares, or to a property of what such a
// name holds (options.x = ...: it would fail on the frozen object every time) — whatever scope
// the name resolves to, so a local of the same name counts too —, a try statement, an async
// function or await, or a name of notShared (as a name, a property or a string).
func mayLeak(prg *ast.Program, top map[string]bool) bool {
	astPkg := reflect.TypeOf(ast.Program{}).PkgPath()
	leak := false
	targets := func(e ast.Node) {
		walkNames(e, astPkg, func(id *ast.Identifier) walkStep {
			if top[id.Name.String()] {
				leak = true
				return stop
			}
			return descend
		})
	}
	walkAST(reflect.ValueOf(prg), astPkg, func(n any) walkStep {
		switch n := n.(type) {
		case *ast.AssignExpression:
			targets(n.Left)
		case *ast.UnaryExpression:
			if n.Operator == token.INCREMENT || n.Operator == token.DECREMENT {
				targets(n.Operand)
			}
		case *ast.ForIntoExpression:
			targets(n.Expression)
		case *ast.TryStatement, *ast.AwaitExpression:
			leak = true
		case *ast.FunctionLiteral:
			leak = leak || n.Async
		case *ast.ArrowFunctionLiteral:
			leak = leak || n.Async
		case *ast.Identifier:
			leak = leak || notShared[n.Name.String()]
		case *ast.StringLiteral:
			leak = leak || notShared[n.Value.String()]
		}
		if leak {
			return stop
		}
		return descend
	})
	return leak
}

// walkStep is what a visitor of walkAST asks for next.
type walkStep int

const (
	descend walkStep = iota // walk the node's children
	skip                    // go on, but not into this node's children
	stop                    // end the walk
)

// walkAST calls visit on every AST node under v (package ast: pointers, each once, and
// identifiers held by value) until visit says stop. The depth is bounded by checkNesting.
func walkAST(v reflect.Value, astPkg string, visit func(any) walkStep) {
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value) bool
	walk = func(v reflect.Value) bool {
		return walkNode(v, astPkg, seen, walk, visit)
	}
	walk(v)
}

func walkNode(v reflect.Value, astPkg string, seen map[uintptr]bool, walk func(reflect.Value) bool, visit func(any) walkStep) bool {
	switch v.Kind() {
	case reflect.Interface:
		return v.IsNil() || walk(v.Elem())
	case reflect.Pointer:
		if v.IsNil() || v.Type().Elem().PkgPath() != astPkg || seen[v.Pointer()] {
			return true
		}
		seen[v.Pointer()] = true
		switch visit(v.Interface()) {
		case stop:
			return false
		case skip:
			return true
		}
		return walk(v.Elem())
	case reflect.Struct:
		if v.Type().PkgPath() != astPkg {
			return true
		}
		if id, ok := v.Interface().(ast.Identifier); ok {
			return visit(&id) != stop
		}
		for i := 0; i < v.NumField(); i++ {
			if !walk(v.Field(i)) {
				return false
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if !walk(v.Index(i)) {
				return false
			}
		}
	}
	return true
}

// walkNames calls visit on every identifier under n that names a binding — not the property
// names of member expressions (o.name) — until visit says stop.
func walkNames(n ast.Node, astPkg string, visit func(*ast.Identifier) walkStep) {
	var names func(any) walkStep
	names = func(x any) walkStep {
		switch x := x.(type) {
		case *ast.DotExpression:
			walkAST(reflect.ValueOf(x.Left), astPkg, names)
			return skip
		case *ast.Identifier:
			return visit(x)
		}
		return descend
	}
	walkAST(reflect.ValueOf(n), astPkg, names)
}

// sharedTop returns the shared top level of s in this runtime, running and freezing it on first
// use; ok is false when s does not share its top level (or no longer does), or it could not be
// shared here (then the call runs a fresh one, which also reports any error of the top level).
func (sb *sandbox) sharedTop(s *Script) (g globals, ok bool) {
	if s.shared == nil || s.sharingOff.Load() {
		return g, false
	}
	if sb.shared == s.shared {
		return sb.sharedG, sb.sharedOK
	}
	sb.shared, sb.sharedG, sb.sharedOK = s.shared, globals{}, false
	fv, err := sb.vm.RunProgram(s.shared)
	if err != nil {
		return g, false
	}
	top, isFn := goja.AssertFunction(fv)
	if !isFn {
		return g, false
	}
	v, err := top(goja.Undefined())
	if err != nil {
		return g, false
	}
	arr := v.(*goja.Object)
	if g, err = globalsOf(arr); err != nil {
		return g, false
	}
	names := arr.Get("3").(*goja.Object)
	values := []goja.Value{arr.Get("0"), arr.Get("1"), arr.Get("2")}
	for i, n := 0, int(names.Get("length").ToInteger()); i < n; i++ {
		values = append(values, names.Get(strconv.Itoa(i)))
	}
	if !sb.freezeShared(values) {
		return globals{}, false
	}
	sb.sharedG, sb.sharedOK = g, true
	return g, true
}

// freezeShared freezes everything the values reach that is not frozen yet (the built-ins are),
// and reports false if it meets anything but a plain object, an array or a script function:
// then the top level is not shared.
func (sb *sandbox) freezeShared(values []goja.Value) bool {
	seen := map[*goja.Object]bool{}
	var queue []*goja.Object
	add := func(v goja.Value) {
		if o, ok := v.(*goja.Object); ok && !seen[o] {
			seen[o] = true
			queue = append(queue, o)
		}
	}
	for _, v := range values {
		add(v)
	}
	for len(queue) > 0 {
		o := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		frozen, err := sb.isFrozen(goja.Undefined(), o)
		if err != nil {
			return false
		}
		if frozen.ToBoolean() {
			continue // a built-in, frozen by harden.js
		}
		if !sb.plain(o) {
			return false
		}
		for _, k := range o.GetOwnPropertyNames() {
			add(o.Get(k))
		}
		if len(o.Symbols()) > 0 {
			return false
		}
		if _, err := sb.freeze(goja.Undefined(), o); err != nil {
			return false
		}
	}
	return true
}

// plain reports whether o is a plain object, an array or a script function, with the intrinsic
// prototype of its kind.
func (sb *sandbox) plain(o *goja.Object) bool {
	p := o.Prototype()
	switch o.ClassName() {
	case "Object":
		return p == sb.protos[0]
	case "Array":
		return p == sb.protos[1]
	case "Function":
		return p == sb.protos[2] && !sb.guards[o] && !isNativeFunction(o)
	}
	return false
}

// isNativeFunction reports whether a function is one of goja's (its source is not shown).
func isNativeFunction(o *goja.Object) bool {
	return strings.Contains(o.String(), "[native code]")
}
