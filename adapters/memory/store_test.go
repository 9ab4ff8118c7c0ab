package memory_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

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

func TestExclusiveCreationOfTwoOpenCardsForOneUser(t *testing.T) {
	s := memory.NewStore()
	two := []ports.Card{{ID: "a", UserID: "u", State: ports.StateProcessing}, {ID: "b", UserID: "u", State: ports.StateProcessing}}
	if _, err := s.Create(t.Context(), ports.Creation{Cards: two, Exclusive: true}); !errors.Is(err, ports.ErrOpenOrderExists) {
		t.Fatalf("got %v, want ErrOpenOrderExists", err)
	}
	if _, err := s.Card(t.Context(), "a"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("a refused creation stored a card: %v", err)
	}
}

func TestNonPositiveMaxReadsNothing(t *testing.T) {
	s := memory.NewStore()
	_, err := s.Create(t.Context(), ports.Creation{Cards: []ports.Card{{ID: "a"}}, Events: []ports.AuditEvent{{ID: "e"}},
		Notifications: []ports.Notification{{ID: "n"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, max := range []int{0, -1} {
		ev, err := s.ClaimEvents(t.Context(), time.Now(), max, time.Minute)
		if err != nil || len(ev) != 0 {
			t.Fatalf("ClaimEvents(max %d) = %v, %v; want none", max, ev, err)
		}
		ns, err := s.ClaimNotifications(t.Context(), time.Now(), max, time.Minute)
		if err != nil || len(ns) != 0 {
			t.Fatalf("ClaimNotifications(max %d) = %v, %v; want none", max, ns, err)
		}
	}
}

func TestUsersAreCopies(t *testing.T) {
	u := ports.User{ID: "u1", Attributes: map[string]string{"costCentre": "42"}}
	users := memory.NewUsers(u)
	u.Attributes["costCentre"] = "changed by the caller"
	got, err := users.User(t.Context(), "u1")
	if err != nil {
		t.Fatal(err)
	}
	got.Attributes["costCentre"] = "changed by a reader"
	again, _ := users.User(t.Context(), "u1")
	if again.Attributes["costCentre"] != "42" {
		t.Fatalf("directory changed through a copy: %q", again.Attributes["costCentre"])
	}
}

func TestScriptsRefuseAnEmptyVersion(t *testing.T) {
	if err := (&memory.Scripts{}).ReplaceScript(t.Context(), "var options = {}", "", ""); err == nil {
		t.Fatal("an empty version was accepted")
	}
}

func TestIdempotencyConformance(t *testing.T) {
	portstest.RunIdempotencyStore(t, func(*testing.T) ports.IdempotencyStore { return &memory.Idempotency{} })
}

func TestEventDedupConformance(t *testing.T) {
	portstest.RunEventDedup(t, func(*testing.T) ports.EventDedup { return &memory.EventDedup{} })
}

func TestJobLeasesConformance(t *testing.T) {
	portstest.RunJobLeases(t, func(*testing.T) ports.JobLeases { return &memory.JobLeases{} })
}
