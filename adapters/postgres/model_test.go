package postgres_test

import (
	"testing"

	"github.com/cardsaddon/extprod/internal/modeltest"
	"github.com/cardsaddon/extprod/ports"
)

// TestModel runs the model-based test (package modeltest) on a PostgreSQL store in a fresh
// schema; it skips without EXTPROD_POSTGRES_URL.
func TestModel(t *testing.T) {
	t.Parallel()
	modeltest.Run(t, modeltest.Config{NewStore: func(t *testing.T) ports.Store { return newStore(t) }, Rounds: 15})
}
