package memory

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// outbox is the memory store's outbox. It lives under the store's mutex, so a state change and
// the entries it causes are one atomic step. Undelivered entries are kept by id; delivered ones
// only by when they were delivered, until PurgeDelivered removes them.
type outbox struct {
	seq       int64
	events    map[string]*outEvent
	notes     map[string]*outNote
	delivered []time.Time // when each delivered entry (event or notification) was delivered
}

type outEvent struct {
	ev         ports.AuditEvent
	seq        int64
	leaseUntil time.Time
}

type outNote struct {
	n          ports.Notification
	seq        int64
	leaseUntil time.Time
}

func (o *outbox) addEvents(evs []ports.AuditEvent) {
	if len(evs) == 0 {
		return
	}
	if o.events == nil {
		o.events = make(map[string]*outEvent)
	}
	for _, e := range evs {
		o.seq++
		o.events[e.ID] = &outEvent{ev: e, seq: o.seq}
	}
}

func (o *outbox) addNotifications(ns []ports.Notification) {
	if len(ns) == 0 {
		return
	}
	if o.notes == nil {
		o.notes = make(map[string]*outNote)
	}
	for _, n := range ns {
		o.seq++
		o.notes[n.ID] = &outNote{n: n, seq: o.seq}
	}
}

// AddEvents implements [ports.Outbox].
func (s *Store) AddEvents(ctx context.Context, events []ports.AuditEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox.addEvents(events)
	return nil
}

// ClaimEvents implements [ports.Outbox]: oldest At first, then in the order written.
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.AuditEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var free []*outEvent
	for _, e := range s.outbox.events {
		if !e.leaseUntil.After(now) {
			free = append(free, e)
		}
	}
	slices.SortFunc(free, func(a, b *outEvent) int {
		return cmp.Or(a.ev.At.Compare(b.ev.At), cmp.Compare(a.seq, b.seq))
	})
	free = free[:min(max, len(free))]
	out := make([]ports.AuditEvent, len(free))
	for i, e := range free {
		e.leaseUntil = now.Add(lease)
		out[i] = e.ev
	}
	return out, nil
}

// EventsDelivered implements [ports.Outbox].
func (s *Store) EventsDelivered(ctx context.Context, ids []string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, ok := s.outbox.events[id]; ok {
			delete(s.outbox.events, id)
			s.outbox.delivered = append(s.outbox.delivered, at)
		}
	}
	return nil
}

// ClaimNotifications implements [ports.Outbox]: oldest At first, then in the order written.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.Notification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var free []*outNote
	for _, n := range s.outbox.notes {
		if !n.leaseUntil.After(now) && !n.n.NotBefore.After(now) {
			free = append(free, n)
		}
	}
	slices.SortFunc(free, func(a, b *outNote) int {
		return cmp.Or(a.n.At.Compare(b.n.At), cmp.Compare(a.seq, b.seq))
	})
	free = free[:min(max, len(free))]
	out := make([]ports.Notification, len(free))
	for i, n := range free {
		n.leaseUntil = now.Add(lease)
		n.n.Tries++
		out[i] = n.n
	}
	return out, nil
}

// NotificationSent implements [ports.Outbox].
func (s *Store) NotificationSent(ctx context.Context, id string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.outbox.notes[id]; ok {
		delete(s.outbox.notes, id)
		s.outbox.delivered = append(s.outbox.delivered, at)
	}
	return nil
}

// NotificationFailed implements [ports.Outbox].
func (s *Store) NotificationFailed(ctx context.Context, id, reason string, retryAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.outbox.notes[id]; ok {
		n.n.LastError = reason
		n.n.NotBefore = retryAt
		n.leaseUntil = time.Time{}
	}
	return nil
}

// PurgeDelivered implements [ports.Outbox].
func (s *Store) PurgeDelivered(ctx context.Context, before time.Time, max int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	s.outbox.delivered = slices.DeleteFunc(s.outbox.delivered, func(at time.Time) bool {
		if n < max && at.Before(before) {
			n++
			return true
		}
		return false
	})
	return n, nil
}

// OutboxStats implements [ports.Outbox].
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (ports.OutboxStats, error) {
	if err := ctx.Err(); err != nil {
		return ports.OutboxStats{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ports.OutboxStats{PendingEvents: len(s.outbox.events), PendingNotifications: len(s.outbox.notes)}
	oldest := func(at time.Time) {
		if st.OldestPendingAt.IsZero() || at.Before(st.OldestPendingAt) {
			st.OldestPendingAt = at
		}
	}
	for _, e := range s.outbox.events {
		oldest(e.ev.At)
	}
	for _, n := range s.outbox.notes {
		oldest(n.n.At)
	}
	return st, nil
}
