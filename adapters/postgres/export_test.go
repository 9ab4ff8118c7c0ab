package postgres

import "github.com/cardsaddon/extprod/ports"

// MigrationLockClass is the first key of the migration lock, for tests that hold it.
const MigrationLockClass = migrationLockClass

// Migrations returns the names of the embedded migrations in order, for tests.
func Migrations() ([]string, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return names, nil
}

// WriteGroup writes the one-card creations cs as one shared transaction, as concurrent calls of
// Create that arrive together are, and returns each one's outcome.
func (s *Store) WriteGroup(cs []ports.Creation) ([]error, error) {
	group := make([]*pendingCreate, len(cs))
	for i, c := range cs {
		p, err := newPending(c)
		if err != nil {
			return nil, err
		}
		group[i] = p
	}
	s.writeGroup(group)
	outs := make([]error, len(group))
	for i, p := range group {
		outs[i] = <-p.done
	}
	return outs, nil
}

// HoldWriters takes every writer of shared creation transactions, so that creations queue up
// until release is called; queued reports how many wait.
func (s *Store) HoldWriters() (queued func() int, release func()) {
	for range cap(s.groups.writers) {
		s.groups.writers <- struct{}{}
	}
	return func() int { return len(s.groups.queue) }, func() {
		for range cap(s.groups.writers) {
			<-s.groups.writers
		}
	}
}
