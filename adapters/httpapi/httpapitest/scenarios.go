package httpapitest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/ports"
)

// TestCardJSON pins the card's JSON to docs/http-api.md "The card": the listed fields, empty ones
// omitted, no options or dispatch bookkeeping.
func testCardJSON(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	r := e.do("POST", "/v1/users/u1/card-orders", tokOp, `{"productionType": "standard"}`)
	is.Equal(r.status, http.StatusCreated)
	is.Equal(r.header.Get("Content-Type"), "application/json")
	is.Equal(r.header.Get("Location"), "/v1/cards/c1") // where the new card is read
	is.Equal(e.do("GET", r.header.Get("Location"), tokOp, "").card(t).ID, "c1")
	want := `{"id":"c1","userId":"u1","temporary":false,"state":"processing","productionType":"standard",` +
		`"layoutId":"L-100","commonName":"Ada Lovelace","upn":"ada@corp.example","email":"ada@example.com",` +
		`"orderedBy":"op-1","attempt":1,"scriptVersion":"v-test","createdAt":"2025-03-01T09:00:00Z",` +
		`"updatedAt":"2025-03-01T09:00:00Z","history":[{"state":"processing","at":"2025-03-01T09:00:00Z","actor":"op-1"}]}`
	if diff := cmp.Diff(want, string(r.body)); diff != "" {
		t.Errorf("card JSON (-want +got):\n%s", diff)
	}

	// Produced: the bureau's fields appear.
	_, err := e.svc.DispatchQueued(t.Context(), 10)
	is.NoErr(err)
	e.bureau.Advance("c1", ports.StateProduced, "")
	r = e.do("POST", "/v1/cards/c1/refresh", tokOp, "")
	is.Equal(r.status, http.StatusOK)
	got := r.card(t)
	is.Equal(got.State, ports.StateProduced)
	is.Equal(got.ProviderOrderID, "O-1")
	is.Equal(got.CardNumber, "C-O-1")
	is.Equal(got.ValidThru, "2031-12-31")
	is.Equal(got.Readouts, []httpapi.Readout{{Type: "MIFARE_UID", UID: "04O-1"}})
	var states []ports.CardState
	for _, h := range got.History {
		states = append(states, h.State)
	}
	is.Equal(states, []ports.CardState{ports.StateProcessing, ports.StateOrdered, ports.StateProduced})
	is.True(!strings.Contains(string(r.body), "options"))
	is.True(!strings.Contains(string(r.body), "dispatch"))
	is.True(!strings.Contains(string(r.body), "version\""))
}

// TestConcurrentOrdersOneUser: 50 simultaneous orders for one user make exactly one card.
func testConcurrentOrdersOneUser(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	const n = 50
	statuses := make([]int, n)
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := e.do("POST", "/v1/users/u1/card-orders", tokOp, "")
			statuses[i] = r.status
			if r.status != http.StatusCreated {
				codes[i] = r.problem(t).Code
			}
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		switch statuses[i] {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			is.Equal(codes[i], "order_exists")
		default:
			t.Errorf("request %d: status %d", i, statuses[i])
		}
	}
	is.Equal(created, 1)
	is.Equal(e.countCards(), 1)
}

func testIdempotency(t *testing.T, cfg Config) {
	key := func(k string) []string { return []string{"Idempotency-Key", k} }
	t.Run("replay returns the same card and creates nothing", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, cfg)
		first := e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, `{"productionType":"standard"}`, key("k")})
		is.Equal(first.status, http.StatusCreated)
		// The same body, written differently, parses the same.
		again := e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, ` { "productionType" : "standard" } `, key("k")})
		is.Equal(again.status, http.StatusOK)
		is.Equal(string(again.body), string(first.body))
		is.Equal(e.countCards(), 1)
	})
	t.Run("an empty body and an empty object are the same request", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, cfg)
		is.Equal(e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", key("k")}).status, http.StatusCreated)
		is.Equal(e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "{}", key("k")}).status, http.StatusOK)
	})
	t.Run("another body or another path is a reuse", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, cfg)
		e.opts.set(func(o *ports.Options) { o.AllowMultipleCardOrders = true })
		is.Equal(e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", key("k")}).status, http.StatusCreated)
		r := e.send(req{"POST", "/v1/users/u2/card-orders", tokOp, "", key("k")})
		is.Equal(r.status, http.StatusUnprocessableEntity)
		is.Equal(r.problem(t).Code, "idempotency_key_reused")
		r = e.send(req{"POST", "/v1/temporary-card-orders", tokOp, `{"amount":1}`, key("k")})
		is.Equal(r.problem(t).Code, "idempotency_key_reused")
		is.Equal(e.countCards(), 1)
	})
	t.Run("keys are scoped to the actor", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, cfg)
		e.opts.set(func(o *ports.Options) { o.AllowMultipleCardOrders = true })
		a := e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", key("k")})
		b := e.send(req{"POST", "/v1/users/u1/card-orders", tokOp2, "", key("k")})
		is.Equal(a.status, http.StatusCreated)
		is.Equal(b.status, http.StatusCreated)
		is.True(a.card(t).ID != b.card(t).ID)
	})
	t.Run("a refusal is not remembered", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, cfg)
		e.opts.set(func(o *ports.Options) { o.Enabled = false })
		r := e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", key("k")})
		is.Equal(r.problem(t).Code, "use_case_disabled")
		is.Equal(e.idem.Len(), 0)
		e.opts.set(nil)
		is.Equal(e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", key("k")}).status, http.StatusCreated)
	})
	t.Run("kept for 24 hours, then forgotten", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, cfg)
		e.opts.set(func(o *ports.Options) { o.AllowMultipleCardOrders = true })
		first := e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", key("k")})
		e.clock.Advance(24*time.Hour - time.Second)
		r := e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", key("k")})
		is.Equal(r.status, http.StatusOK)
		is.Equal(string(r.body), string(first.body))
		e.clock.Advance(2 * time.Second)
		r = e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", key("k")})
		is.Equal(r.status, http.StatusCreated)
		is.Equal(e.countCards(), 2)
	})
	t.Run("temporary cards", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, cfg)
		first := e.send(req{"POST", "/v1/temporary-card-orders", tokOp, `{"amount":2}`, key("t")})
		is.Equal(first.status, http.StatusCreated)
		again := e.send(req{"POST", "/v1/temporary-card-orders", tokOp, `{"amount":2}`, key("t")})
		is.Equal(again.status, http.StatusOK)
		is.Equal(string(again.body), string(first.body))
		is.Equal(e.countCards(), 2)
	})
	t.Run("a bad key", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t, cfg)
		r := e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", key(strings.Repeat("k", 256))})
		is.Equal(r.problem(t).Code, "bad_request")
		r = e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", []string{"Idempotency-Key", "a", "Idempotency-Key", "b"}})
		is.Equal(r.problem(t).Code, "bad_request")
	})
}

