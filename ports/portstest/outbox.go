package portstest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/ports"
)

var outboxTests = []storeTest{
	{"Empty", testOutboxEmpty},
	{"EventsOldestFirst", testEventsOldestFirst},
	{"EventLease", testEventLease},
	{"EventsDelivered", testEventsDelivered},
	{"AddEvents", testAddEvents},
	{"NotificationsDue", testNotificationsDue},
	{"NotificationLease", testNotificationLease},
	{"NotificationFailed", testNotificationFailed},
	{"NotificationSent", testNotificationSent},
	{"ClaimRace", testOutboxClaimRace},
	{"PurgeDelivered", testPurgeDelivered},
	{"Stats", testOutboxStats},
}

// claimEvents claims and fails the test on an error.
func (f *fixture) claimEvents(now time.Time, max int, lease time.Duration) []ports.AuditEvent {
	f.t.Helper()
	evs, err := f.s.ClaimEvents(f.ctx, now, max, lease)
	if err != nil {
		f.t.Fatalf("ClaimEvents(%v, %d, %v): %v", now, max, lease, err)
	}
	return evs
}

// claimNotes claims and fails the test on an error.
func (f *fixture) claimNotes(now time.Time, max int, lease time.Duration) []ports.Notification {
	f.t.Helper()
	ns, err := f.s.ClaimNotifications(f.ctx, now, max, lease)
	if err != nil {
		f.t.Fatalf("ClaimNotifications(%v, %d, %v): %v", now, max, lease, err)
	}
	return ns
}

// stats reads the outbox stats and fails the test on an error.
func (f *fixture) stats(now time.Time) ports.OutboxStats {
	f.t.Helper()
	st, err := f.s.OutboxStats(f.ctx, now)
	if err != nil {
		f.t.Fatalf("OutboxStats: %v", err)
	}
	return st
}

func (f *fixture) delivered(at time.Time, ids ...string) {
	f.t.Helper()
	if err := f.s.EventsDelivered(f.ctx, ids, at); err != nil {
		f.t.Fatalf("EventsDelivered(%v): %v", ids, err)
	}
}

func (f *fixture) sent(at time.Time, id string) {
	f.t.Helper()
	if err := f.s.NotificationSent(f.ctx, id, at); err != nil {
		f.t.Fatalf("NotificationSent(%s): %v", id, err)
	}
}

// tried returns ns with Tries set to n, as a claim returns them.
func tried(n int, ns ...ports.Notification) []ports.Notification {
	out := slices.Clone(ns)
	for i := range out {
		out[i].Tries = n
	}
	return out
}

func testOutboxEmpty(f *fixture) {
	if evs := f.claimEvents(farFuture, manyMax, time.Minute); len(evs) != 0 {
		f.t.Fatalf("ClaimEvents of an empty store returned %d events, want none", len(evs))
	}
	if ns := f.claimNotes(farFuture, manyMax, time.Minute); len(ns) != 0 {
		f.t.Fatalf("ClaimNotifications of an empty store returned %d notifications, want none", len(ns))
	}
	if st := f.stats(farFuture); st != (ports.OutboxStats{}) {
		f.t.Fatalf("OutboxStats of an empty store = %+v, want zero", st)
	}
	if n, err := f.s.PurgeDelivered(f.ctx, farFuture, manyMax); err != nil || n != 0 {
		f.t.Fatalf("PurgeDelivered of an empty store = %d, %v; want 0, nil", n, err)
	}
}

// sevenEvents writes seven events: three creations of one card, two updates and one creation of
// two cards with an event each. It returns them in the order written (and of their At).
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
	t := f.t
	want := f.sevenEvents()
	// An event added later but stamped earlier comes first: oldest At first.
	early := ports.AuditEvent{ID: f.id("event"), Kind: ports.AuditRefused, Actor: "operator-1", Code: "forbidden", Outcome: "failure", At: base}
	if err := f.s.AddEvents(f.ctx, []ports.AuditEvent{early}); err != nil {
		t.Fatalf("AddEvents: %v", err)
	}
	want = append([]ports.AuditEvent{early}, want...)
	now := at(10)
	if d := cmp.Diff(want[:3], f.claimEvents(now, 3, time.Minute), equateEmpty); d != "" {
		t.Fatalf("ClaimEvents(max 3): the three oldest (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want[3:], f.claimEvents(now, manyMax, time.Minute), equateEmpty); d != "" {
		t.Fatalf("ClaimEvents after three were claimed: the others, oldest first, not the leased ones (-want +got):\n%s", d)
	}
	if evs := f.claimEvents(now, manyMax, time.Minute); len(evs) != 0 {
		t.Fatalf("ClaimEvents while every event is leased returned %v, want none", eventIDs(evs))
	}
}

