package cardorder_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

var allStates = []ports.CardState{
	ports.StateRegistered, ports.StateRequested, ports.StateProcessing, ports.StateOrdered, ports.StateInProduction,
	ports.StateProduced, ports.StateFailed, ports.StateAborted, ports.StateRejected,
}

// TestCanMove checks every pair of states against docs/use-case.md §4.
func TestCanMove(t *testing.T) {
	allowed := map[[2]ports.CardState]bool{
		{"registered", "requested"}: true, {"registered", "processing"}: true,
		{"requested", "processing"}: true, {"requested", "rejected"}: true, {"requested", "aborted"}: true,
		{"processing", "ordered"}: true, {"processing", "aborted"}: true, {"processing", "failed"}: true,
		{"ordered", "in_production"}: true, {"ordered", "produced"}: true, {"ordered", "failed"}: true,
		{"in_production", "produced"}: true, {"in_production", "failed"}: true,
		{"failed", "processing"}: true,
	}
	for _, from := range allStates {
		for _, to := range allStates {
			if got, want := cardorder.CanMove(from, to), allowed[[2]ports.CardState{from, to}]; got != want {
				t.Errorf("CanMove(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
}

// cardIn builds a card in the given state through the use cases themselves.
func cardIn(t *testing.T, w *world, state ports.CardState) ports.Card {
	t.Helper()
	ctx := context.Background()
	c := w.order(t, ada.ID)
	var err error
	switch state {
	case ports.StateRequested:
		// the world's options have the approval step on
	case ports.StateProcessing:
		c, err = w.svc.Approve(ctx, approver, c.ID)
	case ports.StateAborted:
		c, err = w.svc.Abort(ctx, operator, c.ID)
	case ports.StateRejected:
		c, err = w.svc.Reject(ctx, approver, c.ID, "no budget")
	default:
		if c, err = w.svc.Approve(ctx, approver, c.ID); err != nil {
			break
		}
		if state == ports.StateFailed {
			w.bureau.Reject("photo missing")
			defer w.bureau.Reject("")
		}
		w.dispatch(t)
		c = w.card(t, c.ID)
		if state == ports.StateInProduction || state == ports.StateProduced {
			w.bureau.Advance(c.ID, state, "")
			c, err = w.svc.Refresh(ctx, operator, c.ID)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.State != state {
		t.Fatalf("set-up reached %s, want %s", c.State, state)
	}
	return c
}

// TestActionsPerState tries every operator action in every state a card can be observed in.
func TestActionsPerState(t *testing.T) {
	ctx := context.Background()
	actions := map[string]func(w *world, id string) (ports.Card, error){
		"approve": func(w *world, id string) (ports.Card, error) { return w.svc.Approve(ctx, approver, id) },
		"reject":  func(w *world, id string) (ports.Card, error) { return w.svc.Reject(ctx, approver, id, "no") },
		"abort":   func(w *world, id string) (ports.Card, error) { return w.svc.Abort(ctx, operator, id) },
		"repeat":  func(w *world, id string) (ports.Card, error) { return w.svc.Repeat(ctx, operator, id) },
		"refresh": func(w *world, id string) (ports.Card, error) { return w.svc.Refresh(ctx, operator, id) },
	}
	// allowed[state][action] = resulting state; absent = invalid_state.
	allowed := map[ports.CardState]map[string]ports.CardState{
		ports.StateRequested:    {"approve": ports.StateProcessing, "reject": ports.StateRejected, "abort": ports.StateAborted},
		ports.StateProcessing:   {"abort": ports.StateAborted},
		ports.StateOrdered:      {"refresh": ports.StateOrdered},
		ports.StateInProduction: {"refresh": ports.StateInProduction},
		ports.StateProduced:     {},
		ports.StateFailed:       {"repeat": ports.StateProcessing},
		ports.StateAborted:      {},
		ports.StateRejected:     {},
	}
	for state, ok := range allowed {
		for name, act := range actions {
			t.Run(string(state)+"/"+name, func(t *testing.T) {
				w := newWorld(t, enabled(func(o *ports.Options) { o.ApprovalStep = true }))
				c := cardIn(t, w, state)
				events := len(w.eventsFor(c.ID))
				got, err := act(w, c.ID)
				want, allowed := ok[name]
				if !allowed {
					isCode(t, err, cardorder.ErrInvalidState)
					if after := w.card(t, c.ID); after.State != state || len(w.eventsFor(c.ID)) != events {
						t.Fatalf("a refused %s changed the card: %s", name, after.State)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.State != want {
					t.Fatalf("%s from %s reached %s, want %s", name, state, got.State, want)
				}
			})
		}
	}
}

func TestFourEyesOnEveryPath(t *testing.T) {
	ctx := context.Background()
	both := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator, ports.RoleApprover}}
	holder := ports.Actor{ID: ada.ID, Roles: []ports.Role{ports.RoleApprover}}
	for _, a := range []ports.Actor{both, holder} {
		w := newWorld(t, enabled(func(o *ports.Options) { o.ApprovalStep = true }))
		c, err := w.svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: both})
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.svc.Approve(ctx, a, c.ID)
		isCode(t, err, cardorder.ErrForbidden)
		_, err = w.svc.Reject(ctx, a, c.ID, "no")
		isCode(t, err, cardorder.ErrForbidden)
		if got := w.card(t, c.ID).State; got != ports.StateRequested {
			t.Fatalf("four-eyes refusal changed the card to %s", got)
		}
	}
}

func TestPermissionsOnEveryPath(t *testing.T) {
	ctx := context.Background()
	nobody := ports.Actor{}
	reader := ports.Actor{ID: "x", Roles: []ports.Role{"auditor"}}
	w := newWorld(t, enabled(func(o *ports.Options) { o.ApprovalStep = true }))
	c := w.order(t, ada.ID)
	calls := map[string]struct {
		call    func(a ports.Actor) error
		refused []ports.Actor
	}{
		"approve":   {func(a ports.Actor) error { _, err := w.svc.Approve(ctx, a, c.ID); return err }, []ports.Actor{operator, admin, self1}},
		"reject":    {func(a ports.Actor) error { _, err := w.svc.Reject(ctx, a, c.ID, "r"); return err }, []ports.Actor{operator, admin, self1}},
		"abort":     {func(a ports.Actor) error { _, err := w.svc.Abort(ctx, a, c.ID); return err }, []ports.Actor{approver, admin}},
		"repeat":    {func(a ports.Actor) error { _, err := w.svc.Repeat(ctx, a, c.ID); return err }, []ports.Actor{approver, admin, self1}},
		"refresh":   {func(a ports.Actor) error { _, err := w.svc.Refresh(ctx, a, c.ID); return err }, []ports.Actor{approver, admin, self1}},
		"dispatch":  {func(a ports.Actor) error { _, err := w.svc.Dispatch(ctx, a, 1); return err }, []ports.Actor{operator, approver, self1}},
		"sync":      {func(a ports.Actor) error { _, err := w.svc.SyncStatus(ctx, a); return err }, []ports.Actor{operator, approver, self1}},
		"temporary": {func(a ports.Actor) error { _, err := w.svc.OrderTemporaryCards(ctx, a, 1, ""); return err }, []ports.Actor{approver, admin, self1}},
		"batch":     {func(a ports.Actor) error { _, err := w.svc.OrderBatch(ctx, a, []string{grace.ID}, ""); return err }, []ports.Actor{approver, admin, self1}},
		"dry-run": {func(a ports.Actor) error {
			_, err := w.svc.DryRun(ctx, a, cardorder.DryRun{UserID: ada.ID, Actor: operator})
			return err
		}, []ports.Actor{operator, approver, self1}},
		"read": {func(a ports.Actor) error { _, err := w.svc.Card(ctx, a, c.ID); return err }, []ports.Actor{reader}},
		"list": {func(a ports.Actor) error { _, err := w.svc.Cards(ctx, a, ports.CardFilter{}); return err }, []ports.Actor{reader}},
	}
	for name, tc := range calls {
		t.Run(name, func(t *testing.T) {
			isCode(t, tc.call(nobody), cardorder.ErrUnauthenticated)
			for _, a := range tc.refused {
				isCode(t, tc.call(a), cardorder.ErrForbidden)
			}
		})
	}
	if got := w.card(t, c.ID).State; got != ports.StateRequested {
		t.Fatalf("refused calls changed the card to %s", got)
	}
}

func TestApprovalFlowNotifies(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(func(o *ports.Options) { o.ApprovalStep = true; o.QueueCards = false }))
	c := w.order(t, ada.ID)
	_, err := w.svc.Reject(ctx, approver, c.ID, "   ")
	isCode(t, err, cardorder.ErrReasonRequired)
	c, err = w.svc.Approve(ctx, approver, c.ID)
	is.NoErr(err)
	is.Equal(c.State, ports.StateOrdered) // queueing off: ordered directly on approval
	is.Equal(c.ApprovedBy, approver.ID)
	kinds := []ports.NotificationKind{}
	for _, n := range w.sent() {
		kinds = append(kinds, n.Kind)
	}
	is.Equal(kinds, []ports.NotificationKind{ports.NotifyApprovalNeeded, ports.NotifyOrderApproved, ports.NotifyCardOrdered})
	is.Equal(w.eventsFor(c.ID), []string{"registered>requested", "requested>processing", "processing>ordered"})

	r := w.order(t, grace.ID)
	r, err = w.svc.Reject(ctx, approver, r.ID, "no budget")
	is.NoErr(err)
	is.Equal(r.RejectionReason, "no budget")
	last := w.sent()[len(w.sent())-1]
	is.Equal(last.Kind, ports.NotifyOrderRejected)
	is.Equal(last.To, ports.Recipient{UserID: operator.ID})
	is.Equal(last.Reason, "no budget")
}

func TestApproveRechecksTheUser(t *testing.T) {
	w := newWorld(t, enabled(func(o *ports.Options) { o.ApprovalStep = true }))
	c := w.order(t, ada.ID)
	inactive := ada
	inactive.State = ports.UserInactive
	w.users.Put(inactive)
	_, err := w.svc.Approve(context.Background(), approver, c.ID)
	isCode(t, err, cardorder.ErrUserNotActive)
}

// TestOptionsStayWithTheCard: approval and dispatch follow the options the order was placed with.
func TestOptionsStayWithTheCard(t *testing.T) {
	is := is.New(t)
	src := &switchable{opts: enabled(func(o *ports.Options) { o.ApprovalStep = true; o.QueueCards = false })}
	w := newWorldSource(t, src)
	c := w.order(t, ada.ID)
	src.set(enabled(nil)) // the administrator turns queueing back on
	c, err := w.svc.Approve(context.Background(), approver, c.ID)
	is.NoErr(err)
	is.Equal(c.State, ports.StateOrdered)
}

type switchable struct {
	mu   sync.Mutex
	opts ports.Options
}

func (s *switchable) set(o ports.Options) { s.mu.Lock(); s.opts = o; s.mu.Unlock() }
func (s *switchable) Resolve(context.Context, ports.OptionsRequest) (ports.Resolved, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ports.Resolved{Options: s.opts, ScriptVersion: "v"}, nil
}

func TestRepeatUsesANewKeyAndTheOpenOrderRule(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false }))
	w.bureau.Reject("name too long")
	c := w.order(t, ada.ID)
	is.Equal(c.State, ports.StateFailed)
	is.Equal(c.FailureReason, "name too long")
	w.bureau.Reject("")

	c, err := w.svc.Repeat(ctx, operator, c.ID)
	is.NoErr(err)
	is.Equal(c.State, ports.StateOrdered)
	is.Equal(c.Attempt, 2)
	is.Equal(c.IdempotencyKey(), c.ID+"/repeat/1")
	_, placed := w.bureau.OrderFor(c.ID + "/repeat/1")
	is.True(placed)

	// A failed card cannot be repeated while the user has another open order.
	w.bureau.Reject("again")
	f := w.order(t, grace.ID)
	w.bureau.Reject("")
	w.order(t, grace.ID)
	_, err = w.svc.Repeat(ctx, operator, f.ID)
	isCode(t, err, cardorder.ErrOrderExists)
}

