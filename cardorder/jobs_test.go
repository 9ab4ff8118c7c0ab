package cardorder_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// blockingMailer holds every Send until released and reports each one as it starts.
type blockingMailer struct {
	started chan ports.Notification
	release chan struct{}
	mu      sync.Mutex
	sent    []ports.Notification
}

func (m *blockingMailer) Send(ctx context.Context, n ports.Notification) error {
	m.started <- n
	select {
	case <-m.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, n)
	return nil
}

// TestMailLeavesTheRequestPath: an order returns while the mailer would block, and the relay,
// woken by the write (its interval is an hour), sends the mail.
func TestMailLeavesTheRequestPath(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false })) // direct: card_ordered mail
	mailer := &blockingMailer{started: make(chan ports.Notification, 1), release: make(chan struct{})}
	svc, err := cardorder.New(cardorder.Ports{Users: w.users, Store: w.store, Provider: w.bureau,
		Options: cardorder.StaticOptions(enabled(func(o *ports.Options) { o.QueueCards = false })), Mailer: mailer},
		&cardorder.Config{Clock: w.clock, IDs: memory.NewIDs("c")})
	is.NoErr(err)
	passes := make(chan error, 10)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = svc.NewRelay(&cardorder.RelayConfig{Interval: time.Hour, CleanupInterval: -1, AfterPass: func(err error) { passes <- err }}).Run(ctx)
	}()
	is.NoErr(<-passes) // the relay's first pass ran on an empty outbox; now it waits an hour or a wake-up

	c, err := svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err) // returned although the mailer blocks every send
	is.Equal(c.State, ports.StateOrdered)
	n := <-mailer.started // the relay, woken by the write, is sending the mail
	is.Equal(n.Kind, ports.NotifyCardOrdered)
	is.Equal(n.CardID, c.ID)
	close(mailer.release)
	for { // the order wrote twice (processing, then ordered): wait for the pass that empties the outbox
		is.NoErr(<-passes)
		st, err := svc.OutboxStats(ctx)
		is.NoErr(err)
		if st == (ports.OutboxStats{}) {
			break // the mail and the audit events are delivered
		}
	}
	cancel()
	<-stopped
	is.Equal(len(mailer.sent), 1)
}

// TestInlineDelivery: with InlineDelivery the call itself sends the mail.
func TestInlineDelivery(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	svc, err := cardorder.New(cardorder.Ports{Users: w.users, Store: w.store, Provider: w.bureau,
		Options: cardorder.StaticOptions(enabled(func(o *ports.Options) { o.QueueCards = false })), Mailer: w.mailer, Audit: w.audit},
		&cardorder.Config{Clock: w.clock, InlineDelivery: true})
	is.NoErr(err)
	c, err := svc.OrderCard(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	is.Equal(len(w.mailer.Sent()), 1) // no relay ran
	is.Equal(w.mailer.Sent()[0].CardID, c.ID)
	is.Equal(len(w.audit.Events()), 2)
}

// pagingStore caps every listing at two cards, as a store may, and records the filters asked.
type pagingStore struct {
	*memory.Store
	mu      sync.Mutex
	filters []ports.CardFilter
}

func (s *pagingStore) List(ctx context.Context, f ports.CardFilter) (ports.CardPage, error) {
	s.mu.Lock()
	s.filters = append(s.filters, f)
	s.mu.Unlock()
	f.Limit = 2
	return s.Store.List(ctx, f)
}

// TestSyncStatusPagesUnderALease: the status sync lists only ordered and in_production cards,
// page by page, under the "status-sync" lease; while another instance holds it, the sync is
// refused with job_running.
func TestSyncStatusPagesUnderALease(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(func(o *ports.Options) { o.AllowMultipleCardOrders = true }))
	store := &pagingStore{Store: w.store}
	leases := &memory.JobLeases{}
	svc, err := cardorder.New(cardorder.Ports{Users: w.users, Store: store, Provider: w.bureau,
		Options: cardorder.StaticOptions(enabled(func(o *ports.Options) { o.AllowMultipleCardOrders = true })), Leases: leases},
		&cardorder.Config{Clock: w.clock, Instance: "me"})
	is.NoErr(err)
	var ids []string
	for range 5 {
		ids = append(ids, w.order(t, ada.ID).ID)
	}
	w.order(t, grace.ID) // stays processing: not listed
	res, err := svc.DispatchQueued(ctx, 5)
	is.NoErr(err)
	is.Equal(res.Ordered, 5)
	for _, id := range ids {
		w.bureau.Advance(id, ports.StateInProduction, "")
	}

	ok, err := leases.AcquireLease(ctx, cardorder.JobStatusSync, "other-instance", w.clock.Now(), time.Hour)
	is.NoErr(err)
	is.True(ok)
	_, err = svc.SyncStatus(ctx, admin)
	isCode(t, err, cardorder.ErrJobRunning)
	is.Equal(len(store.filters), 0) // nothing was listed
	is.NoErr(leases.ReleaseLease(ctx, cardorder.JobStatusSync, "other-instance"))

	n, err := svc.SyncStatus(ctx, admin)
	is.NoErr(err)
	is.Equal(n, 5)
	is.Equal(len(store.filters), 3) // 2 + 2 + 1 cards
	var cursor int64
	for _, f := range store.filters {
		is.Equal(f.States, []ports.CardState{ports.StateOrdered, ports.StateInProduction})
		is.Equal(f.After, cursor)
		page, _ := w.store.List(ctx, ports.CardFilter{States: f.States, After: f.After, Limit: 2})
		cursor = page.Next
	}
	ok, err = leases.AcquireLease(ctx, cardorder.JobStatusSync, "other-instance", w.clock.Now(), time.Hour)
	is.NoErr(err)
	is.True(ok) // the sync released its lease
}

