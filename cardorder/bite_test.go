package cardorder_test

// Tests that close blind spots a mutation audit found: each fails on the bug named in its
// comment (the mutation it was checked against).

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// newWorldConfig is newWorld with the Service's config changed by edit and the store wrapped by
// wrap (either may be nil).
func newWorldConfig(t testing.TB, opts ports.Options, edit func(*cardorder.Config), wrap func(*memory.Store) ports.Store, provider func(*memory.Bureau) ports.Provider) *world {
	t.Helper()
	w := &world{
		store: memory.NewStore(), users: memory.NewUsers(ada, grace, alan), bureau: memory.NewBureau(),
		mailer: &memory.Mailer{}, audit: &memory.AuditLog{}, clock: memory.NewClock(t0),
	}
	cfg := &cardorder.Config{Clock: w.clock, IDs: memory.NewIDs("c"), MaxDispatchTries: 3, RetryBackoff: time.Second}
	if edit != nil {
		edit(cfg)
	}
	var store ports.Store = w.store
	if wrap != nil {
		store = wrap(w.store)
	}
	var p ports.Provider = w.bureau
	if provider != nil {
		p = provider(w.bureau)
	}
	svc, err := cardorder.New(cardorder.Ports{Users: w.users, Store: store, Provider: p,
		Options: cardorder.StaticOptions(opts), Mailer: w.mailer, Audit: w.audit}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return w
}

// TestBatchHonoursTheApprovalStep: with the approval step on, every card of a batch waits for an
// approver (requested, approvers notified), as an operator's single order does. Bug caught: a
// batch that skipped the approval step.
func TestBatchHonoursTheApprovalStep(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(func(o *ports.Options) { o.ApprovalStep = true }))
	res, err := w.svc.OrderBatch(ctx, operator, []string{ada.ID, grace.ID}, "")
	is.NoErr(err)
	for _, r := range res {
		is.NoErr(r.Err)
		c := w.card(t, r.Card.ID)
		is.Equal(c.Channel, ports.ChannelBatch)
		is.Equal(c.State, ports.StateRequested) // not processing: nothing is queued for the bureau
	}
	is.Equal(w.dispatch(t).Ordered, 0)
	approvals := 0
	for _, n := range w.sent() {
		if n.Kind == ports.NotifyApprovalNeeded {
			approvals++
		}
	}
	is.Equal(approvals, 2)
	c, err := w.svc.Approve(ctx, approver, res[0].Card.ID)
	is.NoErr(err)
	is.Equal(c.ApprovedBy, approver.ID)
}

// TestRefusedCredentialsStopClaiming: after the bureau refused the credentials, a dispatch pass
// claims no further batch: the cards beyond the first claim stay unclaimed (abortable, version
// unchanged), and only the first claim reached the bureau. Bug caught: a pass that claims on
// after a 401 (every queued card then marked DispatchStarted and sent for nothing).
func TestRefusedCredentialsStopClaiming(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	const batch, queued = 2, 7
	w := newWorldConfig(t, enabled(func(o *ports.Options) { o.AllowMultipleCardOrders = true }),
		func(c *cardorder.Config) { c.DispatchBatch, c.DispatchConcurrency = batch, 1 }, nil, nil)
	var cards []ports.Card
	for range queued {
		cards = append(cards, w.order(t, ada.ID))
	}
	w.bureau.Unauthorized(true)
	res, err := w.svc.DispatchQueued(ctx, 1000)
	isCode(t, err, cardorder.ErrProviderUnavailable)
	is.Equal(res.Remaining, queued)
	calls, started := 0, 0
	for _, c := range cards {
		calls += w.bureau.Calls(c.ID)
		stored := w.card(t, c.ID)
		is.Equal(stored.State, ports.StateProcessing)
		is.Equal(stored.DispatchTries, 0) // refused credentials are no try
		if stored.DispatchStarted {
			started++
		} else {
			is.Equal(stored.Version, c.Version) // never claimed
		}
	}
	is.Equal(calls, batch)   // the first claim only
	is.Equal(started, batch) // claimed cards stay taken; the others are untouched
	_, err = w.svc.Abort(ctx, operator, cards[queued-1].ID)
	is.NoErr(err) // an unclaimed card can still be aborted
}

// gatedStore holds the first Update that hold picks at the store's door: it reports arriving on
// at, and waits for proceed before writing.
type gatedStore struct {
	ports.Store
	hold    func(ports.Change) bool
	once    sync.Once
	at      chan struct{}
	proceed chan struct{}
}

func newGate(hold func(ports.Change) bool) func(*memory.Store) ports.Store {
	return func(s *memory.Store) ports.Store {
		return &gatedStore{Store: s, hold: hold, at: make(chan struct{}), proceed: make(chan struct{})}
	}
}

func (g *gatedStore) Update(ctx context.Context, c ports.Change) (ports.Card, error) {
	if g.hold(c) {
		g.once.Do(func() { close(g.at); <-g.proceed })
	}
	return g.Store.Update(ctx, c)
}

