package options_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/options"
	"github.com/cardsaddon/extprod/ports"
)

// knownSource is a fixed script; knownVersion is the hex SHA-256 of its bytes, computed outside
// Go (with Python's hashlib), so it does not restate the formula under test.
const knownSource = `var options = {
  enabled: true,
  approvalStep: false,
  productionTypes: [{ id: "standard", layoutId: "L-100", label: "Standard card" }],
  defaultProductionType: "standard",
  selectProductionType: false,
  queueCards: true,
  allowMultipleCardOrders: false,
  sendCardOrderedEmail: true
};
`

const knownVersion = "a35f61e9c1bde550591fa6a140ca238822d614afb3e0607c57701e8fcbbddb91"

// TestScriptVersionIsTheSourceHash: a script's version is the hex SHA-256 of its source, as a
// known value. Every stored script carries its version and an engine refuses a stored script
// whose source does not hash to it, so a changed formula would orphan every stored script on
// upgrade. Bug caught: any change of the formula (another hash, encoding, or input).
func TestScriptVersionIsTheSourceHash(t *testing.T) {
	is := is.New(t)
	s, err := options.Load(knownSource, options.Limits{})
	is.NoErr(err)
	is.Equal(s.Version(), knownVersion)

	// A script stored by an earlier release under that version still loads.
	scripts := &memory.Scripts{}
	is.NoErr(scripts.ReplaceScript(context.Background(), knownSource, knownVersion, ""))
	e, err := options.NewEngine(context.Background(), scripts, nil)
	is.NoErr(err)
	is.NoErr(e.Healthy(context.Background()))
	_, v, _ := e.Current(context.Background())
	is.Equal(v, knownVersion)
}

// countingScripts counts the reads of the store.
type countingScripts struct {
	memory.Scripts
	reads atomic.Int64
}

func (c *countingScripts) Script(ctx context.Context) (string, string, error) {
	c.reads.Add(1)
	return c.Scripts.Script(ctx)
}

// TestNegativeRefreshIntervalMeansNever: with a negative RefreshInterval an engine never
// re-reads the store by itself, however much time passes; Refresh does. Bugs caught: a negative
// interval taken as the default, or as "refresh on every call".
func TestNegativeRefreshIntervalMeansNever(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	store := &countingScripts{}
	clock := memory.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	a, err := options.NewEngine(ctx, store, &options.EngineConfig{RefreshInterval: -1, Clock: clock})
	is.NoErr(err)
	other, err := options.NewEngine(ctx, &store.Scripts, nil)
	is.NoErr(err)
	v1, err := other.Install(ctx, knownSource, "")
	is.NoErr(err)

	reads := store.reads.Load()
	for _, d := range []time.Duration{0, time.Nanosecond, options.DefaultRefreshInterval, 24 * time.Hour, 365 * 24 * time.Hour} {
		clock.Advance(d)
		r, err := a.Resolve(ctx, ports.OptionsRequest{Actor: ports.Actor{ID: "op"}, Channel: ports.ChannelOperator})
		is.NoErr(err)
		is.True(!r.Options.Enabled) // still the default script
		is.True(r.ScriptVersion != v1)
		is.NoErr(a.Healthy(ctx))
	}
	is.Equal(store.reads.Load(), reads) // never re-read

	is.NoErr(a.Refresh(ctx))
	_, v, _ := a.Current(ctx)
	is.Equal(v, v1)
}
