package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/options"
	"github.com/cardsaddon/extprod/ports"
)

// started is a host running in-process for a test.
type started struct {
	t    *testing.T
	url  string
	h    *host
	logs *watchLog
}

// start runs the host with args on 127.0.0.1:0 and returns once it serves; the host stops (and
// must stop cleanly) when the test ends.
func start(t *testing.T, args ...string) *started {
	t.Helper()
	return startWith(t, hooks{}, args...)
}

func startWith(t *testing.T, hk hooks, args ...string) *started {
	t.Helper()
	s, stop := startStoppable(t, hk, args...)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return s
}

// startStoppable starts the host and returns a function that stops it and returns run's error.
func startStoppable(t *testing.T, hk hooks, args ...string) (*started, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &watchLog{}
	hostc := make(chan *host, 1)
	done := make(chan error, 1)
	go func() {
		hk.ready = func(h *host) { hostc <- h }
		hk.scriptLimits = testLimits
		err := runWith(ctx, append([]string{"-addr", "127.0.0.1:0", "-store", "memory"}, args...), pw, logs, hk)
		pw.CloseWithError(err)
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %v (logs: %s)", err, logs)
	}
	go io.Copy(io.Discard, pr)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}
	s := &started{t: t, url: url, h: <-hostc, logs: logs}
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
			for _, pii := range []string{"Lovelace", "ada@example.com", "Katherine", "Hopper"} {
				if strings.Contains(logs.String(), pii) {
					t.Errorf("the logs contain personal data %q", pii)
				}
			}
		})
		return runErr
	}
	return s, stop
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (s *started) call(method, path, token, body string, headers ...string) answer {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return answer{res.StatusCode, res.Header, b}
}

// want checks the status (and, for an error, the problem's code) and decodes the body into v.
func (a answer) want(t *testing.T, status int, codeOrV ...any) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	for _, x := range codeOrV {
		switch x := x.(type) {
		case string:
			var p httpapi.Problem
			if err := json.Unmarshal(a.body, &p); err != nil || p.Code != x {
				t.Fatalf("problem %s, want code %s", a.body, x)
			}
			if ct := a.header.Get("Content-Type"); ct != httpapi.ProblemContentType {
				t.Fatalf("Content-Type %q", ct)
			}
		default:
			if err := json.Unmarshal(a.body, x); err != nil {
				t.Fatalf("body %s: %v", a.body, err)
			}
		}
	}
}

// testLimits give the option scripts a time limit that the race detector on a loaded machine
// does not exceed; the other limits stay the defaults.
var testLimits = options.Limits{TimeLimit: 5 * time.Second}

const (
	op, op2, ap, admin, self = "t-op", "t-op2", "t-ap", "t-admin", "t-self"
)

