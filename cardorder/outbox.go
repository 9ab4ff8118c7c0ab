package cardorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// written is called after a write that put audit events and notifications in the outbox. With
// Config.InlineDelivery it delivers them now; otherwise it wakes the in-process [Relay], which
// claims and delivers them outside the request (docs/use-case.md §6), so a slow mailer never
// slows an order.
func (s *Service) written(ctx context.Context, events []ports.AuditEvent, notes []ports.Notification) {
	if len(events) == 0 && len(notes) == 0 {
		return
	}
	if s.cfg.InlineDelivery {
		s.deliver(ctx, events, notes)
		return
	}
	s.wakeRelay()
}

// wakeRelay tells an in-process relay that the outbox has new entries. It never blocks: a
// signal already waiting covers this one.
func (s *Service) wakeRelay() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// deliver hands the audit events and notifications of a write that just succeeded to the sink and
// the mailer, and marks what went through (Config.InlineDelivery). What fails stays in the outbox
// for the relay, so a mail or audit outage never fails, rolls back or loses an order.
func (s *Service) deliver(ctx context.Context, events []ports.AuditEvent, notes []ports.Notification) {
	done := make([]string, 0, len(events))
	for _, e := range events {
		if err := s.p.Audit.Record(ctx, e); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "cardorder: audit event not recorded; it stays in the outbox",
				slog.String("event", e.ID), slog.String("card", e.CardID), slog.String("err", err.Error()))
			continue
		}
		done = append(done, e.ID)
	}
	if len(done) > 0 {
		if err := s.p.Store.EventsDelivered(ctx, done, s.now()); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "cardorder: audit events recorded but not marked; they will be sent again",
				slog.String("err", err.Error()))
		}
	}
	for _, n := range notes {
		_ = s.notify(ctx, n)
	}
}

// notify sends one notification and records the outcome in the outbox. A mailer's error is kept
// in the outbox (Notification.LastError) but neither logged nor returned, since it may name an
// address; the returned error says only which notification failed. n.Tries counts the claims of
// n including this one (0 for an inline send), so the retry waits double with every failure.
func (s *Service) notify(ctx context.Context, n ports.Notification) error {
	err := s.p.Mailer.Send(ctx, n)
	s.cfg.Observer.NotificationDone(ctx, n.Kind, err == nil)
	if errors.Is(err, ports.ErrNotFound) {
		// The mailer knows no address for the recipient: no retry can deliver this mail, so it
		// is dropped, with a log line, and never fails the order (docs/use-case.md §6).
		s.log.LogAttrs(ctx, slog.LevelWarn, "cardorder: notification dropped: the mailer found no address for its recipient",
			slog.String("notification", n.ID), slog.String("kind", string(n.Kind)), slog.String("card", n.CardID))
		return s.p.Store.NotificationSent(ctx, n.ID, s.now())
	}
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "cardorder: notification not sent; it stays in the outbox",
			slog.String("notification", n.ID), slog.String("kind", string(n.Kind)), slog.String("card", n.CardID))
		retry := s.now().Add(doubling(s.cfg.NotifyRetry, s.cfg.MaxRetryBackoff, max(n.Tries, 1)))
		return errors.Join(fmt.Errorf("notification %s not sent (see its LastError)", n.ID),
			s.p.Store.NotificationFailed(ctx, n.ID, err.Error(), retry))
	}
	return s.p.Store.NotificationSent(ctx, n.ID, s.now())
}

// outboxBatch is how many outbox entries a relay pass claims at a time.
const outboxBatch = 100