// TestIdempotencyRace: a request with the key of a request in progress waits for it and then
// answers 200 with the same card; one card is created. The test sees the second request find
// the key busy (it is waiting) before it lets the first one finish.
func testIdempotencyRace(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	// Hold the first request inside the domain until the second is waiting on the key.
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	gate := func() { once.Do(func() { close(entered); <-release }) }
	e.opts.gate.Store(&gate)

	var first, second, other resp
	var wg sync.WaitGroup
	wg.Go(func() {
		first = e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", []string{"Idempotency-Key", "race"}})
	})
	<-entered
	wg.Go(func() {
		second = e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "{}", []string{"Idempotency-Key", "race"}})
	})
	<-e.idemBusy // the second request found the key reserved: it is waiting
	// A request with the same key and another body is refused at once, without waiting.
	other = e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, `{"productionType":"other"}`, []string{"Idempotency-Key", "race"}})
	is.Equal(other.problem(t).Code, "idempotency_key_reused")
	close(release)
	wg.Wait()
	is.Equal(first.status, http.StatusCreated)
	is.Equal(second.status, http.StatusOK)
	is.Equal(string(second.body), string(first.body))
	is.Equal(e.countCards(), 1)
}

// TestIdempotencyWaiterTakesOverAReleasedKey: when the request holding a key is refused, it
// releases the key and the request waiting on it runs itself.
func testIdempotencyWaiterTakesOverAReleasedKey(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	gate := func() {
		switch calls.Add(1) {
		case 1: // the first request: held, then decided on disabled options
			close(entered)
			<-release
		case 2: // the second request, once it reserved the released key: enabled
			e.opts.set(nil)
		}
	}
	e.opts.set(func(o *ports.Options) { o.Enabled = false })
	e.opts.gate.Store(&gate)
	var first, second resp
	var wg sync.WaitGroup
	wg.Go(func() {
		first = e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", []string{"Idempotency-Key", "k"}})
	})
	<-entered
	wg.Go(func() {
		second = e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", []string{"Idempotency-Key", "k"}})
	})
	<-e.idemBusy
	close(release)
	wg.Wait()
	is.Equal(first.problem(t).Code, "use_case_disabled")
	is.Equal(second.status, http.StatusCreated)
	is.Equal(e.countCards(), 1)
}

// TestIdempotencyWaiterGivesUp: a request waiting on a busy key ends with its context.
func testIdempotencyWaiterGivesUp(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	gate := func() { once.Do(func() { close(entered); <-release }) }
	e.opts.gate.Store(&gate)
	var first resp
	var wg sync.WaitGroup
	wg.Go(func() {
		first = e.send(req{"POST", "/v1/users/u1/card-orders", tokOp, "", []string{"Idempotency-Key", "k"}})
	})
	<-entered
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		r, _ := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/v1/users/u1/card-orders", nil)
		r.Header.Set("Authorization", "Bearer "+tokOp)
		r.Header.Set("Idempotency-Key", "k")
		res, err := e.client.Do(r)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-e.idemBusy // it waits
	cancel()
	is.True(errors.Is(<-done, context.Canceled)) // the client gave up while waiting
	close(release)
	wg.Wait()
	is.Equal(first.status, http.StatusCreated)
	is.Equal(e.countCards(), 1)
}