// TestCleanUp: delivered outbox rows past the retention, expired idempotency records and expired
// dedup entries are removed in batches; while another instance holds the "cleanup" lease,
// nothing is.
func TestCleanUp(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newWorld(t, enabled(nil))
	idem, dedup, leases := &memory.Idempotency{}, &memory.EventDedup{}, &memory.JobLeases{}
	svc, err := cardorder.New(cardorder.Ports{Users: w.users, Store: w.store, Provider: w.bureau,
		Options: cardorder.StaticOptions(enabled(nil)), Leases: leases, Idempotency: idem, Dedup: dedup},
		&cardorder.Config{Clock: w.clock, CleanupBatch: 2, OutboxRetention: 24 * time.Hour})
	is.NoErr(err)
	c, err := svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	_, err = svc.Abort(ctx, operator, c.ID)
	is.NoErr(err)
	is.NoErr(svc.DeliverPending(ctx)) // two audit events delivered at t0
	for _, k := range []string{"a", "b", "c"} {
		_, _, err := idem.Reserve(ctx, k, "fp", w.clock.Now(), time.Minute)
		is.NoErr(err)
	}
	_, err = dedup.BeginEvent(ctx, "e1", w.clock.Now(), time.Minute)
	is.NoErr(err)

	res, err := svc.CleanUp(ctx)
	is.NoErr(err)
	is.Equal(res, cardorder.CleanUpResult{}) // nothing expired yet
	w.clock.Advance(24*time.Hour + time.Second)

	ok, err := leases.AcquireLease(ctx, cardorder.JobCleanup, "other-instance", w.clock.Now(), time.Minute)
	is.NoErr(err)
	is.True(ok)
	res, err = svc.CleanUp(ctx)
	is.NoErr(err)
	is.Equal(res, cardorder.CleanUpResult{Skipped: true})
	is.Equal(idem.Len(), 3)
	w.clock.Advance(time.Minute) // the other instance's lease expires

	res, err = svc.CleanUp(ctx)
	is.NoErr(err)
	is.Equal(res, cardorder.CleanUpResult{Outbox: 2, Idempotency: 3, Dedup: 1})
	is.Equal(idem.Len(), 0)
	res, err = svc.CleanUp(ctx)
	is.NoErr(err)
	is.Equal(res, cardorder.CleanUpResult{})
}