// DeliverPending runs one relay pass: it claims undelivered audit events and due notifications
// from the outbox under a lease of Config.DeliveryLease (so relays of several instances never
// take the same entry at once) and delivers each at least once, with its stable id, until none is
// left to claim. An event the sink refuses, and the events claimed after it, are claimed again
// once their lease ends; a notification the mailer refuses is due again after a doubling wait.
// [Relay.Run] calls it after every write and periodically. It returns the errors met, after
// trying everything that was due.
func (s *Service) DeliverPending(ctx context.Context) (err error) {
	ctx, end := s.cfg.Observer.Start(ctx, ports.Span{Op: ports.OpDeliver})
	delivered := 0
	defer func() {
		var code string
		if err != nil {
			code = string(CodeInternal)
		}
		end(ports.Outcome{Code: code, Cards: delivered})
	}()
	var errs []error
	for {
		events, err := s.p.Store.ClaimEvents(ctx, s.now(), outboxBatch, s.cfg.DeliveryLease)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("claim audit events: %w", err))...)
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
			if err := s.p.Store.EventsDelivered(ctx, done, s.now()); err != nil {
				return errors.Join(append(errs, fmt.Errorf("mark audit events delivered: %w", err))...)
			}
			delivered += len(done)
		}
		if len(done) < outboxBatch {
			break
		}
	}
	for {
		notes, err := s.p.Store.ClaimNotifications(ctx, s.now(), outboxBatch, s.cfg.DeliveryLease)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("claim notifications: %w", err))...)
		}
		for _, n := range notes {
			if err := s.notify(ctx, n); err != nil {
				errs = append(errs, err)
			} else {
				delivered++
			}
		}
		if len(notes) < outboxBatch {
			return errors.Join(errs...)
		}
	}
}

// OutboxStats reports what the outbox still has to deliver, for monitoring.
func (s *Service) OutboxStats(ctx context.Context) (ports.OutboxStats, error) {
	return s.p.Store.OutboxStats(ctx, s.now())
}

// RelayConfig tunes a [Relay]. Zero values are the defaults.
type RelayConfig struct {
	// Interval between passes when no write wakes the relay; default 5 s. It bounds how long a
	// notification that failed waits beyond its retry time, and how long entries written by
	// another instance wait.
	Interval time.Duration
	// CleanupInterval is how often the relay runs [Service.CleanUp]; default 1 hour. Negative
	// turns the clean-up off (the host runs it itself).
	CleanupInterval time.Duration
	// AfterPass, if set, is called after every relay pass with its error (for metrics and tests).
	AfterPass func(error)
}

// Relay delivers the outbox in the background (docs/use-case.md §6): audit events to the sink,
// notifications to the mailer, each at least once. It runs a pass when the Service wrote
// something (a non-blocking wake-up, so mail leaves promptly) and every Interval (entries that
// failed, or that another instance wrote), and the clean-up every CleanupInterval. Several
// relays, in one process or several, may run against one store: each entry is claimed by one at
// a time.
type Relay struct {
	s   *Service
	cfg RelayConfig
}

// NewRelay returns a relay for s; cfg nil means the defaults.
func (s *Service) NewRelay(cfg *RelayConfig) *Relay {
	r := &Relay{s: s}
	if cfg != nil {
		r.cfg = *cfg
	}
	setDefault(&r.cfg.Interval, 5*time.Second)
	setDefault(&r.cfg.CleanupInterval, time.Hour)
	return r
}

// Run runs relay passes until ctx is cancelled, then returns nil.
func (r *Relay) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	var lastCleanup time.Time
	for {
		err := r.s.DeliverPending(ctx)
		if err != nil && ctx.Err() == nil {
			r.s.log.LogAttrs(ctx, slog.LevelError, "cardorder: relay pass", slog.String("err", err.Error()))
		}
		if now := r.s.now(); r.cfg.CleanupInterval > 0 && ctx.Err() == nil && (lastCleanup.IsZero() || now.Sub(lastCleanup) >= r.cfg.CleanupInterval) {
			lastCleanup = now
			if _, cerr := r.s.CleanUp(ctx); cerr != nil {
				r.s.log.LogAttrs(ctx, slog.LevelError, "cardorder: clean-up", slog.String("err", cerr.Error()))
			}
		}
		if r.cfg.AfterPass != nil {
			r.cfg.AfterPass(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.s.wake:
		}
	}
}