// gatedWorld is a world whose store holds the first Update hold picks.
func gatedWorld(t *testing.T, opts ports.Options, hold func(ports.Change) bool, provider func(*memory.Bureau) ports.Provider) (*world, *gatedStore) {
	t.Helper()
	var g *gatedStore
	w := newWorldConfig(t, opts, nil, func(s *memory.Store) ports.Store {
		g = newGate(hold)(s).(*gatedStore)
		return g
	}, provider)
	t.Cleanup(func() {
		select {
		case <-g.proceed:
		default:
			close(g.proceed)
		}
	})
	return w, g
}

// TestLostCompareAndSetIsDecidedAgain: an approval and a rejection race on one requested card,
// both valid when read. The approval reads the card and is held at the store's door until the
// rejection has been written; its compare-and-set then loses, and deciding again on the fresh
// card it is refused (invalid_state): the card stays rejected, with one event per change. Bug
// caught: a lost compare-and-set retried with the fresh version but the stale decision (a blind
// overwrite that approves a rejected card).
func TestLostCompareAndSetIsDecidedAgain(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w, g := gatedWorld(t, enabled(func(o *ports.Options) { o.ApprovalStep = true }),
		func(c ports.Change) bool { return c.Card.State == ports.StateProcessing }, nil)
	c := w.order(t, ada.ID)
	approved := make(chan error, 1)
	go func() {
		_, err := w.svc.Approve(ctx, approver, c.ID)
		approved <- err
	}()
	<-g.at // the approval read the card and waits to write it
	_, err := w.svc.Reject(ctx, ports.Actor{ID: "ap-2", Roles: []ports.Role{ports.RoleApprover}}, c.ID, "duplicate")
	is.NoErr(err)
	close(g.proceed)
	isCode(t, <-approved, cardorder.ErrInvalidState)
	got := w.card(t, c.ID)
	is.Equal(got.State, ports.StateRejected)
	is.Equal(got.ApprovedBy, "")
	is.Equal(w.eventsFor(c.ID), []string{"registered>requested", "requested>rejected"})
}

// blockingProvider holds PlaceOrder until released, and reports each call as it starts (after
// the dispatcher's claim).
type blockingProvider struct {
	*memory.Bureau
	placing chan struct{}
	release chan struct{}
}

func (b *blockingProvider) PlaceOrder(ctx context.Context, o ports.ProviderOrder) (ports.ProviderReceipt, error) {
	b.placing <- struct{}{}
	<-b.release
	return b.Bureau.PlaceOrder(ctx, o)
}

// TestAbortLosesToAClaimBetweenItsReadAndWrite: the abort reads a queued card and is held at the
// store's door; a dispatch pass claims the card and is held at the bureau; then the abort writes.
// Its compare-and-set must lose (the claim bumped the version), and deciding again it must refuse
// (dispatch started): the card is ordered, never aborted. Bugs caught: a claim that does not
// bump the version, and an abort that ignores DispatchStarted (both abort a card the bureau then
// orders).
func TestAbortLosesToAClaimBetweenItsReadAndWrite(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	bp := &blockingProvider{placing: make(chan struct{}), release: make(chan struct{})}
	w, g := gatedWorld(t, enabled(nil), func(c ports.Change) bool { return c.Card.State == ports.StateAborted },
		func(b *memory.Bureau) ports.Provider { bp.Bureau = b; return bp })
	c := w.order(t, ada.ID)
	aborted := make(chan error, 1)
	go func() {
		_, err := w.svc.Abort(ctx, operator, c.ID)
		aborted <- err
	}()
	<-g.at // the abort read the card (not yet claimed) and waits to write
	dispatched := make(chan cardorder.DispatchResult, 1)
	go func() {
		res, err := w.svc.DispatchQueued(ctx, 10)
		if err != nil {
			t.Error(err)
		}
		dispatched <- res
	}()
	<-bp.placing // the pass claimed the card and is calling the bureau
	close(g.proceed)
	err := <-aborted
	close(bp.release)
	res := <-dispatched
	isCode(t, err, cardorder.ErrInvalidState)
	is.Equal(res.Ordered, 1)
	got := w.card(t, c.ID)
	is.Equal(got.State, ports.StateOrdered)
	is.Equal(w.bureau.Calls(c.ID), 1)
}

// gatedCreates holds every Create at the store's door until n have arrived, then lets them all
// in at once: every competitor has read and decided before any writes.
type gatedCreates struct {
	ports.Store
	mu      sync.Mutex
	n       int
	arrived int
	all     chan struct{}
}

func (g *gatedCreates) Create(ctx context.Context, c ports.Creation) ([]ports.Card, error) {
	g.mu.Lock()
	if g.arrived++; g.arrived == g.n {
		close(g.all)
	}
	g.mu.Unlock()
	<-g.all
	return g.Store.Create(ctx, c)
}

