package memory

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

var (
	_ ports.Provider     = (*Bureau)(nil)
	_ ports.LayoutSource = (*Bureau)(nil)
)

// Bureau is an in-memory card bureau for tests and examples. It honours idempotency keys, counts
// calls and orders per key, and can be told to fail: transiently, permanently, slowly, by refusing
// the credentials, or by accepting an order and then losing the answer (a cut connection).
type Bureau struct {
	mu      sync.Mutex
	byKey   map[string]*bureauOrder
	byID    map[string]*bureauOrder
	calls   map[string]int
	layouts map[string]ports.Layout

	transient    int // fail the next n calls with ErrUnavailable
	loseAnswers  int // accept the next n orders, then answer ErrUnavailable
	reject       string
	unauthorized bool
	delay        time.Duration
}

type bureauOrder struct {
	n      int // creation order
	order  ports.ProviderOrder
	status ports.OrderStatus
}

// NewBureau returns a bureau that accepts every order.
func NewBureau() *Bureau {
	return &Bureau{
		byKey:   make(map[string]*bureauOrder),
		byID:    make(map[string]*bureauOrder),
		calls:   make(map[string]int),
		layouts: make(map[string]ports.Layout),
	}
}

// FailNext makes the next n calls fail with ErrUnavailable before reaching the bureau.
func (b *Bureau) FailNext(n int) { b.set(func() { b.transient = n }) }

// LoseAnswers makes the bureau accept the next n orders and then answer ErrUnavailable, as when
// the connection breaks after the bureau accepted.
func (b *Bureau) LoseAnswers(n int) { b.set(func() { b.loseAnswers = n }) }

// Reject makes every later order fail permanently with reason; "" accepts again.
func (b *Bureau) Reject(reason string) { b.set(func() { b.reject = reason }) }

// Unauthorized makes every later call fail with ErrUnauthorized while on is true.
func (b *Bureau) Unauthorized(on bool) { b.set(func() { b.unauthorized = on }) }

// Slow makes every later call wait d (or until its context ends) before answering.
func (b *Bureau) Slow(d time.Duration) { b.set(func() { b.delay = d }) }

// SetLayout makes the bureau list a layout, so card data can be checked against it.
func (b *Bureau) SetLayout(l ports.Layout) { b.set(func() { b.layouts[l.ID] = l }) }

func (b *Bureau) set(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f()
}

// PlaceOrder implements [ports.Provider].
func (b *Bureau) PlaceOrder(ctx context.Context, o ports.ProviderOrder) (ports.ProviderReceipt, error) {
	if err := b.wait(ctx); err != nil {
		return ports.ProviderReceipt{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls[o.IdempotencyKey]++
	switch {
	case b.unauthorized:
		return ports.ProviderReceipt{}, ports.ErrUnauthorized
	case b.transient > 0:
		b.transient--
		return ports.ProviderReceipt{}, fmt.Errorf("bureau: %w", ports.ErrUnavailable)
	}
	if prev, ok := b.byKey[o.IdempotencyKey]; ok {
		return ports.ProviderReceipt{OrderID: prev.status.OrderID, State: prev.status.State}, nil
	}
	if b.reject != "" {
		return ports.ProviderReceipt{}, &ports.RejectedError{Status: 422, Reason: b.reject}
	}
	o.Elements = maps.Clone(o.Elements)
	id := "O-" + strconv.Itoa(len(b.byID)+1)
	bo := &bureauOrder{n: len(b.byID) + 1, order: o, status: ports.OrderStatus{OrderID: id, ExternalReference: o.ExternalReference, State: ports.StateOrdered}}
	b.byKey[o.IdempotencyKey] = bo
	b.byID[id] = bo
	if b.loseAnswers > 0 {
		b.loseAnswers--
		return ports.ProviderReceipt{}, fmt.Errorf("bureau: connection cut after accepting: %w", ports.ErrUnavailable)
	}
	return ports.ProviderReceipt{OrderID: id, State: ports.StateOrdered}, nil
}

// OrderStatus implements [ports.Provider].
func (b *Bureau) OrderStatus(ctx context.Context, orderID string) (ports.OrderStatus, error) {
	if err := b.wait(ctx); err != nil {
		return ports.OrderStatus{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.unauthorized:
		return ports.OrderStatus{}, ports.ErrUnauthorized
	case b.transient > 0:
		b.transient--
		return ports.OrderStatus{}, fmt.Errorf("bureau: %w", ports.ErrUnavailable)
	}
	bo, ok := b.byID[orderID]
	if !ok {
		return ports.OrderStatus{}, fmt.Errorf("bureau order %s: %w", orderID, ports.ErrNotFound)
	}
	return bo.status, nil
}

// Layout implements [ports.LayoutSource]: layouts set with SetLayout, ErrNotFound otherwise.
func (b *Bureau) Layout(ctx context.Context, id string) (ports.Layout, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.layouts[id]
	if !ok {
		return ports.Layout{}, ports.ErrNotFound // unwrapped: asked on every order
	}
	return l, nil
}

func (b *Bureau) wait(ctx context.Context) error {
	b.mu.Lock()
	d := b.delay
	b.mu.Unlock()
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("bureau: %w: %w", ports.ErrUnavailable, ctx.Err())
	case <-t.C:
		return nil
	}
}

// Advance sets the status of the bureau order placed for the card with id cardID (its newest
// attempt); reason is kept for a failed state. It reports whether such an order exists.
func (b *Bureau) Advance(cardID string, state ports.CardState, reason string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	var found *bureauOrder
	for _, bo := range b.byID {
		if bo.order.ExternalReference == cardID && (found == nil || bo.n > found.n) {
			found = bo
		}
	}
	if found == nil {
		return false
	}
	found.status.State = state
	found.status.Reason = reason
	if state == ports.StateProduced {
		found.status.CardNumber = "C-" + found.status.OrderID
		found.status.ValidThru = "2031-12-31"
		found.status.Readouts = []ports.Readout{{Type: "MIFARE_UID", UID: "04" + found.status.OrderID}}
	}
	return true
}

// Orders returns how many distinct orders the bureau holds.
func (b *Bureau) Orders() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.byID)
}

// OrderFor returns the order placed under an idempotency key.
func (b *Bureau) OrderFor(key string) (ports.ProviderOrder, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bo, ok := b.byKey[key]
	if !ok {
		return ports.ProviderOrder{}, false
	}
	return bo.order, true
}

// Calls returns how many PlaceOrder calls named the idempotency key.
func (b *Bureau) Calls(key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[key]
}
