package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"
	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/adapters/postgres"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// anyUser is a directory in which every id is an active user.
type anyUser struct{}

func (anyUser) User(_ context.Context, id string) (ports.User, error) {
	return ports.User{ID: id, State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace",
		Email: "ada@example.com", UPN: "ada@corp.example", Organisation: "Corp", Department: "R&D"}, nil
}

var operator = ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}

// enabled returns the default options with the use case enabled, edited by edit (if not nil).
func enabled(edit func(*ports.Options)) ports.Options {
	o := ports.DefaultOptions()
	o.Enabled = true
	if edit != nil {
		edit(&o)
	}
	return o
}

// newService wires a Service over store with the given options; the other ports are the
// defaults unless set in p.
func newService(t testing.TB, store *postgres.Store, opts ports.Options, p cardorder.Ports, cfg *cardorder.Config) *cardorder.Service {
	t.Helper()
	if p.Users == nil {
		p.Users = anyUser{}
	}
	p.Store, p.Options = store, cardorder.StaticOptions(opts)
	if p.Provider == nil {
		p.Provider = unusedBureau{}
	}
	svc, err := cardorder.New(p, cfg)
	if err != nil {
		t.Fatalf("cardorder.New: %v", err)
	}
	return svc
}

// unusedBureau fails every call: the tests that use it queue their cards and never dispatch.
type unusedBureau struct{}

func (unusedBureau) PlaceOrder(context.Context, ports.ProviderOrder) (ports.ProviderReceipt, error) {
	return ports.ProviderReceipt{}, errors.New("unusedBureau: no bureau in this test")
}

func (unusedBureau) OrderStatus(context.Context, string) (ports.OrderStatus, error) {
	return ports.OrderStatus{}, errors.New("unusedBureau: no bureau in this test")
}

// orderRace orders n cards for user at once through svc and returns how many succeeded and how
// many were refused with order_exists; any other error fails the test.
func orderRace(t testing.TB, svc *cardorder.Service, user string, n int, start <-chan struct{}) (won, refused int) {
	t.Helper()
	var (
		wins, refusals atomic.Int64
		mu             sync.Mutex
		other          []error
		g              errgroup.Group
	)
	for range n {
		g.Go(func() error {
			<-start
			_, err := svc.OrderCard(context.Background(), user, &cardorder.OrderOptions{Actor: operator})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, cardorder.ErrOrderExists):
				refusals.Add(1)
			default:
				mu.Lock()
				other = append(other, err)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	if len(other) > 0 {
		t.Errorf("%d racing orders failed with another error than order_exists, the first: %v", len(other), other[0])
	}
	return int(wins.Load()), int(refusals.Load())
}

func TestThousandConcurrentOrdersOneCard(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	store := newStore(t)
	svc := newService(t, store, enabled(nil), cardorder.Ports{}, nil) // multiple orders off

	start := make(chan struct{})
	close(start) // all 1,000 go at once
	won, refused := orderRace(t, svc, "user-1", 1000, start)
	is.Equal(won, 1)       // exactly one order succeeded
	is.Equal(refused, 999) // every other one was refused with order_exists

	page, err := store.List(t.Context(), ports.CardFilter{UserID: "user-1"})
	is.NoErr(err)
	is.Equal(len(page.Cards), 1) // the user has exactly one card
}

// TestExclusiveCreateWaitsForTheUserLock covers both ways a creation is written: a card with its
// audit event (every order) shares a transaction with other such creations (create.go); a
// creation of another shape is a batch of its own.
func TestExclusiveCreateWaitsForTheUserLock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		events []ports.AuditEvent
	}{
		{"shared transaction", []ports.AuditEvent{{ID: "ev-2", CardID: "card-2", To: ports.StateProcessing, At: base}}},
		{"own batch", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testExclusiveCreateWaits(t, tc.events)
		})
	}
}

func testExclusiveCreateWaits(t *testing.T, events []ports.AuditEvent) {
	is := is.New(t)
	schema := newSchema(t)
	store := openStore(t, schema, nil)
	ctx := t.Context()

	// A competitor holds the user's lock in an open transaction, through the same guard.
	conn := adminConn(t, testURL(t))
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	is.NoErr(err)
	defer tx.Rollback(context.Background())
	_, err = tx.Exec(ctx, `SET LOCAL search_path TO `+schema)
	is.NoErr(err)
	var lockClass int32
	is.NoErr(tx.QueryRow(ctx, `SELECT hashtext('extprod.cards:' || current_schema())`).Scan(&lockClass))
	var free bool
	is.NoErr(tx.QueryRow(ctx, `SELECT extprod_open_order_free($1, ARRAY['user-1'], NULL)`, lockClass).Scan(&free))
	is.True(free)

	c := benchCard("card-2", "user-1", base)
	result := make(chan error, 1)
	go func() {
		_, err := store.Create(context.Background(), ports.Creation{Cards: []ports.Card{c}, Exclusive: true, Events: events})
		result <- err
	}()

	// The store's creation is waiting for the lock, not done.
	watch := adminConn(t, testURL(t))
	defer watch.Close(context.Background())
	for waiting := 0; waiting == 0; {
		select {
		case err := <-result:
			t.Fatalf("the exclusive creation ended (%v) while another transaction held the user's lock", err)
		default:
		}
		is.NoErr(watch.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND classid = ($1::int4)::oid AND objid = hashtext('user-1')::oid`, lockClass).Scan(&waiting))
	}

	// The competitor stores an open card for the user and commits: the waiter must see it.
	_, err = tx.Exec(ctx, `INSERT INTO extprod_cards (id, user_id, state, version, data) VALUES ('card-1', 'user-1', 'processing', 1, '{}')`)
	is.NoErr(err)
	is.NoErr(tx.Commit(ctx))
	err = <-result
	is.True(errors.Is(err, ports.ErrOpenOrderExists)) // refused after waiting: it saw the committed card
	_, err = store.Card(ctx, "card-2")
	is.True(errors.Is(err, ports.ErrNotFound)) // and stored nothing
}