func testEventLease(f *fixture) {
	t := f.t
	want := f.sevenEvents()
	now, lease := at(10), 10*time.Minute
	if d := cmp.Diff(want, f.claimEvents(now, manyMax, lease), equateEmpty); d != "" {
		t.Fatalf("ClaimEvents (-want +got):\n%s", d)
	}
	// The relay that claimed them dies: nothing is claimable until the lease ends, then all is.
	if evs := f.claimEvents(now.Add(lease-time.Second), manyMax, lease); len(evs) != 0 {
		t.Fatalf("ClaimEvents a second before the lease ends returned %v, want none", eventIDs(evs))
	}
	if d := cmp.Diff(want, f.claimEvents(now.Add(lease), manyMax, lease), equateEmpty); d != "" {
		t.Fatalf("ClaimEvents when the lease ended: every event again, unchanged (-want +got):\n%s", d)
	}
}

func testEventsDelivered(f *fixture) {
	t := f.t
	all := f.sevenEvents()
	now, lease := at(10), time.Minute
	f.claimEvents(now, manyMax, lease)
	f.delivered(now, all[1].ID, all[3].ID, "no-such-event")
	want := []ports.AuditEvent{all[0], all[2], all[4], all[5], all[6]}
	now = now.Add(lease)
	if d := cmp.Diff(want, f.claimEvents(now, manyMax, lease), equateEmpty); d != "" {
		t.Fatalf("ClaimEvents after two were delivered and the lease ended (-want +got):\n%s", d)
	}
	f.delivered(now, all[1].ID) // again: at-least-once delivery reports twice
	f.delivered(now)
	now = now.Add(lease)
	if d := cmp.Diff(want, f.claimEvents(now, manyMax, lease), equateEmpty); d != "" {
		t.Fatalf("ClaimEvents after a repeated delivery report (-want +got):\n%s", d)
	}
	f.delivered(now, eventIDs(all)...)
	if evs := f.claimEvents(farFuture, manyMax, lease); len(evs) != 0 {
		t.Fatalf("ClaimEvents after every event was delivered returned %v, want none ever again", eventIDs(evs))
	}
}