// TestStory drives the whole story of the HTTP API through real HTTP against the host with its fake
// bureau: order, refusals, abort, dispatch, refresh, approval, batch, temporary cards, the option
// script and a signed bureau event.
func TestStory(t *testing.T) {
	is := is.New(t)
	s := start(t, "-dispatch-interval", "0")
	ctx := t.Context()
	fake := s.h.fake
	is.True(fake != nil)

	s.call("GET", "/healthz", "", "").want(t, 200)
	s.call("GET", "/v1/cards", "", "").want(t, 401, "unauthenticated")

	// Order, a refused second order, abort, order again (idempotently).
	var c httpapi.Card
	s.call("POST", "/v1/users/u1/card-orders", op, "").want(t, 201, &c)
	is.Equal(c.State, ports.StateProcessing)
	s.call("POST", "/v1/users/u1/card-orders", op2, "").want(t, 409, "order_exists")
	s.call("POST", "/v1/cards/"+c.ID+"/abort", op, "").want(t, 200, &c)
	is.Equal(c.State, ports.StateAborted)
	var again, replay httpapi.Card
	s.call("POST", "/v1/users/u1/card-orders", self, `{"productionType":"standard"}`, "Idempotency-Key", "k-1").want(t, 201, &again)
	s.call("POST", "/v1/users/u1/card-orders", self, `{"productionType":"standard"}`, "Idempotency-Key", "k-1").want(t, 200, &replay)
	is.Equal(replay.ID, again.ID)

	// Dispatch to the bureau.
	var d struct{ Ordered, Failed, Remaining int }
	s.call("POST", "/v1/dispatch", admin, `{"max": 10}`).want(t, 200, &d)
	is.Equal(d.Ordered, 1)
	is.Equal(d.Remaining, 0)
	s.call("GET", "/v1/cards/"+again.ID, self, "").want(t, 200, &c)
	is.Equal(c.State, ports.StateOrdered)
	is.True(c.ProviderOrderID != "")
	o, ok := fake.Order(c.ProviderOrderID)
	is.True(ok)
	is.Equal(o.ExternalReference, again.ID)

	// Refresh to produced: the bureau moves on without telling (no callback), the operator asks.
	fake.SetCallback("", nil)
	is.NoErr(fake.Advance(ctx, c.ProviderOrderID, gocardsfake.StatusProduced))
	s.call("POST", "/v1/cards/"+again.ID+"/refresh", op, "").want(t, 200, &c)
	is.Equal(c.State, ports.StateProduced)
	is.True(c.CardNumber != "")
	s.call("POST", "/v1/cards/"+again.ID+"/refresh", op, "").want(t, 409, "invalid_state")

	// Approval (Finance orders need it under the demo script): four-eyes, reason, approve.
	var fin, own httpapi.Card
	s.call("POST", "/v1/users/u4/card-orders", op, "").want(t, 201, &fin)
	is.Equal(fin.State, ports.StateRequested)
	s.call("POST", "/v1/users/ap-1/card-orders", op, "").want(t, 201, &own)
	s.call("POST", "/v1/cards/"+own.ID+"/approve", ap, "").want(t, 403, "forbidden") // the approver holds the card
	s.call("POST", "/v1/cards/"+fin.ID+"/approve", op, "").want(t, 403, "forbidden") // not an approver
	s.call("POST", "/v1/cards/"+fin.ID+"/reject", ap, "").want(t, 422, "reason_required")
	s.call("POST", "/v1/cards/"+fin.ID+"/reject", ap, `{"reason":"  "}`).want(t, 422, "reason_required")
	s.call("POST", "/v1/cards/"+fin.ID+"/approve", ap, "").want(t, 200, &fin)
	is.Equal(fin.State, ports.StateProcessing)
	is.Equal(fin.ApprovedBy, "ap-1")
	s.call("POST", "/v1/cards/"+own.ID+"/abort", op, "").want(t, 200, &own)

	// A batch with mixed results.
	var batch struct {
		Results []struct {
			UserID string
			Card   *httpapi.Card
			Error  *httpapi.Problem
		}
	}
	s.call("POST", "/v1/batch-orders", op, `{"userIds":["u2","u3","ghost","u4"]}`).want(t, 200, &batch)
	is.Equal(len(batch.Results), 4)
	is.True(batch.Results[0].Card != nil)
	is.Equal(batch.Results[1].Error.Code, "user_not_active")
	is.Equal(batch.Results[2].Error.Code, "user_not_found")
	is.Equal(batch.Results[3].Error.Code, "order_exists")
	batchCard := batch.Results[0].Card.ID

	// Temporary cards, on the temporary layout.
	var tmp struct{ Cards []httpapi.Card }
	s.call("POST", "/v1/temporary-card-orders", op, `{"amount":2}`).want(t, 201, &tmp)
	is.Equal(len(tmp.Cards), 2)
	for _, tc := range tmp.Cards {
		is.True(tc.Temporary)
		is.Equal(tc.LayoutID, "L-TEMP")
	}
	s.call("POST", "/v1/temporary-card-orders", op, `{"amount":10}`).want(t, 422, "invalid_amount")
	s.call("POST", "/v1/dispatch", admin, "").want(t, 200, &d)
	is.Equal(d.Ordered, 4) // fin, the batch card, two temporary cards
	is.Equal(d.Failed, 0)

	// A bad script is refused and the old one stays in force.
	r := s.call("GET", "/v1/admin/options-script", admin, "")
	r.want(t, 200)
	etag, oldScript := r.header.Get("ETag"), string(r.body)
	r = s.call("PUT", "/v1/admin/options-script", admin, "var options = {\n  enabled: true,\n  queueCards: maybe\n};\n", "If-Match", etag)
	r.want(t, 422, "invalid_script")
	var p httpapi.Problem
	r.want(t, 422, &p)
	is.True(strings.Contains(p.Detail, "line"))
	r = s.call("GET", "/v1/admin/options-script", admin, "")
	is.Equal(r.header.Get("ETag"), etag)
	is.Equal(string(r.body), oldScript)
	var u5 httpapi.Card
	s.call("POST", "/v1/users/u5/card-orders", op, "").want(t, 201, &u5)
	is.Equal(u5.State, ports.StateRequested) // the old script's resolve still decides
	s.call("POST", "/v1/admin/options-script/dry-run", admin, `{"script":"var options = {};","userId":"u2","actorId":"op-1","roles":["operator"]}`).
		want(t, 422, "invalid_script")
	// A good script via dry run, then installed; a stale ETag is refused after that.
	disabled := strings.Replace(oldScript, "enabled: true", "enabled: false", 1)
	var dry struct {
		Refusal *httpapi.Problem
		Options *ports.Options
	}
	s.call("POST", "/v1/admin/options-script/dry-run", admin,
		`{"script":`+jsonString(disabled)+`,"userId":"u2","actorId":"op-1","roles":["operator"]}`).want(t, 200, &dry)
	is.Equal(dry.Refusal.Code, "use_case_disabled")
	r = s.call("PUT", "/v1/admin/options-script", admin, disabled, "If-Match", etag)
	r.want(t, 204)
	s.call("PUT", "/v1/admin/options-script", admin, oldScript, "If-Match", etag).want(t, 412, "version_conflict")
	s.call("POST", "/v1/users/u1/card-orders", op, "").want(t, 403, "use_case_disabled")
	s.call("PUT", "/v1/admin/options-script", admin, oldScript, "If-Match", r.header.Get("ETag")).want(t, 204)

	// A signed bureau event moves the batch card on; a forged one is refused.
	fake.SetCallback(s.url+"/v1/gocards/events", []byte(demoEventsSecret))
	s.call("GET", "/v1/cards/"+batchCard, op, "").want(t, 200, &c)
	is.Equal(c.State, ports.StateOrdered)
	is.NoErr(fake.Advance(ctx, c.ProviderOrderID, gocardsfake.StatusInProduction))
	s.call("GET", "/v1/cards/"+batchCard, op, "").want(t, 200, &c)
	is.Equal(c.State, ports.StateInProduction)
	events := fake.Events()
	is.Equal(events[len(events)-1].Status, http.StatusNoContent)
	forged := `{"eventId":"e-forged","created":"2025-01-01T00:00:00Z","topic":"ORDER_STATUS_CHANGED","data":{}}`
	s.call("POST", "/v1/gocards/events", "", forged, gocards.SignatureHeader, gocards.SignBody([]byte("wrong"), []byte(forged))).
		want(t, 401, "unauthenticated")
	// A validly signed body that is not a well-formed event is a bad request (docs/gocards-wire.md), as
	// a problem like every other error.
	for _, malformed := range []string{
		`{"eventId":"e-bad","created":"2025-01-01T00:00:00Z","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1"}}`,
		`{"eventId":"e-bad","topic":"ORDER_STATUS_CHANGED","data":`,
		`{"eventId":"` + strings.Repeat("e", gocards.MaxEventIDBytes+1) + `","topic":"ORDER_STATUS_CHANGED","data":{}}`,
	} {
		r := s.call("POST", "/v1/gocards/events", "", malformed,
			gocards.SignatureHeader, gocards.SignBody([]byte(demoEventsSecret), []byte(malformed)))
		r.want(t, 400, "bad_request")
		var p httpapi.Problem
		r.want(t, 400, &p)
		is.Equal(p.Status, 400)
		is.Equal(p.Title, "Bad request")
	}

	// Status sync picks up what the bureau did without an event.
	fake.SetCallback("", nil)
	is.NoErr(fake.Advance(ctx, c.ProviderOrderID, gocardsfake.StatusProduced))
	var sync struct{ Updated int }
	s.call("POST", "/v1/status-sync", admin, "").want(t, 200, &sync)
	is.Equal(sync.Updated, 1)
	s.call("GET", "/v1/cards/"+batchCard, op, "").want(t, 200, &c)
	is.Equal(c.State, ports.StateProduced)

	// The listing pages over everything.
	var page struct {
		Cards      []httpapi.Card
		NextCursor string
	}
	seen := 0
	for cursor := ""; ; {
		path := "/v1/cards?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		s.call("GET", path, op, "").want(t, 200, &page)
		seen += len(page.Cards)
		if page.NextCursor == "" {
			break
		}
		cursor, page.NextCursor = page.NextCursor, ""
	}
	is.Equal(seen, 8) // aborted, produced, Finance, approver-held, batch, two temporary, u5
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBackgroundDispatcher: with the dispatcher on, a queued card gets ordered without a manual
// dispatch, and shutdown waits for the dispatcher cleanly.
func TestBackgroundDispatcher(t *testing.T) {
	is := is.New(t)
	passes := make(chan cardorder.DispatchResult, 1)
	afterPass := func(r cardorder.DispatchResult, _ error) {
		select {
		case passes <- r:
		default: // the test is not waiting; drop it
		}
	}
	s := startWith(t, hooks{afterPass: afterPass}, "-dispatch-interval", "10ms")
	var c httpapi.Card
	s.call("POST", "/v1/users/u2/card-orders", "t-op", "").want(t, 201, &c)
	for c.State != ports.StateOrdered {
		select {
		case <-passes: // a pass ran since the last look
		case <-t.Context().Done():
			t.Fatalf("card still %s", c.State)
		}
		s.call("GET", "/v1/cards/"+c.ID, "t-op", "").want(t, 200, &c)
	}
	is.Equal(s.h.fake.Stats().Orders, 1)
}

// TestGracefulShutdown: a request in flight when the shutdown begins is answered, then run
// returns cleanly.
func TestGracefulShutdown(t *testing.T) {
	is := is.New(t)
	entered, release, shutdown := make(chan struct{}), make(chan struct{}), make(chan struct{})
	hk := hooks{
		wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v1/users/u2/card-orders" {
					close(entered)
					<-release
				}
				next.ServeHTTP(w, r)
			})
		},
		onShutdown: func() { close(shutdown) },
	}
	s, stop := startStoppable(t, hk, "-dispatch-interval", "1h")
	answered := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", s.url+"/v1/users/u2/card-orders", nil)
		req.Header.Set("Authorization", "Bearer t-op")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{status: -1, body: []byte(err.Error())}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		answered <- answer{status: res.StatusCode, body: b}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	<-shutdown // the shutdown has begun with the request in flight
	close(release)
	a := <-answered
	is.Equal(a.status, http.StatusCreated)
	is.NoErr(<-stopped)
	is.True(strings.Contains(s.logs.String(), "background jobs stopped"))
}

func newTestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	badScript := filepath.Join(dir, "bad.js")
	is.New(t).NoErr(os.WriteFile(badScript, []byte("var options = {\n  enabled: nope\n};\n"), 0o600))
	badSeed := filepath.Join(dir, "seed.json")
	is.New(t).NoErr(os.WriteFile(badSeed, []byte(`{"users":[],"actors":[{"token":"t","id":"x","roles":["root"]}]}`), 0o600))
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-store", "mysql://x"}, "want memory, sqlite:PATH or a postgres:// URL"},
		{[]string{"-store", "postgres://u:hunter2@[::1"}, "does not parse"},
		{[]string{"-scim-url", "http://dir.example"}, "go together"},
		{[]string{"-smtp-from", "a@example.org"}, "need -smtp-addr"},
		{[]string{"-approvers", "a@example.org"}, "need -smtp-addr"},
		{[]string{"-smtp-addr", "mail.example:25"}, "needs -smtp-from"},
		{[]string{"-smtp-addr", "mail.example:x", "-smtp-from", "a@example.org"}, "port"},
		{[]string{"-smtp-addr", "mail.example", "-smtp-from", "a@example.org", "-smtp-tls", "ssl"}, "-smtp-tls"},
		{[]string{"-smtp-addr", "mail.example", "-smtp-from", "a@example.org", "-smtp-user", "u"}, "go together"},
		{[]string{"-oidc-issuer", "https://idp.example"}, "go together"},
		{[]string{"-oidc-roles-claim", "keycloak"}, "needs -oidc-issuer"},
		{[]string{"-log-format", "xml"}, "-log-format"},
		{[]string{"-scim-url", "ftp://dir.example", "-scim-token", "t"}, "-scim-url"},
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-dispatch-interval", "-1s"}, "must not be negative"},
		{[]string{"-gocards-url", "http://127.0.0.1:1"}, "-gocards-client-id"},
		{[]string{"-script", badScript}, "line 2"},
		{[]string{"-script", filepath.Join(dir, "missing.js")}, "-script"},
		{[]string{"-seed", badSeed}, "unknown role"},
		{[]string{"-addr", "256.0.0.1:0"}, "listen"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := runWith(t.Context(), append([]string{"-store", "memory"}, tt.args...), &out, io.Discard, hooks{scriptLimits: testLimits})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q", out.String())
			}
		})
	}
}