func TestDirectOrderWithUnknownOutcomeStaysQueued(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false }))
	w.bureau.LoseAnswers(1) // the bureau accepts, the answer is lost
	c := w.order(t, ada.ID)
	is.Equal(c.State, ports.StateProcessing)
	_, err := w.svc.Abort(context.Background(), operator, c.ID)
	isCode(t, err, cardorder.ErrInvalidState) // the bureau may hold it
	w.clock.Advance(time.Minute)
	res := w.dispatch(t)
	is.Equal(res.Ordered, 1)
	is.Equal(w.card(t, c.ID).State, ports.StateOrdered)
	is.Equal(w.bureau.Orders(), 1) // one order, retried under the same key
	is.Equal(w.bureau.Calls(c.ID), 2)
}

func TestDispatchGivesUpAfterMaxTries(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	c := w.order(t, ada.ID)
	w.bureau.FailNext(100)
	for i := range 3 {
		res := w.dispatch(t)
		is.Equal(res.Ordered+res.Failed+res.Retry, 1)
		w.clock.Advance(time.Duration(1<<i) * time.Second)
	}
	c = w.card(t, c.ID)
	is.Equal(c.State, ports.StateFailed)
	is.Equal(c.FailureReason, cardorder.ReasonUnreachable)
}

func TestDispatchBacksOff(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	c := w.order(t, ada.ID)
	w.bureau.FailNext(1)
	is.Equal(w.dispatch(t).Retry, 1)
	res := w.dispatch(t) // not due yet
	is.Equal(res, cardorder.DispatchResult{Remaining: 1})
	st, err := w.svc.QueueStats(context.Background()) // depth and age are observable
	is.NoErr(err)
	is.Equal(st, ports.QueueStats{Depth: 1, Due: 0, OldestQueuedAt: c.QueuedAt})
	w.clock.Advance(time.Second)
	is.Equal(w.dispatch(t).Ordered, 1)
	is.Equal(w.card(t, c.ID).DispatchTries, 1)
}