func testAddEvents(f *fixture) {
	t := f.t
	evs := []ports.AuditEvent{
		{ID: f.id("event"), Kind: ports.AuditRefused, UserID: "user-1", Actor: "operator-1", Code: "forbidden",
			Outcome: "failure", Reason: "ordering cards needs the operator role", At: f.tick(), Instance: "host-a",
			RequestID: "req-1", ClientAddress: "192.0.2.7", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		{ID: f.id("event"), Kind: ports.AuditScriptInstalled, Actor: "admin-1", Outcome: "success", Reason: "sha256:abc", At: f.tick()},
	}
	if err := f.s.AddEvents(f.ctx, evs); err != nil {
		t.Fatalf("AddEvents: %v", err)
	}
	if err := f.s.AddEvents(f.ctx, nil); err != nil {
		t.Fatalf("AddEvents(nil): %v", err)
	}
	if d := cmp.Diff(evs, f.pendingEvents(), equateEmpty); d != "" {
		t.Fatalf("added events, every field kept (-want +got):\n%s", d)
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
	now, lease := at(10), time.Minute
	ns := f.fourNotifications(now)
	if d := cmp.Diff(tried(1, ns[0], ns[2]), f.claimNotes(now, 2, lease), equateEmpty); d != "" {
		t.Fatalf("ClaimNotifications(max 2): the two oldest due ones, Tries 1 (-want +got):\n%s", d)
	}
	if d := cmp.Diff(tried(1, ns[3]), f.claimNotes(now, manyMax, lease), equateEmpty); d != "" {
		t.Fatalf("ClaimNotifications: the due one not leased; not the one due in an hour (-want +got):\n%s", d)
	}
	later := now.Add(time.Hour)
	want := append(tried(2, ns[0]), tried(1, ns[1])...)
	want = append(want, tried(2, ns[2], ns[3])...)
	if d := cmp.Diff(want, byID(f.claimNotes(later, manyMax, lease)), equateEmpty); d != "" {
		t.Fatalf("ClaimNotifications an hour later: all, Tries counting the claims (-want +got):\n%s", d)
	}
}

func testNotificationLease(f *fixture) {
	t := f.t
	now, lease := at(10), 10*time.Minute
	ns := f.fourNotifications(now)
	f.claimNotes(now, manyMax, lease)
	if got := f.claimNotes(now.Add(lease-time.Second), manyMax, lease); len(got) != 0 {
		t.Fatalf("ClaimNotifications a second before the lease ends returned %v, want none", notificationIDs(got))
	}
	want := tried(2, ns[0], ns[2], ns[3])
	if d := cmp.Diff(want, f.claimNotes(now.Add(lease), manyMax, lease), equateEmpty); d != "" {
		t.Fatalf("ClaimNotifications when the lease ended: the same ones again (-want +got):\n%s", d)
	}
}

func testNotificationFailed(f *fixture) {
	t := f.t
	now, lease := at(10), time.Hour
	ns := f.fourNotifications(now)
	f.claimNotes(now, manyMax, lease)
	retry := now.Add(10 * time.Minute)
	if err := f.s.NotificationFailed(f.ctx, ns[0].ID, "smtp: 451 try later", retry); err != nil {
		t.Fatalf("NotificationFailed: %v", err)
	}
	if got := f.claimNotes(retry.Add(-time.Second), manyMax, lease); len(got) != 0 {
		t.Fatalf("ClaimNotifications a second before the retry time returned %v, want none", notificationIDs(got))
	}
	// The failure released the lease: it is due at its retry time although the lease ran longer.
	want := ns[0]
	want.Tries, want.LastError, want.NotBefore = 2, "smtp: 451 try later", retry
	if d := cmp.Diff([]ports.Notification{want}, f.claimNotes(retry, manyMax, lease), equateEmpty); d != "" {
		t.Fatalf("ClaimNotifications at the retry time: the failed one, with its error (-want +got):\n%s", d)
	}
	retry2 := retry.Add(20 * time.Minute)
	if err := f.s.NotificationFailed(f.ctx, ns[0].ID, "smtp: 550 mailbox unavailable", retry2); err != nil {
		t.Fatalf("NotificationFailed: %v", err)
	}
	want.Tries, want.LastError, want.NotBefore = 3, "smtp: 550 mailbox unavailable", retry2
	if d := cmp.Diff([]ports.Notification{want}, f.claimNotes(retry2, manyMax, lease), equateEmpty); d != "" {
		t.Fatalf("ClaimNotifications at the second retry time (-want +got):\n%s", d)
	}
	// The others are untouched (Tries aside, which the suite's reading counts).
	if d := cmp.Diff(ns[1:], byID(f.pendingNotifications())[1:], equateEmpty); d != "" {
		t.Fatalf("the other notifications changed when one failed (-want +got):\n%s", d)
	}
}

func testNotificationSent(f *fixture) {
	t := f.t
	now := at(10)
	ns := f.fourNotifications(now)
	f.claimNotes(now, manyMax, time.Minute)
	f.sent(now, ns[0].ID)
	if err := f.s.NotificationFailed(f.ctx, ns[2].ID, "timeout", now.Add(time.Minute)); err != nil {
		t.Fatalf("NotificationFailed: %v", err)
	}
	f.sent(now.Add(time.Minute), ns[2].ID) // a failed one sent on retry
	// A second report of the same delivery (at least once) may or may not be an error, but
	// must not bring the notification back.
	_ = f.s.NotificationSent(f.ctx, ns[0].ID, now.Add(time.Minute))
	if d := cmp.Diff([]ports.Notification{ns[1], ns[3]}, byID(f.pendingNotifications()), equateEmpty); d != "" {
		t.Fatalf("unsent notifications after two were sent: never claimed again (-want +got):\n%s", d)
	}
}

// testOutboxClaimRace: claimers racing for events and notifications never get the same entry
// while its lease runs. All claimers start behind a barrier and each holds its first claim until
// every claimer has made one, so the claims really overlap; then they claim small batches until
// the outbox is empty, interleaving.
func testOutboxClaimRace(f *fixture) {
	t := f.t
	const n, claimers, batch = 1200, 12, 7
	c := card(f.id("card"), f.id("user"), ports.StateProcessing, at(0))
	cr := ports.Creation{Cards: []ports.Card{c}}
	for range n {
		cr.Events = append(cr.Events, f.event(c, "", c.State))
		cr.Notifications = append(cr.Notifications, f.note(c))
	}
	if _, err := f.s.Create(f.ctx, cr); err != nil {
		t.Fatalf("Create: %v", err)
	}
	now := at(10)
	for _, kind := range []struct {
		name  string
		claim func() ([]string, error)
	}{
		{"events", func() ([]string, error) {
			evs, err := f.s.ClaimEvents(f.ctx, now, batch, time.Hour)
			return eventIDs(evs), err
		}},
		{"notifications", func() ([]string, error) {
			ns, err := f.s.ClaimNotifications(f.ctx, now, batch, time.Hour)
			return notificationIDs(ns), err
		}},
	} {
		got := make([][]string, claimers)
		firsts := make([]int, claimers)
		start := make(chan struct{})
		var holding sync.WaitGroup
		holding.Add(claimers)
		allHolding := make(chan struct{})
		go func() { holding.Wait(); close(allHolding) }()
		var g errgroup.Group
		for i := range claimers {
			g.Go(func() error {
				done := sync.OnceFunc(holding.Done)
				defer done()
				<-start
				for first := true; ; first = false {
					ids, err := kind.claim()
					if err != nil {
						return fmt.Errorf("claim %s: %w", kind.name, err)
					}
					got[i] = append(got[i], ids...)
					if first {
						firsts[i] = len(ids)
						done()
						<-allHolding // every claimer holds its first claim now
					}
					if len(ids) == 0 {
						return nil
					}
				}
			})
		}
		close(start)
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		for i, k := range firsts {
			if k != batch {
				t.Fatalf("%s: claimer %d's first claim got %d entries while %d were free, want %d", kind.name, i, k, n, batch)
			}
		}
		count := map[string]int{}
		for _, ids := range got {
			for _, id := range ids {
				count[id]++
			}
		}
		for id, k := range count {
			if k != 1 {
				t.Fatalf("%s: %s was claimed %d times by racing claimers within its lease, want exactly once", kind.name, id, k)
			}
		}
		if len(count) != n {
			t.Fatalf("%s: the claimers got %d distinct entries, want all %d", kind.name, len(count), n)
		}
	}
}

func testPurgeDelivered(f *fixture) {
	t := f.t
	evs := f.sevenEvents()
	ns := f.fourNotifications(at(1))
	f.claimEvents(at(1), manyMax, time.Minute)
	f.claimNotes(at(1), manyMax, time.Minute)
	f.delivered(at(10), evs[0].ID, evs[1].ID, evs[2].ID)
	f.sent(at(10), ns[0].ID)
	f.delivered(at(20), evs[3].ID, evs[4].ID)
	f.sent(at(30), ns[2].ID)
	purge := func(before time.Time, max, want int) {
		t.Helper()
		n, err := f.s.PurgeDelivered(f.ctx, before, max)
		if err != nil {
			t.Fatalf("PurgeDelivered(%v, %d): %v", before, max, err)
		}
		if n != want {
			t.Fatalf("PurgeDelivered(%v, %d) removed %d, want %d", before, max, n, want)
		}
	}
	purge(at(10), manyMax, 0) // delivered at at(10) is not before at(10)
	purge(at(20), 2, 2)       // at most max
	purge(at(20), manyMax, 2) // the rest of the four delivered at at(10)
	purge(at(20), manyMax, 0)
	purge(farFuture, 0, 0)
	purge(farFuture, manyMax, 3)
	purge(farFuture, manyMax, 0)
	// Undelivered entries are never purged.
	if d := cmp.Diff(evs[5:], f.pendingEvents(), equateEmpty); d != "" {
		t.Fatalf("undelivered events after the purges (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]ports.Notification{ns[1], ns[3]}, byID(f.pendingNotifications()), equateEmpty); d != "" {
		t.Fatalf("unsent notifications after the purges (-want +got):\n%s", d)
	}
}

func testOutboxStats(f *fixture) {
	t := f.t
	evs := f.sevenEvents()
	ns := f.fourNotifications(at(1))
	want := ports.OutboxStats{PendingEvents: 7, PendingNotifications: 4, OldestPendingAt: evs[0].At}
	if d := cmp.Diff(want, f.stats(at(1))); d != "" {
		t.Fatalf("OutboxStats: every entry, due or not (-want +got):\n%s", d)
	}
	f.claimEvents(at(1), 3, time.Hour)
	f.claimNotes(at(1), manyMax, time.Hour)
	if d := cmp.Diff(want, f.stats(at(1))); d != "" {
		t.Fatalf("OutboxStats: claimed entries are still pending (-want +got):\n%s", d)
	}
	f.delivered(at(2), eventIDs(evs)...)
	f.sent(at(2), ns[0].ID)
	f.sent(at(2), ns[3].ID)
	want = ports.OutboxStats{PendingNotifications: 2, OldestPendingAt: ns[1].At}
	if d := cmp.Diff(want, f.stats(at(2))); d != "" {
		t.Fatalf("OutboxStats after deliveries: only the undelivered (-want +got):\n%s", d)
	}
}

// byID sorts notifications by id (the suite's ids sort as they were made), for comparisons that
// do not depend on how a store orders notifications that became due at different times.
func byID(ns []ports.Notification) []ports.Notification {
	ns = slices.Clone(ns)
	slices.SortFunc(ns, func(a, b ports.Notification) int { return strings.Compare(a.ID, b.ID) })
	return ns
}
