package options

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// DefaultRefreshInterval is how often, at most, an [Engine] re-reads the store's script version
// to follow installs made by other instances, unless [EngineConfig.RefreshInterval] says
// otherwise.
const DefaultRefreshInterval = 5 * time.Second

// EngineConfig configures an [Engine]. The zero value is valid: default limits, a refresh every
// [DefaultRefreshInterval], the system clock.
type EngineConfig struct {
	// Limits for every script the engine loads (zero fields are defaults).
	Limits Limits
	// RefreshInterval is the longest time a script installed by another instance (through the
	// shared store) can go unnoticed: the first Resolve or Current after the interval re-reads
	// the store's version, and reloads the script when it changed. Zero means
	// [DefaultRefreshInterval]; negative means never (call [Engine.Refresh] yourself).
	RefreshInterval time.Duration
	// Clock gives the time for the refresh interval; nil means the system clock.
	Clock ports.Clock
}

// Engine holds the option script in force, backed by a [ports.ScriptStore] so that every
// instance of a host uses the same script and a restart keeps it; while the store has none, the
// default script ([DefaultSource]) is in force. It implements [ports.OptionsSource] by
// delegating to the current [*Script], and is safe for concurrent use; Resolve costs one atomic
// load and a clock read on top of the script's own Resolve.
type Engine struct {
	store    ports.ScriptStore
	lim      Limits
	pool     *pool // the ceiling and runtimes shared by every script the engine loads
	interval time.Duration
	clock    ports.Clock
	def      *Script

	cur         atomic.Pointer[Script]
	nextRefresh atomic.Int64 // unix nanoseconds; 0 when refreshing is off
	mu          sync.Mutex   // serialises Refresh and Install
}

var (
	_ ports.OptionsSource = (*Engine)(nil)
	_ ports.ScriptAdmin   = (*Engine)(nil)
)

// NewEngine returns an engine over store, with the store's script in force (or the default
// script when the store has none). It fails when the store cannot be read. A stored script that
// does not load under cfg's limits (for example after an upgrade tightened one) does not stop
// the host (docs/use-case.md §8): the engine starts, orders fail with [ErrScriptFailed] and
// [Engine.Healthy] reports the script, until an administrator installs one that loads. cfg may
// be nil.
func NewEngine(ctx context.Context, store ports.ScriptStore, cfg *EngineConfig) (*Engine, error) {
	if store == nil {
		return nil, errors.New("options: NewEngine needs a ScriptStore")
	}
	var c EngineConfig
	if cfg != nil {
		c = *cfg
	}
	if err := c.Limits.validate(); err != nil {
		return nil, err
	}
	e := &Engine{store: store, lim: c.Limits.WithDefaults(), interval: c.RefreshInterval, clock: c.Clock}
	e.pool = newPool(e.lim)
	if e.interval == 0 {
		e.interval = DefaultRefreshInterval
	}
	if e.clock == nil {
		e.clock = ports.SystemClock
	}
	def, err := load(defaultSource, e.lim, e.pool)
	if err != nil {
		return nil, fmt.Errorf("options: default script: %w", err)
	}
	e.def = def
	if err := e.Refresh(ctx); err != nil && !errors.Is(err, ErrInvalidScript) {
		return nil, err
	}
	return e, nil
}

// Healthy reports whether the script in force loads: nil, or an error matching
// [ErrInvalidScript] that says why the stored script does not load (orders then fail with
// [ErrScriptFailed]). For a readiness probe; it does not read the store.
func (e *Engine) Healthy(ctx context.Context) error {
	e.maybeRefresh(ctx)
	if err := e.cur.Load().loadErr; err != nil {
		return fmt.Errorf("options: the installed script does not load: %w", err)
	}
	return nil
}

