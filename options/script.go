package options

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/cardsaddon/extprod/ports"
	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
)

//go:embed default.js
var defaultTemplate string

// defaultScript renders the default script of tbl: default.js with the options object of the
// table (optionsBlock) in place of its /*OPTIONS*/ marker.
func defaultScript(tbl []Option) string {
	return strings.Replace(defaultTemplate, "/*OPTIONS*/", optionsBlock(tbl), 1)
}

var defaultSource = defaultScript(optionTable)

// DefaultSource returns the default option script: every option of docs/use-case.md §3 at its default,
// each with a comment for the administrator, and commented-out examples of resolve and
// mapUserToCard. Its options equal [ports.DefaultOptions].
func DefaultSource() string { return defaultSource }

// MaxSourceSize is the largest script [Load] accepts, in bytes (the HTTP API's cap as well).
const MaxSourceSize = 256 << 10

// scriptName is the file name of the administrator's script in positions and stack traces.
const scriptName = "options.js"

// The script's top level runs inside a function that is called afresh for every call of resolve
// or mapUserToCard (docs/option-script.md): its var, let, const and function declarations are
// that call's locals, so nothing survives into the next call on the same pooled runtime (or the
// top level's one run is shared, frozen: shared.go). wrapPrefix is put on the script's first
// line (line numbers stay; columns of line 1 shift by its length), wrapSuffix after its last.
const wrapPrefix = "(function () {"

// wrapSuffix ends the wrapped top level: it returns options, resolve and mapUserToCard, and the
// values of the names given (a sharable script's top-level names, for freezing: shared.go).
func wrapSuffix(names []string) string {
	return `
;return [typeof options === "undefined" ? undefined : options,
	typeof resolve === "undefined" ? undefined : resolve,
	typeof mapUserToCard === "undefined" ? undefined : mapUserToCard,
	[` + strings.Join(names, ", ") + `]];
})`
}

// Script is a loaded, validated option script. It is immutable and safe for concurrent use; it
// implements [ports.OptionsSource].
type Script struct {
	src, version string
	lim          Limits
	prg          *goja.Program // the wrapped top level: evaluates to the function to call
	pool         *pool
	hasResolve   bool
	hasMap       bool
	tbl          []Option      // the table of options the script is read against (table.go)
	tblNames     []string      // the names of tbl
	defaulted    []string      // optional options the script left out (the defaults it used)
	opts         ports.Options // the global options, validated at load
	// loadErr is set on a stored script that does not load (Engine): every order fails.
	loadErr error
	// shared is the wrapped top level whose run a runtime may share between calls, or nil
	// (shared.go).
	shared *goja.Program
	// stamps is set when the script has a "#", so may declare private class fields (pool.go).
	stamps bool
	// sharingOff is set when a call failed on the shared top level and succeeded on a fresh
	// one: the script writes to its top level's objects (shared.go).
	sharingOff atomic.Bool
	// resolveMemo and mapMemo answer orders that read like earlier ones (memo.go).
	resolveMemo, mapMemo memo
	// mapTemplate answers mapUserToCard in Go when it is a template (template.go), or is nil.
	mapTemplate *mapTemplate
}

var _ ports.OptionsSource = (*Script)(nil)

// Version returns the script's version: the hex SHA-256 of its source (64 characters, not
// truncated). Equal sources have equal versions.
func (s *Script) Version() string { return s.version }

// Source returns the script's source text.
func (s *Script) Source() string { return s.src }

// Limits returns the limits the script runs under (defaults filled in).
func (s *Script) Limits() Limits { return s.lim }

// HasResolve reports whether the script defines resolve(ctx), so options are computed per order.
func (s *Script) HasResolve() bool { return s.hasResolve }

// HasMapUserToCard reports whether the script defines mapUserToCard(user).
func (s *Script) HasMapUserToCard() bool { return s.hasMap }

// Options returns the options of the script's global options object (those in force for every
// order when the script has no resolve). The result is the caller's copy.
func (s *Script) Options() ports.Options { return cloneOptions(s.opts) }

