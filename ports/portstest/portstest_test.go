package portstest_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/ports"
	"github.com/cardsaddon/extprod/ports/portstest"
)

// The suite checked against minimal reference implementations written from the contracts alone.

func TestRunStore(t *testing.T) {
	portstest.RunStore(t, func(t *testing.T) portstest.Store { return newStore() })
}

func TestRunScriptStore(t *testing.T) {
	portstest.RunScriptStore(t, func(t *testing.T) ports.ScriptStore { return &scripts{} })
}

func TestRunProvider(t *testing.T) {
	portstest.RunProvider(t, func(t *testing.T) ports.Provider { return newBureau() }, func(i int) ports.ProviderOrder {
		id := fmt.Sprintf("card-%d", i)
		return ports.ProviderOrder{IdempotencyKey: id, ExternalReference: id, LayoutID: "L-100",
			Elements: map[string]string{"FIRST_NAME": "Ada"}}
	})
}

// store: one mutex over everything.
type store struct {
	mu      sync.Mutex
	version int64
	cards   map[string]*entry
	order   []*entry
	outbox  []*outEntry
}

type entry struct {
	seq  int64
	card ports.Card
}

func newStore() *store { return &store{cards: map[string]*entry{}} }

func deep(c ports.Card) ports.Card {
	c.Elements = maps.Clone(c.Elements)
	c.Readouts = slices.Clone(c.Readouts)
	c.History = slices.Clone(c.History)
	c.Options.ProductionTypes = slices.Clone(c.Options.ProductionTypes)
	return c
}

func (s *store) openOthers(user, except string) bool {
	for _, e := range s.order {
		if e.card.UserID == user && e.card.ID != except && e.card.State.Open() {
			return true
		}
	}
	return false
}

func (s *store) Create(ctx context.Context, c ports.Creation) ([]ports.Card, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, card := range c.Cards {
		if _, dup := s.cards[card.ID]; dup || seen[card.ID] {
			return nil, fmt.Errorf("card %s exists", card.ID)
		}
		seen[card.ID] = true
		if c.Exclusive && card.UserID != "" && s.openOthers(card.UserID, "") {
			return nil, ports.ErrOpenOrderExists
		}
	}
	out := make([]ports.Card, len(c.Cards))
	for i, card := range c.Cards {
		s.version++
		card = deep(card)
		card.Version = s.version
		e := &entry{seq: int64(len(s.order) + 1), card: card}
		s.cards[card.ID] = e
		s.order = append(s.order, e)
		out[i] = deep(card)
	}
	s.add(c.Events, c.Notifications)
	return out, nil
}

func (s *store) Update(ctx context.Context, c ports.Change) (ports.Card, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cards[c.Card.ID]
	if !ok {
		return ports.Card{}, ports.ErrNotFound
	}
	if e.card.Version != c.Card.Version {
		return ports.Card{}, ports.ErrConflict
	}
	if c.Exclusive && e.card.UserID != "" && s.openOthers(e.card.UserID, e.card.ID) {
		return ports.Card{}, ports.ErrOpenOrderExists
	}
	s.version++
	e.card = deep(c.Card)
	e.card.Version = s.version
	var evs []ports.AuditEvent
	if c.Event.ID != "" {
		evs = append(evs, c.Event)
	}
	s.add(evs, c.Notifications)
	return deep(e.card), nil
}

func (s *store) Card(ctx context.Context, id string) (ports.Card, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cards[id]
	if !ok {
		return ports.Card{}, ports.ErrNotFound
	}
	return deep(e.card), nil
}

func (s *store) List(ctx context.Context, f ports.CardFilter) (ports.CardPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := f.Limit
	if limit <= 0 || limit > 50 {
		limit = 50 // a cap, as a store may have
	}
	var p ports.CardPage
	for _, e := range s.order[min(int(f.After), len(s.order)):] {
		if f.UserID != "" && e.card.UserID != f.UserID || len(f.States) > 0 && !slices.Contains(f.States, e.card.State) {
			continue
		}
		if len(p.Cards) == limit {
			p.Next = e.seq - 1
			break
		}
		p.Cards = append(p.Cards, deep(e.card))
	}
	return p, nil
}

func due(c ports.Card, now time.Time) bool {
	return c.State == ports.StateProcessing && !c.NotBefore.After(now) && !c.LeaseUntil.After(now)
}

func (s *store) Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.Card, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var es []*entry
	for _, e := range s.order {
		if due(e.card, now) {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b *entry) int {
		return cmp.Or(a.card.QueuedAt.Compare(b.card.QueuedAt), cmp.Compare(a.card.ID, b.card.ID))
	})
	var out []ports.Card
	for _, e := range es[:min(max, len(es))] {
		s.version++
		e.card.DispatchStarted = true
		e.card.LeaseUntil = now.Add(lease)
		e.card.Version = s.version
		out = append(out, deep(e.card))
	}
	return out, nil
}

func (s *store) Stats(ctx context.Context, now time.Time) (ports.QueueStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st ports.QueueStats
	for _, e := range s.order {
		if e.card.State != ports.StateProcessing {
			continue
		}
		st.Depth++
		if due(e.card, now) {
			st.Due++
		}
		if st.OldestQueuedAt.IsZero() || e.card.QueuedAt.Before(st.OldestQueuedAt) {
			st.OldestQueuedAt = e.card.QueuedAt
		}
	}
	return st, nil
}

