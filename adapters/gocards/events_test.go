package gocards_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/ports"
)

var secret = []byte("shared-secret")

// eventsHarness wires a fake bureau pushing events to an EventHandler over loopback.
type eventsHarness struct {
	*fakeHarness
	applier *statusApplier
	handler *gocards.EventHandler
	events  *httptest.Server
}

func newEventsHarness(t *testing.T, cards ...string) *eventsHarness {
	t.Helper()
	a := newStatusApplier(cards...)
	h, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: a})
	if err != nil {
		t.Fatal(err)
	}
	es := httptest.NewServer(h)
	t.Cleanup(es.Close)
	fh := newFakeHarness(t, gocardsfake.Config{CallbackURL: es.URL, EventSecret: secret}, nil)
	return &eventsHarness{fakeHarness: fh, applier: a, handler: h, events: es}
}

func (e *eventsHarness) post(t *testing.T, body []byte, sig string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.events.URL, bytes.NewReader(body))
	if sig != "" {
		req.Header.Set(gocards.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestEventsAdvanceCards(t *testing.T) {
	is := is.New(t)
	e := newEventsHarness(t, "card-1")
	ctx := t.Context()
	rec, err := e.client.PlaceOrder(ctx, order("card-1"))
	is.NoErr(err)

	is.NoErr(e.fake.Advance(ctx, rec.OrderID, gocardsfake.StatusInProduction))
	is.Equal(e.applier.state("card-1"), ports.StateInProduction)
	is.NoErr(e.fake.Advance(ctx, rec.OrderID, gocardsfake.StatusProduced))
	is.Equal(e.applier.state("card-1"), ports.StateProduced)

	e.applier.mu.Lock()
	got := e.applier.applied[1]
	e.applier.mu.Unlock()
	want := ports.OrderStatus{OrderID: rec.OrderID, ExternalReference: "card-1", State: ports.StateProduced,
		CardNumber: "C-00000001", ValidThru: got.ValidThru, Readouts: got.Readouts}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("applied status (-want +got):\n%s", d)
	}

	// A move backwards is ignored by the domain and still answered 2xx (the fake's push succeeds).
	is.NoErr(e.fake.Advance(ctx, rec.OrderID, gocardsfake.StatusOrdered))
	is.Equal(e.applier.state("card-1"), ports.StateProduced)
	is.Equal(e.fake.Stats().EventsSent, 3)
}

func TestEventsReplayIsNoOp(t *testing.T) {
	is := is.New(t)
	e := newEventsHarness(t, "card-1")
	ctx := t.Context()
	rec, err := e.client.PlaceOrder(ctx, order("card-1"))
	is.NoErr(err)
	is.NoErr(e.fake.Advance(ctx, rec.OrderID, gocardsfake.StatusInProduction))
	is.Equal(e.applier.calls(), 1)
	ev := e.fake.Events()[0]
	for range 3 {
		is.NoErr(e.fake.ReplayEvent(ctx, ev.ID)) // answered 2xx ...
	}
	is.Equal(e.applier.calls(), 1) // ... and applied once
	is.Equal(e.post(t, ev.Body, ev.Signature), http.StatusNoContent)
	is.Equal(e.applier.calls(), 1)
}

func TestEventsUnknownCardAndTransientFailure(t *testing.T) {
	is := is.New(t)
	e := newEventsHarness(t) // the applier knows no card
	ctx := t.Context()
	rec, err := e.client.PlaceOrder(ctx, order("card-x"))
	is.NoErr(err)
	is.NoErr(e.fake.Advance(ctx, rec.OrderID, gocardsfake.StatusInProduction)) // 204: ignored
	is.Equal(e.applier.calls(), 1)

	e.applier.setFail(errors.New("store down"))
	err = e.fake.Advance(ctx, rec.OrderID, gocardsfake.StatusProduced)
	is.True(err != nil && strings.Contains(err.Error(), "503"))
	ev := e.fake.Events()[1]
	is.Equal(ev.Status, http.StatusServiceUnavailable)

	// The bureau delivers it again: not remembered as applied, so it is applied now.
	e.applier.setFail(nil)
	e.applier.mu.Lock()
	e.applier.cards["card-x"] = ports.StateOrdered
	e.applier.mu.Unlock()
	is.NoErr(e.fake.ReplayEvent(ctx, ev.ID))
	is.Equal(e.applier.state("card-x"), ports.StateProduced)
	is.Equal(e.applier.calls(), 3)
}

func TestEventsRejectBadSignatures(t *testing.T) {
	body := []byte(`{"eventId":"e1","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"card-1","status":"PRODUCED"}}`)
	good := gocards.SignBody(secret, body)
	tests := []struct {
		name string
		sig  string
	}{
		{"missing", ""},
		{"wrong secret", gocards.SignBody([]byte("other"), body)},
		{"other body", gocards.SignBody(secret, append(body, ' '))},
		{"no prefix", strings.TrimPrefix(good, "sha256=")},
		{"sha1 prefix", "sha1=" + strings.TrimPrefix(good, "sha256=")},
		{"not hex", "sha256=zz"},
		{"truncated", good[:len(good)-2]},
		{"empty mac", "sha256="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			e := newEventsHarness(t, "card-1")
			is.Equal(e.post(t, body, tt.sig), http.StatusUnauthorized)
			is.Equal(e.applier.calls(), 0)
		})
	}
	t.Run("good", func(t *testing.T) {
		is := is.New(t)
		e := newEventsHarness(t, "card-1")
		is.Equal(e.post(t, body, good), http.StatusNoContent)
		is.Equal(e.applier.state("card-1"), ports.StateProduced)
	})
}

func TestEventsRejectMalformedBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
	}{
		{"not JSON", `hello`, 400},
		{"truncated", `{"eventId":"e1","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1"`, 400},
		{"trailing garbage", `{"eventId":"e1","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"c","status":"ORDERED"}}x`, 400},
		{"no event id", `{"topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"c","status":"ORDERED"}}`, 400},
		{"event id not a string", `{"eventId":1,"topic":"ORDER_STATUS_CHANGED","data":{}}`, 400},
		{"no topic", `{"eventId":"e1","data":{"orderId":"O-1","externalReference":"c","status":"ORDERED"}}`, 400},
		{"no data", `{"eventId":"e1","topic":"ORDER_STATUS_CHANGED"}`, 400},
		{"data null", `{"eventId":"e1","topic":"ORDER_STATUS_CHANGED","data":null}`, 400},
		{"unknown status", `{"eventId":"e1","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"c","status":"MELTED"}}`, 400},
		{"no external reference", `{"eventId":"e1","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","status":"ORDERED"}}`, 400},
		{"null", `null`, 400},
		{"empty event id", `{"eventId":"","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"c","status":"ORDERED"}}`, 400},
		{"event id of 129 bytes", `{"eventId":"` + strings.Repeat("e", gocards.MaxEventIDBytes+1) + `","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"c","status":"ORDERED"}}`, 400},
		{"event id of 129 bytes, unknown topic", `{"eventId":"` + strings.Repeat("e", gocards.MaxEventIDBytes+1) + `","topic":"CARD_SHREDDED","data":42}`, 400},
		{"event id of 128 bytes", `{"eventId":"` + strings.Repeat("e", gocards.MaxEventIDBytes) + `","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"c","status":"ORDERED"}}`, 204},
		{"unknown topic is ignored", `{"eventId":"e1","topic":"CARD_SHREDDED","data":42}`, 204},
		{"unknown members are ignored", `{"eventId":"e1","v":2,"topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"c","status":"ORDERED","x":[1]}}`, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			e := newEventsHarness(t, "c")
			body := []byte(tt.body)
			is.Equal(e.post(t, body, gocards.SignBody(secret, body)), tt.want)
		})
	}
	t.Run("too large", func(t *testing.T) {
		is := is.New(t)
		a := newStatusApplier()
		h, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: a, MaxBodyBytes: 64})
		is.NoErr(err)
		body := bytes.Repeat([]byte("x"), 65)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set(gocards.SignatureHeader, gocards.SignBody(secret, body))
		h.ServeHTTP(rec, req)
		is.Equal(rec.Code, http.StatusRequestEntityTooLarge)
	})
	t.Run("GET", func(t *testing.T) {
		is := is.New(t)
		h, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: newStatusApplier()})
		is.NoErr(err)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		is.Equal(rec.Code, http.StatusMethodNotAllowed)
	})
}