// Load loads src under the engine's limits without installing it, for a dry run (see [Load]);
// it implements [ports.ScriptAdmin]. Its evaluations share the engine's ceiling on concurrent
// evaluations.
func (e *Engine) Load(ctx context.Context, src string) (ports.OptionsSource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := load(src, e.lim, e.pool)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Resolve resolves the options of one order with the script in force (see [Script.Resolve]).
// The returned ScriptVersion names that script.
func (e *Engine) Resolve(ctx context.Context, r ports.OptionsRequest) (ports.Resolved, error) {
	e.maybeRefresh(ctx)
	return e.cur.Load().Resolve(ctx, r)
}

// Script returns the script in force.
func (e *Engine) Script(ctx context.Context) *Script {
	e.maybeRefresh(ctx)
	return e.cur.Load()
}

// DefaultsUsed returns the optional options the script in force leaves out, which take their
// defaults (see [Script.DefaultsUsed]); the HTTP API's dry run shows them.
func (e *Engine) DefaultsUsed(ctx context.Context) []string {
	return e.Script(ctx).DefaultsUsed()
}

// Current returns the source and version of the script in force (the default script's when none
// was installed; the stored one's also when it does not load). Pass the version to
// [Engine.Install] as ifMatch. It implements [ports.ScriptAdmin]; the error is always nil.
func (e *Engine) Current(ctx context.Context) (source, version string, err error) {
	s := e.Script(ctx)
	return s.Source(), s.Version(), nil
}

// maybeRefresh re-reads the store when the refresh interval has passed. Errors are ignored: the
// script in force stays, and the next interval tries again.
func (e *Engine) maybeRefresh(ctx context.Context) {
	next := e.nextRefresh.Load()
	if next == 0 || e.clock.Now().UnixNano() < next {
		return
	}
	if !e.mu.TryLock() {
		return // another goroutine is refreshing
	}
	defer e.mu.Unlock()
	if e.nextRefresh.Load() != next {
		return
	}
	_ = e.refreshLocked(ctx)
}

// Refresh re-reads the store now and puts its script in force if its version changed. When the
// store's script does not load (for example under stricter limits than the instance that
// installed it), it is in force all the same — orders fail with [ErrScriptFailed], every
// instance agreeing on the stored script — and the error (matching [ErrInvalidScript]) is
// returned and reported by [Engine.Healthy].
func (e *Engine) Refresh(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.refreshLocked(ctx)
}

func (e *Engine) refreshLocked(ctx context.Context) error {
	defer e.scheduleRefresh()
	src, version, err := e.store.Script(ctx)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		e.cur.Store(e.def)
		return nil
	case err != nil:
		return fmt.Errorf("options: read the installed script: %w", err)
	}
	if cur := e.cur.Load(); cur != nil && cur.Version() == version {
		return nil
	}
	s, err := load(src, e.lim, e.pool)
	if err == nil && s.Version() != version {
		err = &ScriptError{Kind: ErrInvalidScript, Message: fmt.Sprintf("stored version %.12s does not match its source (%.12s)", version, s.Version())}
	}
	if err != nil {
		e.cur.Store(failedScript(src, version, err))
		return fmt.Errorf("options: installed script %.12s: %w", version, err)
	}
	e.cur.Store(s)
	return nil
}

func (e *Engine) scheduleRefresh() {
	if e.interval < 0 {
		e.nextRefresh.Store(0)
		return
	}
	e.nextRefresh.Store(e.clock.Now().Add(e.interval).UnixNano())
}

// maxUnconditionalTries bounds the retries of an install without ifMatch that keeps losing to
// concurrent installs.
const maxUnconditionalTries = 3

// Install validates src (see [Load]) and, if it is valid, replaces the script in force by a
// compare-and-set in the store. ifMatch is the version in force as [Engine.Current] returned it
// (the default script's version while none was installed), or "" to replace whatever is in
// force (retried up to three times when another install wins meanwhile). A rejected script
// never replaces the one in force ([ErrInvalidScript]); a stale ifMatch fails with an error
// matching [ports.ErrConflict]. It returns the new version and implements [ports.ScriptAdmin].
func (e *Engine) Install(ctx context.Context, src, ifMatch string) (version string, err error) {
	s, err := load(src, e.lim, e.pool)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for try := 1; ; try++ {
		_, stored, err := e.store.Script(ctx)
		switch {
		case errors.Is(err, ports.ErrNotFound):
			stored = ""
		case err != nil:
			return "", fmt.Errorf("options: read the installed script: %w", err)
		}
		expect := ifMatch
		switch {
		case ifMatch == "":
			expect = stored
		case ifMatch == e.def.Version() && stored == "":
			expect = "" // the default script is in force while the store is empty
		case ifMatch != stored:
			return "", fmt.Errorf("options: install script: %w", ports.ErrConflict)
		}
		err = e.store.ReplaceScript(ctx, src, s.Version(), expect)
		if errors.Is(err, ports.ErrConflict) && ifMatch == "" && try < maxUnconditionalTries {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("options: install script: %w", err)
		}
		e.cur.Store(s)
		e.scheduleRefresh()
		return s.Version(), nil
	}
}
