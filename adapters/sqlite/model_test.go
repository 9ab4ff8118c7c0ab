package sqlite_test

import (
	"testing"

	"github.com/cardsaddon/extprod/internal/modeltest"
	"github.com/cardsaddon/extprod/ports"
)

// TestModel runs the model-based test (package modeltest) on a SQLite store in a fresh file.
func TestModel(t *testing.T) {
	modeltest.Run(t, modeltest.Config{NewStore: func(t *testing.T) ports.Store { return openTest(t, "") }, Rounds: 12})
}
