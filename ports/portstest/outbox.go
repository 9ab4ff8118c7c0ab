package portstest

import (
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cardsaddon/extprod/ports"
)

var outboxTests = []storeTest{
	{"Empty", testOutboxEmpty},
	{"EventsOldestFirst", testEventsOldestFirst},
	{"EventsDelivered", testEventsDelivered},
	{"NotificationsDue", testNotificationsDue},
	{"NotificationFailed", testNotificationFailed},
	{"NotificationSent", testNotificationSent},
	{"StableIDs", testStableIDs},
}

func testOutboxEmpty(f *fixture) {
	if evs := f.pendingEvents(); len(evs) != 0 {
		f.t.Fatalf("PendingEvents of an empty store returned %d events", len(evs))
	}
	if ns := f.pendingNotifications(farFuture); len(ns) != 0 {
		f.t.Fatalf("PendingNotifications of an empty store returned %d notifications", len(ns))
	}
}

// sevenEvents writes seven events: three creations of one card, two updates and one creation of
// two cards with an event each. It returns them in the order written.
func (f *fixture) sevenEvents() []ports.AuditEvent {
	f.t.Helper()
	var want []ports.AuditEvent
	var cards []ports.Card
	for range 3 {
		c := card(f.id("card"), f.id("user"), ports.StateProcessing, at(0))
		ev := f.event(c, "", c.State)
		out, err := f.s.Create(f.ctx, ports.Creation{Cards: []ports.Card{c}, Events: []ports.AuditEvent{ev}})
		if err != nil {
			f.t.Fatalf("Create: %v", err)
		}
		cards = append(cards, out[0])
		want = append(want, ev)
	}
	for _, c := range cards[:2] {
		ch := f.change(c, ports.StateOrdered)
		if _, err := f.s.Update(f.ctx, ch); err != nil {
			f.t.Fatalf("Update: %v", err)
		}
		want = append(want, ch.Event)
	}
	a := card(f.id("card"), "", ports.StateProcessing, at(1))
	b := card(f.id("card"), "", ports.StateProcessing, at(1))
	evs := []ports.AuditEvent{f.event(a, "", a.State), f.event(b, "", b.State)}
	if _, err := f.s.Create(f.ctx, ports.Creation{Cards: []ports.Card{a, b}, Events: evs}); err != nil {
		f.t.Fatalf("Create: %v", err)
	}
	return append(want, evs...)
}

func testEventsOldestFirst(f *fixture) {
	want := f.sevenEvents()
	if d := cmp.Diff(want, f.pendingEvents(), equateEmpty); d != "" {
		f.t.Fatalf("PendingEvents: every event, oldest first (-want +got):\n%s", d)
	}
	got, err := f.s.PendingEvents(f.ctx, 3)
	if err != nil {
		f.t.Fatalf("PendingEvents(3): %v", err)
	}
	if d := cmp.Diff(want[:3], got, equateEmpty); d != "" {
		f.t.Fatalf("PendingEvents(3): the three oldest (-want +got):\n%s", d)
	}
}

func testEventsDelivered(f *fixture) {
	t := f.t
	all := f.sevenEvents()
	deliver := func(ids ...string) {
		t.Helper()
		if err := f.s.EventsDelivered(f.ctx, ids); err != nil {
			t.Fatalf("EventsDelivered(%v): %v", ids, err)
		}
	}
	deliver(all[1].ID, all[3].ID, "no-such-event")
	want := []ports.AuditEvent{all[0], all[2], all[4], all[5], all[6]}
	if d := cmp.Diff(want, f.pendingEvents(), equateEmpty); d != "" {
		t.Fatalf("PendingEvents after two were delivered (-want +got):\n%s", d)
	}
	deliver(all[1].ID) // again: at-least-once delivery reports twice
	deliver()
	if d := cmp.Diff(want, f.pendingEvents(), equateEmpty); d != "" {
		t.Fatalf("PendingEvents after a repeated delivery (-want +got):\n%s", d)
	}
	deliver(eventIDs(all)...)
	if evs := f.pendingEvents(); len(evs) != 0 {
		t.Fatalf("PendingEvents after every event was delivered returned %v", eventIDs(evs))
	}
}

// fourNotifications writes a card with four notifications: the first and third due at once, the
// second an hour after now, the fourth exactly at now. (Oldest first then means the same whether
// a store orders due notifications by when they were written or by when they became due.)
func (f *fixture) fourNotifications(now time.Time) []ports.Notification {
	f.t.Helper()
	c := card(f.id("card"), f.id("user"), ports.StateProcessing, at(0))
	ns := []ports.Notification{f.note(c), f.notification(c, now.Add(time.Hour)), f.note(c), f.notification(c, now)}
	ns[1].Kind = ports.NotifyApprovalNeeded
	ns[1].To = ports.Recipient{Approvers: true}
	ns[3].Kind = ports.NotifyOrderRejected
	ns[3].Reason = "not entitled"
	if _, err := f.s.Create(f.ctx, ports.Creation{Cards: []ports.Card{c}, Notifications: ns}); err != nil {
		f.t.Fatalf("Create: %v", err)
	}
	return ns
}

func testNotificationsDue(f *fixture) {
	t := f.t
	now := at(10)
	ns := f.fourNotifications(now)
	if d := cmp.Diff([]ports.Notification{ns[0], ns[2], ns[3]}, f.pendingNotifications(now), equateEmpty); d != "" {
		t.Fatalf("PendingNotifications: the due ones, oldest first (-want +got):\n%s", d)
	}
	got, err := f.s.PendingNotifications(f.ctx, now, 2)
	if err != nil {
		t.Fatalf("PendingNotifications(2): %v", err)
	}
	if d := cmp.Diff([]ports.Notification{ns[0], ns[2]}, got, equateEmpty); d != "" {
		t.Fatalf("PendingNotifications(2): the two oldest due ones (-want +got):\n%s", d)
	}
	if d := cmp.Diff(ns, byID(f.pendingNotifications(now.Add(time.Hour))), equateEmpty); d != "" {
		t.Fatalf("PendingNotifications an hour later: all (-want +got):\n%s", d)
	}
}

