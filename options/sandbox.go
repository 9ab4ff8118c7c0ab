package options

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

//go:embed sandbox.js
var preludeSource string

// prelude is compiled once per process, on first use (no init side effect).
var prelude = sync.OnceValue(func() *goja.Program {
	return goja.MustCompile("sandbox.js", preludeSource, true)
})

// sandbox is one hardened runtime of a pool (pool.go): built once, then used by one evaluation
// (the calls of one order) at a time. Everything a script can reach outside its own call is
// frozen (harden.js), and the script's top level runs in a function called afresh per call
// (script.go) or once, frozen (shared.go), so nothing one call does can be seen by the next.
type sandbox struct {
	vm     *goja.Runtime
	lim    Limits
	steps  map[*goja.Object]int
	freeze goja.Callable
	// isFrozen is Object.isFrozen; protos are the prototypes of plain objects, arrays and
	// functions (shared.go).
	isFrozen goja.Callable
	protos   [3]*goja.Object
	// shared is the top level this runtime shares between the calls of one script (shared.go);
	// sharedOK is false when that script's top level could not be shared here.
	shared   *goja.Program
	sharedG  globals
	sharedOK bool
	// guards are the native functions sandbox.go made (harden.js does not wrap them again).
	guards map[*goja.Object]bool
	// stop is set, with the cause, when the evaluation must end (time limit, context): every
	// guard then halts (harden.go).
	stop atomic.Pointer[error]
	// uses counts evaluations, stampingUses those of scripts that can stamp (pool.go); broken
	// is set when the runtime must not be used again.
	uses, stampingUses int
	broken             bool
	// lastPrg and lastTop are the last script run here and its top-level function (topLevel).
	lastPrg *goja.Program
	lastTop goja.Callable
	// impure is set when the running call asked for the time or a random number; trace is the
	// buffer of its reads (memo.go); calls counts the calls of the running evaluation.
	impure bool
	calls  int
	trace  []step
	// timer is the time limit, armed for each evaluation (made by the first).
	timer *limitTimer
	// hasOwn is the intrinsic Object.prototype.hasOwnProperty.call (decode.go).
	hasOwn func(o *goja.Object, key goja.Value) (goja.Value, error)
	// rangeError is the intrinsic RangeError constructor, captured before the script runs.
	rangeError goja.Constructor
	// causes maps the errors the sandbox threw to their Go cause. The thrown values are plain
	// JavaScript errors: a GoError would hand the script the reflected Go error (e.value, with
	// callable Error and Unwrap methods). describe looks the exception up here.
	causes map[*goja.Object]error
}

// newSandbox makes a hardened runtime: the prelude of sandbox.js, then harden.js.
func newSandbox(lim Limits) (*sandbox, error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(lim.MaxCallDepth)
	sb := &sandbox{vm: vm, lim: lim}
	// Math.random draws from the process-wide generator: no state in the runtime that one
	// evaluation could set or observe for the next. Asking for a random number or the time
	// makes the call impure: its result is not a function of its reads (memo.go).
	vm.SetRandSource(func() float64 { sb.impure = true; return rand.Float64() })
	vm.SetTimeSource(func() time.Time { sb.impure = true; return time.Now() })
	freeze, ok := goja.AssertFunction(vm.GlobalObject().Get("Object").ToObject(vm).Get("freeze"))
	if !ok {
		return nil, errors.New("options: Object.freeze missing")
	}
	sb.freeze = freeze
	// (Captured before the prelude and the script run: the intrinsics themselves.)
	obj := vm.GlobalObject().Get("Object").ToObject(vm)
	if sb.isFrozen, ok = goja.AssertFunction(obj.Get("isFrozen")); !ok {
		return nil, errors.New("options: Object.isFrozen missing")
	}
	sb.protos = [3]*goja.Object{obj.Get("prototype").ToObject(vm),
		vm.GlobalObject().Get("Array").ToObject(vm).Get("prototype").ToObject(vm),
		vm.GlobalObject().Get("Function").ToObject(vm).Get("prototype").ToObject(vm)}
	hasOwn, ok := goja.AssertFunction(vm.GlobalObject().Get("Object").ToObject(vm).Get("prototype").ToObject(vm).Get("hasOwnProperty"))
	if !ok {
		return nil, errors.New("options: Object.prototype.hasOwnProperty missing")
	}
	sb.hasOwn = func(o *goja.Object, key goja.Value) (goja.Value, error) { return hasOwn(o, key) }
	if sb.rangeError, ok = goja.AssertConstructor(vm.GlobalObject().Get("RangeError")); !ok {
		return nil, errors.New("options: RangeError missing")
	}
	fn, err := vm.RunProgram(prelude())
	if err != nil {
		return nil, fmt.Errorf("options: sandbox prelude: %w", err)
	}
	install, ok := goja.AssertFunction(fn)
	if !ok {
		return nil, errors.New("options: sandbox prelude is not a function")
	}
	h := sb.helpers()
	if _, err := install(goja.Undefined(), h); err != nil {
		return nil, fmt.Errorf("options: sandbox prelude: %w", err)
	}
	if err := sb.harden(h); err != nil {
		return nil, err
	}
	return sb, nil
}

