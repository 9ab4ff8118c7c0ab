package cardorder_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

// A mailer that finds no address for the recipient drops that one mail: it leaves the outbox
// and is not tried again, and the order is not affected (docs/use-case.md §6). A mailer that is
// down keeps its mail pending.
func TestMailWithoutAddressIsDroppedNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		pending int
	}{
		{"no address", fmt.Errorf("no address for the recipient: %w", ports.ErrNotFound), 0},
		{"relay down", fmt.Errorf("relay: %w", ports.ErrUnavailable), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false }))
			w.mailer.Fail(tc.err)
			c := w.order(t, "u1") // ordered directly: one "card ordered" mail
			is.Equal(c.State, ports.StateOrdered)
			w.relay()
			st, err := w.store.OutboxStats(context.Background(), w.clock.Now())
			is.NoErr(err)
			is.Equal(st.PendingNotifications, tc.pending)
		})
	}
}
