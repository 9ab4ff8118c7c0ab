package gocards_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/memory"
)

// TestRetryAfterTokenRefreshIsNoAttempt: a 401 that a fresh token cures does not use up one of
// MaxAttempts. With two attempts allowed, 401 (refresh), 503 (attempt 1), 201 (attempt 2)
// succeeds; were the refresh counted, the 503 would have been the last attempt.
func TestRetryAfterTokenRefreshIsNoAttempt(t *testing.T) {
	is := is.New(t)
	s := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 1:
			reply(w, http.StatusUnauthorized, `{}`)
		case 2:
			reply(w, http.StatusServiceUnavailable, `{}`)
		default:
			reply(w, http.StatusCreated, `{"orderId":"O-7","status":"ORDERED"}`)
		}
	})
	sl := &sleeps{}
	cfg := testConfig(s.srv.URL, sl)
	cfg.MaxAttempts = 2
	c := newClient(t, cfg)
	rec, err := c.PlaceOrder(t.Context(), order("c1"))
	is.NoErr(err)
	is.Equal(rec.OrderID, "O-7")
	tok, api := s.counts()
	is.Equal(tok, 2)                                            // the first token, then the refresh
	is.Equal(api, 3)                                            // 401, 503, 201
	is.Equal(sl.All(), []time.Duration{100 * time.Millisecond}) // one backoff: after the 503 only
}

// TestEventDeliveredTwiceAtOnceAnswersAtOnce: while one delivery applies an event, a second
// delivery of it must be answered at once (503, delivered again later), never applied alongside.
// Unlike TestEventDeliveredTwiceAtOnce, a broken dedup fails here by name within seconds instead
// of hanging the test binary: the second delivery has its own deadline.
func TestEventDeliveredTwiceAtOnceAnswersAtOnce(t *testing.T) {
	is := is.New(t)
	a := &blockingApplier{statusApplier: newStatusApplier("c"), entered: make(chan struct{}), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(a.release) }) }
	t.Cleanup(release)
	h, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: a, Dedup: &memory.EventDedup{}})
	is.NoErr(err)
	body := []byte(`{"eventId":"e1","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"c","status":"PRODUCED"}}`)
	send := func() int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set(gocards.SignatureHeader, gocards.SignBody(secret, body))
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	first := make(chan int, 1)
	go func() { first <- send() }()
	<-a.entered // the first delivery is applying the event
	second := make(chan int, 1)
	go func() { second <- send() }()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	select {
	case code := <-second:
		is.Equal(code, http.StatusServiceUnavailable) // busy: the bureau delivers it again
	case <-deadline.C:
		t.Fatal("the second delivery did not answer within 10 s: it is applying the event alongside the first")
	}
	release()
	is.Equal(<-first, http.StatusNoContent)
	is.Equal(send(), http.StatusNoContent) // the redelivery is a replay
	is.Equal(a.calls(), 1)
}
