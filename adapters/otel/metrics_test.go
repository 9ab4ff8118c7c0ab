package otel_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// limitErr is an options source's error for a script stopped by its time limit.
type limitErr struct{}

func (limitErr) Error() string       { return "script ran out of time" }
func (limitErr) ScriptLimit() string { return ports.LimitTime }

// countingSource resolves static options, or fails with a limit error while limit is set, and
// counts its runs.
type countingSource struct {
	opts  ports.Options
	limit atomic.Bool
	runs  atomic.Int64
}

func (s *countingSource) Resolve(ctx context.Context, r ports.OptionsRequest) (ports.Resolved, error) {
	s.runs.Add(1)
	if s.limit.Load() {
		return ports.Resolved{}, limitErr{}
	}
	return cardorder.StaticOptions(s.opts).Resolve(ctx, r)
}

// points flattens a metric's data points, keyed by their attributes as "key=value " pairs (sums and gauges: the value; histograms: the count).
func points(t *testing.T, m metricdata.Metrics) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	key := func(s attribute.Set) string {
		k := ""
		for _, kv := range s.ToSlice() {
			k += string(kv.Key) + "=" + kv.Value.String() + " "
		}
		return k
	}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out[key(p.Attributes)] = float64(p.Value)
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out[key(p.Attributes)] = float64(p.Value)
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			out[key(p.Attributes)] = p.Value
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out[key(p.Attributes)] = float64(p.Count)
		}
	default:
		t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
	}
	return out
}

// TestMetricsOfAScriptedRun: a refused token, three orders, one refused for an open order, one
// stopped by the script's time limit, a dispatch pass during a bureau outage and one after the
// recovery. Every metric equals what happened: the counts the test made, the transitions the
// cards' histories hold, the queue as the store reports it.
func TestMetricsOfAScriptedRun(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	src := &countingSource{opts: enabled()}
	r := newRig(t, ports.Options{}, src)
	reg, err := r.obs.ObserveStats(r.svc)
	is.NoErr(err)
	defer func() { is.NoErr(reg.Unregister()) }()

	is.Equal(r.post(t, "/v1/users/u1/card-orders", "wrong-token"), http.StatusUnauthorized)
	r.ends.wait(t, "extprod.authenticate", 1)
	for _, u := range []string{"u1", "u2", "u3"} {
		_, err := r.svc.OrderCard(ctx, u, &cardorder.OrderOptions{Actor: operator})
		is.NoErr(err)
	}
	_, err = r.svc.OrderCard(ctx, "u1", &cardorder.OrderOptions{Actor: operator})
	is.Equal(cardorder.CodeOf(err), cardorder.CodeOrderExists)
	src.limit.Store(true)
	_, err = r.svc.OrderCard(ctx, "u4", &cardorder.OrderOptions{Actor: operator})
	limitCode := string(cardorder.CodeOf(err))
	is.True(limitCode != "")
	src.limit.Store(false)

	// The outage: the pass claims the three cards, every call fails, they stay queued.
	r.down.Store(true)
	res, err := r.svc.DispatchQueued(ctx, 10)
	is.NoErr(err)
	is.Equal(res.Ordered, 0)
	r.clock.Advance(time.Minute)
	during := r.collect(t)
	is.Equal(points(t, during["extprod.queue.depth"]), map[string]float64{"": 3})
	is.Equal(points(t, during["extprod.queue.oldest_age"]), map[string]float64{"": 60})

	// The recovery.
	r.down.Store(false)
	r.clock.Advance(time.Hour)
	res, err = r.svc.DispatchQueued(ctx, 10)
	is.NoErr(err)
	is.Equal(res.Ordered, 3)
	got := r.collect(t)

	// The transitions the cards went through, from their histories (a new card moves from
	// registered to its first state).
	transitions := map[string]float64{}
	page, err := r.store.List(ctx, ports.CardFilter{})
	is.NoErr(err)
	for _, c := range page.Cards {
		is.Equal(c.State, ports.StateOrdered)
		from := ports.StateRegistered
		for _, h := range c.History {
			transitions["extprod.card.state.from="+string(from)+" extprod.card.state.to="+string(h.State)+" extprod.channel=operator "]++
			from = h.State
		}
	}
	ob, err := r.svc.OutboxStats(ctx)
	is.NoErr(err)

	want := map[string]map[string]float64{
		"extprod.orders": {
			"extprod.channel=operator ":                              3,
			"error.type=order_exists extprod.channel=operator ":      1,
			"error.type=" + limitCode + " extprod.channel=operator ": 1,
		},
		"extprod.bureau.errors":     {"error.type=unavailable extprod.bureau.call=place_order ": 3},
		"extprod.card.transitions":  transitions,
		"extprod.dispatch.duration": {"": 2},
		"extprod.script.duration":   {"": float64(src.runs.Load())},
		"extprod.script.limit_hits": {"extprod.script.limit=time ": 1},
		"extprod.auth.failures":     {"error.type=unauthenticated ": 1},
		"extprod.queue.depth":       {"": 0},
		"extprod.queue.due":         {"": 0},
		"extprod.queue.oldest_age":  {"": 0},
		"extprod.outbox.pending": {
			"extprod.outbox.entry=notification ": float64(ob.PendingNotifications),
			"extprod.outbox.entry=audit_event ":  float64(ob.PendingEvents),
		},
	}
	gotSome := map[string]map[string]float64{}
	for name := range want {
		gotSome[name] = points(t, got[name])
	}
	if d := cmp.Diff(want, gotSome); d != "" {
		t.Fatalf("metrics (-want +got):\n%s", d)
	}
	is.True(ob.PendingNotifications > 0) // the ordered emails wait for a relay
	t.Logf("transitions: %v; operations: %v", transitions, points(t, got["extprod.operation.duration"]))
}
