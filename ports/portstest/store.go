package portstest

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"
	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/ports"
)

// Store is what a card store implements: the cards, the queue of their processing cards and the
// outbox of the events and notifications written with them, all over the same storage (the
// queue is a view of the cards; the outbox is written in the same atomic step as the cards).
type Store = ports.Store

// RunStore runs the conformance suite of [Store] as subtests of t: the card store (atomic
// creation, the one-open-order rule under races, compare-and-set updates, listing), the queue
// (claims, leases, the abort-or-claim race, stats) and the outbox (events and notifications).
// newStore is called once per subtest and must return a new, empty store.
func RunStore(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	for _, group := range []struct {
		name  string
		tests []storeTest
	}{
		{"Cards", cardTests},
		{"List", listTests},
		{"Queue", queueTests},
		{"Outbox", outboxTests},
	} {
		t.Run(group.name, func(t *testing.T) {
			for _, tt := range group.tests {
				t.Run(tt.name, func(t *testing.T) { tt.fn(newFixture(t, newStore)) })
			}
		})
	}
}

// storeTest is one subtest of RunStore; it gets a fixture around a fresh store.
type storeTest struct {
	name string
	fn   func(f *fixture)
}

var cardTests = []storeTest{
	{"CreateAndRead", testCreateAndRead},
	{"CreateAllOrNone", testCreateAllOrNone},
	{"CardsAreCopies", testCardsAreCopies},
	{"CardUnknown", testCardUnknown},
	{"ExclusiveByState", testExclusiveByState},
	{"ExclusiveOtherUser", testExclusiveOtherUser},
	{"NonExclusiveWithOpenCards", testNonExclusiveWithOpenCards},
	{"ExclusiveRace", testExclusiveRace},
	{"MixedExclusiveRace", testMixedExclusiveRace},
	{"UpdateCompareAndSet", testUpdateCompareAndSet},
	{"UpdateStaleVersion", testUpdateStaleVersion},
	{"UpdateUnknownCard", testUpdateUnknownCard},
	{"UpdateExclusive", testUpdateExclusive},
	{"UpdateRace", testUpdateRace},
	{"UpdateWritesOutboxAtomically", testUpdateWritesOutbox},
}

// raceN is how many goroutines race in the big races of the suite.
const raceN = 1000

func testCreateAndRead(f *fixture) {
	t, is := f.t, is.New(f.t)
	u := f.id("user")
	in := []ports.Card{
		card(f.id("card"), u, ports.StateProcessing, at(1)),
		card(f.id("card"), u, ports.StateRequested, at(1)),
		card(f.id("card"), "", ports.StateOrdered, at(1)), // a temporary card: no user
	}
	in[0].Version = 99 // ignored: the store sets Version
	in[1].Version = -5
	cr := ports.Creation{
		Cards:         in,
		Events:        []ports.AuditEvent{f.event(in[0], "", in[0].State), f.event(in[1], "", in[1].State)},
		Notifications: []ports.Notification{f.note(in[1])},
	}
	out, err := f.s.Create(f.ctx, cr)
	is.NoErr(err)               // Create
	is.Equal(len(out), len(in)) // Create returns one card per card given
	for i := range in {
		wantCard(t, "Create result "+in[i].ID, in[i], out[i], ignoreVersion)
		got := f.get(in[i].ID)
		wantCard(t, "Card("+in[i].ID+") after Create", out[i], got) // Version included
	}
	if d := cmp.Diff(cr.Events, f.pendingEvents(), equateEmpty); d != "" {
		t.Fatalf("the creation's events are not pending in the outbox (-want +got):\n%s", d)
	}
	if d := cmp.Diff(cr.Notifications, f.pendingNotifications(), equateEmpty); d != "" {
		t.Fatalf("the creation's notifications are not pending in the outbox (-want +got):\n%s", d)
	}
	// The version the store set is the one an update names.
	up, err := f.s.Update(f.ctx, f.change(out[0], ports.StateOrdered))
	is.NoErr(err)                         // Update naming the Version returned by Create
	is.True(up.Version != out[0].Version) // Update sets a new Version
}

