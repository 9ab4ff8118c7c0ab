package cardorder

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// The state machine of docs/use-case.md §4 in one place: which moves a card may make, how one
// move becomes one atomic write (a compare-and-set with its audit event and notifications), how a
// write that lost its compare-and-set is decided again on the fresh card, which bureau statuses
// change nothing, and how long a card waits before its next try.

// stage is the progress of a card through docs/use-case.md §4, used to keep bureau updates forward-only.
func stage(s ports.CardState) int {
	switch s {
	case ports.StateOrdered:
		return 1
	case ports.StateInProduction:
		return 2
	case ports.StateProduced, ports.StateFailed:
		return 3
	}
	return 0
}

// transitions is the state machine of docs/use-case.md §4: every move a card may make. Approve, a direct
// order and a repeat that orders directly pass through processing (the card is saved before the
// bureau is called).
var transitions = map[ports.CardState][]ports.CardState{
	ports.StateRegistered:   {ports.StateRequested, ports.StateProcessing},
	ports.StateRequested:    {ports.StateProcessing, ports.StateRejected, ports.StateAborted},
	ports.StateProcessing:   {ports.StateOrdered, ports.StateAborted, ports.StateFailed},
	ports.StateOrdered:      {ports.StateInProduction, ports.StateProduced, ports.StateFailed},
	ports.StateInProduction: {ports.StateProduced, ports.StateFailed},
	ports.StateFailed:       {ports.StateProcessing},
}

// CanMove reports whether docs/use-case.md §4 allows a card in state from to move to state to.
func CanMove(from, to ports.CardState) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// change moves next (derived from prev; prev is zero for a new card) to state to and returns the
// compare-and-set with its audit event and the notifications the move causes (docs/use-case.md §6). This is
// the one place where a card changes state.
func (s *Service) change(prev, next ports.Card, to ports.CardState, actor, reason string) ports.Change {
	now := s.now()
	from := prev.State
	if from == "" {
		from = ports.StateRegistered
	}
	next.State = to
	next.UpdatedAt = now
	if !keepsPhoto(to) {
		next.Photo = nil // erased in the same write (photo.go)
	}
	next.History = append(slices.Clip(next.History), ports.HistoryEntry{State: to, At: now, Actor: actor})
	if to == ports.StateProcessing {
		next.QueuedAt = now
		if !next.Options.QueueCards {
			// Ordered directly: taken as a queue claim would take it, so from now on it cannot be
			// aborted, and if this process dies the lease expires and the dispatcher retries it
			// under the same idempotency key.
			next.DispatchStarted = true
			next.LeaseUntil = now.Add(s.cfg.DispatchLease)
		}
	} else {
		next.LeaseUntil, next.NotBefore = time.Time{}, time.Time{}
	}
	ch := ports.Change{Card: next, Event: ports.AuditEvent{
		ID: s.cfg.IDs.NewID(), CardID: next.ID, UserID: next.UserID, Actor: actor,
		From: from, To: to, Reason: reason, At: now,
	}}
	// The relay sends a notification at once. With InlineDelivery the call sends it right after
	// the write, so the outbox holds it back for NotifyRetry and the relay only picks up what
	// that first try missed.
	notBefore := now
	if s.cfg.InlineDelivery {
		notBefore = now.Add(s.cfg.NotifyRetry)
	}
	notify := func(kind ports.NotificationKind, rcpt ports.Recipient) {
		ch.Notifications = append(ch.Notifications, ports.Notification{
			ID: s.cfg.IDs.NewID(), Kind: kind, To: rcpt, CardID: next.ID, Reason: reason, At: now,
			NotBefore: notBefore,
		})
	}
	switch {
	case to == ports.StateRequested:
		notify(ports.NotifyApprovalNeeded, ports.Recipient{Approvers: true})
	case from == ports.StateRequested && to == ports.StateProcessing:
		notify(ports.NotifyOrderApproved, ports.Recipient{UserID: next.OrderedBy})
	case to == ports.StateRejected:
		notify(ports.NotifyOrderRejected, ports.Recipient{UserID: next.OrderedBy})
	case to == ports.StateOrdered && next.Options.SendCardOrderedEmail && next.UserID != "":
		notify(ports.NotifyCardOrdered, ports.Recipient{UserID: next.UserID})
	}
	return ch
}

// update reads card id, lets decide derive the change from it and writes it with compare-and-set.
// When another write wins in between, the decision is made again on the fresh card, so every
// check (state, four-eyes) holds for the value actually replaced.
func (s *Service) update(ctx context.Context, id string, decide func(ports.Card) (ports.Change, error)) (ports.Card, error) {
	for range maxCASRetries {
		c, err := s.p.Store.Card(ctx, id)
		if errors.Is(err, ports.ErrNotFound) {
			return ports.Card{}, refuse(CodeNotFound, "no card %q", id)
		}
		if err != nil {
			return ports.Card{}, wrapErr(CodeInternal, err, "read card %q", id)
		}
		ch, err := decide(c)
		if errors.Is(err, errUnchanged) {
			return c, err
		}
		if err != nil {
			return ports.Card{}, err
		}
		if ch.Card.State != c.State && !CanMove(c.State, ch.Card.State) {
			return ports.Card{}, refuse(CodeInternal, "card %q: no move from %s to %s", id, c.State, ch.Card.State)
		}
		if ch.Event.ID != "" {
			s.stamp(ctx, &ch.Event)
		}
		stored, err := s.p.Store.Update(ctx, ch)
		switch {
		case errors.Is(err, ports.ErrConflict):
			continue
		case errors.Is(err, ports.ErrOpenOrderExists):
			return ports.Card{}, orderExists()
		case err != nil:
			return ports.Card{}, wrapErr(CodeInternal, err, "update card %q", id)
		}
		if ch.Event.ID != "" {
			s.moved(ctx, ch.Event, stored.Channel)
			s.written(ctx, []ports.AuditEvent{ch.Event}, ch.Notifications)
		}
		return stored, nil
	}
	return ports.Card{}, refuse(CodeInternal, "card %q kept changing; gave up after %d tries", id, maxCASRetries)
}

// statusChange derives the change a bureau status makes to c, or nil when it makes none: the card
// is not (yet) ordered, the status is of an older attempt, or it would not move the card forward.
func (s *Service) statusChange(c ports.Card, st ports.OrderStatus) *ports.Change {
	if stage(c.State) == 0 || stage(c.State) == 3 || c.ProviderOrderID != st.OrderID || stage(st.State) <= stage(c.State) {
		return nil
	}
	next := c
	next.CardNumber, next.ValidThru = st.CardNumber, st.ValidThru
	next.Readouts = slices.Clone(st.Readouts)
	if st.State == ports.StateFailed {
		next.FailureReason = st.Reason
	}
	ch := s.change(c, next, st.State, SystemActor, next.FailureReason)
	return &ch
}

// doubling is the wait after the n-th failed try (n ≥ 1): base, doubling per try, at most max.
// There is no jitter: waits are measured on the injected clock, and a pass spreads its cards anyway.
func doubling(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
