package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

var (
	_ ports.IdempotencyStore = (*Idempotency)(nil)
	_ ports.EventDedup       = (*EventDedup)(nil)
	_ ports.JobLeases        = (*JobLeases)(nil)
)

// Idempotency is an in-memory [ports.IdempotencyStore]: reserve-then-complete records under
// one mutex, expired by the now its callers pass. Its zero value is ready to use. Nothing
// survives a restart, and instances of a host do not share it (use a database adapter then).
type Idempotency struct {
	mu     sync.Mutex
	recs   map[string]ports.IdempotencyRecord
	tokens atomic.Uint64
}

// Reserve implements [ports.IdempotencyStore].
func (m *Idempotency) Reserve(ctx context.Context, key, fingerprint string, now time.Time, hold time.Duration) (ports.IdempotencyRecord, bool, error) {
	if err := ctx.Err(); err != nil {
		return ports.IdempotencyRecord{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec, ok := m.recs[key]; ok && rec.ExpiresAt.After(now) {
		rec.Body = append([]byte(nil), rec.Body...)
		return rec, false, nil
	}
	if m.recs == nil {
		m.recs = make(map[string]ports.IdempotencyRecord)
	}
	rec := ports.IdempotencyRecord{Fingerprint: fingerprint, Token: fmt.Sprintf("r%d", m.tokens.Add(1)), ExpiresAt: now.Add(hold)}
	m.recs[key] = rec
	return rec, true, nil
}

// Complete implements [ports.IdempotencyStore].
func (m *Idempotency) Complete(ctx context.Context, key, token string, body []byte, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.recs[key]
	if !ok || rec.Token != token || rec.Done {
		return fmt.Errorf("complete idempotency key: reservation %s is gone: %w", token, ports.ErrConflict)
	}
	rec.Done, rec.Body, rec.ExpiresAt = true, append([]byte(nil), body...), expiresAt
	m.recs[key] = rec
	return nil
}

// Release implements [ports.IdempotencyStore].
func (m *Idempotency) Release(ctx context.Context, key, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec, ok := m.recs[key]; ok && rec.Token == token && !rec.Done {
		delete(m.recs, key)
	}
	return nil
}

// PurgeIdempotency implements [ports.IdempotencyStore].
func (m *Idempotency) PurgeIdempotency(ctx context.Context, now time.Time, max int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for key, rec := range m.recs {
		if n >= max {
			break
		}
		if !rec.ExpiresAt.After(now) {
			delete(m.recs, key)
			n++
		}
	}
	return n, nil
}

// Len returns how many records the store holds, expired or not, for tests and metrics.
func (m *Idempotency) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}

// EventDedup is an in-memory [ports.EventDedup]. Its zero value is ready to use; nothing
// survives a restart and instances of a host do not share it.
type EventDedup struct {
	mu  sync.Mutex
	ids map[string]dedupEntry
}

type dedupEntry struct {
	done  bool
	until time.Time // the hold's end, or how long an applied id is remembered
}

// BeginEvent implements [ports.EventDedup].
func (d *EventDedup) BeginEvent(ctx context.Context, id string, now time.Time, hold time.Duration) (ports.DedupState, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.ids[id]; ok && e.until.After(now) {
		if e.done {
			return ports.DedupDone, nil
		}
		return ports.DedupBusy, nil
	}
	if d.ids == nil {
		d.ids = make(map[string]dedupEntry)
	}
	d.ids[id] = dedupEntry{until: now.Add(hold)}
	return ports.DedupNew, nil
}

// FinishEvent implements [ports.EventDedup].
func (d *EventDedup) FinishEvent(ctx context.Context, id string, applied bool, keepUntil time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !applied {
		if e, ok := d.ids[id]; ok && !e.done {
			delete(d.ids, id)
		}
		return nil
	}
	if d.ids == nil {
		d.ids = make(map[string]dedupEntry)
	}
	d.ids[id] = dedupEntry{done: true, until: keepUntil}
	return nil
}

// PurgeEvents implements [ports.EventDedup].
func (d *EventDedup) PurgeEvents(ctx context.Context, now time.Time, max int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for id, e := range d.ids {
		if n >= max {
			break
		}
		if !e.until.After(now) {
			delete(d.ids, id)
			n++
		}
	}
	return n, nil
}

// JobLeases is an in-memory [ports.JobLeases]: it arbitrates between the Services of one
// process only. Its zero value is ready to use.
type JobLeases struct {
	mu     sync.Mutex
	leases map[string]jobLease
}

type jobLease struct {
	holder string
	until  time.Time
}

// AcquireLease implements [ports.JobLeases].
func (l *JobLeases) AcquireLease(ctx context.Context, job, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.leases[job]; ok && cur.holder != holder && cur.until.After(now) {
		return false, nil
	}
	if l.leases == nil {
		l.leases = make(map[string]jobLease)
	}
	l.leases[job] = jobLease{holder: holder, until: now.Add(ttl)}
	return true, nil
}

// ReleaseLease implements [ports.JobLeases].
func (l *JobLeases) ReleaseLease(ctx context.Context, job, holder string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.leases[job]; ok && cur.holder == holder {
		delete(l.leases, job)
	}
	return nil
}
