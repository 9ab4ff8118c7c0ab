package httpapi_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// benchService is the domain of the benchmarks: 256 active users, static options with the use
// case enabled, queueing on and multiple orders allowed.
func benchService(b *testing.B) *cardorder.Service {
	b.Helper()
	userList := make([]ports.User, benchUsers)
	for i := range userList {
		userList[i] = ports.User{ID: fmt.Sprintf("u%d", i), State: ports.UserActive, GivenName: "Ada",
			FamilyName: "Lovelace", Email: "ada@example.com", UPN: "ada@corp.example", Organisation: "Corp"}
	}
	store := memory.NewStore()
	opts := ports.DefaultOptions()
	opts.Enabled, opts.QueueCards, opts.AllowMultipleCardOrders = true, true, true
	// The bureau lists its layout, as the GO Cards client does from its cache, so card data is
	// checked at order time.
	bureau := memory.NewBureau()
	bureau.SetLayout(ports.Layout{ID: "L-100", Name: "Employee card", Fields: []ports.LayoutField{
		{Name: "FIRST_NAME", Required: true, MaxLength: 40}, {Name: "LAST_NAME", Required: true, MaxLength: 40},
		{Name: "COMMON_NAME", Required: true, MaxLength: 64}, {Name: "UPN", MaxLength: 128},
		{Name: "EMAIL", MaxLength: 128},
	}})
	svc, err := cardorder.New(cardorder.Ports{
		Users: memory.NewUsers(userList...), Store: store,
		Provider: bureau, Options: cardorder.StaticOptions(opts),
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// BenchmarkOrderDomainOnly is the domain's share of an order: Service.OrderCard alone.
func BenchmarkOrderDomainOnly(b *testing.B) {
	svc := benchService(b)
	b.ReportAllocs()
	a := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}
	for i := 0; b.Loop(); i++ {
		if _, err := svc.OrderCard(b.Context(), fmt.Sprintf("u%d", i%benchUsers), &cardorder.OrderOptions{Actor: a, ProductionType: "standard"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOrderInProcess is an order through the handler without the network.
func BenchmarkOrderInProcess(b *testing.B) {
	svc := benchService(b)
	h, _ := httpapi.New(httpapi.Config{Service: svc, Auth: tokens})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req := httptest.NewRequest("POST", fmt.Sprintf("/v1/users/u%d/card-orders", i%256), strings.NewReader(`{"productionType":"standard"}`))
		req.Header.Set("Authorization", "Bearer t-op")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 201 {
			b.Fatal(rec.Code)
		}
	}
}