func testCreateAllOrNone(f *fixture) {
	t, is := f.t, is.New(f.t)
	u := f.id("user")
	existing := f.createOne(card(f.id("card"), u, ports.StateProcessing, at(0)))

	// A creation that names an id already stored fails as a whole and overwrites nothing.
	dup := card(existing.ID, f.id("user"), ports.StateRequested, at(5))
	dup.CommonName = "Overwritten"
	batch := []ports.Card{
		card(f.id("card"), f.id("user"), ports.StateProcessing, at(1)),
		dup,
		card(f.id("card"), f.id("user"), ports.StateProcessing, at(1)),
	}
	cr := ports.Creation{Cards: batch, Events: []ports.AuditEvent{f.event(batch[0], "", batch[0].State)},
		Notifications: []ports.Notification{f.note(batch[0])}}
	_, err := f.s.Create(f.ctx, cr)
	if err == nil {
		t.Fatalf("Create with a card id already stored (%s) succeeded; a creation must never overwrite a card", dup.ID)
	}
	f.wantAbsent(batch[0].ID)
	f.wantAbsent(batch[2].ID)
	wantCard(t, "the card whose id was reused", existing, f.get(existing.ID))
	f.wantNoOutbox(cr.Events, cr.Notifications)

	// An exclusive creation of several cards refused for the open order stores none of them.
	several := []ports.Card{
		card(f.id("card"), u, ports.StateProcessing, at(2)),
		card(f.id("card"), u, ports.StateProcessing, at(2)),
		card(f.id("card"), u, ports.StateProcessing, at(2)),
	}
	cr = ports.Creation{Cards: several, Exclusive: true, Events: []ports.AuditEvent{f.event(several[0], "", several[0].State)}}
	_, err = f.s.Create(f.ctx, cr)
	wantErr(t, "exclusive Create of 3 cards for a user with an open card", err, ports.ErrOpenOrderExists)
	for _, c := range several {
		f.wantAbsent(c.ID)
	}
	f.wantNoOutbox(cr.Events, nil)

	// Several cards in one creation are all stored.
	ok := []ports.Card{
		card(f.id("card"), "", ports.StateProcessing, at(3)),
		card(f.id("card"), "", ports.StateProcessing, at(3)),
		card(f.id("card"), "", ports.StateProcessing, at(3)),
	}
	out := f.create(ok...)
	for i := range ok {
		wantCard(t, "card of a creation of 3", out[i], f.get(ok[i].ID))
	}
	is.Equal(len(f.claim(at(10), 100, 0)), 1+3) // every processing card created is queued
}

