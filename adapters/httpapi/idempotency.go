package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// Remembered is a successful creation kept under its Idempotency-Key.
type Remembered struct {
	// Fingerprint binds the key to the request: a hash of its method, path and parsed body.
	Fingerprint string
	// Body is the JSON answer of the creation, replayed with 200.
	Body []byte
	// At is when the creation succeeded.
	At time.Time
}

// IdempotencyStore remembers successful creations under their key (already scoped to the actor
// by the handler). It must be safe for concurrent use.
//
//   - Lock waits until no other request holds key (or ctx ends: then it returns ctx's error),
//     then holds it until the returned unlock is called, and returns what is remembered under
//     key, if anything that has not expired. Requests with the same key are thereby serialized:
//     of two racing ones, the second sees the first one's result.
//   - Remember stores rec under key, which the caller holds, for at least the store's retention
//     (24 hours or more). Only successful creations are remembered.
type IdempotencyStore interface {
	Lock(ctx context.Context, key string) (rec Remembered, found bool, unlock func(), err error)
	Remember(ctx context.Context, key string, rec Remembered) error
}

// MemoryIdempotency is an in-process [IdempotencyStore]: it serializes requests per key within
// this process and forgets a creation ttl after it was remembered, by the injected clock.
// Nothing survives a restart, and instances of a host do not share it.
type MemoryIdempotency struct {
	clock ports.Clock
	ttl   time.Duration

	mu    sync.Mutex
	slots map[string]*idemSlot
	// expiries lists remembered keys in the order they expire (the ttl is fixed);
	// expiries[head:] is live.
	expiries []idemExpiry
	head     int
}

type idemExpiry struct {
	key     string
	expires time.Time
}

type idemSlot struct {
	lock    chan struct{} // holds a token while a request holds the key
	refs    int           // requests holding or waiting for the key; guarded by mu
	rec     Remembered
	found   bool
	expires time.Time
}

var _ IdempotencyStore = (*MemoryIdempotency)(nil)

// NewMemoryIdempotency returns an empty store that remembers creations for ttl by clock (nil:
// the wall clock).
func NewMemoryIdempotency(clock ports.Clock, ttl time.Duration) *MemoryIdempotency {
	if clock == nil {
		clock = wallClock{}
	}
	return &MemoryIdempotency{clock: clock, ttl: ttl, slots: make(map[string]*idemSlot)}
}

// Lock implements [IdempotencyStore].
func (m *MemoryIdempotency) Lock(ctx context.Context, key string) (Remembered, bool, func(), error) {
	m.mu.Lock()
	m.sweep(m.clock.Now())
	s, ok := m.slots[key]
	if !ok {
		s = &idemSlot{lock: make(chan struct{}, 1)}
		m.slots[key] = s
	}
	s.refs++
	m.mu.Unlock()

	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		m.release(key, s)
		return Remembered{}, false, nil, ctx.Err()
	}
	m.mu.Lock()
	rec, found := s.rec, s.found && m.clock.Now().Before(s.expires)
	m.mu.Unlock()
	var once sync.Once
	unlock := func() {
		once.Do(func() {
			<-s.lock
			m.release(key, s)
		})
	}
	if !found {
		rec = Remembered{}
	}
	return rec, found, unlock, nil
}

// release drops one reference to s and forgets the slot when nobody uses it and it remembers
// nothing live.
func (m *MemoryIdempotency) release(key string, s *idemSlot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.refs--
	if s.refs == 0 && (!s.found || !m.clock.Now().Before(s.expires)) {
		delete(m.slots, key)
	}
}

// Remember implements [IdempotencyStore].
func (m *MemoryIdempotency) Remember(ctx context.Context, key string, rec Remembered) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.slots[key]
	if !ok { // not held: a misuse, but remember anyway
		s = &idemSlot{lock: make(chan struct{}, 1)}
		m.slots[key] = s
	}
	s.rec, s.found, s.expires = rec, true, m.clock.Now().Add(m.ttl)
	m.expiries = append(m.expiries, idemExpiry{key: key, expires: s.expires})
	return nil
}

// Len returns how many keys the store holds (remembered or in use), for tests and metrics.
func (m *MemoryIdempotency) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.slots)
}

// sweep forgets unused slots whose creation expired, oldest first, in amortized constant time;
// mu is held. A slot in use when it expires is forgotten by its last release.
func (m *MemoryIdempotency) sweep(now time.Time) {
	for m.head < len(m.expiries) && !now.Before(m.expiries[m.head].expires) {
		it := m.expiries[m.head]
		if s, ok := m.slots[it.key]; ok && s.refs == 0 && s.expires.Equal(it.expires) {
			delete(m.slots, it.key)
		}
		m.expiries[m.head] = idemExpiry{}
		m.head++
	}
	if m.head > 1024 && m.head*2 > len(m.expiries) {
		m.expiries = append([]idemExpiry(nil), m.expiries[m.head:]...)
		m.head = 0
	}
}