// throwLimit throws a RangeError into the script (which may catch it; the refused allocation
// never happened); uncaught, describe reports it as ErrSizeLimit.
func (sb *sandbox) throwLimit(what string) {
	msg := fmt.Sprintf("%s: over the limit of %d characters or elements", what, sb.lim.MaxLength)
	obj, err := sb.rangeError(nil, sb.vm.ToValue(msg))
	if err != nil {
		panic(err)
	}
	if sb.causes == nil {
		sb.causes = make(map[*goja.Object]error)
	}
	sb.causes[obj] = &limitError{msg: msg}
	panic(obj)
}

// cause returns the Go cause of an exception the sandbox threw, or nil.
func (sb *sandbox) cause(ex *goja.Exception) error {
	if o, ok := ex.Value().(*goja.Object); ok {
		return sb.causes[o]
	}
	return nil
}

// helpers builds the h object of sandbox.js.
func (sb *sandbox) helpers() *goja.Object {
	vm := sb.vm
	max := float64(sb.lim.MaxLength)
	h := vm.NewObject()
	set := func(name string, fn func(goja.FunctionCall) goja.Value) { _ = h.Set(name, fn) }
	_ = h.Set("max", sb.lim.MaxLength)
	_ = h.Set("maxDepth", sb.lim.MaxCallDepth)
	set("limit", func(c goja.FunctionCall) goja.Value {
		if n := c.Argument(0).ToFloat(); n > max {
			sb.throwLimit(c.Argument(1).String())
		}
		return goja.Undefined()
	})
	set("toInteger", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(toInteger(c.Argument(0).ToFloat()))
	})
	set("toLength", func(c goja.FunctionCall) goja.Value {
		n := toInteger(c.Argument(0).ToFloat())
		return vm.ToValue(math.Min(math.Max(n, 0), 1<<53-1))
	})
	set("toUint32", func(c goja.FunctionCall) goja.Value {
		f := c.Argument(0).ToFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return vm.ToValue(0)
		}
		return vm.ToValue(uint32(int64(math.Mod(math.Trunc(f), 1<<32))))
	})
	set("replaceBound", func(c goja.FunctionCall) goja.Value {
		sLen := c.Argument(0).ToFloat()
		repl := c.Argument(1).String()
		matches := c.Argument(2).ToFloat()
		dollars := float64(strings.Count(repl, "$"))
		perMatch := float64(len(repl)) + dollars*sLen
		if sLen+matches*perMatch > max {
			sb.throwLimit("String.prototype.replace (possible result length)")
		}
		return goja.Undefined()
	})
	set("arrayThis", func(c goja.FunctionCall) goja.Value {
		sb.arrayThis(c.Argument(0), c.Argument(1).String())
		return goja.Undefined()
	})
	set("step", func(c goja.FunctionCall) goja.Value {
		o, ok := c.Argument(0).(*goja.Object)
		if !ok {
			return goja.Undefined()
		}
		if sb.steps == nil {
			sb.steps = make(map[*goja.Object]int)
		}
		sb.steps[o]++
		if sb.steps[o] > sb.lim.MaxLength+1 {
			sb.throwLimit(c.Argument(1).String())
		}
		return goja.Undefined()
	})
	set("arrayLike", func(c goja.FunctionCall) goja.Value {
		o, ok := c.Argument(0).(*goja.Object)
		if !ok {
			panic(vm.NewTypeError("CreateListFromArrayLike called on non-object"))
		}
		n := o.Get("length").ToFloat()
		if n > max {
			sb.throwLimit("argument list")
		}
		if o.ClassName() == "Array" {
			return o
		}
		l := int(toInteger(n))
		vals := make([]any, max0(l))
		for i := range vals {
			vals[i] = o.Get(strconv.Itoa(i))
		}
		return vm.NewArray(vals...)
	})
	set("typeError", func(c goja.FunctionCall) goja.Value {
		return vm.NewTypeError(c.Argument(0).String())
	})
	_ = h.Set("symIterator", goja.SymIterator)
	_ = h.Set("symSpecies", goja.SymSpecies)
	set("guardArrayMethods", func(c goja.FunctionCall) goja.Value {
		sb.guardArrayMethods(c.Argument(0).(*goja.Object))
		return goja.Undefined()
	})
	set("guardReflective", func(c goja.FunctionCall) goja.Value {
		var names []string
		if err := vm.ExportTo(c.Argument(2), &names); err != nil {
			panic(err)
		}
		sb.guardReflective(c.Argument(0).(*goja.Object), c.Argument(1).String(), names)
		return goja.Undefined()
	})
	set("wrap", func(c goja.FunctionCall) goja.Value {
		return sb.wrap(c.Argument(0).(*goja.Object))
	})
	set("wrapConstruct", func(c goja.FunctionCall) goja.Value {
		return sb.wrapConstruct(c.Argument(0).(*goja.Object))
	})
	set("isGuard", func(c goja.FunctionCall) goja.Value {
		o, _ := c.Argument(0).(*goja.Object)
		return vm.ToValue(sb.guards[o])
	})
	set("jsonDepth", func(c goja.FunctionCall) goja.Value {
		if jsonDepth(c.Argument(0).String()) > sb.lim.MaxCallDepth {
			sb.throwLimit("JSON.parse nesting")
		}
		return goja.Undefined()
	})
	return h
}