func testCardsAreCopies(f *fixture) {
	t := f.t
	u := f.id("user")
	id := f.id("card")
	want := card(id, u, ports.StateRequested, at(0))

	// Changing what was given to Create, or what Create and Card returned, changes nothing stored.
	in := card(id, u, ports.StateRequested, at(0))
	out, err := f.s.Create(f.ctx, ports.Creation{Cards: []ports.Card{in}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	scribble := func(c *ports.Card) {
		if c.Elements != nil {
			c.Elements["FIRST_NAME"] = "Scribbled"
		}
		if len(c.History) > 0 {
			c.History[0].Actor = "scribbled"
		}
		if len(c.Options.ProductionTypes) > 0 {
			c.Options.ProductionTypes[0].LayoutID = "scribbled"
		}
	}
	scribble(&in)
	scribble(&out[0])
	got := f.get(id)
	wantCard(t, "stored card after the caller changed its copies", want, got, ignoreVersion)
	scribble(&got)
	got = f.get(id)
	wantCard(t, "stored card after the caller changed a card read from the store", want, got, ignoreVersion)

	// The same for Update.
	ch := f.change(got, ports.StateProcessing)
	ch.Card.QueuedAt = at(1)
	wantNext := clone(ch.Card)
	up, err := f.s.Update(f.ctx, ch)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	scribble(&ch.Card)
	scribble(&up)
	wantCard(t, "stored card after the caller changed its copies of an update", wantNext, f.get(id), ignoreVersion)

	// And for Claim.
	claimed := f.claim(at(2), 1, 0)
	if len(claimed) != 1 {
		t.Fatalf("Claim returned %d cards, want 1", len(claimed))
	}
	stored := f.get(id)
	scribble(&claimed[0])
	wantCard(t, "stored card after the caller changed a claimed card", stored, f.get(id))
}

func testCardUnknown(f *fixture) {
	_, err := f.s.Card(f.ctx, "no-such-card")
	wantErr(f.t, "Card of an unknown id in an empty store", err, ports.ErrNotFound)
	f.createOne(card(f.id("card"), f.id("user"), ports.StateRequested, at(0)))
	_, err = f.s.Card(f.ctx, "no-such-card")
	wantErr(f.t, "Card of an unknown id", err, ports.ErrNotFound)
}

// allStates are the states a stored card can have.
var allStates = []ports.CardState{
	ports.StateRequested, ports.StateProcessing, ports.StateOrdered, ports.StateInProduction,
	ports.StateProduced, ports.StateFailed, ports.StateAborted, ports.StateRejected,
}

func testExclusiveByState(f *fixture) {
	for _, state := range allStates {
		f.t.Run(string(state), func(t *testing.T) {
			f := newFixture(t, f.newStore)
			u := f.id("user")
			f.createOne(card(f.id("card"), u, state, at(0)))
			// Closed cards of the user do not count either.
			f.createOne(card(f.id("card"), u, ports.StateProduced, at(0)))
			f.createOne(card(f.id("card"), u, ports.StateAborted, at(0)))

			c := card(f.id("card"), u, ports.StateProcessing, at(1))
			cr := ports.Creation{Cards: []ports.Card{c}, Exclusive: true,
				Events: []ports.AuditEvent{f.event(c, "", c.State)}, Notifications: []ports.Notification{f.note(c)}}
			out, err := f.s.Create(f.ctx, cr)
			if state.Open() {
				wantErr(t, fmt.Sprintf("exclusive Create for a user with a %s card", state), err, ports.ErrOpenOrderExists)
				f.wantAbsent(c.ID)
				f.wantNoOutbox(cr.Events, cr.Notifications)
				return
			}
			if err != nil {
				t.Fatalf("exclusive Create for a user whose only cards are %s, produced and aborted: %v", state, err)
			}
			wantCard(t, "exclusive Create result", c, out[0], ignoreVersion)
		})
	}
}

func testExclusiveOtherUser(f *fixture) {
	t := f.t
	other := f.id("user")
	for _, state := range []ports.CardState{ports.StateRequested, ports.StateProcessing, ports.StateOrdered, ports.StateInProduction} {
		f.createOne(card(f.id("card"), other, state, at(0)))
	}
	f.createOne(card(f.id("card"), "", ports.StateProcessing, at(0))) // temporary, no user
	u := f.id("user")
	c := card(f.id("card"), u, ports.StateRequested, at(1))
	if _, err := f.s.Create(f.ctx, ports.Creation{Cards: []ports.Card{c}, Exclusive: true}); err != nil {
		t.Fatalf("exclusive Create for a user without cards while another user has open cards: %v", err)
	}
	f.get(c.ID)
}

func testNonExclusiveWithOpenCards(f *fixture) {
	t := f.t
	u := f.id("user")
	for _, state := range []ports.CardState{ports.StateRequested, ports.StateProcessing, ports.StateOrdered, ports.StateInProduction} {
		c := card(f.id("card"), u, state, at(0))
		if _, err := f.s.Create(f.ctx, ports.Creation{Cards: []ports.Card{c}}); err != nil {
			t.Fatalf("non-exclusive Create of a %s card for a user with open cards: %v", state, err)
		}
	}
	got := f.listAll(ports.CardFilter{UserID: u, Limit: 100}, 10)
	if len(got) != 4 {
		t.Fatalf("the user has %d cards, want 4", len(got))
	}
}

func testExclusiveRace(f *fixture) {
	t, is := f.t, is.New(f.t)
	u := f.id("user")
	creations := make([]ports.Creation, raceN)
	for i := range creations {
		c := card(f.id("card"), u, ports.StateProcessing, at(1))
		creations[i] = ports.Creation{Cards: []ports.Card{c}, Exclusive: true,
			Events: []ports.AuditEvent{f.event(c, "", c.State)}}
	}
	errs := make([]error, raceN)
	start := make(chan struct{})
	var g errgroup.Group
	for i := range creations {
		g.Go(func() error {
			<-start
			_, errs[i] = f.s.Create(f.ctx, creations[i])
			return nil
		})
	}
	close(start)
	_ = g.Wait()

	var won []string
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, creations[i].Cards[0].ID)
		case !errors.Is(err, ports.ErrOpenOrderExists):
			t.Fatalf("racing exclusive Create: got error %v, want nil or errors.Is(err, ports.ErrOpenOrderExists)", err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d racing exclusive creations for one user succeeded, want exactly 1: %v", len(won), won)
	}
	cards := f.listAll(ports.CardFilter{UserID: u, Limit: 100}, raceN)
	is.Equal(ids(cards), won) // the user has exactly the winner's card
	var evs []string
	for _, e := range f.pendingEvents() {
		evs = append(evs, e.CardID)
	}
	is.Equal(evs, won) // only the winner's event is in the outbox
}

func testMixedExclusiveRace(f *fixture) {
	t := f.t
	u := f.id("user")
	type attempt struct {
		cr         ports.Creation
		start, end int64
		err        error
	}
	attempts := make([]attempt, raceN)
	for i := range attempts {
		c := card(f.id("card"), u, ports.StateProcessing, at(1))
		attempts[i].cr = ports.Creation{Cards: []ports.Card{c}, Exclusive: i%2 == 0}
	}
	// clock orders the calls as the test saw them: a call whose end is before another's start
	// happened before it, whatever the store did inside.
	var clock atomic.Int64
	start := make(chan struct{})
	var g errgroup.Group
	for i := range attempts {
		a := &attempts[i]
		g.Go(func() error {
			<-start
			a.start = clock.Add(1)
			_, a.err = f.s.Create(f.ctx, a.cr)
			a.end = clock.Add(1)
			return nil
		})
	}
	close(start)
	_ = g.Wait()

	var exclusiveWins, successes []*attempt
	for i := range attempts {
		a := &attempts[i]
		switch {
		case a.err == nil:
			successes = append(successes, a)
			if a.cr.Exclusive {
				exclusiveWins = append(exclusiveWins, a)
			}
		case !a.cr.Exclusive:
			t.Fatalf("racing non-exclusive Create failed: %v; it must always succeed", a.err)
		case !errors.Is(a.err, ports.ErrOpenOrderExists):
			t.Fatalf("racing exclusive Create: got error %v, want nil or errors.Is(err, ports.ErrOpenOrderExists)", a.err)
		}
	}
	if len(exclusiveWins) > 1 {
		t.Fatalf("%d exclusive creations for one user succeeded, want at most 1", len(exclusiveWins))
	}
	for _, e := range exclusiveWins {
		for _, s := range successes {
			if s != e && s.end < e.start {
				t.Fatalf("exclusive creation of %s succeeded although %s of the same user, open, was created before it began",
					e.cr.Cards[0].ID, s.cr.Cards[0].ID)
			}
		}
	}
	for i := range attempts {
		a := &attempts[i]
		if a.err == nil {
			continue
		}
		// A refusal needs an open card that existed during the call.
		if !slices.ContainsFunc(successes, func(s *attempt) bool { return s.start < a.end }) {
			t.Fatalf("exclusive creation of %s was refused although no card of the user was created before it ended", a.cr.Cards[0].ID)
		}
	}
	cards := f.listAll(ports.CardFilter{UserID: u, Limit: 100}, raceN)
	if len(cards) != len(successes) {
		t.Fatalf("the user has %d cards after %d successful creations", len(cards), len(successes))
	}
	t.Logf("%d creations succeeded, %d of them exclusive", len(successes), len(exclusiveWins))
}

func testUpdateCompareAndSet(f *fixture) {
	t, is := f.t, is.New(f.t)
	c := f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(0)))

	ch := f.change(c, ports.StateOrdered)
	ch.Card.ProviderOrderID = "O-1"
	ch.Card.DispatchTries = 1
	ch.Notifications = []ports.Notification{f.note(c)}
	c2, err := f.s.Update(f.ctx, ch)
	is.NoErr(err) // Update naming the stored version
	wantCard(t, "Update result", ch.Card, c2, ignoreVersion)
	is.True(c2.Version != c.Version) // Update sets a new Version
	wantCard(t, "Card after Update", c2, f.get(c.ID))

	// Back to the first content: the version must still be new, or an update derived from the
	// first read would wrongly succeed (ABA).
	back := clone(c)
	back.Version = c2.Version
	c3, err := f.s.Update(f.ctx, ports.Change{Card: back, Event: f.event(c2, c2.State, c.State)})
	is.NoErr(err)                                                // Update back to the first content
	is.True(c3.Version != c.Version && c3.Version != c2.Version) // versions never repeat
	_, err = f.s.Update(f.ctx, f.change(c, ports.StateAborted))
	wantErr(t, "Update from the first version after two updates (content equal to the first)", err, ports.ErrConflict)
	wantCard(t, "Card after the refused update", c3, f.get(c.ID))
}

