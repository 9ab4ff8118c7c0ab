package postgres_test

import (
	"testing"

	"github.com/cardsaddon/extprod/ports"
	"github.com/cardsaddon/extprod/ports/portstest"
)

// The conformance suites of package portstest, each subtest on a store in a fresh schema.

func TestStoreConformance(t *testing.T) {
	t.Parallel()
	portstest.RunStore(t, func(t *testing.T) portstest.Store { return newStore(t) })
}

func TestScriptStoreConformance(t *testing.T) {
	t.Parallel()
	portstest.RunScriptStore(t, func(t *testing.T) ports.ScriptStore { return newStore(t) })
}

func TestIdempotencyStoreConformance(t *testing.T) {
	t.Parallel()
	portstest.RunIdempotencyStore(t, func(t *testing.T) ports.IdempotencyStore { return newStore(t) })
}

func TestEventDedupConformance(t *testing.T) {
	t.Parallel()
	portstest.RunEventDedup(t, func(t *testing.T) ports.EventDedup { return newStore(t) })
}

func TestJobLeasesConformance(t *testing.T) {
	t.Parallel()
	portstest.RunJobLeases(t, func(t *testing.T) ports.JobLeases { return newStore(t) })
}