// TestListingCursor pages through cards while more are added: nothing is skipped or repeated,
// and the new cards come last.
func testListingCursor(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	e.opts.set(func(o *ports.Options) { o.AllowMultipleCardOrders = true })
	var want []string
	add := func(n int) {
		for range n {
			want = append(want, e.order("u1").ID)
		}
	}
	add(7)
	var got []string
	cursor := ""
	pages := 0
	for {
		path := "/v1/cards?limit=3&userId=u1"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := e.do("GET", path, tokOp, "")
		is.Equal(r.status, http.StatusOK)
		var page struct {
			Cards      []httpapi.Card `json:"cards"`
			NextCursor string         `json:"nextCursor"`
		}
		r.into(t, &page)
		for _, c := range page.Cards {
			got = append(got, c.ID)
		}
		if pages++; pages == 1 {
			add(4) // cards arrive while the client pages
		}
		if page.NextCursor == "" {
			break
		}
		is.True(!strings.ContainsAny(page.NextCursor, "+/=")) // URL-safe
		cursor = page.NextCursor
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed ids (-want +got):\n%s", diff)
	}

	// The last page has no cursor, an empty listing an empty array.
	r := e.do("GET", "/v1/cards?userId=u2", tokOp, "")
	is.Equal(string(r.body), `{"cards":[]}`)
	// A state filter.
	r = e.do("GET", "/v1/cards?state=processing&limit=500", tokOp, "")
	var page struct{ Cards []httpapi.Card }
	r.into(t, &page)
	is.Equal(len(page.Cards), 11)
	// A self-service user sees its own cards only.
	r = e.do("GET", "/v1/cards", tokSelf, "")
	r.into(t, &page)
	is.Equal(len(page.Cards), 11)
	r = e.do("GET", "/v1/cards?userId=u2", tokSelf, "")
	is.Equal(string(r.body), `{"cards":[]}`)
}

func testListingBadQuery(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	for _, q := range []string{
		"limit=0", "limit=501", "limit=abc", "limit=+5", "limit=05", "limit=1&limit=2", "state=bogus",
		"state=registered", "cursor=!!", "cursor=AAAAAAAAAAA", "cursor=abc", "userId=", "userId=a/b",
		"usrId=u1", "%zz",
	} {
		t.Run(q, func(t *testing.T) {
			r := e.do("GET", "/v1/cards?"+q, tokOp, "")
			if p := r.problem(t); p.Code != "bad_request" {
				t.Errorf("code %s", p.Code)
			}
		})
	}
}

// With several bad parameters the error names the first in the fixed order userId, state, limit,
// cursor, then unknown names sorted, whatever their order in the URL (and map iteration).
func testListingBadQueryOrder(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	bad := []struct{ param, detailStart string }{
		{"userId=a/b", "userId "},
		{"state=bogus", "state "},
		{"limit=0", "limit "},
		{"cursor=!!", "cursor "},
		{"alpha=1", `unknown query parameter "alpha"`},
		{"zeta=1", `unknown query parameter "zeta"`},
	}
	for first := range bad {
		// The bad parameters from first on, in reverse order in the URL.
		var params []string
		for i := len(bad) - 1; i >= first; i-- {
			params = append(params, bad[i].param)
		}
		q := strings.Join(params, "&")
		t.Run(q, func(t *testing.T) {
			for range 20 { // map iteration is random: a wrong order shows up within a few tries
				p := e.do("GET", "/v1/cards?"+q, tokOp, "").problem(t)
				if p.Code != "bad_request" || !strings.HasPrefix(p.Detail, bad[first].detailStart) {
					t.Fatalf("code %s, detail %q: want one starting %q", p.Code, p.Detail, bad[first].detailStart)
				}
			}
		})
	}
	// A repeated parameter counts as bad in its place in the order.
	p := e.do("GET", "/v1/cards?zeta=1&limit=1&limit=2&state=bogus", tokOp, "").problem(t)
	if !strings.HasPrefix(p.Detail, "state ") {
		t.Errorf("detail %q, want the state first", p.Detail)
	}
	p = e.do("GET", "/v1/cards?zeta=1&limit=1&limit=2", tokOp, "").problem(t)
	if p.Detail != `query parameter "limit" must be given once` {
		t.Errorf("detail %q, want the repeated limit", p.Detail)
	}
}

func testPreview(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	r := e.do("POST", "/v1/users/u1/card-orders/preview", tokOp, "")
	is.Equal(r.status, http.StatusOK)
	var pv struct {
		Card    *httpapi.Card  `json:"card"`
		Refusal *problem       `json:"refusal"`
		Options *ports.Options `json:"options"`
	}
	r.into(t, &pv)
	is.True(pv.Refusal == nil)
	is.Equal(pv.Card.ID, "") // not stored
	is.Equal(pv.Card.State, ports.StateProcessing)
	is.Equal(pv.Card.CommonName, "Ada Lovelace")
	is.Equal(*pv.Options, enabledOptions())
	is.Equal(e.countCards(), 0)

	e.order("u1")
	r = e.do("POST", "/v1/users/u1/card-orders/preview", tokSelf, `{"productionType":"standard"}`)
	pv.Card, pv.Refusal = nil, nil
	r.into(t, &pv)
	is.True(pv.Card == nil)
	is.Equal(pv.Refusal.Code, "order_exists")
	is.Equal(pv.Refusal.Status, http.StatusConflict)
	is.True(pv.Options != nil)

	// Permission refusals are errors, not previews.
	r = e.do("POST", "/v1/users/u1/card-orders/preview", tokAp, "")
	is.Equal(r.problem(t).Code, "forbidden")
}

