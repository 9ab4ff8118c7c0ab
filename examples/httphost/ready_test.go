package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/httpapi"
)

type readyBody struct {
	httpapi.Problem
	Ready  bool
	Store  string
	Script string
	Bureau bureauState
}

// TestReadyz: ready while the store answers and the script loads; a bureau whose token endpoint
// fails is reported and changes nothing; a script that no longer loads and a store that stops
// answering each make the host unready, with a problem naming them.
func TestReadyz(t *testing.T) {
	is := is.New(t)
	var tokenDown atomic.Bool
	hk := hooks{wrapBureau: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tokenDown.Load() && r.URL.Path == "/oauth/token" {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}}
	s := startWith(t, hk, "-store", "sqlite:"+filepath.Join(t.TempDir(), "host.db"), "-dispatch-interval", "0")

	var rb readyBody
	s.call("GET", "/readyz", "", "").want(t, 200, &rb)
	is.True(rb.Ready)
	is.Equal(rb.Store, "ok")
	is.Equal(rb.Script, "ok")
	is.Equal(rb.Bureau.State, "unknown")

	// The bureau answers: ok. Then its token endpoint fails: reported, still ready.
	s.call("POST", "/v1/users/u1/card-orders", op, "").want(t, 201)
	s.call("GET", "/readyz", "", "").want(t, 200, &rb)
	is.Equal(rb.Bureau.State, "ok")
	tokenDown.Store(true)
	s.h.fake.RevokeTokens()
	var d struct{ Ordered, Failed, Remaining int }
	s.call("POST", "/v1/dispatch", admin, "").want(t, 200, &d)
	is.Equal(d.Ordered, 0)
	r := s.call("GET", "/readyz", "", "")
	r.want(t, 200, &rb)
	is.True(rb.Ready)
	is.Equal(rb.Bureau.State, "unreachable")
	is.True(!rb.Bureau.Since.IsZero())
	is.Equal(r.header.Get("Content-Type"), "application/json")

	// A stored script that does not load (another instance wrote it, an upgrade tightened a
	// limit): unready, naming the script.
	ctx := t.Context()
	_, version, err := s.h.backend.scripts.Script(ctx)
	is.NoErr(err)
	is.NoErr(s.h.backend.scripts.ReplaceScript(ctx, "var options = {", "broken", version))
	is.True(s.h.engine.Refresh(ctx) != nil) // the engine reports it; the host keeps running
	r = s.call("GET", "/readyz", "", "")
	r.want(t, 503, "unavailable")
	r.want(t, 503, &rb)
	is.True(!rb.Ready)
	is.Equal(rb.Script, "does not load")
	is.Equal(rb.Store, "ok")
	is.True(strings.Contains(rb.Detail, "option script"))
	is.Equal(rb.Status, 503)

	// The store stops answering: unready, naming the store; /healthz still answers.
	s.h.backend.close()
	r = s.call("GET", "/readyz", "", "")
	r.want(t, 503, &rb)
	is.Equal(rb.Code, "unavailable")
	is.Equal(rb.Store, "not answering")
	is.True(strings.Contains(rb.Detail, "the store does not answer"))
	is.True(r.header.Get("Retry-After") != "")
	s.call("GET", "/healthz", "", "").want(t, 200)
}

// A memory store is always ready; /readyz needs no token and answers no other method.
func TestReadyzMemory(t *testing.T) {
	is := is.New(t)
	s := start(t, "-dispatch-interval", "0")
	var rb readyBody
	s.call("GET", "/readyz", "", "").want(t, 200, &rb)
	is.True(rb.Ready)
	is.True(s.call("POST", "/readyz", "", "").status >= 400)
}

// -metrics serves /metrics (Prometheus, no authentication) beside the API; -metrics-addr serves
// it alone on another address, and the API's address then has none.
func TestMetrics(t *testing.T) {
	is := is.New(t)
	s := start(t, "-dispatch-interval", "0", "-metrics")
	s.call("POST", "/v1/users/u1/card-orders", op, "").want(t, 201)
	r := s.call("GET", "/metrics", "", "")
	r.want(t, 200)
	t.Logf("%.600s", r.body)
	is.True(strings.Contains(string(r.body), `extprod_orders_total{`))
	is.True(strings.Contains(string(r.body), "extprod_queue_depth"))

	s = start(t, "-dispatch-interval", "0", "-metrics-addr", "127.0.0.1:0")
	is.True(s.h.metricsAddr != "")
	s.call("GET", "/metrics", "", "").want(t, 404, "not_found") // not on the API's address
	res, err := http.Get("http://" + s.h.metricsAddr + "/metrics")
	is.NoErr(err)
	defer res.Body.Close()
	is.Equal(res.StatusCode, 200)
}
