package memory_test

import (
	"strconv"
	"testing"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/ports"
	"github.com/cardsaddon/extprod/ports/portstest"
)

func TestStoreConformance(t *testing.T) {
	portstest.RunStore(t, func(*testing.T) portstest.Store { return memory.NewStore() })
}

func TestScriptsConformance(t *testing.T) {
	portstest.RunScriptStore(t, func(*testing.T) ports.ScriptStore { return &memory.Scripts{} })
}

func TestBureauConformance(t *testing.T) {
	portstest.RunProvider(t, func(*testing.T) ports.Provider { return memory.NewBureau() }, func(i int) ports.ProviderOrder {
		id := "card-" + strconv.Itoa(i)
		return ports.ProviderOrder{IdempotencyKey: id, ExternalReference: id, LayoutID: "L-100", Elements: map[string]string{"COMMON_NAME": "Ada Lovelace"}}
	})
}
