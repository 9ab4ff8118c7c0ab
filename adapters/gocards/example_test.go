package gocards_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/ports"
)

// A client placing an order at a fake bureau and following it to production.
func Example() {
	ctx := context.Background()
	fake := gocardsfake.New(gocardsfake.Config{})
	srv := httptest.NewServer(fake)
	defer srv.Close()

	client, err := gocards.New(gocards.Config{
		BaseURL:        srv.URL,
		ClientID:       gocardsfake.DefaultClientID,
		ClientSecret:   gocardsfake.DefaultClientSecret,
		OrganisationID: gocardsfake.DefaultOrganisationID,
	})
	if err != nil {
		panic(err)
	}

	rec, err := client.PlaceOrder(ctx, ports.ProviderOrder{
		IdempotencyKey:    "card-42", // the card id: its first attempt
		ExternalReference: "card-42",
		LayoutID:          "L-100",
		Elements:          map[string]string{"FIRST_NAME": "Ada", "LAST_NAME": "Lovelace", "COMMON_NAME": "Ada Lovelace"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(rec.OrderID, rec.State)

	if err := fake.Advance(ctx, rec.OrderID, gocardsfake.StatusProduced); err != nil {
		panic(err)
	}
	st, err := client.OrderStatus(ctx, rec.OrderID)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.State, st.CardNumber)

	// A refusal carries the bureau's reason and per-field reasons.
	_, err = client.PlaceOrder(ctx, ports.ProviderOrder{
		IdempotencyKey: "card-43", ExternalReference: "card-43", LayoutID: "L-100",
		Elements: map[string]string{"FIRST_NAME": "Ada"},
	})
	var rej *ports.RejectedError
	if errors.As(err, &rej) {
		fmt.Println(rej.Reason, rej.Fields)
	}
	// Output:
	// O-1 ordered
	// produced C-00000001
	// invalid card data map[COMMON_NAME:required LAST_NAME:required]
}

// printApplier stands in for the domain's Service.
type printApplier struct{}

func (printApplier) ApplyOrderStatus(_ context.Context, s ports.OrderStatus) (bool, error) {
	fmt.Println("card", s.ExternalReference, "is", s.State)
	return true, nil
}

// The events handler mounted on the host's callback URL, receiving the bureau's pushes.
func ExampleNewEventHandler() {
	ctx := context.Background()
	secret := []byte("shared secret")
	events, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: printApplier{}})
	if err != nil {
		panic(err)
	}
	callback := httptest.NewServer(events)
	defer callback.Close()

	fake := gocardsfake.New(gocardsfake.Config{CallbackURL: callback.URL, EventSecret: secret})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	client, err := gocards.New(gocards.Config{
		BaseURL: srv.URL, ClientID: gocardsfake.DefaultClientID,
		ClientSecret: gocardsfake.DefaultClientSecret, OrganisationID: gocardsfake.DefaultOrganisationID,
	})
	if err != nil {
		panic(err)
	}
	rec, err := client.PlaceOrder(ctx, ports.ProviderOrder{
		IdempotencyKey: "card-7", ExternalReference: "card-7", LayoutID: "L-TEMP",
		Elements: map[string]string{"TEMPORARY": "true", "SEQUENCE": "1"},
	})
	if err != nil {
		panic(err)
	}
	for _, s := range []gocardsfake.Status{gocardsfake.StatusInProduction, gocardsfake.StatusShipped} {
		if err := fake.Advance(ctx, rec.OrderID, s); err != nil {
			panic(err)
		}
	}
	// Output:
	// card card-7 is in_production
	// card card-7 is produced
}
