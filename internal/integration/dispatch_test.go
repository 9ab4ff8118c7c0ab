package integration

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// everyone is a directory in which every id is an active user.
type everyone struct{}

func (everyone) User(_ context.Context, id string) (ports.User, error) {
	return ports.User{ID: id, State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@example.com"}, nil
}

var operator = ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}

type rig struct {
	svc   *cardorder.Service
	store *memory.Store
	fake  *gocardsfake.Server
	clock *memory.Clock
}

func newRig(t *testing.T, faults gocardsfake.Faults) *rig {
	t.Helper()
	fake := gocardsfake.New(gocardsfake.Config{Seed: 7, Faults: faults})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client, err := gocards.New(gocards.Config{
		BaseURL: srv.URL, ClientID: gocardsfake.DefaultClientID, ClientSecret: gocardsfake.DefaultClientSecret,
		OrganisationID: gocardsfake.DefaultOrganisationID,
		MaxAttempts:    3, BaseBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, RetryAfterCap: 4 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	store := memory.NewStore()
	clock := memory.NewClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	opts := ports.DefaultOptions()
	opts.Enabled, opts.AllowMultipleCardOrders = true, true
	svc, err := cardorder.New(cardorder.Ports{
		Users: everyone{}, Store: store, Provider: client,
		Options: cardorder.StaticOptions(opts),
	}, &cardorder.Config{Clock: clock, MaxDispatchTries: 1000, DispatchConcurrency: 16, DispatchBatch: 200})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{svc: svc, store: store, fake: fake, clock: clock}
}

func (r *rig) orders(t *testing.T, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		c, err := r.svc.OrderCard(context.Background(), "u"+strconv.Itoa(i), &cardorder.OrderOptions{Actor: operator})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = c.ID
	}
	return ids
}

// drain runs dispatch passes, moving the clock past every backoff, until the queue is empty.
func (r *rig) drain(t *testing.T) {
	t.Helper()
	for pass := 0; ; pass++ {
		res, err := r.svc.DispatchQueued(context.Background(), 100_000)
		if err != nil {
			t.Fatal(err)
		}
		if res.Remaining == 0 {
			return
		}
		if pass == 100 {
			t.Fatalf("queue not drained after %d passes: %+v", pass, res)
		}
		r.clock.Advance(time.Hour)
	}
}

// TestFaultStorm: 10,000 queued orders against a bureau that fails 30 % of calls with a 5xx,
// rate-limits some, is slow, and cuts connections after accepting orders. Every card ends
// ordered, each exactly once at the bureau, none lost.
func TestFaultStorm(t *testing.T) {
	is := is.New(t)
	n := 10_000
	if testing.Short() {
		n = 1_000
	}
	r := newRig(t, gocardsfake.Faults{FailRate: 0.3, RateLimitRate: 0.05, CutRate: 0.05, Latency: 50 * time.Microsecond})
	ids := r.orders(t, n)
	r.drain(t)

	st := r.fake.Stats()
	is.Equal(st.Orders, n)
	is.Equal(st.Duplicates, 0)
	is.Equal(st.ReferenceDuplicates, 0)
	is.True(st.Cuts > 0) // the storm did cut connections after accepting
	for _, id := range ids {
		c, err := r.store.Card(context.Background(), id)
		is.NoErr(err)
		is.Equal(c.State, ports.StateOrdered)
		o, ok := r.fake.OrderByKey(id)
		is.True(ok)
		is.Equal(o.ID, c.ProviderOrderID)
	}
	t.Logf("bureau stats: %+v", st)
}

// TestAbortRacesDispatchOverHTTP: aborts racing the dispatcher against the fake bureau; no card is
// both aborted and ordered at the bureau.
func TestAbortRacesDispatchOverHTTP(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	r := newRig(t, gocardsfake.Faults{FailRate: 0.1, Latency: 20 * time.Microsecond})
	ids := r.orders(t, 1000)
	aborted := make([]bool, len(ids))
	var wg sync.WaitGroup
	wg.Go(func() { r.drain(t) })
	wg.Go(func() {
		for i := len(ids) - 1; i >= 0; i-- { // from the newest, so the two sides meet midway
			_, err := r.svc.Abort(ctx, operator, ids[i])
			switch {
			case err == nil:
				aborted[i] = true
			case !errors.Is(err, cardorder.ErrInvalidState):
				t.Error(err)
			}
		}
	})
	wg.Wait()
	r.drain(t)
	nAborted := 0
	for i, id := range ids {
		c, err := r.store.Card(ctx, id)
		is.NoErr(err)
		atBureau := r.fake.OrdersForKey(id) > 0
		if aborted[i] {
			nAborted++
			is.Equal(c.State, ports.StateAborted)
			is.True(!atBureau)
		} else {
			is.Equal(c.State, ports.StateOrdered)
			is.True(atBureau)
		}
	}
	// How many each side wins depends on the scheduler (on one CPU the aborts may all run first);
	// the invariant above holds whatever the split.
	t.Logf("%d of %d aborted", nAborted, len(ids))
}
