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
	events  []ports.AuditEvent
	notes   []ports.Notification
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
	s.events = append(s.events, c.Events...)
	s.notes = append(s.notes, c.Notifications...)
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
	if c.Event.ID != "" {
		s.events = append(s.events, c.Event)
	}
	s.notes = append(s.notes, c.Notifications...)
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

func (s *store) PendingEvents(ctx context.Context, max int) ([]ports.AuditEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events[:min(max, len(s.events))]), nil
}

func (s *store) EventsDelivered(ctx context.Context, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = slices.DeleteFunc(s.events, func(e ports.AuditEvent) bool { return slices.Contains(ids, e.ID) })
	return nil
}

func (s *store) PendingNotifications(ctx context.Context, now time.Time, max int) ([]ports.Notification, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ports.Notification
	for _, n := range s.notes {
		if len(out) < max && !n.NotBefore.After(now) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (s *store) NotificationSent(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notes = slices.DeleteFunc(s.notes, func(n ports.Notification) bool { return n.ID == id })
	return nil
}

func (s *store) NotificationFailed(ctx context.Context, id, reason string, retryAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.notes {
		if s.notes[i].ID == id {
			s.notes[i].Tries++
			s.notes[i].LastError = reason
			s.notes[i].NotBefore = retryAt
		}
	}
	return nil
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