// outEntry is one outbox entry of the reference store: an event or a notification.
type outEntry struct {
	ev          *ports.AuditEvent
	note        *ports.Notification
	leaseUntil  time.Time
	deliveredAt time.Time
	done        bool
}

func (e *outEntry) at() time.Time {
	if e.ev != nil {
		return e.ev.At
	}
	return e.note.At
}

func (s *store) add(evs []ports.AuditEvent, ns []ports.Notification) {
	for _, e := range evs {
		s.outbox = append(s.outbox, &outEntry{ev: &e})
	}
	for _, n := range ns {
		s.outbox = append(s.outbox, &outEntry{note: &n})
	}
}

func (s *store) claim(now time.Time, max int, lease time.Duration, events bool) []*outEntry {
	var es []*outEntry
	for _, e := range s.outbox {
		if e.done || (e.ev != nil) != events || e.leaseUntil.After(now) || !events && e.note.NotBefore.After(now) {
			continue
		}
		es = append(es, e)
	}
	slices.SortStableFunc(es, func(a, b *outEntry) int { return a.at().Compare(b.at()) })
	if max < 0 {
		max = 0
	}
	es = es[:min(max, len(es))]
	for _, e := range es {
		e.leaseUntil = now.Add(lease)
	}
	return es
}

func (s *store) find(id string, events bool) *outEntry {
	for _, e := range s.outbox {
		if events && e.ev != nil && e.ev.ID == id || !events && e.note != nil && e.note.ID == id {
			return e
		}
	}
	return nil
}

func (s *store) AddEvents(ctx context.Context, evs []ports.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(evs, nil)
	return nil
}

func (s *store) ClaimEvents(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.AuditEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ports.AuditEvent
	for _, e := range s.claim(now, max, lease, true) {
		out = append(out, *e.ev)
	}
	return out, nil
}

func (s *store) EventsDelivered(ctx context.Context, ids []string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if e := s.find(id, true); e != nil && !e.done {
			e.done, e.deliveredAt = true, at
		}
	}
	return nil
}

func (s *store) ClaimNotifications(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.Notification, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ports.Notification
	for _, e := range s.claim(now, max, lease, false) {
		e.note.Tries++
		out = append(out, *e.note)
	}
	return out, nil
}

func (s *store) NotificationSent(ctx context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.find(id, false); e != nil && !e.done {
		e.done, e.deliveredAt = true, at
	}
	return nil
}

func (s *store) NotificationFailed(ctx context.Context, id, reason string, retryAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.find(id, false); e != nil && !e.done {
		e.note.LastError, e.note.NotBefore, e.leaseUntil = reason, retryAt, time.Time{}
	}
	return nil
}

func (s *store) PurgeDelivered(ctx context.Context, before time.Time, max int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	s.outbox = slices.DeleteFunc(s.outbox, func(e *outEntry) bool {
		if n < max && e.done && e.deliveredAt.Before(before) {
			n++
			return true
		}
		return false
	})
	return n, nil
}

func (s *store) OutboxStats(ctx context.Context, now time.Time) (ports.OutboxStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st ports.OutboxStats
	for _, e := range s.outbox {
		if e.done {
			continue
		}
		if e.ev != nil {
			st.PendingEvents++
		} else {
			st.PendingNotifications++
		}
		if st.OldestPendingAt.IsZero() || e.at().Before(st.OldestPendingAt) {
			st.OldestPendingAt = e.at()
		}
	}
	return st, nil
}

// scripts: a compare-and-set on one pair.
type scripts struct {
	mu              sync.Mutex
	source, version string
}

func (s *scripts) Script(ctx context.Context) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version == "" {
		return "", "", ports.ErrNotFound
	}
	return s.source, s.version, nil
}

func (s *scripts) ReplaceScript(ctx context.Context, source, version, expect string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != expect {
		return fmt.Errorf("script: %w", ports.ErrConflict)
	}
	s.source, s.version = source, version
	return nil
}

// bureau: orders by key.
type bureau struct {
	mu    sync.Mutex
	byKey map[string]string
	byID  map[string]ports.OrderStatus
}

func newBureau() *bureau {
	return &bureau{byKey: map[string]string{}, byID: map[string]ports.OrderStatus{}}
}

func (b *bureau) PlaceOrder(ctx context.Context, o ports.ProviderOrder) (ports.ProviderReceipt, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id, ok := b.byKey[o.IdempotencyKey]
	if !ok {
		id = fmt.Sprintf("O-%d", len(b.byID)+1)
		b.byKey[o.IdempotencyKey] = id
		b.byID[id] = ports.OrderStatus{OrderID: id, ExternalReference: o.ExternalReference, State: ports.StateOrdered}
	}
	return ports.ProviderReceipt{OrderID: id, State: b.byID[id].State}, nil
}

func (b *bureau) OrderStatus(ctx context.Context, id string) (ports.OrderStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.byID[id]
	if !ok {
		return ports.OrderStatus{}, ports.ErrNotFound
	}
	return st, nil
}
