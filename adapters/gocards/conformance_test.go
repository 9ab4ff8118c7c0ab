package gocards_test

import (
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/ports"
	"github.com/cardsaddon/extprod/ports/portstest"
)

// TestProviderConformance runs the provider contract on the HTTP client against the fake bureau.
func TestProviderConformance(t *testing.T) {
	portstest.RunProvider(t, func(t *testing.T) ports.Provider {
		srv := httptest.NewServer(gocardsfake.New(gocardsfake.Config{}))
		t.Cleanup(srv.Close)
		c, err := gocards.New(gocards.Config{
			BaseURL: srv.URL, ClientID: gocardsfake.DefaultClientID, ClientSecret: gocardsfake.DefaultClientSecret,
			OrganisationID: gocardsfake.DefaultOrganisationID,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}, func(i int) ports.ProviderOrder {
		id := "card-" + strconv.Itoa(i)
		return ports.ProviderOrder{IdempotencyKey: id, ExternalReference: id, LayoutID: "L-100", CardHolderEmail: "ada@example.com",
			Elements: map[string]string{"FIRST_NAME": "Ada", "LAST_NAME": "Lovelace", "COMMON_NAME": "Ada Lovelace", "UPN": "ada@corp.example"}}
	})
}