func testScriptEndpoints(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	r := e.do("GET", "/v1/admin/options-script", tokAdmin, "")
	is.Equal(r.status, http.StatusOK)
	is.Equal(r.header.Get("Content-Type"), "text/javascript; charset=utf-8")
	is.Equal(string(r.body), "var options = { enabled: true };")
	etag := r.header.Get("ETag")
	is.Equal(etag, `"`+versionOf("var options = { enabled: true };")+`"`)

	// A bad script is refused and the old one stays.
	r = e.do("PUT", "/v1/admin/options-script", tokAdmin, "syntax error here", "If-Match", etag)
	is.Equal(r.problem(t).Code, "invalid_script")
	r = e.do("GET", "/v1/admin/options-script", tokAdmin, "")
	is.Equal(r.header.Get("ETag"), etag)

	// A good one replaces it, given the current ETag.
	r = e.do("PUT", "/v1/admin/options-script", tokAdmin, "var options = { approvalStep: true };", "If-Match", etag)
	is.Equal(r.status, http.StatusNoContent)
	newTag := r.header.Get("ETag")
	is.True(newTag != etag)
	// The old ETag is stale now.
	r = e.do("PUT", "/v1/admin/options-script", tokAdmin, "var options = {};", "If-Match", etag)
	is.Equal(r.status, http.StatusPreconditionFailed)
	is.Equal(r.problem(t).Code, "version_conflict")
	// Without If-Match the install is unconditional.
	r = e.do("PUT", "/v1/admin/options-script", tokAdmin, "var options = {};")
	is.Equal(r.status, http.StatusNoContent)

	// If-Match forms: unquoted, "*", weak, a list.
	r = e.do("GET", "/v1/admin/options-script", tokAdmin, "")
	cur := strings.Trim(r.header.Get("ETag"), `"`)
	r = e.do("PUT", "/v1/admin/options-script", tokAdmin, "var options = { a: 1 };", "If-Match", cur)
	is.Equal(r.status, http.StatusNoContent)
	r = e.do("PUT", "/v1/admin/options-script", tokAdmin, "var options = { a: 2 };", "If-Match", "*")
	is.Equal(r.status, http.StatusNoContent)
	r = e.do("PUT", "/v1/admin/options-script", tokAdmin, "var options = { a: 3 };", "If-Match", `W/"x"`)
	is.Equal(r.problem(t).Code, "version_conflict")
	r = e.do("PUT", "/v1/admin/options-script", tokAdmin, "var options = { a: 3 };", "If-Match", `"a", "b"`)
	is.Equal(r.problem(t).Code, "bad_request")

	// Admin only.
	r = e.do("GET", "/v1/admin/options-script", tokOp, "")
	is.Equal(r.problem(t).Code, "forbidden")
}

func testDryRun(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	type answer struct {
		Card         *httpapi.Card  `json:"card"`
		Refusal      *problem       `json:"refusal"`
		Options      *ports.Options `json:"options"`
		DefaultsUsed []string       `json:"defaultsUsed"`
	}
	// The installed options, as an operator would order.
	r := e.do("POST", "/v1/admin/options-script/dry-run", tokAdmin, `{"userId":"u1","actorId":"op-9","roles":["operator"]}`)
	is.Equal(r.status, http.StatusOK)
	var a answer
	r.into(t, &a)
	is.Equal(a.Card.OrderedBy, "op-9")
	is.Equal(a.Card.State, ports.StateProcessing)
	is.True(a.DefaultsUsed != nil && len(a.DefaultsUsed) == 0) // present, empty

	// A script that leaves out an option a later release added: the dry run names the default.
	r = e.do("POST", "/v1/admin/options-script/dry-run", tokAdmin,
		`{"script":"var options = {}; // no newOption","userId":"u1","actorId":"op-9","roles":["operator"]}`)
	a = answer{}
	r.into(t, &a)
	is.Equal(a.DefaultsUsed, []string{"newOption"})

	// A script under test, not installed.
	r = e.do("POST", "/v1/admin/options-script/dry-run", tokAdmin,
		`{"script":"var options = { approvalStep: true };","userId":"u1","actorId":"op-9","roles":["operator"],"channel":"operator","productionType":"standard"}`)
	a = answer{}
	r.into(t, &a)
	is.Equal(a.Card.State, ports.StateRequested)
	is.True(a.Options.ApprovalStep)
	r = e.do("GET", "/v1/admin/options-script", tokAdmin, "")
	is.Equal(string(r.body), "var options = { enabled: true };") // nothing installed

	// A refusal.
	r = e.do("POST", "/v1/admin/options-script/dry-run", tokAdmin, `{"userId":"u3","actorId":"op-9","roles":["operator"]}`)
	a = answer{}
	r.into(t, &a)
	is.Equal(a.Refusal.Code, "user_not_active")

	// A script that does not load.
	r = e.do("POST", "/v1/admin/options-script/dry-run", tokAdmin, `{"script":"syntax error","userId":"u1","actorId":"op-9"}`)
	is.Equal(r.status, http.StatusUnprocessableEntity)
	is.True(strings.Contains(r.problem(t).Detail, "line 3"))

	// Bad fields.
	for _, body := range []string{
		`{"userId":"u1"}`, `{"actorId":"x"}`, `{"userId":"u1","actorId":"x","roles":["root"]}`,
		`{"userId":"u1","actorId":"x","channel":"temporary"}`, `{"userId":"u1","actorId":"x","roles":"operator"}`,
	} {
		r = e.do("POST", "/v1/admin/options-script/dry-run", tokAdmin, body)
		is.Equal(r.problem(t).Code, "bad_request")
	}
	// A missing id is named as required, not as badly spelt.
	for body, field := range map[string]string{`{"userId":"u1"}`: "actorId", `{"actorId":"x"}`: "userId"} {
		r = e.do("POST", "/v1/admin/options-script/dry-run", tokAdmin, body)
		is.Equal(r.problem(t).Detail, field+" is required")
	}
	r = e.do("POST", "/v1/admin/options-script/dry-run", tokAdmin,
		`{"script":"`+strings.Repeat("x", 256<<10+1)+`","userId":"u1","actorId":"x"}`)
	is.Equal(r.problem(t).Code, "payload_too_large")
}

