package options

import (
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"github.com/dop251/goja"
)

// Hardening a pooled runtime (docs/option-script.md, "Sandbox"). goja checks its interrupt only
// while script code runs: a built-in handed to another built-in (arr.map(call, toUpperCase),
// a comparator bound to localeCompare) would loop natively past any time limit. harden.js puts a
// guard in front of every native function a script can reach; the guard (enter) refuses to
// start once the call is over its time limit or its context has ended, and refuses strings
// longer than Limits.MaxLength, so the time one call takes is bounded by its limit plus the
// slowest single built-in call on capped inputs (the table in doc.go).

//go:embed harden.js
var hardenSource string

var hardenProgram = sync.OnceValue(func() *goja.Program {
	return goja.MustCompile("harden.js", hardenSource, true)
})

// haltError is what a guard panics with when the evaluation must stop (time limit or context):
// a Go value goja cannot catch, so no catch or finally block of the script runs; it unwinds to
// sandbox.run, which discards the runtime.
type haltError struct {
	cause error
	stack []goja.StackFrame
}

func (e *haltError) Error() string { return "stopped: " + e.cause.Error() }
func (e *haltError) Unwrap() error { return e.cause }

// enter is the guard's check before a native function runs.
func (sb *sandbox) enter(this goja.Value, args []goja.Value) {
	if p := sb.stop.Load(); p != nil {
		panic(&haltError{cause: *p, stack: sb.vm.CaptureCallStack(0, nil)})
	}
	sb.checkLen(this)
	for _, a := range args {
		sb.checkLen(a)
	}
}

// checkLen refuses a string longer than MaxLength as the input of a built-in: strings can grow
// past the cap by concatenation (+), which no built-in can stop, but no built-in takes them.
func (sb *sandbox) checkLen(v goja.Value) {
	if s, ok := v.(goja.String); ok && s.Length() > sb.lim.MaxLength {
		sb.throwLimit("a built-in's string argument")
	}
}

// guarded registers fn as a guard (harden.js leaves guards alone) and gives it name and length.
func (sb *sandbox) guarded(fn goja.Value, name, length goja.Value) *goja.Object {
	o := fn.(*goja.Object)
	_ = o.DefineDataProperty("name", name, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = o.DefineDataProperty("length", length, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	if sb.guards == nil {
		sb.guards = make(map[*goja.Object]bool)
	}
	sb.guards[o] = true
	return o
}

// wrap returns a guard that calls the native function fn.
func (sb *sandbox) wrap(fn *goja.Object) *goja.Object {
	call, ok := goja.AssertFunction(fn)
	if !ok {
		panic(sb.vm.NewTypeError("harden: not a function"))
	}
	g := sb.vm.ToValue(func(c goja.FunctionCall) goja.Value {
		sb.enter(c.This, c.Arguments)
		v, err := call(c.This, c.Arguments...)
		if err != nil {
			panic(err) // a JavaScript exception, an interrupt or a halt goes on up unchanged
		}
		return v
	})
	return sb.guarded(g, fn.Get("name"), fn.Get("length"))
}

// wrapConstruct returns a guard that constructs with the native constructor C: it is called by
// the JavaScript stand-in of harden.js with (arguments, new.target).
func (sb *sandbox) wrapConstruct(C *goja.Object) *goja.Object {
	ctor, ok := goja.AssertConstructor(C)
	if !ok {
		// Not constructible (Symbol): the original's own error.
		ctor = func(*goja.Object, ...goja.Value) (*goja.Object, error) {
			panic(sb.vm.NewTypeError("%s is not a constructor", C.Get("name").String()))
		}
	}
	g := sb.vm.ToValue(func(c goja.FunctionCall) goja.Value {
		list, _ := c.Argument(0).(*goja.Object)
		var args []goja.Value
		if list != nil {
			n := list.Get("length").ToInteger()
			if n > int64(sb.lim.MaxLength) {
				sb.throwLimit("argument list")
			}
			args = make([]goja.Value, n)
			for i := range args {
				args[i] = list.Get(fmt.Sprint(i))
			}
		}
		sb.enter(goja.Undefined(), args)
		nt, _ := c.Argument(1).(*goja.Object)
		o, err := ctor(nt, args...)
		if err != nil {
			panic(err)
		}
		return o
	})
	return sb.guarded(g, C.Get("name"), C.Get("length"))
}

// harden runs harden.js in a runtime that already ran the prelude.
func (sb *sandbox) harden(h *goja.Object) error {
	fn, err := sb.vm.RunProgram(hardenProgram())
	if err != nil {
		return fmt.Errorf("options: harden: %w", err)
	}
	run, ok := goja.AssertFunction(fn)
	if !ok {
		return errors.New("options: harden.js is not a function")
	}
	if _, err := run(goja.Undefined(), h); err != nil {
		return fmt.Errorf("options: harden: %w", err)
	}
	return nil
}