func TestRefusedCredentialsFailNoCard(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	c := w.order(t, ada.ID)
	w.bureau.Unauthorized(true)
	for range 5 {
		_, err := w.svc.DispatchQueued(context.Background(), 10)
		isCode(t, err, cardorder.ErrProviderUnavailable)
		w.clock.Advance(time.Hour)
	}
	c = w.card(t, c.ID)
	is.Equal(c.State, ports.StateProcessing)
	is.Equal(c.DispatchTries, 0)
	w.bureau.Unauthorized(false)
	is.Equal(w.dispatch(t).Ordered, 1)
}

func TestStatusUpdatesOnlyMoveForward(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false }))
	c := w.order(t, ada.ID)
	st := ports.OrderStatus{OrderID: c.ProviderOrderID, ExternalReference: c.ID}

	for _, step := range []struct {
		to      ports.CardState
		changed bool
		want    ports.CardState
	}{
		{ports.StateOrdered, false, ports.StateOrdered},
		{ports.StateProduced, true, ports.StateProduced}, // a state may be skipped
		{ports.StateInProduction, false, ports.StateProduced},
		{ports.StateFailed, false, ports.StateProduced},
	} {
		st.State = step.to
		changed, err := w.svc.ApplyOrderStatus(ctx, st)
		is.NoErr(err)
		is.Equal(changed, step.changed)
		is.Equal(w.card(t, c.ID).State, step.want)
	}
	_, err := w.svc.ApplyOrderStatus(ctx, ports.OrderStatus{ExternalReference: "nope", State: ports.StateProduced})
	is.True(errors.Is(err, ports.ErrNotFound))

	q := newWorld(t, enabled(nil))
	qc := q.order(t, ada.ID) // processing: not yet ordered, so the event is ignored
	changed, err := q.svc.ApplyOrderStatus(ctx, ports.OrderStatus{ExternalReference: qc.ID, State: ports.StateProduced})
	is.NoErr(err)
	is.True(!changed)
}