func TestSeedFileAndExternalBureau(t *testing.T) {
	is := is.New(t)
	// A bureau of our own (the fake on httptest), named by flags like a real one.
	fake := gocardsfake.New(gocardsfake.Config{ClientID: "id", ClientSecret: "secret", OrganisationID: "org"})
	srv := newTestServer(t, fake)
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "seed.json")
	is.NoErr(os.WriteFile(seedFile, []byte(`{"users":[{"id":"x1","state":"active","givenName":"Xa","familyName":"Yb","email":"x@example.com"}],
		"actors":[{"token":"tok","id":"adm","roles":["admin","operator"]}]}`), 0o600))
	s := start(t, "-seed", seedFile, "-dispatch-interval", "0", "-gocards-url", srv,
		"-gocards-client-id", "id", "-gocards-client-secret", "secret", "-gocards-org", "org", "-gocards-events-secret", "sh")
	is.True(s.h.fake == nil)
	s.call("POST", "/v1/users/x1/card-orders", "tok", "").want(t, 201)
	s.call("POST", "/v1/users/u1/card-orders", "tok", "").want(t, 404, "user_not_found")
	s.call("GET", "/v1/cards", "t-op", "").want(t, 401, "unauthenticated")
	var d struct{ Ordered int }
	s.call("POST", "/v1/dispatch", "tok", "").want(t, 200, &d)
	is.Equal(d.Ordered, 1)
	is.Equal(fake.Stats().Orders, 1)
}