// arraySpecial are the Array.prototype methods sandbox.js wraps itself.
var arraySpecial = map[string]bool{"constructor": true, "join": true, "toString": true, "toLocaleString": true,
	"concat": true, "flat": true, "flatMap": true}

// guardArrayMethods replaces every other method of Array.prototype ap by a native function that
// refuses a this that is not an array, or an array longer than MaxLength, then calls the
// original (captured here, before the script runs). Doing this in Go rather than in sandbox.js
// avoids a property descriptor, a closure and an interpreted call per method.
func (sb *sandbox) guardArrayMethods(ap *goja.Object) {
	vm := sb.vm
	for _, name := range ap.GetOwnPropertyNames() {
		if arraySpecial[name] {
			continue
		}
		orig, ok := goja.AssertFunction(ap.Get(name))
		if !ok {
			continue
		}
		what := "Array.prototype." + name
		fn := ap.Get(name).(*goja.Object)
		guard := sb.guarded(vm.ToValue(func(c goja.FunctionCall) goja.Value {
			sb.enter(c.This, c.Arguments)
			sb.arrayThis(c.This, what)
			v, err := orig(c.This, c.Arguments...)
			if err != nil {
				panic(err) // a JavaScript exception, an interrupt or a halt goes on up unchanged
			}
			return v
		}), fn.Get("name"), fn.Get("length"))
		if err := ap.DefineDataProperty(name, guard, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
			panic(err)
		}
	}
}

// guardReflective replaces each function names of o (Object.keys and kin: one value per
// element of a string or an array) by a guard that refuses strings longer than a hundredth of
// MaxLength and arrays longer than a tenth, as arguments, then calls the original with o as
// this. A string grows cheaply past any cap by concatenation, and one descriptor per character
// is hundreds of bytes.
func (sb *sandbox) guardReflective(o *goja.Object, prefix string, names []string) {
	for _, name := range names {
		fn := o.Get(name).(*goja.Object)
		orig, ok := goja.AssertFunction(fn)
		if !ok {
			continue
		}
		what := prefix + name
		guard := sb.guarded(sb.vm.ToValue(func(c goja.FunctionCall) goja.Value {
			sb.enter(c.This, c.Arguments)
			for _, a := range c.Arguments {
				sb.perElement(a, what)
			}
			v, err := orig(o, c.Arguments...)
			if err != nil {
				panic(err) // a JavaScript exception, an interrupt or a halt goes on up unchanged
			}
			return v
		}), fn.Get("name"), fn.Get("length"))
		if err := o.DefineDataProperty(name, guard, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
			panic(err)
		}
	}
}

