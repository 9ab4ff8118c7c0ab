package httpapitest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// Tokens of the test actors.
const (
	tokOp      = "t-op"      // op-1, operator
	tokOp2     = "t-op2"     // op-2, operator
	tokAp      = "t-ap"      // ap-1, approver
	tokApOp    = "t-ap-op"   // ap-2, approver and operator
	tokAdmin   = "t-admin"   // adm-1, admin
	tokSelf    = "t-self"    // u1, selfservice
	tokNoRoles = "t-noroles" // nobody-1, no role
)

var tokens = httpapi.StaticTokens{
	tokOp:      {ID: "op-1", Roles: []ports.Role{ports.RoleOperator}},
	tokOp2:     {ID: "op-2", Roles: []ports.Role{ports.RoleOperator}},
	tokAp:      {ID: "ap-1", Roles: []ports.Role{ports.RoleApprover}},
	tokApOp:    {ID: "ap-2", Roles: []ports.Role{ports.RoleApprover, ports.RoleOperator}},
	tokAdmin:   {ID: "adm-1", Roles: []ports.Role{ports.RoleAdmin}},
	tokSelf:    {ID: "u1", Roles: []ports.Role{ports.RoleSelfService}},
	tokNoRoles: {ID: "nobody-1"},
}

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func testUsers() []ports.User {
	return []ports.User{
		{ID: "u1", State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@example.com", UPN: "ada@corp.example", Organisation: "Corp", Department: "R&D"},
		{ID: "u2", State: ports.UserActive, GivenName: "Grace", FamilyName: "Hopper", Email: "grace@example.com", UPN: "grace@corp.example"},
		{ID: "u3", State: ports.UserInactive, GivenName: "Alan", FamilyName: "Turing", Email: "alan@example.com"},
		{ID: "u4", State: ports.UserActive, GivenName: "", FamilyName: "Nameless", Email: "nameless@example.com"},
		{ID: "u5", State: ports.UserActive, GivenName: "Edsger", FamilyName: "Dijkstra", Email: "edsger@example.com"},
	}
}

// switchOptions is an options source the test changes at will.
type switchOptions struct {
	opts atomic.Pointer[ports.Options]
	fail atomic.Bool
	// gate, when set, is called at the start of every Resolve (to hold a request mid-flight).
	gate atomic.Pointer[func()]
}

func (s *switchOptions) set(f func(*ports.Options)) {
	o := enabledOptions()
	if f != nil {
		f(&o)
	}
	s.opts.Store(&o)
}

func (s *switchOptions) Resolve(ctx context.Context, r ports.OptionsRequest) (ports.Resolved, error) {
	if g := s.gate.Load(); g != nil {
		(*g)()
	}
	if s.fail.Load() {
		return ports.Resolved{}, errors.New("resolve: TypeError at line 7: user.email is not a function")
	}
	return ports.Resolved{Options: *s.opts.Load(), ScriptVersion: "v-test"}, nil
}

func enabledOptions() ports.Options {
	o := ports.DefaultOptions()
	o.Enabled = true
	return o
}

// provider wraps the memory bureau so status lookups can be made to break the contract.
type provider struct {
	*memory.Bureau
	statusErr atomic.Pointer[error]
}

func (p *provider) OrderStatus(ctx context.Context, id string) (ports.OrderStatus, error) {
	if e := p.statusErr.Load(); e != nil {
		return ports.OrderStatus{}, *e
	}
	return p.Bureau.OrderStatus(ctx, id)
}

// fakeScripts is a tiny stand-in for the options engine: a script containing "syntax error"
// does not load, one containing "throw" loads but fails when it resolves, any other loads and
// enables the use case.
type fakeScripts struct {
	mu              sync.Mutex
	source, version string
}

func versionOf(src string) string {
	sum := sha256.Sum256([]byte(src))
	return hex.EncodeToString(sum[:8])
}

func newFakeScripts(src string) *fakeScripts {
	return &fakeScripts{source: src, version: versionOf(src)}
}

func (f *fakeScripts) Current(context.Context) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.source, f.version, nil
}

func (f *fakeScripts) Install(ctx context.Context, src, ifMatch string) (string, error) {
	if _, err := f.Load(ctx, src); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ifMatch != "" && ifMatch != f.version {
		return "", fmt.Errorf("install: version %q is not installed: %w", ifMatch, ports.ErrConflict)
	}
	f.source, f.version = src, versionOf(src)
	return f.version, nil
}

// defaultingSource is a loaded script that leaves out an option a later release added.
type defaultingSource struct{ ports.OptionsSource }

func (defaultingSource) DefaultsUsed() []string { return []string{"newOption"} }

type failingSource struct{}

func (failingSource) Resolve(context.Context, ports.OptionsRequest) (ports.Resolved, error) {
	return ports.Resolved{}, errors.New("resolve: Error: boom at line 4:9")
}

func (f *fakeScripts) Load(_ context.Context, src string) (ports.OptionsSource, error) {
	switch {
	case strings.Contains(src, "syntax error"):
		return nil, errors.New("options script line 3: SyntaxError: Unexpected token ;")
	case strings.Contains(src, "throw"):
		return failingSource{}, nil
	case strings.Contains(src, "newOption"):
		return defaultingSource{cardorder.StaticOptions(enabledOptions())}, nil
	}
	o := enabledOptions()
	o.ApprovalStep = strings.Contains(src, "approvalStep: true")
	return cardorder.StaticOptions(o), nil
}

