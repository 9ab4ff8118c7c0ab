package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cardsaddon/extprod/adapters/postgres"
	"github.com/cardsaddon/extprod/internal/crashtest"
	"github.com/cardsaddon/extprod/ports"
)

// TestCrash kills processes that order, dispatch and mail cards over one PostgreSQL schema with
// SIGKILL at random moments (docs/use-case.md §8): every card ends ordered, exactly once at the
// bureau, and its "card ordered" mail is delivered at least once. The harness hands the DSN to
// every child; here it is "<schema> <url>".
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped in -short mode")
	}
	crashtest.Run(t, crashtest.Config{
		// A child ignores DSN and uses its parent's; its own fresh schema name stays unused.
		DSN: newSchema(t) + " " + testURL(t),
		Open: func(ctx context.Context, dsn string) (ports.Store, func() error, error) {
			schema, url, _ := strings.Cut(dsn, " ")
			s, err := postgres.Open(ctx, url, &postgres.Config{Schema: schema})
			if err != nil {
				return nil, nil, err
			}
			return s, func() error { s.Close(); return nil }, nil
		},
	})
}
