package gocardsfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// persister writes a fake's orders to one JSON file; see [Server.Persist].
type persister struct {
	path    string
	onError func(error)
	mu      sync.Mutex // serializes snapshots, so the last write holds the latest state
}

// persistedOrder is one order in the file: the snapshot and the canonical body of its request,
// so a replayed order (same idempotency key, same body) is still recognised after a restart.
type persistedOrder struct {
	Order
	Canonical string `json:"canonical"`
}

type persistedFile struct {
	Orders []persistedOrder `json:"orders"`
}

// Persist makes the fake keep its orders in the JSON file at path, for an example host whose
// demo bureau must still know, after a restart, the orders it accepted: it restores the orders
// the file holds (when it exists), then writes every order to it after each change (an order
// placed, a status set), atomically (a temporary file renamed over it), before the change is
// answered. Call it before the fake serves. onError, when set, receives a failed write; the
// change stands in memory. Tokens, events, faults and [Stats] are not kept: Stats count this
// process's work, though an idempotency key used before the restart still replays its order.
//
// The file holds what the orders carry, personal card elements included, and is written with
// mode 0600.
func (s *Server) Persist(path string, onError func(error)) error {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("gocardsfake: read %s: %w", path, err)
	default:
		var f persistedFile
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("gocardsfake: %s: %w", path, err)
		}
		if err := s.restore(f.Orders); err != nil {
			return fmt.Errorf("gocardsfake: %s: %w", path, err)
		}
	}
	p := &persister{path: path, onError: onError}
	s.mu.Lock()
	s.persister = p
	s.mu.Unlock()
	return p.save(s)
}

// restore loads orders into an empty fake.
func (s *Server) restore(orders []persistedOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.orders) > 0 {
		return errors.New("the fake already holds orders")
	}
	for i, po := range orders {
		n, err := strconv.Atoi(strings.TrimPrefix(po.ID, "O-"))
		if err != nil || !strings.HasPrefix(po.ID, "O-") || s.orders[po.ID] != nil || po.IdempotencyKey == "" {
			return fmt.Errorf("order %d: bad or duplicate id, or no idempotency key", i)
		}
		o := &order{Order: po.Order, canonical: po.Canonical}
		o.Order = o.snapshot()
		s.orders[o.ID] = o
		s.orderIDs = append(s.orderIDs, o.ID)
		s.byKey[o.IdempotencyKey] = o
		s.createdByKey[o.IdempotencyKey]++
		s.byRef[o.ExternalReference] = append(s.byRef[o.ExternalReference], o)
		s.seq = max(s.seq, n)
	}
	return nil
}

// changed writes the orders when the fake persists them; s.mu must not be held.
func (s *Server) changed() {
	s.mu.Lock()
	p := s.persister
	s.mu.Unlock()
	if p == nil {
		return
	}
	if err := p.save(s); err != nil && p.onError != nil {
		p.onError(err)
	}
}

// save writes a snapshot of s's orders to a temporary file in the target's folder, syncs it and
// renames it over the target.
func (p *persister) save(s *Server) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.mu.Lock()
	f := persistedFile{Orders: make([]persistedOrder, 0, len(s.orderIDs))}
	for _, id := range s.orderIDs {
		o := s.orders[id]
		f.Orders = append(f.Orders, persistedOrder{Order: o.snapshot(), Canonical: o.canonical})
	}
	s.mu.Unlock()
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("gocardsfake: persist: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p.path), "."+filepath.Base(p.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("gocardsfake: persist: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("gocardsfake: persist: %w", err)
	}
	return nil
}