func testApprovalFlow(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	id := requestedCard(e, tokOp)

	// Role before body: an operator sending garbage to reject is forbidden, not a bad request.
	r := e.do("POST", "/v1/cards/"+id+"/reject", tokOp, "{garbage")
	is.Equal(r.problem(t).Code, "forbidden")
	r = e.do("POST", "/v1/cards/"+id+"/reject", tokAp, "{garbage")
	is.Equal(r.problem(t).Code, "bad_request")
	// Card exists before four-eyes, four-eyes before state, state before reason.
	r = e.do("POST", "/v1/cards/nope/reject", tokAp, "")
	is.Equal(r.problem(t).Code, "not_found")
	r = e.do("POST", "/v1/cards/"+id+"/reject", tokAp, "")
	is.Equal(r.problem(t).Code, "reason_required")

	r = e.do("POST", "/v1/cards/"+id+"/approve", tokAp, "{}")
	is.Equal(r.status, http.StatusOK)
	c := r.card(t)
	is.Equal(c.State, ports.StateProcessing)
	is.Equal(c.ApprovedBy, "ap-1")
	r = e.do("POST", "/v1/cards/"+id+"/reject", tokAp, "")
	is.Equal(r.problem(t).Code, "invalid_state")
	// An action without a body refuses one.
	r = e.do("POST", "/v1/cards/"+id+"/abort", tokOp, `{"force":true}`)
	is.Equal(r.problem(t).Code, "bad_request")
	r = e.do("POST", "/v1/cards/"+id+"/abort", tokOp, "")
	is.Equal(r.card(t).State, ports.StateAborted)

	id = requestedCard(e, tokOp)
	r = e.do("POST", "/v1/cards/"+id+"/reject", tokAp, `{"reason":"no budget"}`)
	is.Equal(r.status, http.StatusOK)
	c = r.card(t)
	is.Equal(c.State, ports.StateRejected)
	is.Equal(c.RejectionReason, "no budget")
}

// Four-eyes comes before state (docs/use-case.md; the domain checks it first): the requester of a card
// that is no longer requested is refused as the requester, not because of the state.
func testFourEyesBeforeState(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	// ap-2 (approver and operator) orders a card without an approval step: it is processing.
	e.opts.set(nil)
	r := e.do("POST", "/v1/users/u1/card-orders", tokApOp, "")
	is.Equal(r.status, http.StatusCreated)
	processing := r.card(t)
	is.Equal(processing.State, ports.StateProcessing)
	// ap-2 orders for u2 with an approval step, and ap-1 approves it: processing too.
	e.opts.set(func(o *ports.Options) { o.ApprovalStep = true })
	r = e.do("POST", "/v1/users/u2/card-orders", tokApOp, "")
	is.Equal(r.status, http.StatusCreated)
	approved := r.card(t).ID
	r = e.do("POST", "/v1/cards/"+approved+"/approve", tokAp, "")
	is.Equal(r.card(t).State, ports.StateProcessing)

	for _, id := range []string{processing.ID, approved} {
		for _, rq := range []struct{ action, body string }{
			{"approve", ""},
			{"reject", `{"reason":"no budget"}`},
		} {
			r = e.do("POST", "/v1/cards/"+id+"/"+rq.action, tokApOp, rq.body)
			p := r.problem(t)
			if p.Code != "forbidden" {
				t.Errorf("%s %s by its requester: %d %s (%s), want forbidden", rq.action, id, r.status, p.Code, p.Detail)
			}
		}
		// Another approver gets the state refusal.
		r = e.do("POST", "/v1/cards/"+id+"/approve", tokAp, "")
		is.Equal(r.problem(t).Code, "invalid_state")
	}
}

func testSelfService(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	r := e.do("POST", "/v1/users/u1/card-orders", tokSelf, "")
	is.Equal(r.status, http.StatusCreated)
	mine := r.card(t).ID
	other := e.order("u2").ID
	is.Equal(e.do("GET", "/v1/cards/"+mine, tokSelf, "").status, http.StatusOK)
	is.Equal(e.do("GET", "/v1/cards/"+other, tokSelf, "").problem(t).Code, "not_found")
	is.Equal(e.do("POST", "/v1/cards/"+other+"/abort", tokSelf, "").problem(t).Code, "not_found") // another user's card is not revealed
	is.Equal(e.do("POST", "/v1/cards/"+mine+"/abort", tokSelf, "").card(t).State, ports.StateAborted)
	is.Equal(e.do("POST", "/v1/cards/"+mine+"/repeat", tokSelf, "").problem(t).Code, "forbidden")
	is.Equal(e.do("GET", "/v1/cards", tokNoRoles, "").problem(t).Code, "forbidden")
}

