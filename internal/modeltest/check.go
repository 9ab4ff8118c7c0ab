package modeltest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// terminal states have no move out (docs/use-case.md §4).
func terminal(s ports.CardState) bool {
	return s == ports.StateAborted || s == ports.StateRejected || s == ports.StateProduced
}

// check runs at the barrier after a round: it lets time pass beyond every lease and backoff,
// delivers the outbox and checks the store's state against the rules and the last snapshot.
func (h *harness) check(ctx context.Context) error {
	h.clock.Advance(time5min)
	if err := h.svc.DeliverPending(ctx); err != nil {
		return fmt.Errorf("deliver the outbox: %w", err)
	}
	st, err := h.store.OutboxStats(ctx, h.clock.Now())
	if err != nil {
		return fmt.Errorf("outbox stats: %w", err)
	}
	if st.PendingEvents != 0 {
		return fmt.Errorf("%d audit events still pending after a relay pass", st.PendingEvents)
	}
	cards, err := h.list(ctx)
	if err != nil {
		return err
	}
	var errs []error
	fail := func(c ports.Card, format string, args ...any) {
		errs = append(errs, fmt.Errorf("card %s (%s, user %q): %s", c.ID, c.State, c.UserID, fmt.Sprintf(format, args...)))
	}
	byID := make(map[string]ports.Card, len(cards))
	var processing []string
	for _, c := range cards {
		if _, dup := byID[c.ID]; dup {
			fail(c, "listed twice")
		}
		byID[c.ID] = c
		if c.State == ports.StateProcessing {
			processing = append(processing, c.ID)
		}
		h.checkCard(c, fail)
	}
	for id := range h.prev {
		if _, ok := byID[id]; !ok {
			errs = append(errs, fmt.Errorf("card %s vanished", id))
		}
	}
	for _, e := range h.expect {
		if c, ok := byID[e.card]; !ok || !e.ok(c) {
			fail(c, "a successful %s is not reflected in the store", e.what)
		}
	}
	errs = append(errs, h.checkExclusive(cards)...)
	errs = append(errs, h.checkAudit(byID)...)
	errs = append(errs, h.checkQueue(ctx, processing)...)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	h.prev = make(map[string]seen, len(cards))
	h.ids = h.ids[:0]
	for _, c := range cards {
		h.prev[c.ID] = seen{card: c}
		h.ids = append(h.ids, c.ID)
	}
	h.expect = nil
	return nil
}

// checkCard checks one card on its own and against its last snapshot.
func (h *harness) checkCard(c ports.Card, fail func(ports.Card, string, ...any)) {
	h.mu.Lock()
	v := h.versions[c.ID]
	h.mu.Unlock()
	if c.Version < v {
		fail(c, "version %d is below version %d an operation returned", c.Version, v)
	}
	// The history is the path of docs/use-case.md §4 from registered to the current state.
	if len(c.History) == 0 {
		fail(c, "no history")
		return
	}
	from := ports.StateRegistered
	for _, e := range c.History {
		if !cardorder.CanMove(from, e.State) {
			fail(c, "history moves from %s to %s", from, e.State)
		}
		if e.Actor == "" {
			fail(c, "history entry %s names no actor", e.State)
		}
		if from == ports.StateRequested && e.State == ports.StateProcessing &&
			(c.ApprovedBy == "" || c.ApprovedBy == c.OrderedBy || c.ApprovedBy == c.UserID) {
			fail(c, "approved without a four-eyes approver (approvedBy %q)", c.ApprovedBy)
		}
		from = e.State
	}
	if from != c.State {
		fail(c, "history ends in %s", from)
	}
	// The approval step: every card with it (on every channel but temporary) starts requested.
	wantFirst := ports.StateProcessing
	if c.Options.ApprovalStep && !c.Temporary {
		wantFirst = ports.StateRequested
	}
	if c.History[0].State != wantFirst {
		fail(c, "entered %s first, want %s (approval step %v, temporary %v, channel %s)",
			c.History[0].State, wantFirst, c.Options.ApprovalStep, c.Temporary, c.Channel)
	}
	// No card both aborted and at the bureau: its current attempt was never sent.
	if c.State == ports.StateAborted && (h.bureau.Calls(c.IdempotencyKey()) > 0 || c.ProviderOrderID != "") {
		fail(c, "aborted, but the bureau got its order (%d calls)", h.bureau.Calls(c.IdempotencyKey()))
	}
	p, ok := h.prev[c.ID]
	if !ok {
		return
	}
	was := p.card
	switch {
	case c.Version < was.Version:
		fail(c, "version went down from %d to %d", was.Version, c.Version)
	case len(c.History) < len(was.History):
		fail(c, "history shrank from %d to %d entries", len(was.History), len(c.History))
	case (c.State != was.State || len(c.History) != len(was.History)) && c.Version <= was.Version:
		fail(c, "changed from %s to %s without a new version (%d)", was.State, c.State, c.Version)
	case terminal(was.State) && c.State != was.State:
		fail(c, "left terminal state %s", was.State)
	}
	for i := range min(len(was.History), len(c.History)) {
		if was.History[i].State != c.History[i].State || was.History[i].Actor != c.History[i].Actor {
			fail(c, "history entry %d rewritten", i)
			break
		}
	}
}

