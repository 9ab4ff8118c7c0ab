package otel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/adapters/otel"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// everyone is a directory in which every id is an active user, with personal data a test can
// look for in the telemetry.
type everyone struct{}

func (everyone) User(_ context.Context, id string) (ports.User, error) {
	return ports.User{ID: id, State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace", Email: "ada.lovelace@example.com"}, nil
}

var operator = ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}

const operatorToken = "operator-token"

// personalData are strings of the users' personal data that must appear in no attribute.
var personalData = []string{"Ada", "Lovelace", "lovelace", "example.com", operatorToken}

// rig is the whole path of an order: the HTTP API (wrapped by the Observer's handler), the
// Service on the memory store, and the gocards client (its transport wrapped) talking to the
// fake bureau, which can be switched off (every request answers 503).
type rig struct {
	obs    *otel.Observer
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	svc    *cardorder.Service
	store  *memory.Store
	clock  *memory.Clock
	fake   *gocardsfake.Server
	down   atomic.Bool // the bureau answers 503 to everything
	api    *httptest.Server
	ends   *endWaiter
}

// endWaiter is a span processor that lets a test wait until a span of a given name has ended
// (a server span ends after its response was sent, so after the client has it).
type endWaiter struct {
	mu      sync.Mutex
	ended   map[string]int
	changed chan struct{} // closed and replaced at each end
}

func (w *endWaiter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (w *endWaiter) Shutdown(context.Context) error                  { return nil }
func (w *endWaiter) ForceFlush(context.Context) error                { return nil }
func (w *endWaiter) OnEnd(s sdktrace.ReadOnlySpan) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended[s.Name()]++
	w.ended["kind:"+s.SpanKind().String()]++
	close(w.changed)
	w.changed = make(chan struct{})
}

// wait returns once n spans named name (or, for "kind:server", of that kind) have ended, failing the test after 10 seconds.
func (w *endWaiter) wait(t *testing.T, name string, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		got, ch := w.ended[name], w.changed
		w.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d spans %s ended after 10 s, want %d", got, name, n)
		}
	}
}

func newRig(t *testing.T, opts ports.Options, src ports.OptionsSource) *rig {
	t.Helper()
	r := &rig{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader(),
		ends: &endWaiter{ended: map[string]int{}, changed: make(chan struct{})}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans), sdktrace.WithSpanProcessor(r.ends))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	r.clock = memory.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	obs, err := otel.New(&otel.Config{TracerProvider: tp, MeterProvider: mp, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	r.obs = obs

	r.fake = gocardsfake.New(gocardsfake.Config{Seed: 1})
	bureau := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		r.fake.ServeHTTP(w, req)
	}))
	t.Cleanup(bureau.Close)
	client, err := gocards.New(gocards.Config{
		BaseURL: bureau.URL, ClientID: gocardsfake.DefaultClientID, ClientSecret: gocardsfake.DefaultClientSecret,
		OrganisationID: gocardsfake.DefaultOrganisationID, HTTPClient: &http.Client{Transport: obs.Transport(nil)},
		MaxAttempts: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if src == nil {
		src = cardorder.StaticOptions(opts)
	}
	r.store = memory.NewStore()
	r.svc, err = cardorder.New(cardorder.Ports{Users: everyone{}, Store: r.store, Provider: client, Options: src},
		&cardorder.Config{Clock: r.clock, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{Service: r.svc, Clock: r.clock,
		Auth: httpapi.StaticTokens{operatorToken: operator}}) // the API reports its authentications itself
	if err != nil {
		t.Fatal(err)
	}
	r.api = httptest.NewServer(obs.Handler(api, "extprod.api"))
	t.Cleanup(r.api.Close)
	return r
}

// enabled returns the default options with the use case on.
func enabled() ports.Options {
	o := ports.DefaultOptions()
	o.Enabled = true
	return o
}

// post sends an operator-API request and returns its status.
func (r *rig) post(t *testing.T, path, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.api.URL+path, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", "Ada Lovelace's browser")
	resp, err := r.api.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// collect reads every metric of the rig.
func (r *rig) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}
