package gocards_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/ports"
)

// TestFaultStorm places 10,000 orders through one client against a fake that fails 30 % of
// requests with a 5xx, rate-limits 5 %, cuts the connection after accepting 5 % of new orders
// and adds latency. Every call must succeed eventually, with exactly one bureau order per
// idempotency key.
func TestFaultStorm(t *testing.T) {
	n := 10_000
	if testing.Short() {
		n = 1_000
	}
	is := is.New(t)
	h := newFakeHarness(t, gocardsfake.Config{Seed: 42, Faults: gocardsfake.Faults{
		FailRate: 0.30, RateLimitRate: 0.05, RetryAfterSeconds: 1, CutRate: 0.05, Latency: 50 * time.Microsecond,
	}}, func(c *gocards.Config) {
		c.Sleep, c.Jitter = nil, nil // real (tiny) waits with real full jitter
		c.MaxAttempts = 60           // 0.4^60: no call runs out of attempts
		c.BaseBackoff, c.MaxBackoff, c.RetryAfterCap = 50*time.Microsecond, time.Millisecond, time.Millisecond
	})
	fake, client := h.fake, h.client

	receipts := make([]ports.ProviderReceipt, n)
	var retryLater atomic.Int64
	g, ctx := errgroup.WithContext(t.Context())
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			rec, err := client.PlaceOrder(ctx, order(fmt.Sprintf("card-%05d", i)))
			// The fake's Retry-After of 1 s exceeds RetryAfterCap, so a 429 ends the call with
			// a RetryLaterError; like the domain, the storm tries the same key again (without
			// the wait: the fake does not enforce it).
			for later := (*ports.RetryLaterError)(nil); errors.As(err, &later); {
				if later.After != time.Second {
					return fmt.Errorf("order %d: retry after %s, want the bureau's 1s", i, later.After)
				}
				retryLater.Add(1)
				rec, err = client.PlaceOrder(ctx, order(fmt.Sprintf("card-%05d", i)))
			}
			if err != nil {
				return fmt.Errorf("order %d: %w", i, err)
			}
			receipts[i] = rec
			return nil
		})
	}
	is.NoErr(g.Wait())

	st := fake.Stats()
	t.Logf("fake: %+v", st)
	is.Equal(st.Orders, n)
	is.Equal(st.Duplicates, 0)
	is.Equal(st.ReferenceDuplicates, 0)
	is.True(st.Injected5xx > n/5)    // the storm happened
	is.True(st.Injected429 > 0)      // with rate limiting
	is.True(st.Cuts > n/50)          // and cut connections,
	is.True(st.Replays >= st.Cuts/2) // after which the retry got the original order
	seen := make(map[string]bool, n)
	for i, rec := range receipts {
		key := fmt.Sprintf("card-%05d", i)
		is.Equal(fake.OrdersForKey(key), 1)
		o, ok := fake.OrderByKey(key)
		is.True(ok)
		is.Equal(rec.OrderID, o.ID) // the receipt names the bureau's one order for the key
		is.Equal(rec.State, ports.StateOrdered)
		is.True(!seen[rec.OrderID])
		seen[rec.OrderID] = true
	}
}