// Bureau credentials without -gocards-url would be ignored (the host uses its fake): refused.
func TestBureauFlagsNeedURL(t *testing.T) {
	for _, args := range [][]string{
		{"-gocards-client-id", "id"},
		{"-gocards-client-secret", "secret"},
		{"-gocards-org", "org"},
		{"-gocards-client-id", "id", "-gocards-client-secret", "secret", "-gocards-org", "org"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, err := parseFlags(args, io.Discard, nil) // parsed only: a wrong answer cannot start a host
			if err == nil || !strings.Contains(err.Error(), "need -gocards-url") {
				t.Fatalf("err %v, want one naming -gocards-url", err)
			}
		})
	}
	// With the URL they are accepted, and the events secret alone needs no URL.
	_, err := parseFlags([]string{"-gocards-url", "http://b.example", "-gocards-client-id", "id", "-gocards-client-secret", "s", "-gocards-org", "o"}, io.Discard, nil)
	is.New(t).NoErr(err)
	_, err = parseFlags([]string{"-gocards-events-secret", "sh"}, io.Discard, nil)
	is.New(t).NoErr(err)
}

// Without -gocards-events-secret a host on a real bureau serves no events endpoint, and says so
// in its log (naming no secret or credential).
func TestExternalBureauWithoutEventsSecret(t *testing.T) {
	is := is.New(t)
	fake := gocardsfake.New(gocardsfake.Config{ClientID: "id", ClientSecret: "cl-secret", OrganisationID: "org"})
	srv := newTestServer(t, fake)
	s := start(t, "-dispatch-interval", "0", "-gocards-url", srv,
		"-gocards-client-id", "id", "-gocards-client-secret", "cl-secret", "-gocards-org", "org")
	logs := s.logs.String()
	is.True(strings.Contains(logs, "level=WARN"))
	is.True(strings.Contains(logs, "without -gocards-events-secret"))
	is.True(!strings.Contains(logs, "cl-secret"))
	s.call("POST", "/v1/gocards/events", "", `{}`).want(t, 404, "not_found")

	// With the secret, no warning.
	s = start(t, "-dispatch-interval", "0", "-gocards-url", srv,
		"-gocards-client-id", "id", "-gocards-client-secret", "cl-secret", "-gocards-org", "org", "-gocards-events-secret", "sh")
	is.True(!strings.Contains(s.logs.String(), "without -gocards-events-secret"))
}