func testDispatchSyncRepeat(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	id := e.order("u1").ID
	e.order("u2")
	r := e.do("POST", "/v1/dispatch", tokAdmin, `{"max": 1}`)
	is.Equal(r.status, http.StatusOK)
	is.Equal(string(r.body), `{"ordered":1,"failed":0,"retried":0,"remaining":1}`)
	r = e.do("POST", "/v1/dispatch", tokAdmin, "")
	is.Equal(string(r.body), `{"ordered":1,"failed":0,"retried":0,"remaining":0}`)
	// A card whose outcome is unknown (the bureau did not answer) is retried later: it is
	// counted as retried and stays queued.
	e.order("u5")
	e.bureau.FailNext(1)
	r = e.do("POST", "/v1/dispatch", tokAdmin, "")
	is.Equal(string(r.body), `{"ordered":0,"failed":0,"retried":1,"remaining":1}`)
	for _, body := range []string{`{"max":0}`, `{"max":100001}`, `{"max":"5"}`, `{"max":1.5}`} {
		is.Equal(e.do("POST", "/v1/dispatch", tokAdmin, body).problem(t).Code, "bad_request")
	}
	is.Equal(e.do("POST", "/v1/dispatch", tokOp, "").problem(t).Code, "forbidden")

	e.bureau.Advance(id, ports.StateInProduction, "")
	r = e.do("POST", "/v1/status-sync", tokAdmin, "")
	is.Equal(string(r.body), `{"updated":1}`)
	e.bureau.Advance(id, ports.StateFailed, "printer on fire")
	r = e.do("POST", "/v1/cards/"+id+"/refresh", tokOp, "")
	c := r.card(t)
	is.Equal(c.State, ports.StateFailed)
	is.Equal(c.FailureReason, "printer on fire")

	r = e.do("POST", "/v1/cards/"+id+"/repeat", tokOp, "")
	is.Equal(r.status, http.StatusOK)
	c = r.card(t)
	is.Equal(c.State, ports.StateProcessing)
	is.Equal(c.Attempt, 2)
}

func testBatchAndTemporary(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	e.order("u2")
	r := e.do("POST", "/v1/batch-orders", tokOp, `{"userIds":["u1","u2","u3","ghost"],"productionType":"standard"}`)
	is.Equal(r.status, http.StatusOK)
	var out struct {
		Results []struct {
			UserID string        `json:"userId"`
			Card   *httpapi.Card `json:"card"`
			Error  *problem      `json:"error"`
		} `json:"results"`
	}
	r.into(t, &out)
	is.Equal(len(out.Results), 4)
	is.Equal(out.Results[0].UserID, "u1")
	is.Equal(out.Results[0].Card.State, ports.StateProcessing)
	is.True(out.Results[0].Error == nil)
	var codes []string
	for _, res := range out.Results[1:] {
		is.True(res.Card == nil)
		codes = append(codes, res.Error.Code)
	}
	is.Equal(codes, []string{"order_exists", "user_not_active", "user_not_found"})
	for _, body := range []string{``, `{}`, `{"userIds":[]}`, `{"userIds":["a b"]}`, `{"userIds":"u1"}`} {
		is.Equal(e.do("POST", "/v1/batch-orders", tokOp, body).problem(t).Code, "bad_request")
	}
	is.Equal(e.do("POST", "/v1/batch-orders", tokSelf, `{"userIds":["u1"]}`).problem(t).Code, "forbidden")

	r = e.do("POST", "/v1/temporary-card-orders", tokOp, `{"amount":3}`)
	is.Equal(r.status, http.StatusCreated)
	var tc struct{ Cards []httpapi.Card }
	r.into(t, &tc)
	is.Equal(len(tc.Cards), 3)
	for _, c := range tc.Cards {
		is.True(c.Temporary)
		is.Equal(c.UserID, "")
	}
	is.Equal(e.do("POST", "/v1/temporary-card-orders", tokOp, "").problem(t).Code, "invalid_amount")
}

// TestStrictInput: bodies are refused unless they are exactly what the endpoint takes.
func testStrictInput(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	tests := []struct {
		name, body, detailHas string
	}{
		{"unknown field", `{"productionType":"standard","color":"red"}`, `"color"`},
		{"field in another case", `{"ProductionType":"standard"}`, `"ProductionType"`},
		{"duplicate field", `{"productionType":"standard","productionType":"gold"}`, "more than once"},
		{"trailing data", `{"productionType":"standard"} {}`, "after the JSON object"},
		{"trailing garbage", `{"productionType":"standard"}x`, ""},
		{"wrong type", `{"productionType":["standard"]}`, `"productionType" must be a string`},
		{"array body", `[]`, "JSON object"},
		{"null body", `null`, "JSON object"},
		{"string body", `"hi"`, "JSON object"},
		{"truncated", `{"productionType":`, "malformed JSON"},
		{"not JSON", `productionType=standard`, "malformed JSON"},
		{"invalid UTF-8", "{\"productionType\":\"\xff\"}", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/v1/users/u1/card-orders", tokOp, tt.body)
			p := r.problem(t)
			if p.Code != "bad_request" || !strings.Contains(p.Detail, tt.detailHas) {
				t.Errorf("got %s %q, want bad_request containing %q", p.Code, p.Detail, tt.detailHas)
			}
		})
	}
	t.Run("bad path ids", func(t *testing.T) {
		for _, path := range []string{
			"/v1/users/a%20b/card-orders", "/v1/users/" + strings.Repeat("u", 129) + "/card-orders",
			"/v1/users/a%2Fb/card-orders", "/v1/cards/%3Cscript%3E/approve",
		} {
			r := e.do("POST", path, tokApOp, "")
			if p := r.problem(t); p.Code != "bad_request" {
				t.Errorf("%s: %s", path, p.Code)
			}
		}
	})
	t.Run("bad authorization header", func(t *testing.T) {
		for _, h := range [][]string{
			{"Authorization", "Basic dXNlcjpwYXNz"}, {"Authorization", "Bearer"}, {"Authorization", "Bearer  "},
			{"Authorization", "Bearer t-op", "Authorization", "Bearer t-op"},
		} {
			r := e.do("GET", "/v1/cards", "", "", h...)
			is.New(t).Equal(r.problem(t).Code, "unauthenticated")
			is.New(t).True(r.header.Get("WWW-Authenticate") != "")
		}
		r := e.do("GET", "/v1/cards", "", "", "Authorization", "bearer t-op")
		is.New(t).Equal(r.status, http.StatusOK) // the scheme is case-insensitive
	})
}

