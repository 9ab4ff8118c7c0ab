package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// Serve the operator API over in-memory adapters and order one card through it.
func Example() {
	store := memory.NewStore()
	opts := ports.DefaultOptions()
	opts.Enabled = true
	svc, err := cardorder.New(cardorder.Ports{
		Users: memory.NewUsers(ports.User{ID: "u1", State: ports.UserActive, GivenName: "Ada",
			FamilyName: "Lovelace", Email: "ada@example.com", UPN: "ada@corp.example"}),
		Store:    store,
		Provider: memory.NewBureau(),
		Options:  cardorder.StaticOptions(opts),
	}, nil)
	if err != nil {
		panic(err)
	}
	h, err := httpapi.New(httpapi.Config{
		Service: svc,
		Auth:    httpapi.StaticTokens{"t-op": {ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/v1/users/u1/card-orders", nil)
	req.Header.Set("Authorization", "Bearer t-op")
	res, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	var card httpapi.Card
	if err := json.NewDecoder(res.Body).Decode(&card); err != nil {
		panic(err)
	}
	fmt.Println(res.Status)
	fmt.Println(card.State, card.CommonName, card.LayoutID, card.OrderedBy)
	// Output:
	// 201 Created
	// processing Ada Lovelace L-100 op-1
}