// A direct order waits for the bureau inside a request: one bureau call, at its worst, must end
// well before the server's WriteTimeout cuts the connection.
func TestBureauCallBoundedUnderWriteTimeout(t *testing.T) {
	is := is.New(t)
	cfg := clientConfig(flags{gocardsURL: "http://bureau.example", gocardsClientID: "id", gocardsSecret: "s", gocardsOrg: "o"}, nil).WithDefaults()
	is.Equal(cfg.MaxAttempts, 3)
	is.Equal(cfg.AttemptTimeout, 10*time.Second)
	// Every attempt may time out, one token fetch may precede, and between attempts the client
	// waits at most the larger of its backoff bound and the Retry-After it honours.
	worst := time.Duration(cfg.MaxAttempts+1) * cfg.AttemptTimeout
	for n := 1; n < cfg.MaxAttempts; n++ {
		backoff := min(cfg.MaxBackoff, cfg.BaseBackoff<<(n-1))
		worst += max(backoff, cfg.RetryAfterCap)
	}
	t.Logf("worst case of one bureau call: %s; write timeout %s", worst, writeTimeout)
	is.True(worst < writeTimeout)
}

func TestDemoSeed(t *testing.T) {
	is := is.New(t)
	sd, err := parseSeed(demoSeed)
	is.NoErr(err)
	roles := map[ports.Role]int{}
	for _, a := range sd.Actors {
		for _, r := range a.Roles {
			roles[r]++
		}
	}
	is.Equal(roles, map[ports.Role]int{ports.RoleOperator: 2, ports.RoleApprover: 1, ports.RoleAdmin: 1, ports.RoleSelfService: 1})
	_, err = parseSeed([]byte(`{"users":[],"actors":[],"extra":1}`))
	is.True(err != nil)
}