func TestSyncStatus(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false; o.AllowMultipleCardOrders = true }))
	var ids []string
	for range 5 {
		ids = append(ids, w.order(t, ada.ID).ID)
	}
	w.bureau.Advance(ids[0], ports.StateInProduction, "")
	w.bureau.Advance(ids[1], ports.StateProduced, "")
	w.bureau.Advance(ids[2], ports.StateFailed, "chip defect")
	n, err := w.svc.SyncStatus(ctx, admin)
	is.NoErr(err)
	is.Equal(n, 3)
	is.Equal(w.card(t, ids[2]).FailureReason, "chip defect")
	n, err = w.svc.SyncStatus(ctx, admin)
	is.NoErr(err)
	is.Equal(n, 0)

	w.bureau.FailNext(10)
	_, err = w.svc.SyncStatus(ctx, admin)
	isCode(t, err, cardorder.ErrProviderUnavailable)
	_, err = w.svc.Refresh(ctx, operator, ids[3])
	isCode(t, err, cardorder.ErrProviderUnavailable)
}

// TestMailerOutageLosesNothing: a failing mailer fails no order, and every notification is
// delivered once it recovers.
func TestMailerOutageLosesNothing(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false; o.AllowMultipleCardOrders = true }))
	w.mailer.Fail(errors.New("smtp: 421 try later"))
	var ids []string
	for range 3 {
		c := w.order(t, ada.ID)
		is.Equal(c.State, ports.StateOrdered)
		ids = append(ids, c.ID)
	}
	is.True(w.svc.DeliverPending(ctx) != nil) // the relay reports the mailer's failure
	st, err := w.svc.OutboxStats(ctx)
	is.NoErr(err)
	is.Equal(st.PendingNotifications, 3)
	is.NoErr(w.svc.DeliverPending(ctx)) // not due again yet: nothing tried
	w.clock.Advance(time.Minute)
	pending, err := w.store.ClaimNotifications(ctx, w.clock.Now(), 10, 0) // a look, leased for no time
	is.NoErr(err)
	is.Equal(len(pending), 3)
	is.Equal(pending[0].LastError, "smtp: 421 try later") // the failure is visible
	w.mailer.Fail(nil)
	w.clock.Advance(time.Minute)
	is.NoErr(w.svc.DeliverPending(ctx))
	var got []string
	for _, n := range w.sent() {
		got = append(got, n.CardID)
	}
	if d := cmp.Diff(ids, got); d != "" {
		t.Fatalf("delivered (-want +got):\n%s", d)
	}
	st, err = w.svc.OutboxStats(ctx)
	is.NoErr(err)
	is.Equal(st.PendingNotifications, 0)
}