// stubSignature is the signature header a bureau event carries; the stub events handler of
// the test environment does not check it.
var stubSignature = []string{gocards.SignatureHeader, "sha256=00"}

// stubEvent is a well-formed bureau event for the stub events handler.
const stubEvent = `{"eventId":"e1","created":"2025-03-01T09:00:00Z","topic":"TEST","data":{}}`

func testHealthAndEvents(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	r := e.do("GET", "/healthz", "", "")
	is.Equal(r.status, http.StatusOK)
	is.Equal(string(r.body), `{"status":"ok"}`)
	// The bureau's events bypass bearer authentication; the mounted handler authenticates them.
	r = e.do("POST", "/v1/gocards/events", "", stubEvent, stubSignature...)
	is.Equal(r.status, http.StatusNoContent)
	is.Equal(e.events.Load(), int64(1))
	// Its error answers become problems too, with their status and headers.
	r = e.do("POST", "/v1/gocards/events", "", stubEvent, append(stubSignature, "X-Test-Status", "401")...)
	p := r.problem(t)
	is.Equal(p.Code, "unauthenticated")
	is.Equal(r.header.Get("WWW-Authenticate"), "")
	r = e.do("POST", "/v1/gocards/events", "", stubEvent, append(stubSignature, "X-Test-Status", "503")...)
	is.Equal(r.status, http.StatusServiceUnavailable)
	is.Equal(r.problem(t).Code, "unavailable") // deliver it again: not an internal failure
	is.Equal(r.header.Get("Retry-After"), "5")
	// Every status the events handler may answer keeps its status and gets a code that fits.
	for _, tt := range []struct {
		status int
		code   string
	}{
		{400, "bad_request"}, {404, "bad_request"}, {409, "bad_request"}, {415, "bad_request"},
		{422, "bad_request"}, {413, "payload_too_large"}, {405, "method_not_allowed"},
		{500, "internal"}, {502, "internal"}, {503, "unavailable"},
	} {
		r = e.do("POST", "/v1/gocards/events", "", stubEvent, append(stubSignature, "X-Test-Status", strconv.Itoa(tt.status))...)
		p := r.problem(t) // status, title, detail and type are checked there
		if r.status != tt.status || p.Code != tt.code {
			t.Errorf("events handler's %d: answered %d %s, want %d %s", tt.status, r.status, p.Code, tt.status, tt.code)
		}
		if strings.Contains(string(r.body), "text from the events handler") {
			t.Errorf("events handler's %d: its text body leaked: %s", tt.status, r.body)
		}
	}
	r = e.do("GET", "/v1/gocards/events", "", "")
	is.Equal(r.problem(t).Code, "method_not_allowed")
	is.Equal(r.header.Get("Allow"), "POST")
}

// testOpenAPIDocument: the document is served without authentication, is OpenAPI 3.1 and
// names every route the handler serves.
func testOpenAPIDocument(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	r := e.do("GET", "/v1/openapi.json", "", "")
	is.Equal(r.status, http.StatusOK)
	is.Equal(r.header.Get("Content-Type"), "application/json")
	is.Equal(string(r.body), string(httpapi.OpenAPI()))
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	r.into(t, &doc)
	is.Equal(doc.OpenAPI, "3.1.0")
	for _, route := range []string{
		"POST /v1/users/{userId}/card-orders", "POST /v1/users/{userId}/card-orders/preview",
		"GET /v1/cards/{cardId}", "GET /v1/cards", "POST /v1/cards/{cardId}/approve",
		"POST /v1/cards/{cardId}/reject", "POST /v1/cards/{cardId}/abort", "POST /v1/cards/{cardId}/repeat",
		"POST /v1/cards/{cardId}/refresh", "POST /v1/batch-orders", "POST /v1/temporary-card-orders",
		"POST /v1/dispatch", "POST /v1/status-sync", "GET /v1/admin/options-script",
		"PUT /v1/admin/options-script", "POST /v1/admin/options-script/dry-run", "POST /v1/gocards/events",
		"GET /healthz", "GET /v1/openapi.json",
	} {
		method, path, _ := strings.Cut(route, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("the document does not describe %s", route)
		}
	}
	is.Equal(e.do("POST", "/v1/openapi.json", "", "").problem(t).Code, "method_not_allowed")
}