func TestEventHandlerConfig(t *testing.T) {
	is := is.New(t)
	_, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Applier: newStatusApplier()})
	is.True(err != nil && strings.Contains(err.Error(), "Secret is required"))
	_, err = gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret})
	is.True(err != nil && strings.Contains(err.Error(), "Applier is required"))
}

func TestEventsDedupExpires(t *testing.T) {
	is := is.New(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newStatusApplier("c")
	h, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: a,
		DedupTTL: time.Hour, Clock: ports.ClockFunc(func() time.Time { return now })})
	is.NoErr(err)
	send := func(id string) int {
		body := []byte(`{"eventId":"` + id + `","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"c","status":"ORDERED"}}`)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set(gocards.SignatureHeader, gocards.SignBody(secret, body))
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	is.Equal(send("e1"), 204)
	is.Equal(send("e1"), 204)
	is.Equal(a.calls(), 1) // remembered
	now = now.Add(2 * time.Hour)
	is.Equal(send("e1"), 204)
	is.Equal(a.calls(), 2) // forgotten after the TTL
	is.Equal(send("e2"), 204)
	is.Equal(send("e2"), 204)
	is.Equal(a.calls(), 3)
}

// blockingApplier holds its first call until released, so a test can deliver the same event
// again while the first delivery is applying it.
type blockingApplier struct {
	*statusApplier
	entered, release chan struct{}
	once             sync.Once
}

func (b *blockingApplier) ApplyOrderStatus(ctx context.Context, s ports.OrderStatus) (bool, error) {
	b.once.Do(func() { close(b.entered); <-b.release })
	return b.statusApplier.ApplyOrderStatus(ctx, s)
}

// TestEventDeliveredTwiceAtOnce: two instances (two handlers over one shared dedup) receive the
// same event at once; it is applied once. The first delivery is held inside the applier until
// the second has been answered "busy, retry".
func TestEventDeliveredTwiceAtOnce(t *testing.T) {
	is := is.New(t)
	a := &blockingApplier{statusApplier: newStatusApplier("c"), entered: make(chan struct{}), release: make(chan struct{})}
	dedup := &memory.EventDedup{}
	var hs []*gocards.EventHandler
	for range 2 {
		h, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: a, Dedup: dedup})
		is.NoErr(err)
		hs = append(hs, h)
	}
	body := []byte(`{"eventId":"e1","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"c","status":"IN_PRODUCTION"}}`)
	send := func(h *gocards.EventHandler) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set(gocards.SignatureHeader, gocards.SignBody(secret, body))
		h.ServeHTTP(rec, req)
		return rec
	}
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- send(hs[0]) }()
	<-a.entered // the first delivery is applying the event
	second := send(hs[1])
	is.Equal(second.Code, http.StatusServiceUnavailable) // busy: the bureau delivers it again
	is.Equal(second.Header().Get("Retry-After"), "1")
	close(a.release)
	is.Equal((<-first).Code, http.StatusNoContent)
	is.Equal(send(hs[1]).Code, http.StatusNoContent) // the redelivery is a replay
	is.Equal(a.calls(), 1)
	is.Equal(a.state("c"), ports.StateInProduction)
}