// perElement refuses, as the argument of what, a string (or String object) longer than a
// hundredth of MaxLength or an array longer than a tenth.
func (sb *sandbox) perElement(v goja.Value, what string) {
	n, per := int64(0), int64(0)
	switch v := v.(type) {
	case goja.String:
		n, per = int64(v.Length()), 100
	case *goja.Object:
		switch v.ClassName() {
		case "String":
			n, per = v.Get("length").ToInteger(), 100
		case "Array":
			n, per = v.Get("length").ToInteger(), 10
		}
	}
	if n*per > int64(sb.lim.MaxLength) {
		sb.throwLimit(what)
	}
}

// arrayThis refuses a this that is not an array, or an array longer than MaxLength.
func (sb *sandbox) arrayThis(this goja.Value, what string) {
	o, ok := this.(*goja.Object)
	if !ok || o.ClassName() != "Array" {
		panic(sb.vm.NewTypeError("%s: option scripts use array methods on arrays only (use Array.from first)", what))
	}
	if o.Get("length").ToFloat() > float64(sb.lim.MaxLength) {
		sb.throwLimit(what)
	}
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

func toInteger(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	return math.Trunc(f)
}

// jsonDepth returns the deepest nesting of arrays and objects in a JSON text (strings skipped).
func jsonDepth(s string) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == '[' || ch == '{':
			depth++
			if depth > deepest {
				deepest = depth
			}
		case ch == ']' || ch == '}':
			depth--
		}
	}
	return deepest
}

// WallSlack is how much longer than its time limit a call run on the CPU clock may last on the
// wall clock, whatever CPU time it got (limitTimer): the hard bound of the second run of an
// evaluation that passed its limit on the wall clock (Linux). An honest script needs the slack
// only to wait for a CPU on a busy machine; a script that computes stops at its time limit of CPU
// time, or at the time limit plus WallSlack of wall time if the machine gives it less than that.
// That run makes at most four calls (resolve and mapUserToCard, each perhaps run again on a fresh
// top level).
const WallSlack = time.Second

// halt stops the running evaluation with cause: every guard refuses to start (harden.go) and
// goja's interrupt stops the script's own code.
func (sb *sandbox) halt(cause error) {
	sb.stop.CompareAndSwap(nil, &cause)
	sb.vm.Interrupt(cause)
}

// limitTimer enforces the time limit of the call running on a runtime (one timer per runtime,
// re-armed for each evaluation and restarted for each further call). An evaluation first runs
// on the wall clock, which costs no system call. If it is still running when the limit has
// passed on the wall clock, it is stopped and, where the OS tells the CPU time of a thread
// (Linux), run once more on a fresh runtime with the limit counting the CPU time the call got
// (Script.eval): a call that only waited for a CPU on a busy machine then finishes, one that
// computes stops at the limit. In that second run, when the wall timer fires early because the
// thread waited, it is re-armed for the CPU time left; the wall clock stops the call at the
// limit plus WallSlack regardless. Elsewhere the limit is wall-clock only.
type limitTimer struct {
	sb    *sandbox
	limit time.Duration
	start time.Time
	clock threadClock
	cpu   bool          // the limit counts CPU time: clock is known
	base  time.Duration // the thread's CPU time when the call started
	// rerunOnCPU: the limit counts wall time, and a run over it is to be run again on the
	// CPU clock; overWall: this run was stopped for that.
	rerunOnCPU, overWall bool

	mu       sync.Mutex
	done     bool // the evaluation ended: the timer must neither halt nor re-arm
	t        *time.Timer
	rearms   atomic.Int32 // times the wall timer found CPU time left (observable by tests)
	fires    atomic.Int32 // times the wall timer fired (observable by tests)
	restarts atomic.Int32 // times a call started the limit again (observable by tests)
}

// restart starts the time limit of the running evaluation again, from now: each call of resolve
// or mapUserToCard has a limit of its own (docs/option-script.md, "Limits").
func (d *limitTimer) restart() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return
	}
	d.start = time.Now()
	d.restarts.Add(1)
	if d.cpu {
		d.base, d.cpu = d.clock.now()
		d.t.Reset(d.limit)
	}
	// On the wall clock the timer stays armed: when it fires before the limit counted from
	// the new start, it re-arms for the rest (fire).
}

