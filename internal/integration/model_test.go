package integration

import (
	"testing"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/internal/modeltest"
	"github.com/cardsaddon/extprod/ports"
)

// TestModelMemory runs the model-based test (package modeltest) on the memory store.
func TestModelMemory(t *testing.T) {
	t.Parallel()
	modeltest.Run(t, modeltest.Config{NewStore: func(*testing.T) ports.Store { return memory.NewStore() }, Rounds: 40})
}
