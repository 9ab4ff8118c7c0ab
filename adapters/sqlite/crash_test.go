package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cardsaddon/extprod/adapters/sqlite"
	"github.com/cardsaddon/extprod/internal/crashtest"
	"github.com/cardsaddon/extprod/ports"
)

// TestCrash kills processes that order, dispatch and mail cards over one SQLite file with
// SIGKILL at random moments (docs/use-case.md §8): every card ends ordered, exactly once at the
// bureau, and its "card ordered" mail is delivered at least once.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped in -short mode")
	}
	crashtest.Run(t, crashtest.Config{
		DSN: filepath.Join(t.TempDir(), "crash.db"),
		Open: func(ctx context.Context, dsn string) (ports.Store, func() error, error) {
			s, err := sqlite.Open(ctx, dsn, nil)
			if err != nil {
				return nil, nil, err
			}
			return s, s.Close, nil
		},
	})
}
