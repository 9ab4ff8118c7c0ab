package portstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cardsaddon/extprod/ports"
)

// base is the time every subtest counts from: whole seconds, UTC.
var base = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

// at returns base plus n minutes.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }

// Comparison options: nil and empty maps and slices are equal (a store may not distinguish them);
// times compare with Equal (cmp uses the Equal method).
var (
	equateEmpty   = cmpopts.EquateEmpty()
	ignoreVersion = cmpopts.IgnoreFields(ports.Card{}, "Version")
)

// fixture is one subtest's store and its id and time sources.
type fixture struct {
	t        *testing.T
	ctx      context.Context
	s        Store
	newStore func(t *testing.T) Store
	seq      atomic.Int64
	peeks    atomic.Int64
}

func newFixture(t *testing.T, newStore func(t *testing.T) Store) *fixture {
	t.Helper()
	s := newStore(t)
	if s == nil {
		t.Fatal("portstest: the store constructor returned nil")
	}
	return &fixture{t: t, ctx: t.Context(), s: s, newStore: newStore}
}

// id returns a new id of the given kind, unique within the subtest; the number is zero padded so
// ids sort as they were made.
func (f *fixture) id(kind string) string {
	return fmt.Sprintf("%s-%05d", kind, f.seq.Add(1))
}

// tick returns a new, later time for events and notifications (base plus one second per call),
// so "oldest first" means the same by insertion and by time.
func (f *fixture) tick() time.Time {
	return base.Add(time.Duration(f.seq.Add(1)) * time.Second)
}

// card builds a card with every kind of field filled, so a round trip checks them all. A card in
// processing is queued at at; a card with no user is a temporary card.
func card(id, user string, state ports.CardState, at time.Time) ports.Card {
	c := ports.Card{
		ID:             id,
		UserID:         user,
		State:          state,
		Channel:        ports.ChannelOperator,
		ProductionType: "standard",
		LayoutID:       "L-100",
		CommonName:     "Ada Lovelace",
		UPN:            "ada@corp.example",
		Email:          "ada@example.com",
		Elements: map[string]string{
			"FIRST_NAME":  "Ada",
			"LAST_NAME":   "Lovelace",
			"COMMON_NAME": "Ada Lovelace",
			"UPN":         "ada@corp.example",
		},
		OrderedBy:     "operator-1",
		Options:       ports.DefaultOptions(),
		ScriptVersion: "sha256:0123456789abcdef",
		Attempt:       1,
		CreatedAt:     at,
		UpdatedAt:     at,
		History: []ports.HistoryEntry{
			{State: ports.StateRegistered, At: at, Actor: "operator-1"},
			{State: state, At: at, Actor: "operator-1"},
		},
	}
	if user == "" {
		c.Temporary = true
		c.Sequence = 1
		c.Channel = ports.ChannelTemporary
		c.CommonName, c.UPN, c.Email = "", "", ""
		c.Elements = map[string]string{"TEMPORARY": "true", "SEQUENCE": "1"}
	}
	switch state {
	case ports.StateProcessing:
		c.QueuedAt = at
	case ports.StateOrdered, ports.StateInProduction:
		c.ProviderOrderID = "O-" + id
	case ports.StateProduced:
		c.ProviderOrderID = "O-" + id
		c.CardNumber = "C-" + id
		c.ValidThru = "2034-12-31"
		c.Readouts = []ports.Readout{{Type: "MIFARE_UID", UID: "04A1B2C3"}}
	case ports.StateFailed:
		c.FailureReason = "layout refused the photo"
	case ports.StateRejected:
		c.RejectionReason = "not entitled"
		c.ApprovedBy = "approver-1"
	}
	return c
}

// clone returns a deep copy of c, so a test can change it without touching a value a store
// returned or was given.
func clone(c ports.Card) ports.Card {
	if c.Elements != nil {
		m := make(map[string]string, len(c.Elements))
		for k, v := range c.Elements {
			m[k] = v
		}
		c.Elements = m
	}
	c.Readouts = slices.Clone(c.Readouts)
	c.History = slices.Clone(c.History)
	c.Options.ProductionTypes = slices.Clone(c.Options.ProductionTypes)
	return c
}

// event returns a new audit event for a change of card c from one state to another.
func (f *fixture) event(c ports.Card, from, to ports.CardState) ports.AuditEvent {
	return ports.AuditEvent{
		ID:     f.id("event"),
		CardID: c.ID,
		UserID: c.UserID,
		Actor:  "operator-1",
		From:   from,
		To:     to,
		At:     f.tick(),
	}
}

