package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

// TestSharedCreationTransaction writes one-card creations as one shared transaction, as
// concurrent orders that arrive together are: each keeps its own outcome.
func TestSharedCreationTransaction(t *testing.T) {
	t.Parallel()
	creation := func(id, user string, exclusive bool) ports.Creation {
		return ports.Creation{Cards: []ports.Card{benchCard(id, user, base)}, Exclusive: exclusive,
			Events: []ports.AuditEvent{{ID: "ev-" + id, CardID: id, To: ports.StateProcessing, At: base}}}
	}
	for _, tc := range []struct {
		name     string
		stored   []ports.Creation // before the shared transaction
		group    []ports.Creation
		refused  []bool   // ErrOpenOrderExists, by creation of group
		failed   []bool   // another error, by creation of group
		wantCard []string // card ids stored afterwards, in creation order
		wantEv   []string // events stored afterwards
	}{
		{
			name:     "a second exclusive order for a user in the same transaction is refused alone",
			group:    []ports.Creation{creation("c1", "u1", true), creation("c2", "u1", true), creation("c3", "u2", true)},
			refused:  []bool{false, true, false},
			failed:   []bool{false, false, false},
			wantCard: []string{"c1", "c3"},
			wantEv:   []string{"ev-c1", "ev-c3"},
		},
		{
			name:     "an exclusive order for a user with an open card is refused alone",
			stored:   []ports.Creation{creation("c0", "u1", true)},
			group:    []ports.Creation{creation("c1", "u2", true), creation("c2", "u1", true)},
			refused:  []bool{false, true},
			failed:   []bool{false, false},
			wantCard: []string{"c0", "c1"},
			wantEv:   []string{"ev-c0", "ev-c1"},
		},
		{
			name:     "non-exclusive orders for one user are all stored",
			group:    []ports.Creation{creation("c1", "u1", false), creation("c2", "u1", false)},
			refused:  []bool{false, false},
			failed:   []bool{false, false},
			wantCard: []string{"c1", "c2"},
			wantEv:   []string{"ev-c1", "ev-c2"},
		},
		{
			name:     "a card id already stored fails that creation alone",
			stored:   []ports.Creation{creation("c0", "u0", false)},
			group:    []ports.Creation{creation("c1", "u1", true), {Cards: []ports.Card{benchCard("c0", "u2", base)}, Exclusive: true, Events: []ports.AuditEvent{{ID: "ev-x", CardID: "c0", At: base}}}, creation("c3", "u3", true)},
			refused:  []bool{false, false, false},
			failed:   []bool{false, true, false},
			wantCard: []string{"c0", "c1", "c3"},
			wantEv:   []string{"ev-c0", "ev-c1", "ev-c3"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			store := newStore(t)
			for _, c := range tc.stored {
				_, err := store.Create(t.Context(), c)
				is.NoErr(err)
			}
			outs, err := store.WriteGroup(tc.group)
			is.NoErr(err)
			var refused, failed []bool
			for _, err := range outs {
				refused = append(refused, errors.Is(err, ports.ErrOpenOrderExists))
				failed = append(failed, err != nil && !errors.Is(err, ports.ErrOpenOrderExists))
			}
			if diff := cmp.Diff(tc.refused, refused); diff != "" {
				t.Errorf("refused (-want +got):\n%s\noutcomes: %v", diff, outs)
			}
			if diff := cmp.Diff(tc.failed, failed); diff != "" {
				t.Errorf("failed (-want +got):\n%s\noutcomes: %v", diff, outs)
			}
			page, err := store.List(t.Context(), ports.CardFilter{})
			is.NoErr(err)
			var cards []string
			for _, c := range page.Cards {
				cards = append(cards, c.ID)
			}
			if diff := cmp.Diff(tc.wantCard, cards); diff != "" {
				t.Errorf("stored cards (-want +got):\n%s", diff)
			}
			conn := adminConn(t, testURL(t))
			defer conn.Close(t.Context())
			rows, err := conn.Query(t.Context(), `SELECT id FROM `+store.Schema()+`.extprod_events ORDER BY seq`)
			is.NoErr(err)
			var evs []string
			for rows.Next() {
				var id string
				is.NoErr(rows.Scan(&id))
				evs = append(evs, id)
			}
			is.NoErr(rows.Err())
			if diff := cmp.Diff(tc.wantEv, evs); diff != "" {
				t.Errorf("stored events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSharedCreationAbandoned: a creation whose caller gives up while it waits for a writer is
// dropped, not written later.
func TestSharedCreationAbandoned(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	store := newStore(t)
	creation := func(id, user string) ports.Creation {
		return ports.Creation{Cards: []ports.Card{benchCard(id, user, base)}, Exclusive: true,
			Events: []ports.AuditEvent{{ID: "ev-" + id, CardID: id, To: ports.StateProcessing, At: base}}}
	}
	queued, release := store.HoldWriters()
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() {
		_, err := store.Create(ctx, creation("c1", "u1"))
		result <- err
	}()
	for queued() == 0 { // the creation waits for a writer
		select {
		case err := <-result:
			t.Fatalf("the creation ended (%v) while every writer was held", err)
		default:
		}
	}
	cancel()
	is.True(errors.Is(<-result, context.Canceled)) // the caller gave up
	release()

	// The next creation finds a writer free; the abandoned one is not written with it.
	_, err := store.Create(t.Context(), creation("c2", "u1"))
	is.NoErr(err) // u1 has no open card: c1 was dropped
	_, err = store.Card(t.Context(), "c1")
	is.True(errors.Is(err, ports.ErrNotFound))
}