func TestAuditSinkOutageLosesNothing(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(nil))
	w.audit.Fail(errors.New("sink down"))
	c := w.order(t, ada.ID)
	_, err := w.svc.Abort(ctx, operator, c.ID)
	is.NoErr(err)
	is.Equal(len(w.events()), 0)
	w.audit.Fail(nil)
	w.clock.Advance(time.Minute) // the refused events' lease (DeliveryLease) ends
	is.NoErr(w.svc.DeliverPending(ctx))
	is.Equal(w.eventsFor(c.ID), []string{"registered>processing", "processing>aborted"})
}

// TestEveryStateChangeEmitsOneEvent follows one card through its whole life.
func TestEveryStateChangeEmitsOneEvent(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(nil))
	c := w.order(t, ada.ID)
	w.dispatch(t)
	w.bureau.Advance(c.ID, ports.StateInProduction, "")
	_, err := w.svc.Refresh(ctx, operator, c.ID)
	is.NoErr(err)
	w.bureau.Advance(c.ID, ports.StateProduced, "")
	c, err = w.svc.Refresh(ctx, operator, c.ID)
	is.NoErr(err)
	is.Equal(w.eventsFor(c.ID), []string{"registered>processing", "processing>ordered", "ordered>in_production", "in_production>produced"})
	var hist []ports.CardState
	for _, h := range c.History {
		hist = append(hist, h.State)
	}
	is.Equal(hist, []ports.CardState{ports.StateProcessing, ports.StateOrdered, ports.StateInProduction, ports.StateProduced})
	for _, e := range w.events() {
		is.Equal(e.UserID, ada.ID)
		is.True(e.ID != "")
	}
}