// notification returns a new notification about card c, due at notBefore (zero: at once).
func (f *fixture) notification(c ports.Card, notBefore time.Time) ports.Notification {
	return ports.Notification{
		ID:        f.id("note"),
		Kind:      ports.NotifyCardOrdered,
		To:        ports.Recipient{UserID: c.UserID},
		CardID:    c.ID,
		At:        f.tick(),
		NotBefore: notBefore,
	}
}

// note returns a new notification about card c, due at once.
func (f *fixture) note(c ports.Card) ports.Notification { return f.notification(c, time.Time{}) }

// create stores cards in one non-exclusive creation, each with an event, and fails the test on
// an error. It returns the stored cards.
func (f *fixture) create(cards ...ports.Card) []ports.Card {
	f.t.Helper()
	cr := ports.Creation{Cards: cards}
	for _, c := range cards {
		cr.Events = append(cr.Events, f.event(c, "", c.State))
	}
	out, err := f.s.Create(f.ctx, cr)
	if err != nil {
		f.t.Fatalf("Create(%d cards): %v", len(cards), err)
	}
	if len(out) != len(cards) {
		f.t.Fatalf("Create(%d cards) returned %d cards", len(cards), len(out))
	}
	return out
}

// createOne stores one card and returns it.
func (f *fixture) createOne(c ports.Card) ports.Card {
	f.t.Helper()
	return f.create(c)[0]
}

// createMany stores cards in creations of at most 100 cards each.
func (f *fixture) createMany(cards []ports.Card) []ports.Card {
	f.t.Helper()
	var out []ports.Card
	for chunk := range slices.Chunk(cards, 100) {
		out = append(out, f.create(chunk...)...)
	}
	return out
}

// get reads a card and fails the test on an error.
func (f *fixture) get(id string) ports.Card {
	f.t.Helper()
	c, err := f.s.Card(f.ctx, id)
	if err != nil {
		f.t.Fatalf("Card(%s): %v", id, err)
	}
	return c
}

// next derives the next value of c (read from the store) in state to, as the domain would: a
// copy with the state, a history entry and the same Version (the one it was derived from).
func next(c ports.Card, to ports.CardState, now time.Time) ports.Card {
	n := clone(c)
	n.State = to
	n.UpdatedAt = now
	n.History = append(n.History, ports.HistoryEntry{State: to, At: now, Actor: "operator-1"})
	return n
}

// change builds a Change of card c to state to, with its event.
func (f *fixture) change(c ports.Card, to ports.CardState) ports.Change {
	return ports.Change{Card: next(c, to, f.tick()), Event: f.event(c, c.State, to)}
}

// update writes c's change to state to (after mutate, when not nil) and fails the test on an
// error. It returns the stored card.
func (f *fixture) update(c ports.Card, to ports.CardState, mutate func(*ports.Card)) ports.Card {
	f.t.Helper()
	ch := f.change(c, to)
	if mutate != nil {
		mutate(&ch.Card)
	}
	out, err := f.s.Update(f.ctx, ch)
	if err != nil {
		f.t.Fatalf("Update(%s %s→%s): %v", c.ID, c.State, to, err)
	}
	return out
}

// manyMax is the max the suite passes to read "everything" from the outbox.
const manyMax = 100_000

// peek returns a time after every lease the suite took before, at which every notification of
// the suite is due: reading the outbox by claiming at it sees every undelivered entry.
func (f *fixture) peek() time.Time {
	return farFuture.Add(time.Duration(f.peeks.Add(1)) * 24 * time.Hour)
}

// pendingEvents returns every undelivered event, oldest first, by claiming them at a peek time.
func (f *fixture) pendingEvents() []ports.AuditEvent {
	f.t.Helper()
	evs, err := f.s.ClaimEvents(f.ctx, f.peek(), manyMax, time.Minute)
	if err != nil {
		f.t.Fatalf("ClaimEvents: %v", err)
	}
	return evs
}

// pendingNotifications returns every unsent notification, oldest first, by claiming them at a
// peek time. Tries is zeroed: these claims are the suite's reading, not delivery attempts.
func (f *fixture) pendingNotifications() []ports.Notification {
	f.t.Helper()
	ns, err := f.s.ClaimNotifications(f.ctx, f.peek(), manyMax, time.Minute)
	if err != nil {
		f.t.Fatalf("ClaimNotifications: %v", err)
	}
	for i := range ns {
		ns[i].Tries = 0
	}
	return ns
}

