package cardorder_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// TestDispatcherRunsPassesUntilCancelled: the background loop orders queued cards every interval
// and, once cancelled, finishes the bureau calls in flight before Run returns.
func TestDispatcherRunsPassesUntilCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		w := newWorld(t, enabled(func(o *ports.Options) { o.AllowMultipleCardOrders = true }))
		passes := 0
		d := w.svc.NewDispatcher(&cardorder.DispatcherConfig{Interval: time.Minute, AfterPass: func(cardorder.DispatchResult, error) { passes++ }})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()

		synctest.Wait() // the first pass ran on an empty queue
		is.Equal(passes, 1)
		first := w.order(t, ada.ID)
		time.Sleep(time.Minute) // fake time: the next tick
		synctest.Wait()
		is.Equal(passes, 2)
		is.Equal(w.card(t, first.ID).State, ports.StateOrdered)

		w.bureau.Slow(10 * time.Second)
		second := w.order(t, ada.ID)
		time.Sleep(time.Minute)
		synctest.Wait() // the pass is waiting on the slow bureau
		is.Equal(w.card(t, second.ID).State, ports.StateProcessing)
		cancel()
		is.NoErr(<-done) // returns only after the call in flight finished
		is.Equal(w.card(t, second.ID).State, ports.StateOrdered)
		is.Equal(w.bureau.Orders(), 2)
	})
}

// TestExpiredLeaseIsRetried: a card claimed by a dispatcher that died is retried once the lease
// expires, under the same idempotency key, and ordered once.
func TestExpiredLeaseIsRetried(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(nil))
	c := w.order(t, ada.ID)
	claimed, err := w.store.Claim(ctx, w.clock.Now(), 10, 2*time.Minute) // a process that then dies
	is.NoErr(err)
	is.Equal(len(claimed), 1)
	w.bureau.PlaceOrder(ctx, ports.ProviderOrder{IdempotencyKey: c.IdempotencyKey(), ExternalReference: c.ID}) // it reached the bureau
	_, err = w.svc.Abort(ctx, operator, c.ID)
	isCode(t, err, cardorder.ErrInvalidState)
	is.Equal(w.dispatch(t).Ordered, 0) // still leased
	w.clock.Advance(3 * time.Minute)
	is.Equal(w.dispatch(t).Ordered, 1)
	is.Equal(w.bureau.Orders(), 1)
	is.Equal(w.card(t, c.ID).State, ports.StateOrdered)
}

// TestDirectOrderIsBounded: a direct order does not wait for a slow bureau longer than
// DirectOrderTimeout; the card stays processing, costs no try, and the dispatcher takes it over.
func TestDirectOrderIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false }))
		w.bureau.Slow(time.Hour)
		start := time.Now()
		c := w.order(t, ada.ID)
		is.Equal(time.Since(start), 20*time.Second) // the default DirectOrderTimeout, in fake time
		is.Equal(c.State, ports.StateProcessing)
		is.Equal(c.DispatchTries, 0)
	})
}

// slowDown answers every order with the bureau's "retry later".
type slowDown struct{ ports.Provider }

func (slowDown) PlaceOrder(context.Context, ports.ProviderOrder) (ports.ProviderReceipt, error) {
	return ports.ProviderReceipt{}, &ports.RetryLaterError{After: time.Hour}
}

// TestRetryAfterIsHonoured: a card is not dispatched again before the bureau's Retry-After.
func TestRetryAfterIsHonoured(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	svc, err := cardorder.New(cardorder.Ports{
		Users: w.users, Store: w.store,
		Provider: slowDown{w.bureau}, Options: cardorder.StaticOptions(enabled(nil)),
	}, &cardorder.Config{Clock: w.clock, RetryBackoff: time.Second})
	is.NoErr(err)
	c := w.order(t, ada.ID)
	res, err := svc.DispatchQueued(context.Background(), 10)
	is.NoErr(err)
	is.Equal(res.Retry, 1)
	is.Equal(w.card(t, c.ID).NotBefore, w.clock.Now().Add(time.Hour))
}
