package gocards_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/ports"
)

// sleeps records the waits a client asked for and returns at once.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) All() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// maxJitter makes the full jitter deterministic: it always waits the upper bound.
func maxJitter(max time.Duration) time.Duration { return max }

// testConfig is a client config for baseURL with fake credentials, recorded sleeps and
// deterministic jitter.
func testConfig(baseURL string, sl *sleeps) gocards.Config {
	return gocards.Config{
		BaseURL:        baseURL,
		ClientID:       gocardsfake.DefaultClientID,
		ClientSecret:   gocardsfake.DefaultClientSecret,
		OrganisationID: gocardsfake.DefaultOrganisationID,
		BaseBackoff:    100 * time.Millisecond,
		MaxBackoff:     time.Second,
		RetryAfterCap:  5 * time.Second,
		Sleep:          sl.Sleep,
		Jitter:         maxJitter,
	}
}

func newClient(t testing.TB, cfg gocards.Config) *gocards.Client {
	t.Helper()
	c, err := gocards.New(cfg)
	if err != nil {
		t.Fatalf("gocards.New: %v", err)
	}
	return c
}

// fakeHarness serves a fake bureau on loopback and points a client at it.
type fakeHarness struct {
	fake   *gocardsfake.Server
	srv    *httptest.Server
	client *gocards.Client
	sleeps *sleeps
}

func newFakeHarness(t testing.TB, fcfg gocardsfake.Config, mod func(*gocards.Config)) *fakeHarness {
	t.Helper()
	h := &fakeHarness{fake: gocardsfake.New(fcfg), sleeps: &sleeps{}}
	h.srv = httptest.NewServer(h.fake)
	t.Cleanup(h.srv.Close)
	cfg := testConfig(h.srv.URL, h.sleeps)
	if mod != nil {
		mod(&cfg)
	}
	h.client = newClient(t, cfg)
	return h
}

// scripted is a bureau whose token endpoint works and whose API answers come from a script.
type scripted struct {
	srv *httptest.Server

	mu         sync.Mutex
	tokenCalls int
	apiCalls   int
	bodies     []string
	keys       []string
	tokenFn    func(n int, w http.ResponseWriter) // nil: issue "tok-<n>"
	apiFn      func(n int, w http.ResponseWriter, r *http.Request)
}

func newScripted(t testing.TB, api func(n int, w http.ResponseWriter, r *http.Request)) *scripted {
	t.Helper()
	s := &scripted{apiFn: api}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	if r.URL.Path == "/oauth/token" {
		s.tokenCalls++
		n, fn := s.tokenCalls, s.tokenFn
		s.mu.Unlock()
		if fn != nil {
			fn(n, w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"tok-`+itoa(n)+`","token_type":"Bearer","expires_in":3600}`)
		return
	}
	s.apiCalls++
	n := s.apiCalls
	s.bodies = append(s.bodies, string(body))
	s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
	s.mu.Unlock()
	s.apiFn(n, w, r)
}

func (s *scripted) counts() (token, api int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCalls, s.apiCalls
}

func itoa(n int) string {
	return string(appendInt(nil, n))
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// reply writes a JSON answer.
func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// handlerTransport serves requests in memory, without a network, so a client can run inside a
// synctest bubble. A handler that aborts (http.ErrAbortHandler) yields a transport error.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (resp *http.Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				resp, err = nil, io.ErrUnexpectedEOF
				return
			}
			panic(v)
		}
	}()
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err // a real transport abandons the answer
	}
	return rec.Result(), nil
}

// order is a valid order for the fake's default layout L-100.
func order(key string) ports.ProviderOrder {
	return ports.ProviderOrder{
		IdempotencyKey:    key,
		ExternalReference: key,
		LayoutID:          "L-100",
		CardHolderEmail:   "ada@example.com",
		Elements: map[string]string{
			"FIRST_NAME": "Ada", "LAST_NAME": "Lovelace", "COMMON_NAME": "Ada Lovelace", "UPN": "ada@corp.example",
		},
	}
}

// statusApplier is a StatusApplier keeping card states in memory, forward only.
type statusApplier struct {
	mu      sync.Mutex
	cards   map[string]ports.CardState
	applied []ports.OrderStatus
	fail    error // returned (once per call) while set
}

var rank = map[ports.CardState]int{
	ports.StateProcessing: 1, ports.StateOrdered: 2, ports.StateInProduction: 3,
	ports.StateProduced: 4, ports.StateFailed: 4,
}

func newStatusApplier(cards ...string) *statusApplier {
	a := &statusApplier{cards: map[string]ports.CardState{}}
	for _, c := range cards {
		a.cards[c] = ports.StateOrdered
	}
	return a
}

func (a *statusApplier) ApplyOrderStatus(_ context.Context, s ports.OrderStatus) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applied = append(a.applied, s)
	if a.fail != nil {
		return false, a.fail
	}
	cur, ok := a.cards[s.ExternalReference]
	if !ok {
		return false, errors.Join(errors.New("no such card"), ports.ErrNotFound)
	}
	if rank[s.State] <= rank[cur] {
		return false, nil
	}
	a.cards[s.ExternalReference] = s.State
	return true, nil
}

func (a *statusApplier) state(card string) ports.CardState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cards[card]
}

func (a *statusApplier) calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.applied)
}

func (a *statusApplier) setFail(err error) {
	a.mu.Lock()
	a.fail = err
	a.mu.Unlock()
}