// claim claims and fails the test on an error.
func (f *fixture) claim(now time.Time, max int, lease time.Duration) []ports.Card {
	f.t.Helper()
	cs, err := f.s.Claim(f.ctx, now, max, lease)
	if err != nil {
		f.t.Fatalf("Claim(%v, %d, %v): %v", now, max, lease, err)
	}
	return cs
}

// listAll pages through the listing of filter (its After ignored) and returns every card. It
// checks that paging ends within maxPages pages and that no page exceeds the limit.
func (f *fixture) listAll(filter ports.CardFilter, maxPages int) []ports.Card {
	f.t.Helper()
	filter.After = 0
	var out []ports.Card
	for page := 0; ; page++ {
		if page > maxPages {
			f.t.Fatalf("List(%+v): paging did not end after %d pages", filter, maxPages)
		}
		p, err := f.s.List(f.ctx, filter)
		if err != nil {
			f.t.Fatalf("List(%+v): %v", filter, err)
		}
		if filter.Limit > 0 && len(p.Cards) > filter.Limit {
			f.t.Fatalf("List(%+v) returned %d cards, more than Limit", filter, len(p.Cards))
		}
		out = append(out, p.Cards...)
		if p.Next == 0 {
			return out
		}
		filter.After = p.Next
	}
}

// ids returns the ids of cards, in order.
func ids(cards []ports.Card) []string {
	out := make([]string, len(cards))
	for i, c := range cards {
		out[i] = c.ID
	}
	return out
}

// eventIDs returns the ids of events, in order.
func eventIDs(evs []ports.AuditEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// notificationIDs returns the ids of notifications, in order.
func notificationIDs(ns []ports.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

// wantErr fails the test unless errors.Is(err, target), saying so.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want errors.Is(err, %s)", what, err, sentinelName(target))
	}
}

// sentinelName names a sentinel error of package ports as code does.
func sentinelName(err error) string {
	for _, s := range []struct {
		err  error
		name string
	}{
		{ports.ErrNotFound, "ports.ErrNotFound"}, {ports.ErrConflict, "ports.ErrConflict"},
		{ports.ErrOpenOrderExists, "ports.ErrOpenOrderExists"}, {ports.ErrUnavailable, "ports.ErrUnavailable"},
		{ports.ErrUnauthorized, "ports.ErrUnauthorized"}, {ports.ErrProtocol, "ports.ErrProtocol"},
		{ports.ErrRejected, "ports.ErrRejected"}, {ports.ErrIdempotencyBusy, "ports.ErrIdempotencyBusy"},
		{ports.ErrUnauthenticated, "ports.ErrUnauthenticated"},
	} {
		if err == s.err {
			return s.name
		}
	}
	return fmt.Sprintf("%q", err)
}

// wantCard fails the test when got differs from want; with ignoreVersion, Version is not compared.
func wantCard(t *testing.T, what string, want, got ports.Card, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, append(opts, equateEmpty)...); d != "" {
		t.Fatalf("%s: card differs (-want +got):\n%s", what, d)
	}
}

// wantAbsent fails the test unless the card with id is unknown to the store.
func (f *fixture) wantAbsent(id string) {
	f.t.Helper()
	_, err := f.s.Card(f.ctx, id)
	wantErr(f.t, "Card("+id+") of a card that must not exist", err, ports.ErrNotFound)
}

// wantNoOutbox fails the test if any of the events or notifications is pending (at any time).
func (f *fixture) wantNoOutbox(evs []ports.AuditEvent, ns []ports.Notification) {
	f.t.Helper()
	pendingE := eventIDs(f.pendingEvents())
	for _, e := range evs {
		if slices.Contains(pendingE, e.ID) {
			f.t.Fatalf("event %s of a failed write is in the outbox", e.ID)
		}
	}
	pendingN := notificationIDs(f.pendingNotifications())
	for _, n := range ns {
		if slices.Contains(pendingN, n.ID) {
			f.t.Fatalf("notification %s of a failed write is in the outbox", n.ID)
		}
	}
}

// farFuture is a time at which every notification of the suite is due.
var farFuture = base.AddDate(10, 0, 0)
