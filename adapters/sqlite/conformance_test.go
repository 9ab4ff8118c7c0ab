package sqlite_test

import (
	"testing"

	"github.com/cardsaddon/extprod/ports"
	"github.com/cardsaddon/extprod/ports/portstest"
)

// Every durable port of the store passes the same conformance suite as the memory adapters.

func TestStoreConformance(t *testing.T) {
	portstest.RunStore(t, func(t *testing.T) portstest.Store { return openTest(t, "") })
}

func TestScriptStoreConformance(t *testing.T) {
	portstest.RunScriptStore(t, func(t *testing.T) ports.ScriptStore { return openTest(t, "") })
}

func TestIdempotencyStoreConformance(t *testing.T) {
	portstest.RunIdempotencyStore(t, func(t *testing.T) ports.IdempotencyStore { return openTest(t, "") })
}

func TestEventDedupConformance(t *testing.T) {
	portstest.RunEventDedup(t, func(t *testing.T) ports.EventDedup { return openTest(t, "") })
}

func TestJobLeasesConformance(t *testing.T) {
	portstest.RunJobLeases(t, func(t *testing.T) ports.JobLeases { return openTest(t, "") })
}
