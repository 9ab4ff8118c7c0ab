// Package memory holds in-memory adapters for every port: the card store (with its queue and
// outbox), the user directory, the script store, a mailer, an audit log, a clock, an id source,
// a bureau, and the shared records of idempotency keys ([Idempotency]), bureau-event dedup
// ([EventDedup]) and job leases ([JobLeases]), whose zero values are ready to use. They are safe for concurrent use and honour the ports' atomicity contracts with one
// mutex per store, which makes them the embedded default and the reference the conformance suite
// is checked against. Nothing survives a restart.
package memory

import (
	"container/heap"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

var (
	_ ports.CardStore = (*Store)(nil)
	_ ports.Queue     = (*Store)(nil)
	_ ports.Outbox    = (*Store)(nil)
	_ ports.Store     = (*Store)(nil)
)

// Store keeps cards, their queue and their outbox in memory. The zero value is not usable: call
// [NewStore].
type Store struct {
	mu      sync.Mutex
	cards   map[string]*entry
	bySeq   []*entry // every card in creation order; index = seq-1
	users   map[string]*userCards
	queued  []*entry  // the processing cards, in no order (entry.qi is each one's place)
	waiting dueHeap   // queue entries by the time they become claimable
	ready   readyHeap // claimable queue entries, oldest QueuedAt first

	outbox outbox // audit events and notifications, see outbox.go
}

// userCards indexes one user's cards.
type userCards struct {
	cards []*entry // in creation order
	open  int      // how many are open (docs/use-case.md §3)
}

type entry struct {
	card ports.Card
	seq  int64
	qi   int // 1 + the index of the entry in Store.queued while it is processing, else 0
}

// queueRef is a queue position of one version of a card; it is stale once the card changes.
type queueRef struct {
	e        *entry
	version  int64
	due      time.Time
	queuedAt time.Time
}

func (r queueRef) live() bool {
	return r.e.card.Version == r.version && r.e.card.State == ports.StateProcessing
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		cards: make(map[string]*entry),
		users: make(map[string]*userCards),
	}
}

// Create implements [ports.CardStore].
func (s *Store) Create(ctx context.Context, c ports.Creation) ([]ports.Card, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range c.Cards {
		card := &c.Cards[i]
		if _, dup := s.cards[card.ID]; dup || slices.ContainsFunc(c.Cards[:i], func(o ports.Card) bool { return o.ID == card.ID }) {
			return nil, fmt.Errorf("create card %s: id already used", card.ID)
		}
		earlier := slices.ContainsFunc(c.Cards[:i], func(o ports.Card) bool { return o.UserID == card.UserID && o.State.Open() })
		if c.Exclusive && card.UserID != "" && (s.openCards(card.UserID) > 0 || earlier && card.State.Open()) {
			return nil, ports.ErrOpenOrderExists
		}
	}
	// The store keeps deep copies; the caller's cards, with Version set, are the ones returned.
	out := c.Cards
	for i := range out {
		card := &out[i]
		card.Version = 1
		e := &entry{card: *card, seq: int64(len(s.bySeq) + 1)}
		deepen(&e.card)
		s.cards[card.ID] = e
		s.bySeq = append(s.bySeq, e)
		if card.UserID != "" {
			u := s.users[card.UserID]
			if u == nil {
				u = &userCards{}
				s.users[card.UserID] = u
			}
			u.cards = append(u.cards, e)
		}
		s.track(e, "")
	}
	s.outbox.addEvents(c.Events)
	s.outbox.addNotifications(c.Notifications)
	return out, nil
}

