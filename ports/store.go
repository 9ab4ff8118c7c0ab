package ports

import (
	"context"
	"time"
)

// Store is the one storage behind the domain: cards, the queue of processing cards and the
// outbox of their audit events and notifications. They are one interface because the domain's
// atomicity depends on it: a state change, its audit event and its notifications are one write,
// and the queue is a view of the cards (docs/use-case.md §8).
type Store interface {
	CardStore
	Queue
	Outbox
}

// Outbox holds the audit events and notifications written with state changes until they are
// delivered, at least once each, with their stable ids. Several instances of a host may relay
// from one outbox at once, so the outbox hands out work under a lease, as the [Queue] does:
//
//   - ClaimEvents takes up to max undelivered events whose lease has expired (or that were never
//     claimed), oldest At first, and leases them until now+lease in the same atomic step: until
//     then no other claim returns them. EventsDelivered marks them delivered at the given time
//     (unknown or already delivered ids are ignored); a delivered event is never claimed again.
//   - ClaimNotifications takes up to max unsent notifications that are due (NotBefore not after
//     now) and not leased, oldest At first, leases them until now+lease and counts the claim in
//     Tries. NotificationSent marks one sent; NotificationFailed records the error and makes it
//     due again at retryAt (and releases its lease). A sent notification is never claimed again.
//   - A lease that runs out without an outcome (a relay that died) makes the entry claimable
//     again: at least once, never lost.
//   - PurgeDelivered removes up to max events and notifications delivered before the given time
//     (the host's retention) and returns how many it removed.
//   - AddEvents appends audit events that change no card (refusals, script installs), to be
//     delivered like the others.
//   - OutboxStats counts what is still to deliver.
type Outbox interface {
	AddEvents(ctx context.Context, events []AuditEvent) error
	ClaimEvents(ctx context.Context, now time.Time, max int, lease time.Duration) ([]AuditEvent, error)
	EventsDelivered(ctx context.Context, ids []string, at time.Time) error
	ClaimNotifications(ctx context.Context, now time.Time, max int, lease time.Duration) ([]Notification, error)
	NotificationSent(ctx context.Context, id string, at time.Time) error
	NotificationFailed(ctx context.Context, id string, reason string, retryAt time.Time) error
	PurgeDelivered(ctx context.Context, before time.Time, max int) (int, error)
	OutboxStats(ctx context.Context, now time.Time) (OutboxStats, error)
}

// OutboxStats describes the outbox at one moment.
type OutboxStats struct {
	PendingEvents        int       // audit events not yet delivered
	PendingNotifications int       // notifications not yet sent, due or waiting for a retry
	OldestPendingAt      time.Time // the At of the oldest undelivered entry; zero when none
}