// pendingByID returns the notification with id among those due at now.
func (f *fixture) pendingByID(now time.Time, id string) (ports.Notification, bool) {
	f.t.Helper()
	ns := f.pendingNotifications(now)
	i := slices.IndexFunc(ns, func(n ports.Notification) bool { return n.ID == id })
	if i < 0 {
		return ports.Notification{}, false
	}
	return ns[i], true
}

func testNotificationFailed(f *fixture) {
	t := f.t
	now := at(10)
	ns := f.fourNotifications(now)
	retry := now.Add(10 * time.Minute)
	if err := f.s.NotificationFailed(f.ctx, ns[0].ID, "smtp: 451 try later", retry); err != nil {
		t.Fatalf("NotificationFailed: %v", err)
	}
	if _, ok := f.pendingByID(now, ns[0].ID); ok {
		t.Fatal("a failed notification is due again before its retry time")
	}
	if _, ok := f.pendingByID(retry.Add(-time.Second), ns[0].ID); ok {
		t.Fatal("a failed notification is due a second before its retry time")
	}
	want := ns[0]
	want.Tries, want.LastError, want.NotBefore = 1, "smtp: 451 try later", retry
	got, ok := f.pendingByID(retry, ns[0].ID)
	if !ok {
		t.Fatal("a failed notification is not due at its retry time")
	}
	if d := cmp.Diff(want, got, equateEmpty); d != "" {
		t.Fatalf("failed notification (-want +got):\n%s", d)
	}

	retry2 := retry.Add(20 * time.Minute)
	if err := f.s.NotificationFailed(f.ctx, ns[0].ID, "smtp: 550 mailbox unavailable", retry2); err != nil {
		t.Fatalf("NotificationFailed: %v", err)
	}
	want.Tries, want.LastError, want.NotBefore = 2, "smtp: 550 mailbox unavailable", retry2
	if _, ok := f.pendingByID(retry, ns[0].ID); ok {
		t.Fatal("a notification failed twice is due at its first retry time")
	}
	got, ok = f.pendingByID(retry2, ns[0].ID)
	if !ok {
		t.Fatal("a notification failed twice is not due at its second retry time")
	}
	if d := cmp.Diff(want, got, equateEmpty); d != "" {
		t.Fatalf("notification failed twice (-want +got):\n%s", d)
	}
	// The others are untouched.
	for _, n := range ns[1:] {
		got, ok := f.pendingByID(farFuture, n.ID)
		if !ok {
			t.Fatalf("notification %s vanished when another one failed", n.ID)
		}
		if d := cmp.Diff(n, got, equateEmpty); d != "" {
			t.Fatalf("notification %s changed when another one failed (-want +got):\n%s", n.ID, d)
		}
	}
}

func testNotificationSent(f *fixture) {
	t := f.t
	now := at(10)
	ns := f.fourNotifications(now)
	if err := f.s.NotificationSent(f.ctx, ns[0].ID); err != nil {
		t.Fatalf("NotificationSent: %v", err)
	}
	if err := f.s.NotificationFailed(f.ctx, ns[2].ID, "timeout", now.Add(time.Minute)); err != nil {
		t.Fatalf("NotificationFailed: %v", err)
	}
	if err := f.s.NotificationSent(f.ctx, ns[2].ID); err != nil { // a failed one sent on retry
		t.Fatalf("NotificationSent of a notification that failed before: %v", err)
	}
	// A second report of the same delivery (at least once) may or may not be an error, but
	// must not bring the notification back.
	_ = f.s.NotificationSent(f.ctx, ns[0].ID)
	if d := cmp.Diff([]ports.Notification{ns[1], ns[3]}, byID(f.pendingNotifications(farFuture)), equateEmpty); d != "" {
		t.Fatalf("PendingNotifications after two were sent (-want +got):\n%s", d)
	}
}

func testStableIDs(f *fixture) {
	t := f.t
	now := at(10)
	f.sevenEvents()
	f.fourNotifications(now)
	e1, e2 := f.pendingEvents(), f.pendingEvents()
	if d := cmp.Diff(e1, e2, equateEmpty); d != "" {
		t.Fatalf("two reads of the pending events differ (-first +second):\n%s", d)
	}
	n1, n2 := f.pendingNotifications(farFuture), f.pendingNotifications(farFuture)
	if d := cmp.Diff(n1, n2, equateEmpty); d != "" {
		t.Fatalf("two reads of the pending notifications differ (-first +second):\n%s", d)
	}
	// A failure keeps the id.
	if err := f.s.NotificationFailed(f.ctx, n1[1].ID, "timeout", now); err != nil {
		t.Fatalf("NotificationFailed: %v", err)
	}
	n3 := f.pendingNotifications(farFuture)
	a, b := notificationIDs(n1), notificationIDs(n3)
	slices.Sort(a)
	slices.Sort(b)
	if d := cmp.Diff(a, b); d != "" {
		t.Fatalf("notification ids changed after a failure (-before +after):\n%s", d)
	}
}

// byID sorts notifications by id (the suite's ids sort as they were made), for comparisons that
// do not depend on how a store orders notifications that became due at different times.
func byID(ns []ports.Notification) []ports.Notification {
	ns = slices.Clone(ns)
	slices.SortFunc(ns, func(a, b ports.Notification) int { return strings.Compare(a.ID, b.ID) })
	return ns
}