func cloneOptions(o ports.Options) ports.Options {
	o.ProductionTypes = slices.Clone(o.ProductionTypes)
	return o
}

// Load compiles src, runs its top level, reads and validates the global options, then runs
// resolve for a sample context on every channel and mapUserToCard for a sample user, each run
// under lim (zero fields are defaults). Any failure is a [*ScriptError] matching
// [ErrInvalidScript] that names the line and, where it applies, the option. Invalid limits are
// a plain error.
func Load(src string, lim Limits) (*Script, error) {
	if err := lim.validate(); err != nil {
		return nil, err
	}
	lim = lim.WithDefaults()
	return load(src, lim, newPool(lim))
}

// load is loadTable with the package's table of options.
func load(src string, lim Limits, p *pool) (*Script, error) {
	return loadTable(src, lim, p, optionTable)
}

// loadTable is Load with defaults filled in, the pool to evaluate in (an Engine's, shared by
// all the scripts it loads) and the table of options to read the script against.
func loadTable(src string, lim Limits, p *pool, tbl []Option) (*Script, error) {
	if len(src) > MaxSourceSize {
		return nil, &ScriptError{Kind: ErrInvalidScript, Message: fmt.Sprintf("script is longer than %d bytes", MaxSourceSize)}
	}
	if !utf8.ValidString(src) {
		return nil, &ScriptError{Kind: ErrInvalidScript, Message: "script is not valid UTF-8"}
	}
	if se := checkNesting(src); se != nil {
		return nil, se
	}
	// Parse without source maps: goja would otherwise read a "//# sourceMappingURL=" file from
	// the host's file system.
	ast, err := parser.ParseFile(nil, scriptName, src, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, syntaxError(src, err)
	}
	if idx, msg := forbiddenLiteral(ast); msg != "" {
		line, col := position(src, idx-1)
		return nil, &ScriptError{Kind: ErrInvalidScript, Line: line, Column: col, Message: msg}
	}
	if _, err := goja.CompileAST(ast, true); err != nil {
		return nil, syntaxError(src, err)
	}
	prg, se := compileWrapped(src, wrapSuffix(nil))
	if se != nil {
		return nil, se
	}
	var (
		shared   *goja.Program
		template *mapTemplate
	)
	if names, ok := sharable(ast); ok {
		if shared, se = compileWrapped(src, wrapSuffix(names)); se != nil {
			return nil, se
		}
		template = compileMapTemplate(ast, names, lim.MaxLength)
	}
	sum := sha256.Sum256([]byte(src))
	s := &Script{src: src, version: hex.EncodeToString(sum[:]), lim: lim, prg: prg, pool: p, tbl: tbl, tblNames: names(tbl),
		stamps: strings.Contains(src, "#"), shared: shared, mapTemplate: template}

	// The top level and the global options.
	bg := context.Background()
	err = s.eval(bg, ErrInvalidScript, "", func(sb *sandbox, st *evalState) error {
		g, err := s.runTop(sb, st)
		if err != nil {
			return err
		}
		s.hasResolve, s.hasMap = g.resolve != nil, g.mapUserToCard != nil
		opts, defaulted, fe := sb.decodeOptions(g.options, s.tbl, s.tblNames, nil)
		if fe != nil {
			return fe
		}
		s.opts = opts
		s.addDefaulted(defaulted)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Sample runs: resolve on every channel, mapUserToCard for a sample user.
	if s.hasResolve || s.hasMap {
		for _, ch := range []ports.Channel{ports.ChannelOperator, ports.ChannelSelfService, ports.ChannelBatch, ports.ChannelTemporary} {
			req := sampleRequest(ch)
			if !s.hasResolve && req.User == nil {
				continue
			}
			r, err := s.evaluateDefaults(bg, req, ErrInvalidScript, string(ch))
			if err != nil {
				return nil, err
			}
			s.addDefaulted(r)
			if !s.hasResolve {
				break // mapUserToCard does not depend on the channel
			}
		}
	}
	return s, nil
}

// compileWrapped compiles the script's top level wrapped in a function (wrapPrefix). The script
// parsed alone already; the wrapped source must parse as exactly one function literal, so no
// script can close the wrapper early and run code outside it.
func compileWrapped(src, suffix string) (*goja.Program, *ScriptError) {
	wrapped := wrapPrefix + src + suffix
	file, err := parser.ParseFile(nil, scriptName, wrapped, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, &ScriptError{Kind: ErrInvalidScript, Message: "the script does not stand alone: " + err.Error()}
	}
	ok := len(file.Body) == 1
	if ok {
		es, isExpr := file.Body[0].(*ast.ExpressionStatement)
		ok = isExpr
		if ok {
			fl, isFn := es.Expression.(*ast.FunctionLiteral)
			ok = isFn && int(fl.Idx0()) == len("(")+1 && int(fl.Idx1()) == len(wrapped)
		}
	}
	if !ok {
		return nil, &ScriptError{Kind: ErrInvalidScript, Message: "the script does not stand alone (it closes the function its top level runs in)"}
	}
	prg, err := goja.CompileAST(file, true)
	if err != nil {
		return nil, syntaxError(src, err)
	}
	return prg, nil
}

// failedScript stands for a stored script that does not load: its source and version are
// shown, and every order fails.
func failedScript(src, version string, err error) *Script {
	return &Script{src: src, version: version, loadErr: err}
}

// MustLoad is like [Load] but panics on error; for scripts known to be valid (tests, examples).
func MustLoad(src string, lim Limits) *Script {
	s, err := Load(src, lim)
	if err != nil {
		panic(err)
	}
	return s
}

// sampleRequest is the synthetic context of the load-time runs: no real person's data.
func sampleRequest(ch ports.Channel) ports.OptionsRequest {
	user := &ports.User{
		ID: "sample-user", State: ports.UserActive, GivenName: "Sam", FamilyName: "Sample",
		Email: "sam.sample@example.org", UPN: "sam.sample@example.org", Organisation: "Example Org",
		Department: "Sample Department", EmployeeNumber: "000000", CostCentre: "0000",
		DeliveryAddress: &ports.Address{Recipient: "Sam Sample", AddressOne: "1 Sample Street", PostalCode: "0000",
			City: "Sampletown", CountryCode: "GB"},
		Attributes: map[string]string{"costCentre": "0000"},
	}
	actor := ports.Actor{ID: "sample-operator", Roles: []ports.Role{ports.RoleOperator}}
	switch ch {
	case ports.ChannelSelfService:
		actor = ports.Actor{ID: user.ID, Roles: []ports.Role{ports.RoleSelfService}}
	case ports.ChannelTemporary:
		user = nil
	}
	return ports.OptionsRequest{User: user, Actor: actor, Channel: ch}
}

// Resolve returns the options for one order. Without resolve and mapUserToCard (the default
// script) it runs no JavaScript: it returns the options computed at load, as a fresh copy, in
// about the time of one small allocation. Otherwise it answers from the memo of an earlier order
// that read the same (memo.go), or calls resolve and mapUserToCard in a pooled sandboxed runtime,
// each on a top level of its own, under the script's limits and ctx; a failure is a [*ScriptError] matching
// [ErrScriptFailed] (and [ErrTimeLimit], [ErrCallDepth], [ErrSizeLimit] or ctx's error when one
// of those ended the run).
func (s *Script) Resolve(ctx context.Context, r ports.OptionsRequest) (ports.Resolved, error) {
	if s.loadErr != nil {
		return ports.Resolved{}, &ScriptError{Kind: ErrScriptFailed, Message: "the installed script does not load; an administrator must install one that does", Err: s.loadErr}
	}
	if !s.hasResolve && (!s.hasMap || r.User == nil) {
		return ports.Resolved{Options: cloneOptions(s.opts), ScriptVersion: s.version}, nil
	}
	return s.evaluate(ctx, r, ErrScriptFailed, "")
}

// addDefaulted records the names of optional options a run left out.
func (s *Script) addDefaulted(names []string) {
	for _, n := range names {
		if !slices.Contains(s.defaulted, n) {
			s.defaulted = append(s.defaulted, n)
		}
	}
}

// DefaultsUsed returns the optional options the script leaves out, which therefore take their
// defaults (see [Table]): in its options object or in what resolve returned for a sample
// context at load. A dry run shows them. Empty for a script that gives every option.
func (s *Script) DefaultsUsed() []string { return slices.Clone(s.defaulted) }

// evaluateDefaults is evaluate, and reports the optional options resolve left out.
func (s *Script) evaluateDefaults(ctx context.Context, r ports.OptionsRequest, kind error, channel string) ([]string, error) {
	var defaulted []string
	_, err := s.evaluateWith(ctx, r, kind, channel, false, &defaulted)
	return defaulted, err
}

// evaluate runs resolve and/or mapUserToCard for one request.
func (s *Script) evaluate(ctx context.Context, r ports.OptionsRequest, kind error, channel string) (ports.Resolved, error) {
	return s.evaluateWith(ctx, r, kind, channel, true, nil)
}

// evaluateWith runs resolve and mapUserToCard for r. With memoize, an order is answered from the
// memos where it can be, and its answers go to them (memo.go); defaulted, if not nil, gets the
// optional options resolve left out.
func (s *Script) evaluateWith(ctx context.Context, r ports.OptionsRequest, kind error, channel string, memoize bool, defaulted *[]string) (ports.Resolved, error) {
	res := ports.Resolved{ScriptVersion: s.version}
	runResolve, runMap := s.hasResolve, s.hasMap && r.User != nil
	if ctx.Err() != nil && (runResolve || runMap) { // (as when waiting for a slot: eval)
		err := context.Cause(ctx)
		return ports.Resolved{}, &ScriptError{Kind: kind, Function: "top level", Channel: channel, Err: err, Message: "not run: " + err.Error()}
	}
	if memoize && runResolve {
		if v, ok := s.resolveMemo.lookup(&r); ok {
			res.Options, runResolve = cloneOptions(v.(ports.Options)), false
		}
	}
	if runMap && s.mapTemplate != nil {
		if ov, ok := s.mapTemplate.overrides(r.User); ok {
			res.Overrides, runMap = ov, false
		}
	}
	if memoize && runMap {
		if v, ok := s.mapMemo.lookup(&r); ok {
			res.Overrides, runMap = cloneOverrides(v.(*ports.CardOverrides)), false
		}
	}
	if !s.hasResolve {
		res.Options = cloneOptions(s.opts)
	}
	if !runResolve && !runMap {
		return res, nil
	}
	err := s.eval(ctx, kind, channel, func(sb *sandbox, st *evalState) error {
		if runResolve {
			record := memoize && s.resolveMemo.accepting()
			keep, err := s.call(sb, st, &r, "resolve", record, func(g globals, d *orderData) (bool, error) {
				if g.resolve == nil {
					res.Options = cloneOptions(s.opts) // the top level did not define it this time
					return false, nil
				}
				v, err := g.resolve(goja.Undefined(), d.ctx())
				if err != nil {
					return false, err
				}
				opts, dflt, fe := sb.decodeOptions(v, s.tbl, s.tblNames, s.opts.ProductionTypes)
				if fe != nil {
					fe.path = "resolve()." + fe.path
					return false, fe
				}
				res.Options = opts
				if defaulted != nil {
					*defaulted = dflt
				}
				return true, nil
			})
			if err != nil {
				return err
			}
			if record && keep {
				s.resolveMemo.add(sb.trace, cloneOptions(res.Options))
			}
			runResolve = false // done, should the evaluation run again (eval)
		}
		if runMap {
			record := memoize && s.mapMemo.accepting()
			keep, err := s.call(sb, st, &r, "mapUserToCard", record, func(g globals, d *orderData) (bool, error) {
				if g.mapUserToCard == nil {
					return false, nil
				}
				v, err := g.mapUserToCard(goja.Undefined(), d.user())
				if err != nil {
					return false, err
				}
				ov, fe := sb.decodeOverrides(v)
				if fe != nil {
					return false, fe
				}
				res.Overrides = ov
				return true, nil
			})
			if err != nil {
				return err
			}
			if record && keep {
				s.mapMemo.add(sb.trace, cloneOverrides(res.Overrides))
			}
			runMap = false
		}
		return nil
	})
	if err != nil {
		return ports.Resolved{}, err
	}
	return res, nil
}

// call runs one call of resolve or mapUserToCard (phase) through body, which gets the script's
// names and the order's data (whose reads go to sb.trace when record is set) and reports
// whether its result may be memoized. The call runs on the runtime's shared top level when the
// script has one (shared.go); if it fails there with a TypeError (what a write to a frozen
// object throws), it runs again on a fresh top level, whose outcome stands: a call that wrote to
// a frozen object gets the result it would have had without the sharing. keep is false when the
// result must not be memoized (the call asked for the time or a random number, or read too
// often to be written down).
func (s *Script) call(sb *sandbox, st *evalState, r *ports.OptionsRequest, phase string, record bool,
	body func(globals, *orderData) (bool, error)) (keep bool, err error) {
	st.phase = "top level"
	sb.startCall()
	g, shared := sb.sharedTop(s)
	if err := sb.stopped(); err != nil {
		return false, err // stopped while the shared top level was made (goja cleared its interrupt)
	}
	fellBack := false
	if shared {
		st.phase = phase
		d := sb.orderData(r, record)
		keep, err := body(g, d)
		if err == nil {
			return keep && !sb.impure && !d.tooMany, nil
		}
		if sb.stop.Load() != nil || !sb.isTypeError(err) {
			return false, err // stopped, or failing for a reason of its own: no second run
		}
		fellBack = true
		sb.startCall() // the second run has a time limit of its own
	}
	g, err = s.runTop(sb, st)
	if err != nil {
		return false, err
	}
	st.phase = phase
	d := sb.orderData(r, record)
	keep, err = body(g, d)
	if err == nil && fellBack {
		// It writes to its top level's objects: it runs on fresh ones from now on, rather
		// than twice.
		s.sharingOff.Store(true)
	}
	return keep && !sb.impure && !d.tooMany, err
}

// stopped returns the halt of an evaluation that was stopped (time limit, context), or nil.
func (sb *sandbox) stopped() error {
	if p := sb.stop.Load(); p != nil {
		return &haltError{cause: *p, stack: sb.vm.CaptureCallStack(0, nil)}
	}
	return nil
}

// isTypeError reports whether err is a TypeError thrown in the script, not one of the sandbox's
// limits.
func (sb *sandbox) isTypeError(err error) bool {
	var ex *goja.Exception
	if !errors.As(err, &ex) || sb.cause(ex) != nil {
		return false
	}
	o, ok := ex.Value().(*goja.Object)
	return ok && o.ClassName() == "Error" && o.Get("name").String() == "TypeError"
}

// startCall gives a call (or its second run) a clean start: nothing impure asked yet (a random
// number or the time asked for by the top level counts too), no steps of built-in iterators
// counted, and the whole time limit.
func (sb *sandbox) startCall() {
	sb.impure = false
	clear(sb.steps)
	if sb.calls++; sb.calls > 1 {
		sb.timer.restart() // (the evaluation's start armed it for the first)
	}
}

// orderData starts a call's view of r, with (record) its reads written down afresh in sb.trace.
func (sb *sandbox) orderData(r *ports.OptionsRequest, record bool) *orderData {
	d := &orderData{vm: sb.vm, r: r}
	if record {
		sb.trace = sb.trace[:0]
		d.trace = &sb.trace
	}
	return d
}

// cloneOverrides copies what mapUserToCard returned, so that no caller shares it with the memo.
func cloneOverrides(o *ports.CardOverrides) *ports.CardOverrides {
	if o == nil {
		return nil
	}
	c := *o
	for _, p := range []**string{&c.CommonName, &c.UPN, &c.Email, &c.CostCentre} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	c.Elements = maps.Clone(o.Elements)
	if o.DeliveryAddress != nil {
		a := *o.DeliveryAddress
		c.DeliveryAddress = &a
	}
	return &c
}

type globals struct {
	options                goja.Value
	resolve, mapUserToCard goja.Callable
}

type evalState struct {
	phase string
}

// eval takes a slot and a hardened runtime from the pool and calls body under the limits; every
// error comes back as a *ScriptError of the given kind. A run stopped on the wall clock at the
// time limit is run again, once, on another runtime with the limit counting CPU time
// (limitTimer): body must do again only what the first run did not finish.
func (s *Script) eval(ctx context.Context, kind error, channel string, body func(*sandbox, *evalState) error) error {
	rerun, err := s.attempt(ctx, kind, channel, body, false)
	if rerun {
		s.pool.reruns.Add(1)
		_, err = s.attempt(ctx, kind, channel, body, true)
	}
	return err
}

// attempt is one run of eval, on the CPU clock or on the wall clock; rerun reports a run
// stopped on the wall clock to be run again.
func (s *Script) attempt(ctx context.Context, kind error, channel string, body func(*sandbox, *evalState) error, cpuClock bool) (rerun bool, err error) {
	st := &evalState{phase: "top level"}
	sb, err := s.pool.acquire(ctx)
	if err != nil {
		e := &ScriptError{Kind: kind, Function: st.phase, Channel: channel, Err: err, Message: "could not start the script engine"}
		if ctx.Err() != nil {
			e.Message = "not run: " + err.Error()
		}
		return false, e
	}
	defer s.pool.release(sb)
	if s.stamps {
		sb.stampingUses++
	}
	var se *ScriptError
	err = sb.run(ctx, cpuClock, func() error {
		if err := body(sb, st); err != nil {
			// Described inside the run: describing a thrown object may run its JavaScript.
			se = s.describe(sb, err, kind, st, channel)
		}
		if se != nil {
			// Promise jobs the script queued while its error was described run now, under the
			// limit, and not in the next evaluation on this runtime. (Every other call into the
			// runtime starts from Go, and goja runs the jobs queued before it returns.)
			if _, derr := sb.vm.RunProgram(drainProgram()); derr != nil {
				sb.broken = true
			}
			if se.Err != nil && !errors.Is(se.Err, ErrSizeLimit) {
				sb.broken = true // interrupted, or out of stack: start the next one clean
			}
			return se
		}
		return nil
	})
	if err == nil {
		return false, nil
	}
	var ns *notStarted
	if errors.As(err, &ns) {
		return false, &ScriptError{Kind: kind, Function: st.phase, Channel: channel, Err: ns.cause, Message: ns.Error()}
	}
	if sb.overWall() {
		if ctx.Err() == nil {
			return true, err
		}
		// The caller's context ended too: no second run; the order was stopped by it.
		var he *haltError
		if errors.As(err, &he) {
			se = s.describe(sb, he, kind, st, channel)
		} else if se == nil {
			se = &ScriptError{Kind: kind, Function: st.phase, Channel: channel}
		}
		s.stoppedBy(se, context.Cause(ctx))
		return false, se
	}
	if se != nil && err == error(se) {
		return false, se
	}
	var he *haltError
	if errors.As(err, &he) {
		return false, s.describe(sb, he, kind, st, channel)
	}
	// A Go panic in the engine.
	return false, &ScriptError{Kind: kind, Function: st.phase, Channel: channel, Err: err, Message: "the script engine failed"}
}

// runTop runs the script's top level afresh and reads the names it defines.
func (s *Script) runTop(sb *sandbox, st *evalState) (globals, error) {
	st.phase = "top level"
	var g globals
	top, err := sb.topLevel(s.prg)
	if err != nil {
		return g, err
	}
	gv, err := top(goja.Undefined())
	if err != nil {
		return g, err
	}
	return globalsOf(gv.(*goja.Object))
}

// globalsOf reads the names the wrapped top level returned (wrapSuffix).
func globalsOf(arr *goja.Object) (globals, error) {
	var g globals
	g.options = arr.Get("0")
	for _, f := range []struct {
		name string
		v    goja.Value
		dst  *goja.Callable
	}{{"resolve", arr.Get("1"), &g.resolve}, {"mapUserToCard", arr.Get("2"), &g.mapUserToCard}} {
		if goja.IsUndefined(f.v) {
			continue
		}
		fn, ok := goja.AssertFunction(f.v)
		if !ok {
			return g, &fieldErr{path: f.name, msg: "must be a function, got " + kindOf(f.v)}
		}
		*f.dst = fn
	}
	if g.options == nil || goja.IsUndefined(g.options) {
		return g, &fieldErr{path: "options", msg: "the script must define the options object (var options = {...})"}
	}
	return g, nil
}

// topLevel returns the function that runs prg's wrapped top level in this runtime. The function
// object is kept for the next evaluation of the same script on this runtime: each call runs the
// top level afresh (its declarations are that call's locals), and no script can reach the
// function object itself (strict mode: no arguments.callee, no caller).
func (sb *sandbox) topLevel(prg *goja.Program) (goja.Callable, error) {
	if sb.lastPrg == prg {
		return sb.lastTop, nil
	}
	fv, err := sb.vm.RunProgram(prg)
	if err != nil {
		return nil, err
	}
	top, ok := goja.AssertFunction(fv)
	if !ok {
		return nil, errors.New("options: the wrapped script is not a function")
	}
	sb.lastPrg, sb.lastTop = prg, top
	return top, nil
}

// drainProgram is an empty program: running it at the top level runs the queued promise jobs.
var drainProgram = sync.OnceValue(func() *goja.Program { return goja.MustCompile("drain.js", "", true) })

// standardErrors are the error names an order-time message may show (a script-chosen name could
// carry data).
var standardErrors = map[string]bool{"Error": true, "TypeError": true, "RangeError": true, "ReferenceError": true,
	"SyntaxError": true, "URIError": true, "EvalError": true, "AggregateError": true, "GoError": true}

// describe turns an error of a run into a *ScriptError. Messages of load-time runs may quote
// the exception (the context is a synthetic sample); order-time messages never quote values.
func (s *Script) describe(sb *sandbox, err error, kind error, st *evalState, channel string) *ScriptError {
	e := &ScriptError{Kind: kind, Function: st.phase, Channel: channel}
	atOrder := kind == ErrScriptFailed
	var (
		fe *fieldErr
		ie *goja.InterruptedError
		he *haltError
		so *goja.StackOverflowError
		ex *goja.Exception
		le *limitError
	)
	switch {
	case errors.As(err, &fe):
		e.Option = fe.path
		e.Message = fe.msg
		if fe.name != "" && atOrder {
			// The key is the script's choice and could be data: name its parent only.
			e.Detail = fe.name
			e.Option = strings.TrimSuffix(strings.TrimSuffix(fe.path, fe.name), ".")
			if e.Option == "" || e.Option == "resolve()" {
				e.Option = "options"
			}
		}
		e.Line, e.Column = locateOption(s.src, fe)
	case errors.As(err, &ie):
		cause := ie.Unwrap()
		if cause == nil {
			cause = ErrTimeLimit
		}
		s.stoppedBy(e, cause)
		e.Line, e.Column = stackPosition(ie.Stack())
	case errors.As(err, &he):
		s.stoppedBy(e, he.cause)
		e.Line, e.Column = stackPosition(he.stack)
	case errors.As(err, &so):
		e.Err = ErrCallDepth
		e.Message = fmt.Sprintf("exceeded the call depth limit of %d (endless recursion?)", s.lim.MaxCallDepth)
		e.Line, e.Column = stackPosition(so.Stack())
	case errors.As(err, &ex):
		e.Line, e.Column = stackPosition(ex.Stack())
		switch {
		case errors.As(sb.cause(ex), &le):
			e.Err = ErrSizeLimit
			e.Message = le.msg
		default:
			name, text := sb.describeValue(ex.Value())
			if p := sb.stop.Load(); p != nil {
				s.stoppedBy(e, *p) // stopped while its JavaScript described what was thrown
				break
			}
			if atOrder {
				e.Message = "uncaught exception"
				if standardErrors[name] {
					e.Message = "uncaught " + name
				}
				e.Detail = text
			} else {
				e.Message = "uncaught exception: " + text
			}
		}
	default:
		e.Message = "the script engine failed"
		e.Err = err
	}
	return e
}

// stoppedBy words an evaluation that cause (the time limit, the caller's context) stopped.
func (s *Script) stoppedBy(e *ScriptError, cause error) {
	e.Err = cause
	if errors.Is(cause, ErrTimeLimit) {
		e.Message = fmt.Sprintf("ran longer than the time limit of %v (endless loop?)", s.lim.TimeLimit)
	} else {
		e.Message = "stopped: " + cause.Error()
	}
}

// describeValue renders a thrown value, running its JavaScript (toString, getters) under the
// still-armed time limit; anything going wrong gives a placeholder.
func (sb *sandbox) describeValue(v goja.Value) (name, text string) {
	text = "(a value that cannot be shown)"
	defer func() {
		// The time limit can interrupt the value's own JavaScript: keep the placeholder.
		if recover() != nil {
			name, text = "", "(a value that cannot be shown)"
		}
	}()
	_ = sb.vm.Try(func() {
		if o, ok := v.(*goja.Object); ok && o.ClassName() == "Error" {
			name = o.Get("name").String()
			text = name + ": " + o.Get("message").String()
			return
		}
		text = v.String()
	})
	if len(text) > 300 {
		text = text[:300] + "…"
	}
	return name, text
}

// stackPosition is the innermost position in the administrator's script.
func stackPosition(frames []goja.StackFrame) (line, col int) {
	for i := range frames {
		if frames[i].SrcName() == scriptName {
			p := frames[i].Position()
			if p.Line == 1 {
				p.Column -= len(wrapPrefix) // the wrapper shares the script's first line
			}
			return p.Line, p.Column
		}
	}
	return 0, 0
}

// position converts a byte offset into a 1-based line and column (in characters).
func position(src string, offset int) (line, col int) {
	if offset < 0 || offset > len(src) {
		return 0, 0
	}
	head := src[:offset]
	line = strings.Count(head, "\n") + 1
	col = utf8.RuneCountInString(head[strings.LastIndexByte(head, '\n')+1:]) + 1
	return line, col
}

// syntaxError converts a parse or compile error.
func syntaxError(src string, err error) *ScriptError {
	e := &ScriptError{Kind: ErrInvalidScript, Message: "syntax error"}
	var list parser.ErrorList
	var one *parser.Error
	var ce *goja.CompilerSyntaxError
	switch {
	case errors.As(err, &list) && len(list) > 0:
		e.Line, e.Column = list[0].Position.Line, list[0].Position.Column
		e.Message = "syntax error: " + list[0].Message
	case errors.As(err, &one):
		e.Line, e.Column = one.Position.Line, one.Position.Column
		e.Message = "syntax error: " + one.Message
	case errors.As(err, &ce):
		if ce.File != nil {
			p := ce.File.Position(ce.Offset)
			e.Line, e.Column = p.Line, p.Column
		}
		e.Message = "syntax error: " + ce.Message
	default:
		e.Message = "syntax error: " + err.Error()
	}
	return e
}