// TestOpenOrderRaceWithEveryCompetitorWaiting: n orders for one user, each held at the store
// until all n have passed every check of the domain and wait to write. Exactly one card is
// created; the others are refused with order_exists. Bug caught: an open-order rule checked by
// the domain before the write (check-then-act) rather than atomically by the store's Exclusive:
// here every competitor passes such a check.
func TestOpenOrderRaceWithEveryCompetitorWaiting(t *testing.T) {
	is := is.New(t)
	const n = 16
	gc := &gatedCreates{n: n, all: make(chan struct{})}
	w := newWorldConfig(t, enabled(nil), nil, func(s *memory.Store) ports.Store { gc.Store = s; return gc }, nil)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = w.svc.OrderCard(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: operator})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, cardorder.ErrOrderExists):
			t.Fatalf("unexpected error %v", err)
		}
	}
	is.Equal(won, 1)
	page, err := w.store.List(context.Background(), ports.CardFilter{UserID: ada.ID})
	is.NoErr(err)
	is.Equal(len(page.Cards), 1)
}

// TestAuditEventsCarryActorAndReason: each state change's event names who acted and, for a
// rejection or a failure, why. Bugs caught: an event that drops the actor or the reason.
func TestAuditEventsCarryActorAndReason(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(func(o *ports.Options) { o.ApprovalStep = true; o.AllowMultipleCardOrders = true }))
	rejected := w.order(t, ada.ID)
	_, err := w.svc.Reject(ctx, approver, rejected.ID, "  not needed  ")
	is.NoErr(err)
	failed := w.order(t, ada.ID)
	_, err = w.svc.Approve(ctx, approver, failed.ID)
	is.NoErr(err)
	w.bureau.Reject("layout L-100 retired")
	w.dispatch(t)
	type ev struct{ Card, From, To, Actor, Reason string }
	var got []ev
	for _, e := range w.events() {
		got = append(got, ev{e.CardID, string(e.From), string(e.To), e.Actor, e.Reason})
	}
	want := []ev{
		{rejected.ID, "registered", "requested", operator.ID, ""},
		{rejected.ID, "requested", "rejected", approver.ID, "not needed"},
		{failed.ID, "registered", "requested", operator.ID, ""},
		{failed.ID, "requested", "processing", approver.ID, ""},
		{failed.ID, "processing", "failed", cardorder.SystemActor, "layout L-100 retired"},
	}
	if d := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b ev) bool { return a.Card+a.To < b.Card+b.To })); d != "" {
		t.Fatalf("audit events (-want +got):\n%s", d)
	}
}

// TestExactlyNineTemporaryCards: nine is allowed (the most), ten is not. Bug caught: an
// off-by-one in the bound.
func TestExactlyNineTemporaryCards(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(nil))
	cards, err := w.svc.OrderTemporaryCards(ctx, operator, 9, "")
	is.NoErr(err)
	is.Equal(len(cards), cardorder.MaxTemporaryCards)
	for i, c := range cards {
		is.Equal(c.Sequence, i+1)
		is.Equal(c.Elements[cardorder.ElemSequence], strconv.Itoa(i+1))
	}
	_, err = w.svc.OrderTemporaryCards(ctx, operator, 10, "")
	isCode(t, err, cardorder.ErrInvalidAmount)
	page, err := w.store.List(ctx, ports.CardFilter{})
	is.NoErr(err)
	is.Equal(len(page.Cards), 9) // the refused order created nothing
}

// TestElementLengthCapCountsCharacters: a card element may hold 256 characters, counted as
// characters, not bytes ("é" is two bytes), and a layout field's MaxLength likewise. Bugs
// caught: a cap counted in bytes, and an off-by-one at the cap.
func TestElementLengthCapCountsCharacters(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		layout int // the layout field's MaxLength; 0 for none
		ok     bool
	}{
		{"256 two-byte characters", strings.Repeat("é", 256), 0, true},
		{"257 two-byte characters", strings.Repeat("é", 257), 0, false},
		{"256 four-byte characters", strings.Repeat("😀", 256), 0, true},
		{"257 ASCII characters", strings.Repeat("x", 257), 0, false},
		{"layout cap reached in characters", "ééééé", 5, true},
		{"layout cap passed in characters", "éééééé", 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			w := newWorldSource(t, overrideSource{ports.CardOverrides{Elements: map[string]string{"NOTE": tt.value}}})
			if tt.layout > 0 {
				w.bureau.SetLayout(ports.Layout{ID: "L-100", Fields: []ports.LayoutField{{Name: "NOTE", MaxLength: tt.layout}}})
			}
			c, err := w.svc.OrderCard(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: operator})
			if tt.ok {
				is.NoErr(err)
				is.Equal(c.Elements["NOTE"], tt.value)
				return
			}
			var e *cardorder.Error
			is.True(errors.As(err, &e))
			is.Equal(e.Code, cardorder.CodeInvalidCardData)
			field := "elements.NOTE"
			if tt.layout > 0 {
				field = "NOTE"
			}
			is.True(e.Fields[field] != "") // the field is named
		})
	}
}