// TestAbortRacesDispatch: 1,000 abort-vs-dispatch races; no card is both aborted and ordered at
// the bureau, and every card ends in exactly one of the two.
func TestAbortRacesDispatch(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(func(o *ports.Options) { o.AllowMultipleCardOrders = true }))
	const n = 1000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = w.order(t, ada.ID).ID
	}
	var wg sync.WaitGroup
	aborted := make([]bool, n)
	wg.Go(func() {
		for range n {
			if _, err := w.svc.DispatchQueued(ctx, 7); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for i, id := range ids {
			_, err := w.svc.Abort(ctx, operator, id)
			switch {
			case err == nil:
				aborted[i] = true
			case !errors.Is(err, cardorder.ErrInvalidState):
				t.Error(err)
			}
		}
	})
	wg.Wait()
	w.dispatch(t)
	nAborted := 0
	for i, id := range ids {
		c := w.card(t, id)
		_, atBureau := w.bureau.OrderFor(id)
		switch {
		case aborted[i]:
			nAborted++
			is.Equal(c.State, ports.StateAborted)
			is.True(!atBureau)
			is.Equal(w.bureau.Calls(id), 0)
		default:
			is.Equal(c.State, ports.StateOrdered)
			is.True(atBureau)
		}
	}
	t.Logf("%d of %d aborted", nAborted, n)
}

// TestRepeatStartsAFreshAttempt: what the failed attempt reported is gone, and a late status of
// the old bureau order is ignored.
func TestRepeatStartsAFreshAttempt(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false }))
	c := w.order(t, ada.ID)
	old := c.ProviderOrderID
	w.bureau.Advance(c.ID, ports.StateFailed, "chip defect")
	c, err := w.svc.Refresh(ctx, operator, c.ID)
	is.NoErr(err)
	is.Equal(c.State, ports.StateFailed)
	c, err = w.svc.Repeat(ctx, operator, c.ID)
	is.NoErr(err)
	is.Equal(c.State, ports.StateOrdered)
	is.True(c.ProviderOrderID != old)
	is.Equal(c.FailureReason, "")
	changed, err := w.svc.ApplyOrderStatus(ctx, ports.OrderStatus{OrderID: old, ExternalReference: c.ID, State: ports.StateProduced})
	is.NoErr(err)
	is.True(!changed) // a status of the first attempt
	is.Equal(w.card(t, c.ID).State, ports.StateOrdered)
}

func TestNotificationRecipients(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(func(o *ports.Options) { o.ApprovalStep = true }))
	c := w.order(t, ada.ID)
	_, err := w.svc.Approve(context.Background(), approver, c.ID)
	is.NoErr(err)
	w.dispatch(t)
	var got []ports.Recipient
	for _, n := range w.sent() {
		got = append(got, n.To)
	}
	is.Equal(got, []ports.Recipient{{Approvers: true}, {UserID: operator.ID}, {UserID: ada.ID}})
}

func TestNoCardOrderedEmailWhenOff(t *testing.T) {
	w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false; o.SendCardOrderedEmail = false }))
	if c := w.order(t, ada.ID); c.State != ports.StateOrdered || len(w.sent()) != 0 {
		t.Fatalf("state %s, %d emails", c.State, len(w.sent()))
	}
}

func TestDirectOrderWithRefusedCredentialsStaysQueued(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false }))
	w.bureau.Unauthorized(true)
	c := w.order(t, ada.ID)
	is.Equal(c.State, ports.StateProcessing)
	is.Equal(c.DispatchTries, 0)
	w.bureau.Unauthorized(false)
	w.clock.Advance(time.Hour)
	is.Equal(w.dispatch(t).Ordered, 1)
}

// TestCallerGivingUpCountsNoTry: a direct order whose caller goes away during the bureau call
// stays queued without losing one of its dispatch tries; a dispatch pass whose caller goes away
// still records the outcome of the cards it holds.
func TestCallerGivingUpCountsNoTry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false }))
		w.bureau.Slow(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := w.svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: operator})
		is.NoErr(err)
		is.Equal(c.State, ports.StateProcessing)
		is.Equal(c.DispatchTries, 0)

		w.clock.Advance(time.Hour) // past the lease
		ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
		defer cancel2()
		res, err := w.svc.DispatchQueued(ctx2, 10)
		is.NoErr(err)
		is.Equal(res.Ordered, 1)
		is.Equal(w.card(t, c.ID).State, ports.StateOrdered)
	})
}
