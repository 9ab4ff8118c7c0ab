package modeltest_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/internal/modeltest"
	"github.com/cardsaddon/extprod/ports"
)

// ignoresExclusive is a store that forgets the one-open-order rule.
type ignoresExclusive struct{ ports.Store }

func (s ignoresExclusive) Create(ctx context.Context, c ports.Creation) ([]ports.Card, error) {
	c.Exclusive = false
	return s.Store.Create(ctx, c)
}

func (s ignoresExclusive) Update(ctx context.Context, c ports.Change) (ports.Card, error) {
	c.Exclusive = false
	return s.Store.Update(ctx, c)
}

// losesAuditEvents is a store that drops the audit event of every fifth state change.
type losesAuditEvents struct {
	ports.Store
	n *atomic.Int64
}

func (s losesAuditEvents) Update(ctx context.Context, c ports.Change) (ports.Card, error) {
	if c.Event.ID != "" && s.n.Add(1)%5 == 0 {
		c.Event = ports.AuditEvent{}
	}
	return s.Store.Update(ctx, c)
}

// hidesFromQueue is a store whose queue never shows the oldest processing card.
type hidesFromQueue struct{ ports.Store }

func (s hidesFromQueue) Stats(ctx context.Context, now time.Time) (ports.QueueStats, error) {
	st, err := s.Store.Stats(ctx, now)
	if st.Due > 0 {
		st.Due--
	}
	return st, err
}

// TestBrokenStoresAreCaught: the model-based test fails, naming the broken rule, on stores that
// each break one contract.
func TestBrokenStoresAreCaught(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wrap func(ports.Store) ports.Store
		want string // in the reported violation
	}{
		{"ignores Exclusive", func(s ports.Store) ports.Store { return ignoresExclusive{s} }, "exclusive"},
		{"loses an audit event", func(s ports.Store) ports.Store { return losesAuditEvents{s, new(atomic.Int64)} }, "audit events"},
		{"hides a due card", func(s ports.Store) ports.Store { return hidesFromQueue{s} }, "queue depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := modeltest.Check(t, modeltest.Config{Seed: 1, Rounds: 30,
				NewStore: func(*testing.T) ports.Store { return tt.wrap(memory.NewStore()) }})
			if err == nil {
				t.Fatal("the broken store passed the model-based test")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("caught, but not for the broken rule (want %q): %v", tt.want, err)
			}
			t.Logf("caught: %.300s", err)
		})
	}
}

// TestSoundStorePasses: the same seeds pass on the memory store itself.
func TestSoundStorePasses(t *testing.T) {
	t.Parallel()
	if err := modeltest.Check(t, modeltest.Config{Seed: 1, Rounds: 30,
		NewStore: func(*testing.T) ports.Store { return memory.NewStore() }}); err != nil {
		t.Fatal(err)
	}
}