func testUpdateStaleVersion(f *fixture) {
	t := f.t
	c := f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(0)))
	c2 := f.update(c, ports.StateOrdered, nil)

	for _, tc := range []struct {
		name    string
		version int64
	}{
		{"the version before the last update", c.Version},
		{"a version never stored", c2.Version + 1000},
	} {
		from := clone(c2)
		from.Version = tc.version
		ch := f.change(from, ports.StateAborted)
		ch.Notifications = []ports.Notification{f.note(c)}
		_, err := f.s.Update(f.ctx, ch)
		wantErr(t, "Update naming "+tc.name, err, ports.ErrConflict)
		wantCard(t, "Card after a refused update", c2, f.get(c.ID))
		f.wantNoOutbox([]ports.AuditEvent{ch.Event}, ch.Notifications)
	}
}

func testUpdateUnknownCard(f *fixture) {
	t := f.t
	f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(0)))
	ghost := card(f.id("card"), f.id("user"), ports.StateProcessing, at(0))
	ghost.Version = 1
	ch := f.change(ghost, ports.StateAborted)
	ch.Notifications = []ports.Notification{f.note(ghost)}
	_, err := f.s.Update(f.ctx, ch)
	wantErr(t, "Update of an unknown card", err, ports.ErrNotFound)
	f.wantAbsent(ghost.ID)
	f.wantNoOutbox([]ports.AuditEvent{ch.Event}, ch.Notifications)
}