// openedSince reports whether card c entered an open state after the snapshot was (it is new, or
// one of its new history entries opens it), and stayedOpen whether it was open at the snapshot
// and has been ever since.
func (h *harness) openedSince(c ports.Card) (opened, stayedOpen bool) {
	p, ok := h.prev[c.ID]
	if !ok {
		return c.State.Open(), false
	}
	from := len(p.card.History)
	if from > len(c.History) {
		return false, false
	}
	stayedOpen = p.card.State.Open()
	prevState := p.card.State
	for _, e := range c.History[from:] {
		if !e.State.Open() {
			stayedOpen = false
		} else if !prevState.Open() {
			opened = true
		}
		prevState = e.State
	}
	return opened && c.State.Open(), stayedOpen && c.State.Open()
}

// checkExclusive checks the one-open-order rule where it applied: a card ordered (or repeated)
// exclusively opened while no other card of its user was open. So at most one open card of a
// user is exclusive, and none opened while another card stayed open since the last snapshot.
func (h *harness) checkExclusive(cards []ports.Card) []error {
	open := map[string][]ports.Card{}
	for _, c := range cards {
		if c.UserID != "" && c.State.Open() {
			open[c.UserID] = append(open[c.UserID], c)
		}
	}
	var errs []error
	for user, cs := range open {
		var exclusive []string
		for _, c := range cs {
			if c.Options.AllowMultipleCardOrders {
				continue
			}
			exclusive = append(exclusive, c.ID)
			opened, _ := h.openedSince(c)
			if !opened {
				continue
			}
			for _, o := range cs {
				if _, stayed := h.openedSince(o); o.ID != c.ID && stayed {
					errs = append(errs, fmt.Errorf("user %s: exclusive card %s opened while card %s was open", user, c.ID, o.ID))
				}
			}
		}
		if len(exclusive) > 1 {
			errs = append(errs, fmt.Errorf("user %s has %d open exclusive cards: %v", user, len(exclusive), exclusive))
		}
	}
	return errs
}

// checkAudit checks that every state change has exactly one audit event, with the actor of the
// history entry, and that a rejection's event gives its reason.
func (h *harness) checkAudit(cards map[string]ports.Card) []error {
	h.audit.mu.Lock()
	defer h.audit.mu.Unlock()
	var errs []error
	if h.audit.clash != nil {
		errs = append(errs, h.audit.clash)
	}
	type step struct {
		to    ports.CardState
		actor string
	}
	byCard := map[string][]step{}
	for _, e := range h.audit.events {
		if e.Kind != "" && e.Kind != ports.AuditStateChange {
			continue
		}
		c, ok := cards[e.CardID]
		if !ok {
			errs = append(errs, fmt.Errorf("audit event %s names card %q, which is not stored", e.ID, e.CardID))
			continue
		}
		if !cardorder.CanMove(e.From, e.To) {
			errs = append(errs, fmt.Errorf("audit event %s of card %s: no move from %s to %s", e.ID, c.ID, e.From, e.To))
		}
		if e.To == ports.StateRejected && (e.Reason == "" || e.Reason != c.RejectionReason) {
			errs = append(errs, fmt.Errorf("audit event %s of card %s: rejection reason %q, card says %q", e.ID, c.ID, e.Reason, c.RejectionReason))
		}
		byCard[e.CardID] = append(byCard[e.CardID], step{e.To, e.Actor})
	}
	cmpStep := func(a, b step) int {
		if a.to != b.to {
			return cmp.Compare(string(a.to), string(b.to))
		}
		return cmp.Compare(a.actor, b.actor)
	}
	for id, c := range cards {
		want := make([]step, 0, len(c.History))
		for _, e := range c.History {
			want = append(want, step{e.State, e.Actor})
		}
		got := byCard[id]
		slices.SortFunc(want, cmpStep)
		slices.SortFunc(got, cmpStep)
		if !slices.Equal(got, want) {
			errs = append(errs, fmt.Errorf("card %s: audit events (to, actor) %v, state changes %v", id, got, want))
		}
	}
	return errs
}

// time5min is how far the clock moves at each barrier: past every lease and backoff of the run.
const time5min = 5 * time.Minute

// checkQueue checks that every processing card is in the queue and, its lease and backoff past,
// due; in some rounds it claims them all, as a dispatcher that then died would.
func (h *harness) checkQueue(ctx context.Context, processing []string) []error {
	now := h.clock.Now()
	st, err := h.store.Stats(ctx, now)
	if err != nil {
		return []error{fmt.Errorf("queue stats: %w", err)}
	}
	if st.Depth != len(processing) || st.Due != len(processing) {
		return []error{fmt.Errorf("queue depth %d, due %d; %d cards are processing", st.Depth, st.Due, len(processing))}
	}
	if h.rng.IntN(4) != 0 {
		return nil
	}
	claimed, err := h.store.Claim(ctx, now, len(processing)+10, time5min/5)
	if err != nil {
		return []error{fmt.Errorf("claim: %w", err)}
	}
	got := make([]string, 0, len(claimed))
	for _, c := range claimed {
		got = append(got, c.ID)
		h.mu.Lock()
		h.versions[c.ID] = max(h.versions[c.ID], c.Version)
		h.mu.Unlock()
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(processing))
	if !slices.Equal(got, want) {
		return []error{fmt.Errorf("a claim of every due card took %v; processing are %v", got, want)}
	}
	return nil
}