// Update implements [ports.CardStore].
func (s *Store) Update(ctx context.Context, c ports.Change) (ports.Card, error) {
	if err := ctx.Err(); err != nil {
		return ports.Card{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cards[c.Card.ID]
	if !ok {
		return ports.Card{}, fmt.Errorf("update card %s: %w", c.Card.ID, ports.ErrNotFound)
	}
	if e.card.Version != c.Card.Version {
		return ports.Card{}, fmt.Errorf("update card %s: %w", c.Card.ID, ports.ErrConflict)
	}
	if c.Exclusive && e.card.UserID != "" {
		others := s.openCards(e.card.UserID)
		if e.card.State.Open() {
			others--
		}
		if others > 0 {
			return ports.Card{}, ports.ErrOpenOrderExists
		}
	}
	prev := e.card.State
	out := c.Card
	out.Version++
	e.card = clone(out)
	s.track(e, prev)
	if c.Event.ID != "" {
		s.outbox.addEvents([]ports.AuditEvent{c.Event})
	}
	s.outbox.addNotifications(c.Notifications)
	return out, nil
}

// track updates the open-order count and the queue after e changed from state prev ("" for new).
func (s *Store) track(e *entry, prev ports.CardState) {
	now := e.card.State
	if e.card.UserID != "" && prev.Open() != now.Open() {
		if now.Open() {
			s.users[e.card.UserID].open++
		} else {
			s.users[e.card.UserID].open--
		}
	}
	if now != ports.StateProcessing {
		s.unqueue(e)
		return
	}
	if e.qi == 0 {
		s.queued = append(s.queued, e)
		e.qi = len(s.queued)
	}
	push(&s.waiting, ref(e))
}

// unqueue removes e from s.queued, if it is there, moving the last entry into its place.
func (s *Store) unqueue(e *entry) {
	if e.qi == 0 {
		return
	}
	last := s.queued[len(s.queued)-1]
	s.queued[e.qi-1], last.qi = last, e.qi
	s.queued[len(s.queued)-1] = nil
	s.queued = s.queued[:len(s.queued)-1]
	e.qi = 0
}

func ref(e *entry) queueRef {
	return queueRef{e: e, version: e.card.Version, due: due(e.card), queuedAt: e.card.QueuedAt}
}

// clone deep-copies a card, so what a caller holds and what the store holds never share memory.
func clone(c ports.Card) ports.Card {
	deepen(&c)
	return c
}

// deepen replaces the maps, slices and pointers of *c by copies, in place.
func deepen(c *ports.Card) {
	c.Elements = maps.Clone(c.Elements)
	c.History = slices.Clone(c.History)
	c.Readouts = slices.Clone(c.Readouts)
	c.Options.ProductionTypes = slices.Clone(c.Options.ProductionTypes)
	c.Photo = slices.Clone(c.Photo)
	if c.DeliveryAddress != nil {
		a := *c.DeliveryAddress
		c.DeliveryAddress = &a
	}
}

func (s *Store) openCards(userID string) int {
	if u := s.users[userID]; u != nil {
		return u.open
	}
	return 0
}

func due(c ports.Card) time.Time {
	if c.LeaseUntil.After(c.NotBefore) {
		return c.LeaseUntil
	}
	return c.NotBefore
}

// Card implements [ports.CardStore].
func (s *Store) Card(ctx context.Context, id string) (ports.Card, error) {
	if err := ctx.Err(); err != nil {
		return ports.Card{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cards[id]
	if !ok {
		return ports.Card{}, fmt.Errorf("card %s: %w", id, ports.ErrNotFound)
	}
	return clone(e.card), nil
}

// MaxPage caps [Store.List]'s page size.
const MaxPage = 1000

// List implements [ports.CardStore]. The cursor is the creation sequence of the last card
// returned, so cards added meanwhile appear on later pages and nothing is skipped or repeated.
func (s *Store) List(ctx context.Context, f ports.CardFilter) (ports.CardPage, error) {
	if err := ctx.Err(); err != nil {
		return ports.CardPage{}, err
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	candidates := s.bySeq
	if f.UserID != "" {
		candidates = nil
		if u := s.users[f.UserID]; u != nil {
			candidates = u.cards
		}
	}
	start, _ := slices.BinarySearchFunc(candidates, f.After+1, func(e *entry, seq int64) int {
		return int(e.seq - seq)
	})
	var page ports.CardPage
	var last int64
	for _, e := range candidates[start:] {
		if len(f.States) > 0 && !slices.Contains(f.States, e.card.State) {
			continue
		}
		if len(page.Cards) == limit {
			page.Next = last
			break
		}
		page.Cards = append(page.Cards, clone(e.card))
		last = e.seq
	}
	return page, nil
}

// Claim implements [ports.Queue].
func (s *Store) Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.Card, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.waiting.Len() > 0 && !s.waiting[0].due.After(now) {
		r := heap.Pop(&s.waiting).(queueRef)
		if r.live() {
			push(&s.ready, r)
		}
	}
	var out []ports.Card
	for len(out) < max && s.ready.Len() > 0 {
		r := heap.Pop(&s.ready).(queueRef)
		if !r.live() {
			continue
		}
		c := &r.e.card
		c.DispatchStarted = true
		c.LeaseUntil = now.Add(lease)
		c.Version++
		push(&s.waiting, ref(r.e))
		out = append(out, clone(*c))
	}
	return out, nil
}

// Stats implements [ports.Queue].
func (s *Store) Stats(ctx context.Context, now time.Time) (ports.QueueStats, error) {
	if err := ctx.Err(); err != nil {
		return ports.QueueStats{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ports.QueueStats{Depth: len(s.queued)}
	for _, e := range s.queued {
		if !due(e.card).After(now) {
			st.Due++
		}
		if st.OldestQueuedAt.IsZero() || e.card.QueuedAt.Before(st.OldestQueuedAt) {
			st.OldestQueuedAt = e.card.QueuedAt
		}
	}
	return st, nil
}

// dueHeap orders queue entries by the time they become claimable.
type dueHeap []queueRef

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(queueRef)) }
func (h *dueHeap) Pop() any          { return pop(h) }

// readyHeap orders claimable entries oldest QueuedAt first, then by creation.
type readyHeap []queueRef

func (h readyHeap) Len() int { return len(h) }
func (h readyHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.queuedAt.Equal(b.queuedAt) {
		return a.queuedAt.Before(b.queuedAt)
	}
	return a.e.seq < b.e.seq
}
func (h readyHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *readyHeap) Push(x any)   { *h = append(*h, x.(queueRef)) }
func (h *readyHeap) Pop() any     { return pop(h) }

// push adds r to h as heap.Push does, without boxing r in an interface (an allocation for
// every card queued).
func push[H ~[]queueRef, P interface {
	*H
	heap.Interface
}](h P, r queueRef) {
	*h = append(*h, r)
	heap.Fix(h, len(*h)-1) // sifts the new last element up, as heap.Push does
}

func pop[H ~[]queueRef](h *H) any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = queueRef{}
	*h = old[:len(old)-1]
	return x
}