// fire runs when the wall timer expires.
func (d *limitTimer) fire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fires.Add(1)
	if d.done {
		return
	}
	if d.cpu {
		if now, ok := d.clock.now(); ok {
			used, wall, ceiling := now-d.base, time.Since(d.start), d.limit+WallSlack
			if used < d.limit && wall < ceiling {
				d.t.Reset(min(d.limit-used, ceiling-wall))
				d.rearms.Add(1)
				return
			}
		}
	} else if wall := time.Since(d.start); wall < d.limit {
		d.t.Reset(d.limit - wall) // restarted since it was armed, or armed by the previous evaluation
		return
	} else if d.rerunOnCPU {
		if d.sb.stop.Load() == nil { // (not when the caller's context stopped it first)
			d.overWall = true
			d.sb.halt(errOverWall)
		}
		return
	}
	d.sb.halt(ErrTimeLimit)
}

// errOverWall stops a run on the wall clock that passed the time limit: it is run again with
// the limit counting CPU time (limitTimer). No error a caller sees wraps it.
var errOverWall = errors.New("over the time limit on the wall clock: to be run again on the CPU clock")

// run calls f under the time limit and the caller's context, and turns a Go panic into an error.
// f must do all its work with the runtime (including reading results) before returning. The
// time limit starts here, when the evaluation already holds its slot and its runtime (pool.go),
// and starts again for each further call (sandbox.startCall). With cpuClock it counts the CPU
// time of the evaluating OS thread, which the evaluation holds until it ends; without, the wall
// time, and overWall reports afterwards whether the run was stopped to be run again on the CPU
// clock (limitTimer). Afterwards the runtime is clean for the next evaluation, or marked broken.
func (sb *sandbox) run(ctx context.Context, cpuClock bool, f func() error) (err error) {
	if ctx.Err() != nil {
		return &notStarted{cause: context.Cause(ctx)}
	}
	sb.uses++
	sb.calls = 0
	clear(sb.steps)
	clear(sb.causes)
	var (
		clock threadClock
		base  time.Duration
		cpu   bool
	)
	if cpuClock {
		runtime.LockOSThread()
		if clock, cpu = currentThreadClock(); cpu {
			base, cpu = clock.now()
		}
	}
	d := sb.timer
	if d == nil {
		d = &limitTimer{sb: sb}
		sb.timer = d
	}
	d.mu.Lock()
	d.limit, d.clock, d.cpu, d.base, d.start, d.done = sb.lim.TimeLimit, clock, cpu, base, time.Now(), false
	d.rerunOnCPU, d.overWall = !cpuClock && hasThreadClock, false
	if d.t == nil {
		d.t = time.AfterFunc(d.limit, d.fire)
	} else {
		d.t.Reset(d.limit)
	}
	d.mu.Unlock()
	var ctxFired chan struct{}
	stopCtx := func() bool { return true }
	if ctx.Done() != nil {
		ctxFired = make(chan struct{})
		stopCtx = context.AfterFunc(ctx, func() { defer close(ctxFired); sb.halt(context.Cause(ctx)) })
	}
	defer func() {
		// Whatever fired must have finished before the interrupt is cleared, or the next
		// evaluation on this runtime would be interrupted.
		d.mu.Lock()
		d.done = true
		d.t.Stop()
		d.mu.Unlock()
		if !stopCtx() {
			<-ctxFired
		}
		if cpuClock {
			runtime.UnlockOSThread()
		}
		if sb.stop.Load() != nil {
			sb.broken = true // stopped in the middle of something
		}
		sb.vm.ClearInterrupt()
		sb.stop.Store(nil)
	}()
	defer func() {
		if r := recover(); r != nil {
			sb.broken = true
			switch r := r.(type) {
			case *haltError:
				err = r
			case goja.Value, *goja.Exception:
				// A JavaScript value that escaped: its text may be personal data.
				err = &enginePanic{value: "an uncaught JavaScript exception"}
			default:
				err = &enginePanic{value: fmt.Sprint(r)}
			}
		}
	}()
	return f()
}

// notStarted is run's error when the caller's context had ended before the run started.
type notStarted struct{ cause error }

func (e *notStarted) Error() string { return "not run: " + e.cause.Error() }
func (e *notStarted) Unwrap() error { return e.cause }

// overWall reports whether the last run was stopped on the wall clock to be run again (run).
func (sb *sandbox) overWall() bool {
	d := sb.timer
	if d == nil {
		return false // (no run armed it)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.overWall
}

// enginePanic is a Go panic inside goja or the sandbox, recovered.
type enginePanic struct{ value string }

func (e *enginePanic) Error() string { return "script engine panic: " + e.value }