func testUpdateExclusive(f *fixture) {
	t := f.t
	u := f.id("user")
	failed := f.createOne(card(f.id("card"), u, ports.StateFailed, at(0)))
	f.createOne(card(f.id("card"), u, ports.StateProduced, at(0)))
	f.createOne(card(f.id("card"), u, ports.StateAborted, at(0)))
	f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(0))) // another user's open card
	open := f.createOne(card(f.id("card"), u, ports.StateOrdered, at(0)))

	// Repeat of the failed card while the user has another open card: refused.
	repeat := func(c ports.Card) ports.Change {
		ch := f.change(c, ports.StateProcessing)
		ch.Card.Attempt++
		ch.Card.QueuedAt = at(1)
		ch.Card.FailureReason = ""
		ch.Exclusive = true
		ch.Notifications = []ports.Notification{f.note(c)}
		return ch
	}
	ch := repeat(failed)
	_, err := f.s.Update(f.ctx, ch)
	wantErr(t, "exclusive Update (repeat) while the user has an ordered card", err, ports.ErrOpenOrderExists)
	wantCard(t, "the failed card after a refused repeat", failed, f.get(failed.ID))
	f.wantNoOutbox([]ports.AuditEvent{ch.Event}, ch.Notifications)

	// Once the other card is closed, the repeat succeeds.
	f.update(open, ports.StateProduced, nil)
	ch = repeat(failed)
	repeated, err := f.s.Update(f.ctx, ch)
	if err != nil {
		t.Fatalf("exclusive Update (repeat) when the user's other cards are closed: %v", err)
	}
	wantCard(t, "repeated card", ch.Card, repeated, ignoreVersion)

	// The card being changed does not count against itself.
	if _, err := f.s.Update(f.ctx, ports.Change{Card: next(repeated, ports.StateOrdered, at(2)),
		Exclusive: true, Event: f.event(repeated, repeated.State, ports.StateOrdered)}); err != nil {
		t.Fatalf("exclusive Update of the user's only open card: %v", err)
	}

	// Now that card is open, a repeat of another failed card of the user is refused.
	failed2 := f.createOne(card(f.id("card"), u, ports.StateFailed, at(3)))
	_, err = f.s.Update(f.ctx, repeat(failed2))
	wantErr(t, "exclusive Update (repeat) after the user's earlier repeat made a card open", err, ports.ErrOpenOrderExists)
}