// testBureauEvents mounts the real gocards.EventHandler: its refusals reach the client through
// the API's problem writer, each with the code its cause calls for.
func testBureauEvents(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	secret := []byte("s3cret")
	applier := &flakyApplier{StatusApplier: e.svc}
	eh, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: applier, MaxBodyBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Config{Service: e.svc, Auth: tokens, Events: eh})
	if err != nil {
		t.Fatal(err)
	}
	ev := e.with(h)
	unknownTopic := `{"eventId":"e1","created":"2025-03-01T09:00:00Z","topic":"SOMETHING_ELSE","data":{}}`
	status := `{"eventId":"e2","created":"2025-03-01T09:00:00Z","topic":"ORDER_STATUS_CHANGED",` +
		`"data":{"orderId":"O-9","externalReference":"c-none","status":"IN_PRODUCTION"}}`
	sign := func(body string) string { return gocards.SignBody(secret, []byte(body)) }
	for _, tt := range []struct {
		name, body, signature string
		unavailable           bool
		status                int
		code, retryAfter      string
	}{
		{"accepted", unknownTopic, sign(unknownTopic), false, http.StatusNoContent, "", ""},
		{"bad signature", unknownTopic, "sha256=00", false, http.StatusUnauthorized, "unauthenticated", ""},
		{"malformed", `{"eventId":""}`, sign(`{"eventId":""}`), false, http.StatusBadRequest, "bad_request", ""},
		{"too large", strings.Repeat(" ", 2048), "sha256=00", false, http.StatusRequestEntityTooLarge, "payload_too_large", ""},
		{"applier down", status, sign(status), true, http.StatusServiceUnavailable, "unavailable", "5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			applier.down.Store(tt.unavailable)
			r := ev.do("POST", "/v1/gocards/events", "", tt.body, gocards.SignatureHeader, tt.signature)
			is.Equal(r.status, tt.status)
			if tt.code != "" {
				is.Equal(r.problem(t).Code, tt.code)
			}
			is.Equal(r.header.Get("Retry-After"), tt.retryAfter)
		})
	}
}

// flakyApplier fails every status with a transient error while down is set.
type flakyApplier struct {
	ports.StatusApplier
	down atomic.Bool
}

func (f *flakyApplier) ApplyOrderStatus(ctx context.Context, st ports.OrderStatus) (bool, error) {
	if f.down.Load() {
		return false, errors.New("store: connection refused")
	}
	return f.StatusApplier.ApplyOrderStatus(ctx, st)
}

func testNoScriptEngine(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	h, err := httpapi.New(httpapi.Config{Service: e.svc, Auth: tokens})
	is.NoErr(err)
	ne := e.with(h)
	for _, rq := range []struct{ method, path, body string }{
		{"GET", "/v1/admin/options-script", ""},
		{"PUT", "/v1/admin/options-script", "var options = {};"},
		{"POST", "/v1/admin/options-script/dry-run", `{"script":"x","userId":"u1","actorId":"a"}`},
		{"POST", "/v1/gocards/events", "{}"},
	} {
		rec := ne.do(rq.method, rq.path, tokAdmin, rq.body)
		is.Equal(rec.status, http.StatusNotFound)
		is.Equal(rec.problem(t).Code, "not_found")
	}
}

// TestChunkedBodies: bodies of unknown length are limited while they are read.
func testChunkedBodies(t *testing.T, cfg Config) {
	is := is.New(t)
	e := newEnv(t, cfg)
	send := func(path, token string, body io.Reader) resp {
		req, err := http.NewRequest("POST", e.srv.URL+path, body)
		is.NoErr(err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := e.client.Do(req)
		is.NoErr(err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		is.NoErr(err)
		return resp{status: res.StatusCode, header: res.Header, body: b}
	}
	unknownLength := func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }
	r := send("/v1/users/u1/card-orders", tokOp, unknownLength(`{"productionType":"standard"}`))
	is.Equal(r.status, http.StatusCreated)
	r = send("/v1/users/u2/card-orders", tokOp, unknownLength(`{"productionType":"`+strings.Repeat("x", 1<<20)+`"}`))
	is.Equal(r.problem(t).Code, "payload_too_large")
	r = send("/v1/admin/options-script/dry-run", tokAdmin, unknownLength(strings.Repeat(" ", 1<<20+1)))
	is.Equal(r.problem(t).Code, "payload_too_large")
}

// failingAuth is an identity provider that cannot be reached.
type failingAuth struct{ err error }

func (f failingAuth) Authenticate(context.Context, string) (ports.Actor, error) {
	return ports.Actor{}, f.err
}

// TestAuthenticatorErrors: "who are you?" is 401; an identity provider that cannot decide is
// 503 auth_unavailable with Retry-After, not a 401 that would log the user out.
func testAuthenticatorErrors(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	for _, tc := range []struct {
		err        error
		status     int
		code       string
		retryAfter bool
	}{
		{fmt.Errorf("introspect: %w", ports.ErrUnauthenticated), http.StatusUnauthorized, "unauthenticated", false},
		{fmt.Errorf("introspect: %w", ports.ErrUnavailable), http.StatusServiceUnavailable, "auth_unavailable", true},
		{errors.New("introspect: unexpected answer"), http.StatusServiceUnavailable, "auth_unavailable", true},
	} {
		t.Run(tc.code+"/"+tc.err.Error(), func(t *testing.T) {
			is := is.New(t)
			h, err := httpapi.New(httpapi.Config{Service: e.svc, Auth: failingAuth{tc.err}})
			is.NoErr(err)
			got := e.with(h).do("GET", "/v1/cards", "t", "")
			is.Equal(got.status, tc.status)
			is.Equal(got.problem(t).Code, tc.code)
			is.Equal(got.header.Get("Retry-After") != "", tc.retryAfter)
		})
	}
}
