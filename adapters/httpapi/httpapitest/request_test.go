package httpapitest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/internal/logbuf"
	"github.com/cardsaddon/extprod/ports"
)

// authCounter is an Observer that counts authentications by outcome.
type authCounter struct {
	ports.NopObserver
	mu    sync.Mutex
	codes []string
}

func (a *authCounter) Start(ctx context.Context, s ports.Span) (context.Context, func(ports.Outcome)) {
	if s.Op != ports.OpAuthenticate {
		return ctx, func(ports.Outcome) {}
	}
	return ctx, func(o ports.Outcome) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.codes = append(a.codes, o.Code)
	}
}

// traced is a request handler with a Service that logs as JSON at Debug level and counts
// authentications.
type traced struct {
	h     http.Handler
	store *memory.Store
	log   *logbuf.Buffer
	auth  *authCounter
}

func newTraced(t *testing.T) *traced {
	t.Helper()
	tr := &traced{store: memory.NewStore(), log: &logbuf.Buffer{}, auth: &authCounter{}}
	opts := &switchOptions{}
	opts.set(func(o *ports.Options) { o.ApprovalStep = true })
	logger := slog.New(slog.NewJSONHandler(tr.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := cardorder.New(cardorder.Ports{Users: memory.NewUsers(testUsers()...), Store: tr.store,
		Provider: memory.NewBureau(), Options: opts},
		&cardorder.Config{Clock: memory.NewClock(t0), IDs: memory.NewIDs("c"), Instance: "host-b", Logger: logger, Observer: tr.auth})
	if err != nil {
		t.Fatal(err)
	}
	tr.h, err = httpapi.New(httpapi.Config{Service: svc, Auth: tokens, Scripts: newFakeScripts("var options = {};"), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// serve sends one request in process, from 192.0.2.1 (httptest's RemoteAddr).
func (tr *traced) serve(method, path, token, body string, headers ...string) resp {
	return record(tr.h, method, path, token, body, headers...)
}

// events returns every audit event in the outbox.
func (tr *traced) events(t *testing.T) []ports.AuditEvent {
	t.Helper()
	evs, err := tr.store.ClaimEvents(context.Background(), t0.Add(24*time.Hour), 1000, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

var newRequestID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestIDEchoed: a well-formed X-Request-Id comes back as it was; a missing or malformed
// one is replaced by a new random id.
func TestRequestIDEchoed(t *testing.T) {
	tr := newTraced(t)
	for _, tc := range []struct {
		name, sent string
		kept       bool
	}{
		{"well-formed", "req-2026.12.01:a_b~c", true},
		{"128 characters", strings.Repeat("r", 128), true},
		{"none", "", false},
		{"too long", strings.Repeat("r", 129), false},
		{"an email address", "ada@example.com", false},
		{"a space", "req 1", false},
		{"control character", "req\x01", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for range 2 {
				rec := tr.serve("GET", "/healthz", "", "", "X-Request-Id", tc.sent)
				got = append(got, rec.header.Get("X-Request-Id"))
			}
			switch {
			case tc.kept && (got[0] != tc.sent || got[1] != tc.sent):
				t.Fatalf("X-Request-Id %q answered as %q", tc.sent, got)
			case !tc.kept && (!newRequestID.MatchString(got[0]) || !newRequestID.MatchString(got[1]) || got[0] == got[1]):
				t.Fatalf("X-Request-Id %q answered as %q, want two new random ids", tc.sent, got)
			}
		})
	}
}

// TestRequestIDInAuditEvents: the audit events a request causes name its id and the caller's
// address: a script install and a refused approval (four-eyes) each leave one.
func TestRequestIDInAuditEvents(t *testing.T) {
	is := is.New(t)
	tr := newTraced(t)
	rec := tr.serve("PUT", "/v1/admin/options-script", tokAdmin, "var options = { enabled: true };",
		"X-Request-Id", "req-put-1", "Content-Type", "text/javascript")
	is.Equal(rec.status, http.StatusNoContent)
	version := strings.Trim(rec.header.Get("ETag"), `"`)

	rec = tr.serve("POST", "/v1/users/u2/card-orders", tokApOp, "", "X-Request-Id", "req-order-1")
	is.Equal(rec.status, http.StatusCreated)
	var card httpapi.Card
	is.NoErr(json.Unmarshal(rec.body, &card))
	rec = tr.serve("POST", "/v1/cards/"+card.ID+"/approve", tokApOp, "", "X-Request-Id", "req-approve-1")
	is.Equal(rec.status, http.StatusForbidden)

	byKind := map[ports.AuditKind][]ports.AuditEvent{}
	for _, e := range tr.events(t) {
		byKind[e.Kind] = append(byKind[e.Kind], e)
	}
	is.Equal(len(byKind[ports.AuditScriptInstalled]), 1)
	is.Equal(len(byKind[ports.AuditRefused]), 1)
	is.Equal(len(byKind[ports.AuditStateChange]), 1)
	install, refusal, order := byKind[ports.AuditScriptInstalled][0], byKind[ports.AuditRefused][0], byKind[ports.AuditStateChange][0]
	is.Equal([]string{install.RequestID, install.ClientAddress, install.Actor, install.Reason, install.Instance, install.Outcome},
		[]string{"req-put-1", "192.0.2.1", "adm-1", version, "host-b", "success"})
	is.Equal([]string{refusal.RequestID, refusal.ClientAddress, refusal.Actor, refusal.Code, refusal.CardID, refusal.Outcome},
		[]string{"req-approve-1", "192.0.2.1", "ap-2", "forbidden", card.ID, "failure"})
	is.Equal(order.RequestID, "req-order-1")

	// The domain's log line of the refusal names the request.
	is.True(strings.Contains(tr.log.String(), `"msg":"cardorder: refused","op":"approve","code":"forbidden","card":"`+card.ID+`","request_id":"req-approve-1"`))
}

// TestFailedAuthenticationLoggedNotAudited: a missing or unknown token is logged with the
// request id (never the token) and counted by the observer, and writes nothing to the store.
func TestFailedAuthenticationLoggedNotAudited(t *testing.T) {
	is := is.New(t)
	tr := newTraced(t)
	rec := tr.serve("GET", "/v1/cards", "", "", "X-Request-Id", "req-anon")
	is.Equal(rec.status, http.StatusUnauthorized)
	rec = tr.serve("GET", "/v1/cards", "t-forged-secret-token", "", "X-Request-Id", "req-forged")
	is.Equal(rec.status, http.StatusUnauthorized)
	rec = tr.serve("GET", "/v1/cards", tokOp, "")
	is.Equal(rec.status, http.StatusOK)

	is.Equal(len(tr.events(t)), 0) // not audited
	is.Equal(tr.auth.codes, []string{"unauthenticated", "unauthenticated", ""})
	logged := tr.log.String()
	is.True(!strings.Contains(logged, "t-forged-secret-token"))
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(logged), "\n") {
		var r map[string]any
		is.NoErr(json.Unmarshal([]byte(line), &r))
		if r["msg"] == "httpapi: authentication failed" {
			lines = append(lines, r["level"].(string)+" "+r["request_id"].(string)+" "+r["client"].(string))
		}
	}
	is.Equal(lines, []string{"INFO req-anon 192.0.2.1", "INFO req-forged 192.0.2.1"})
}

// TestRoleRefusalAudited: the HTTP API's early role check is the domain's permission rule, and
// its refusal of an authenticated actor is audited as the domain's would be.
func TestRoleRefusalAudited(t *testing.T) {
	is := is.New(t)
	tr := newTraced(t)
	rec := tr.serve("POST", "/v1/cards/c-77/approve", tokOp, "", "X-Request-Id", "req-role-1")
	is.Equal(rec.status, http.StatusForbidden)
	evs := tr.events(t)
	is.Equal(len(evs), 1)
	e := evs[0]
	is.Equal([]string{string(e.Kind), e.Code, e.Actor, e.CardID, e.RequestID, e.ClientAddress, e.Outcome, e.Instance},
		[]string{"refused", "forbidden", "op-1", "c-77", "req-role-1", "192.0.2.1", "failure", "host-b"})
	is.True(e.Reason != "" && !e.At.IsZero() && e.ID != "")
}
