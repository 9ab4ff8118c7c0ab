package cardorder

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardsaddon/extprod/ports"
)

// deliver hands the audit events and notifications of a write that just succeeded to the sink and
// the mailer, and marks what went through. What fails stays in the outbox for DeliverPending, so a
// mail or audit outage never fails, rolls back or loses an order.
func (s *Service) deliver(ctx context.Context, events []ports.AuditEvent, notes []ports.Notification) {
	done := make([]string, 0, len(events))
	for _, e := range events {
		if err := s.p.Audit.Record(ctx, e); err != nil {
			s.log.Warn("audit event not recorded; it stays in the outbox", "event", e.ID, "card", e.CardID, "err", err)
			continue
		}
		done = append(done, e.ID)
	}
	if len(done) > 0 {
		if err := s.p.Outbox.EventsDelivered(ctx, done); err != nil {
			s.log.Warn("audit events recorded but not marked; they will be sent again", "err", err)
		}
	}
	for _, n := range notes {
		_ = s.notify(ctx, n)
	}
}

// notify sends one notification and records the outcome in the outbox. A mailer's error is kept
// in the outbox (Notification.LastError) but neither logged nor returned, since it may name an
// address; the returned error says only which notification failed.
func (s *Service) notify(ctx context.Context, n ports.Notification) error {
	if err := s.p.Mailer.Send(ctx, n); err != nil {
		s.log.Warn("notification not sent; it stays in the outbox", "notification", n.ID, "kind", n.Kind, "card", n.CardID)
		retry := s.now().Add(doubling(s.cfg.NotifyRetry, s.cfg.MaxRetryBackoff, n.Tries+1))
		return errors.Join(fmt.Errorf("notification %s not sent (see its LastError)", n.ID),
			s.p.Outbox.NotificationFailed(ctx, n.ID, err.Error(), retry))
	}
	return s.p.Outbox.NotificationSent(ctx, n.ID)
}

// outboxBatch is how many outbox entries DeliverPending reads at a time.
const outboxBatch = 100

// DeliverPending delivers what the outbox still holds: audit events the sink refused and due
// notifications the mailer refused (or that a process died before sending). Each goes at least
// once, with its stable id. Call it periodically; [Dispatcher.Run] does. It returns the first
// error met, after trying everything that was due.
func (s *Service) DeliverPending(ctx context.Context) error {
	var errs []error
	for {
		events, err := s.p.Outbox.PendingEvents(ctx, outboxBatch)
		if err != nil {
			return err
		}
		done := make([]string, 0, len(events))
		for _, e := range events {
			if err := s.p.Audit.Record(ctx, e); err != nil {
				errs = append(errs, fmt.Errorf("audit event %s not recorded: %w", e.ID, err))
				break // the sink is down: keep the order of events, try again later
			}
			done = append(done, e.ID)
		}
		if len(done) > 0 {
			if err := s.p.Outbox.EventsDelivered(ctx, done); err != nil {
				return err
			}
		}
		if len(done) < outboxBatch {
			break
		}
	}
	// Each notification is tried once per call: a tried one is removed or postponed, and the
	// loop stops when a batch holds nothing new (a store that failed to record an outcome).
	tried := map[string]bool{}
	for {
		notes, err := s.p.Outbox.PendingNotifications(ctx, s.now(), outboxBatch)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		fresh := 0
		for _, n := range notes {
			if tried[n.ID] {
				continue
			}
			tried[n.ID] = true
			fresh++
			if err := s.notify(ctx, n); err != nil {
				errs = append(errs, err)
			}
		}
		if fresh == 0 {
			return errors.Join(errs...)
		}
	}
}