// env is a handler over the memory adapters, served on loopback.
type env struct {
	t       testing.TB
	is      *is.I
	clock   *memory.Clock
	store   *memory.Store
	users   *memory.Users
	bureau  *memory.Bureau
	prov    *provider
	opts    *switchOptions
	scripts *fakeScripts
	svc     *cardorder.Service
	idem    *memory.Idempotency
	handler http.Handler
	srv     *httptest.Server
	client  *http.Client // the suite's client, through Config.Transport
	cfg     Config
	events  atomic.Int64 // requests the stub events handler received
	// idemBusy receives a value (when there is room) each time the idempotency store answers
	// that a key is reserved by a request in progress.
	idemBusy chan struct{}
}

// busySignal is an idempotency store that tells a test when a request found its key busy, so a
// race test can see a request waiting before it lets the first one finish.
type busySignal struct {
	ports.IdempotencyStore
	busy chan struct{}
}

func (b *busySignal) Reserve(ctx context.Context, key, fp string, now time.Time, hold time.Duration) (ports.IdempotencyRecord, bool, error) {
	rec, reserved, err := b.IdempotencyStore.Reserve(ctx, key, fp, now, hold)
	if err == nil && !reserved && !rec.Done {
		select {
		case b.busy <- struct{}{}:
		default:
		}
	}
	return rec, reserved, err
}

// newEnv is an environment serving its handler on loopback (e.do).
func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	e := newEnvNoServer(t, cfg)
	e.serve(e.handler)
	return e
}

// newEnvNoServer is newEnv without the loopback server, for in-process requests (record).
func newEnvNoServer(t testing.TB, cfg Config) *env {
	t.Helper()
	e := &env{cfg: cfg, t: t, is: is.New(t), clock: memory.NewClock(t0), store: memory.NewStore(),
		users: memory.NewUsers(testUsers()...), bureau: memory.NewBureau(), opts: &switchOptions{},
		scripts: newFakeScripts("var options = { enabled: true };"), idemBusy: make(chan struct{}, 1)}
	e.opts.set(nil)
	e.prov = &provider{Bureau: e.bureau}
	svc, err := cardorder.New(cardorder.Ports{
		Users: e.users, Store: e.store, Provider: e.prov, Options: e.opts,
	}, &cardorder.Config{Clock: e.clock, IDs: memory.NewIDs("c")})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.idem = &memory.Idempotency{}
	h, err := httpapi.New(httpapi.Config{
		Service: svc, Auth: tokens, Scripts: e.scripts, Idempotency: &busySignal{IdempotencyStore: e.idem, busy: e.idemBusy}, Clock: e.clock,
		Events: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.events.Add(1)
			switch st := r.Header.Get("X-Test-Status"); st {
			case "":
				w.WriteHeader(http.StatusNoContent)
			case "401":
				http.Error(w, "bad signature", http.StatusUnauthorized)
			case "503":
				w.Header().Set("Retry-After", "5")
				http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			default: // any other status the events handler might answer
				code, _ := strconv.Atoi(st)
				http.Error(w, "text from the events handler", code)
			}
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.handler = h
	return e
}

// serve serves h on loopback as e's server, with the suite's client.
func (e *env) serve(h http.Handler) {
	e.t.Helper()
	e.srv = httptest.NewServer(h)
	e.t.Cleanup(e.srv.Close)
	e.client = e.srv.Client()
	if e.cfg.Transport != nil {
		e.client.Transport = e.cfg.Transport(e.t, e.client.Transport)
	}
}

// with returns a copy of e that serves h instead of e's handler (same service and adapters).
func (e *env) with(h http.Handler) *env {
	e.t.Helper()
	c := &env{t: e.t, is: e.is, cfg: e.cfg, clock: e.clock, store: e.store, users: e.users, bureau: e.bureau,
		prov: e.prov, opts: e.opts, scripts: e.scripts, svc: e.svc, idem: e.idem, handler: h, idemBusy: e.idemBusy}
	c.serve(h)
	return c
}

// resp is a received answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// problem is an RFC 9457 problem as the client sees it (httpapi.Problem, with a plain code).
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// problem decodes the answer as a problem, checking its media type and members.
func (r resp) problem(t testing.TB) problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != httpapi.ProblemContentType {
		t.Fatalf("status %d: Content-Type %q, want problem+json; body %s", r.status, ct, r.body)
	}
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	var p problem
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body %s: %v", r.body, err)
	}
	if p.Status != r.status || p.Code == "" || p.Title == "" || p.Detail == "" || !strings.HasSuffix(p.Type, "#"+p.Code) {
		t.Fatalf("incomplete problem for status %d: %+v", r.status, p)
	}
	return p
}

// record serves one request with h in-process.
func record(h http.Handler, method, path, token, body string, headers ...string) resp {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (r resp) card(t testing.TB) httpapi.Card {
	t.Helper()
	var c httpapi.Card
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("card body %s: %v", r.body, err)
	}
	return c
}

func (r resp) into(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
}

// do sends a request; headers come in name, value pairs.
func (e *env) do(method, path, token, body string, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", contentType(path))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// contentType is the media type of a request body to path: the option script is JavaScript,
// every other body JSON.
func contentType(path string) string {
	if path == "/v1/admin/options-script" {
		return "text/javascript"
	}
	return "application/json"
}

// order orders a card for user as the operator and returns it.
func (e *env) order(user string) httpapi.Card {
	e.t.Helper()
	r := e.do("POST", "/v1/users/"+user+"/card-orders", tokOp, "")
	if r.status != http.StatusCreated {
		e.t.Fatalf("order for %s: %d %s", user, r.status, r.body)
	}
	return r.card(e.t)
}

// countCards counts the stored cards.
func (e *env) countCards() int {
	e.t.Helper()
	page, err := e.store.List(context.Background(), ports.CardFilter{Limit: memory.MaxPage})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(page.Cards)
}