func testUpdateRace(f *fixture) {
	t := f.t
	const n = 200
	c := f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(0)))
	changes := make([]ports.Change, n)
	for i := range changes {
		changes[i] = f.change(c, ports.StateFailed)
		changes[i].Card.FailureReason = fmt.Sprintf("writer %d", i)
		changes[i].Notifications = []ports.Notification{f.note(c)}
	}
	results := make([]ports.Card, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var g errgroup.Group
	for i := range changes {
		g.Go(func() error {
			<-start
			results[i], errs[i] = f.s.Update(f.ctx, changes[i])
			return nil
		})
	}
	close(start)
	_ = g.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("two updates from the same version succeeded: writers %d and %d", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, ports.ErrConflict):
			t.Fatalf("racing Update: got error %v, want nil or errors.Is(err, ports.ErrConflict)", err)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d updates from the stored version succeeded", n)
	}
	wantCard(t, "stored card after the race", results[winner], f.get(c.ID))
	wantCard(t, "winner's result", changes[winner].Card, results[winner], ignoreVersion)

	var wantEvents []ports.AuditEvent
	for _, e := range f.pendingEvents() {
		if e.CardID == c.ID && e.To == ports.StateFailed {
			wantEvents = append(wantEvents, e)
		}
	}
	if d := cmp.Diff([]ports.AuditEvent{changes[winner].Event}, wantEvents, equateEmpty); d != "" {
		t.Fatalf("outbox events after the race (-want +got):\n%s", d)
	}
	if d := cmp.Diff(changes[winner].Notifications, f.pendingNotifications(), equateEmpty); d != "" {
		t.Fatalf("outbox notifications after the race (-want +got):\n%s", d)
	}
}

func testUpdateWritesOutbox(f *fixture) {
	t := f.t
	c := f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(0)))
	wantE := slices.Clone(f.pendingEvents()) // the creation's event
	var wantN []ports.Notification
	current, stale := c, c
	states := []ports.CardState{ports.StateOrdered, ports.StateInProduction, ports.StateProduced}
	for i := range 12 {
		from := current
		if i%3 == 2 {
			from = stale // every third update names an old version and must leave no trace
		}
		ch := f.change(from, states[i%len(states)])
		ch.Card.DispatchTries = i
		for range i % 3 {
			ch.Notifications = append(ch.Notifications, f.note(c))
		}
		got, err := f.s.Update(f.ctx, ch)
		if i%3 == 2 {
			wantErr(t, fmt.Sprintf("update %d from a stale version", i), err, ports.ErrConflict)
			continue
		}
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		stale, current = current, got
		wantE = append(wantE, ch.Event)
		wantN = append(wantN, ch.Notifications...)
	}
	if d := cmp.Diff(wantE, f.pendingEvents(), equateEmpty); d != "" {
		t.Fatalf("pending events are not exactly those of the successful writes, oldest first (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantN, f.pendingNotifications(), equateEmpty); d != "" {
		t.Fatalf("pending notifications are not exactly those of the successful writes, oldest first (-want +got):\n%s", d)
	}
}
