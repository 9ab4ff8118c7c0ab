package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/ports"
)

// readyTimeout bounds the store's answer to a readiness probe.
const readyTimeout = 2 * time.Second

// bureauState is what the host last saw of the bureau: the outcome of its latest call. It is
// reported by /readyz and never makes the host unready: the queue rides out a bureau outage.
type bureauState struct {
	// State is "unknown" (no call yet), "ok" (the bureau answered, a refusal included),
	// "unreachable" (down, slow or cut), "unauthorized" (it refused the credentials) or
	// "failing" (an answer the contract does not allow).
	State string    `json:"state"`
	Since time.Time `json:"since,omitzero"` // when the state began
}

// bureauClient is what the GO Cards client is: a provider that lists layouts.
type bureauClient interface {
	ports.Provider
	ports.LayoutSource
}

// observedProvider is the bureau client recording the outcome of every call.
type observedProvider struct {
	bureauClient
	mu    sync.Mutex
	state bureauState
}

func newObservedProvider(p bureauClient) *observedProvider {
	return &observedProvider{bureauClient: p, state: bureauState{State: "unknown"}}
}

// PlaceOrder implements ports.Provider.
func (o *observedProvider) PlaceOrder(ctx context.Context, po ports.ProviderOrder) (ports.ProviderReceipt, error) {
	r, err := o.bureauClient.PlaceOrder(ctx, po)
	o.observe(ctx, err)
	return r, err
}

// OrderStatus implements ports.Provider.
func (o *observedProvider) OrderStatus(ctx context.Context, id string) (ports.OrderStatus, error) {
	s, err := o.bureauClient.OrderStatus(ctx, id)
	o.observe(ctx, err)
	return s, err
}

// Layout implements ports.LayoutSource.
func (o *observedProvider) Layout(ctx context.Context, id string) (ports.Layout, error) {
	l, err := o.bureauClient.Layout(ctx, id)
	o.observe(ctx, err)
	return l, err
}

func (o *observedProvider) observe(ctx context.Context, err error) {
	var rejected *ports.RejectedError
	state := "failing"
	switch {
	case ctx.Err() != nil && err != nil:
		return // the caller gave up: says nothing about the bureau
	case err == nil, errors.As(err, &rejected), errors.Is(err, ports.ErrNotFound):
		state = "ok"
	case errors.Is(err, ports.ErrUnauthorized):
		state = "unauthorized"
	case errors.Is(err, ports.ErrUnavailable):
		state = "unreachable"
	}
	o.mu.Lock()
	if o.state.State != state {
		o.state = bureauState{State: state, Since: time.Now().UTC()}
	}
	o.mu.Unlock()
}

func (o *observedProvider) current() bureauState {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.state
}

// readyz answers 200 when the store answers and the script in force loads, else 503 with a
// problem (code unavailable) naming what is not ready; the bureau's state is in the body either
// way. It needs no authentication and reveals no data, only states.
func readyz(store func(context.Context) error, script func(context.Context) error, bureau *observedProvider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		var body struct {
			*httpapi.Problem `json:",omitempty"`
			Ready            bool        `json:"ready"`
			Store            string      `json:"store"`
			Script           string      `json:"script"`
			Bureau           bureauState `json:"bureau"`
		}
		body.Ready, body.Store, body.Script, body.Bureau = true, "ok", "ok", bureau.current()
		var missing []string
		if store(ctx) != nil {
			body.Store = "not answering"
			missing = append(missing, "the store does not answer")
		}
		if script(ctx) != nil {
			body.Script = "does not load"
			missing = append(missing, "the option script in force does not load")
		}
		status := http.StatusOK
		w.Header().Set("Cache-Control", "no-store")
		if len(missing) > 0 {
			status = http.StatusServiceUnavailable
			detail := "not ready: " + missing[0]
			if len(missing) > 1 {
				detail += "; " + missing[1]
			}
			body.Ready = false
			code := string(httpapi.CodeUnavailable)
			body.Problem = &httpapi.Problem{Type: httpapi.ProblemTypePrefix + code,
				Title: "Unavailable", Status: status, Detail: detail, Code: code}
			w.Header().Set("Content-Type", httpapi.ProblemContentType)
			w.Header().Set("Retry-After", "5")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	})
}
