package options

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/ports"
	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"
)

// fakeStore is a minimal ports.ScriptStore for the tests.
type fakeStore struct {
	mu              sync.Mutex
	source, version string
	reads           int
	fail            error
}

func (f *fakeStore) Script(context.Context) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.fail != nil {
		return "", "", f.fail
	}
	if f.version == "" {
		return "", "", ports.ErrNotFound
	}
	return f.source, f.version, nil
}

func (f *fakeStore) ReplaceScript(_ context.Context, source, version, expect string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.version != expect {
		return ports.ErrConflict
	}
	f.source, f.version = source, version
	return nil
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func enabledScript() string {
	return strings.Replace(DefaultSource(), "enabled: false", "enabled: true", 1)
}

func TestEngineDefaultWhenStoreEmpty(t *testing.T) {
	is := is.New(t)
	e, err := NewEngine(context.Background(), &fakeStore{}, nil)
	is.NoErr(err)
	src, v, _ := e.Current(context.Background())
	is.Equal(src, DefaultSource())
	is.Equal(v, MustLoad(DefaultSource(), Limits{}).Version())
	r, err := e.Resolve(context.Background(), operatorRequest())
	is.NoErr(err)
	if d := cmp.Diff(ports.DefaultOptions(), r.Options); d != "" {
		t.Fatal(d)
	}
}

func TestEngineInstall(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	store := &fakeStore{}
	e, err := NewEngine(ctx, store, &EngineConfig{RefreshInterval: -1})
	is.NoErr(err)
	_, defVersion, _ := e.Current(ctx)

	// A rejected script changes nothing.
	_, err = e.Install(ctx, strings.Replace(DefaultSource(), "queueCards: true", `queueCards: "yes"`, 1), defVersion)
	is.True(errors.Is(err, ErrInvalidScript))
	is.Equal(store.version, "")

	// Install over the default (the store is empty: the default's version or "" both work).
	v1, err := e.Install(ctx, enabledScript(), defVersion)
	is.NoErr(err)
	is.Equal(store.version, v1)
	_, cur, _ := e.Current(ctx)
	is.Equal(cur, v1)
	r, err := e.Resolve(ctx, operatorRequest())
	is.NoErr(err)
	is.True(r.Options.Enabled)
	is.Equal(r.ScriptVersion, v1)

	// A stale version conflicts, and the script in force stays.
	_, err = e.Install(ctx, DefaultSource(), defVersion)
	is.True(errors.Is(err, ports.ErrConflict))
	_, cur, _ = e.Current(ctx)
	is.Equal(cur, v1)

	// Back to the default script, explicitly installed.
	v2, err := e.Install(ctx, DefaultSource(), v1)
	is.NoErr(err)
	is.Equal(v2, defVersion)
	_, err = e.Install(ctx, enabledScript(), v2) // stored version equals the default's
	is.NoErr(err)
}

func TestEngineFollowsOtherInstances(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	store := &fakeStore{}
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	a, err := NewEngine(ctx, store, &EngineConfig{RefreshInterval: time.Second, Clock: clock})
	is.NoErr(err)
	b, err := NewEngine(ctx, store, &EngineConfig{RefreshInterval: time.Second, Clock: clock})
	is.NoErr(err)
	_, v0, _ := a.Current(ctx)
	v1, err := b.Install(ctx, enabledScript(), v0)
	is.NoErr(err)

	reads := store.reads
	r, _ := a.Resolve(ctx, operatorRequest())
	is.True(!r.Options.Enabled) // within the interval: the old script, no store read
	is.Equal(store.reads, reads)

	clock.Advance(time.Second)
	r, _ = a.Resolve(ctx, operatorRequest())
	is.True(r.Options.Enabled)
	is.Equal(r.ScriptVersion, v1)

	// Explicit refresh, with automatic refresh off.
	c, err := NewEngine(ctx, &fakeStore{}, &EngineConfig{RefreshInterval: -1, Clock: clock})
	is.NoErr(err)
	_ = c
}

func TestEngineStoreFailures(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	boom := errors.New("store down")
	_, err := NewEngine(ctx, &fakeStore{fail: boom}, nil)
	is.True(errors.Is(err, boom))

	// A stored script that does not load (here: under this instance's stricter limits) is in
	// force all the same (docs/use-case.md §8): orders fail with script_failed, Healthy says
	// why, Current shows it, and installing a script that loads heals the engine.
	store := &fakeStore{}
	e, err := NewEngine(ctx, store, &EngineConfig{RefreshInterval: -1, Limits: Limits{MaxLength: 10}})
	is.NoErr(err)
	is.NoErr(e.Healthy(ctx))
	src := withResolve(`"x".repeat(100);`)
	store.source, store.version = src, MustLoad(src, Limits{}).Version()
	err = e.Refresh(ctx)
	is.True(errors.Is(err, ErrInvalidScript))
	is.True(errors.Is(e.Healthy(ctx), ErrInvalidScript))
	_, v, _ := e.Current(ctx)
	is.Equal(v, store.version)
	_, err = e.Resolve(ctx, operatorRequest())
	is.True(errors.Is(err, ErrScriptFailed))
	v2, err := e.Install(ctx, enabledScript(), v)
	is.NoErr(err)
	is.NoErr(e.Healthy(ctx))
	r, err := e.Resolve(ctx, operatorRequest())
	is.NoErr(err)
	is.Equal(r.ScriptVersion, v2)

	// A store whose version does not match the source is refused.
	store.source, store.version = enabledScript(), "bogus"
	is.True(e.Refresh(ctx) != nil)
	is.True(e.Healthy(ctx) != nil)
}

// TestEngineStartsWithAStoredScriptThatDoesNotLoad: docs/use-case.md §8 — the host starts.
func TestEngineStartsWithAStoredScriptThatDoesNotLoad(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	src := withResolve(`"x".repeat(100);`)
	store := &fakeStore{source: src, version: MustLoad(src, Limits{}).Version()}
	e, err := NewEngine(ctx, store, &EngineConfig{Limits: Limits{MaxLength: 10}})
	is.NoErr(err)
	is.True(errors.Is(e.Healthy(ctx), ErrInvalidScript))
	_, err = e.Resolve(ctx, operatorRequest())
	is.True(errors.Is(err, ErrScriptFailed))
	var se *ScriptError
	is.True(errors.As(err, &se))
	is.Equal(se.Kind, ErrScriptFailed)
	// An unconditional install (no If-Match) replaces it.
	_, err = e.Install(ctx, DefaultSource(), "")
	is.NoErr(err)
	is.NoErr(e.Healthy(ctx))
}

// TestEngineUnconditionalInstall: "" as ifMatch replaces whatever is in force.
func TestEngineUnconditionalInstall(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	e, err := NewEngine(ctx, &fakeStore{}, &EngineConfig{RefreshInterval: -1})
	is.NoErr(err)
	v1, err := e.Install(ctx, enabledScript(), "")
	is.NoErr(err)
	v2, err := e.Install(ctx, DefaultSource(), "")
	is.NoErr(err)
	is.True(v1 != v2)
	_, cur, err := e.Current(ctx)
	is.NoErr(err)
	is.Equal(cur, v2)
	src, err := e.Load(ctx, enabledScript())
	is.NoErr(err)
	r, err := src.Resolve(ctx, operatorRequest())
	is.NoErr(err)
	is.True(r.Options.Enabled)
}

func TestEngineConcurrent(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{}
	e, err := NewEngine(ctx, store, &EngineConfig{RefreshInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if _, err := e.Resolve(ctx, operatorRequest()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		_, v, _ := e.Current(ctx)
		src := enabledScript()
		if i%2 == 1 {
			src = DefaultSource()
		}
		if _, err := e.Install(ctx, src, v); err != nil && !errors.Is(err, ports.ErrConflict) {
			t.Error(err)
		}
	}
	wg.Wait()
}
