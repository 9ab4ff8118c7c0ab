package portstest

import (
	"fmt"
	"slices"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/ports"
)

// RunProvider runs the conformance suite of [ports.Provider] as subtests of t: idempotent
// ordering (the same key gives the same order, also under concurrent calls; different keys give
// different orders) and order status (of a placed order, and ErrNotFound for an unknown one). It
// checks the contract of a healthy bureau; failure modes (ErrUnavailable, *RejectedError,
// ErrUnauthorized) depend on how the host's fake is told to fail and are for the adapter's own
// tests.
//
// newProvider is called once per subtest; it returns the provider under test, for example an
// in-memory bureau, or an HTTP client pointed at a fake server the constructor starts (and stops
// with t.Cleanup). order(i) returns an order the provider accepts, the same every time it is
// called with the same i, with an IdempotencyKey and an ExternalReference of its own for every
// i. The suite uses a distinct range of i in every subtest, so order may make ids from i alone
// even when every provider talks to one shared bureau (a sandbox); against a bureau that
// outlives the test, let order add a per-run prefix.
func RunProvider(t *testing.T, newProvider func(t *testing.T) ports.Provider, order func(i int) ports.ProviderOrder) {
	t.Helper()
	a, b := order(0), order(1)
	if a.IdempotencyKey == "" || a.IdempotencyKey == b.IdempotencyKey || a.ExternalReference == b.ExternalReference {
		t.Fatalf("portstest: order(i) must give every i its own IdempotencyKey and ExternalReference; got %+v and %+v", a, b)
	}
	for k, tt := range []struct {
		name string
		fn   func(t *testing.T, p ports.Provider, order func(i int) ports.ProviderOrder)
	}{
		{"SameKeySameOrder", testProviderSameKey},
		{"DifferentKeysDifferentOrders", testProviderDifferentKeys},
		{"ConcurrentSameKey", testProviderConcurrentSameKey},
		{"OrderStatus", testProviderStatus},
		{"OrderStatusUnknown", testProviderStatusUnknown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			if p == nil {
				t.Fatal("portstest: the provider constructor returned nil")
			}
			offset := 1000 * (k + 1)
			tt.fn(t, p, func(i int) ports.ProviderOrder { return order(offset + i) })
		})
	}
}

// placedStates are the card states a bureau order can be in.
var placedStates = []ports.CardState{ports.StateOrdered, ports.StateInProduction, ports.StateProduced, ports.StateFailed}

// place places o and fails the test on an error or an invalid receipt.
func place(t *testing.T, p ports.Provider, o ports.ProviderOrder) ports.ProviderReceipt {
	t.Helper()
	r, err := p.PlaceOrder(t.Context(), o)
	if err != nil {
		t.Fatalf("PlaceOrder(key %s): %v", o.IdempotencyKey, err)
	}
	if r.OrderID == "" {
		t.Fatalf("PlaceOrder(key %s): empty OrderID", o.IdempotencyKey)
	}
	if !slices.Contains(placedStates, r.State) {
		t.Fatalf("PlaceOrder(key %s): receipt state %q, want one of %v", o.IdempotencyKey, r.State, placedStates)
	}
	return r
}

func testProviderSameKey(t *testing.T, p ports.Provider, order func(int) ports.ProviderOrder) {
	first := place(t, p, order(0))
	for range 3 {
		again := place(t, p, order(0))
		if again.OrderID != first.OrderID {
			t.Fatalf("PlaceOrder with the same key: OrderID %s, then %s; want the first receipt", first.OrderID, again.OrderID)
		}
	}
}

func testProviderDifferentKeys(t *testing.T, p ports.Provider, order func(int) ports.ProviderOrder) {
	seen := map[string]int{}
	for i := range 5 {
		r := place(t, p, order(i))
		if j, dup := seen[r.OrderID]; dup {
			t.Fatalf("orders %d and %d (different keys) got the same OrderID %s", j, i, r.OrderID)
		}
		seen[r.OrderID] = i
	}
}

func testProviderConcurrentSameKey(t *testing.T, p ports.Provider, order func(int) ports.ProviderOrder) {
	const n = 32
	got := make([]ports.ProviderReceipt, n)
	start := make(chan struct{})
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			<-start
			r, err := p.PlaceOrder(t.Context(), order(0))
			if err != nil {
				return fmt.Errorf("concurrent PlaceOrder with one key: %w", err)
			}
			got[i] = r
			return nil
		})
	}
	close(start)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i].OrderID == "" || got[i].OrderID != got[0].OrderID {
			t.Fatalf("concurrent PlaceOrder with one key: OrderIDs %q and %q; want one order", got[0].OrderID, got[i].OrderID)
		}
	}
}

func testProviderStatus(t *testing.T, p ports.Provider, order func(int) ports.ProviderOrder) {
	for i := range 2 {
		o := order(i)
		r := place(t, p, o)
		st, err := p.OrderStatus(t.Context(), r.OrderID)
		if err != nil {
			t.Fatalf("OrderStatus of placed order %s: %v", r.OrderID, err)
		}
		if st.OrderID != r.OrderID || st.ExternalReference != o.ExternalReference {
			t.Fatalf("OrderStatus(%s) = order %q, external reference %q; want %q, %q",
				r.OrderID, st.OrderID, st.ExternalReference, r.OrderID, o.ExternalReference)
		}
		if !slices.Contains(placedStates, st.State) {
			t.Fatalf("OrderStatus(%s): state %q, want one of %v", r.OrderID, st.State, placedStates)
		}
	}
}

func testProviderStatusUnknown(t *testing.T, p ports.Provider, order func(int) ports.ProviderOrder) {
	_, err := p.OrderStatus(t.Context(), "O-no-such-order-0")
	wantErr(t, "OrderStatus of an unknown order, before placing one", err, ports.ErrNotFound)
	place(t, p, order(0))
	_, err = p.OrderStatus(t.Context(), "O-no-such-order-1")
	wantErr(t, "OrderStatus of an unknown order", err, ports.ErrNotFound)
}
