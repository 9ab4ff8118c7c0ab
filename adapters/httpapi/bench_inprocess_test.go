package httpapi_test

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/httpapi/httpapitest"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"

	"github.com/cardsaddon/extprod/internal/cputime"
)

// reportCPU reports the process CPU time per op from start on (cpu-ns/op): on a shared machine
// it is steadier than ns/op, which counts the time other processes run.
func reportCPU(b *testing.B, start time.Duration) {
	if used := cputime.Process() - start; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkOrderDomainOnly is the domain's share of an order: Service.OrderCard alone, on the
// domain of BenchmarkOrderOverHTTP (httpapitest.BenchService).
func BenchmarkOrderDomainOnly(b *testing.B) {
	svc := httpapitest.BenchService(b, nil)
	b.ReportAllocs()
	a := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}
	defer reportCPU(b, cputime.Process())
	for i := 0; b.Loop(); i++ {
		if _, err := svc.OrderCard(b.Context(), "u"+strconv.Itoa(i%httpapitest.BenchUsers), &cardorder.OrderOptions{Actor: a, ProductionType: "standard"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOrderInProcess is an order through the handler without the network (httptest's
// request and recorder included).
func BenchmarkOrderInProcess(b *testing.B) {
	h, err := httpapi.New(httpapi.Config{Service: httpapitest.BenchService(b, nil), Auth: httpapitest.BenchAuth()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b, cputime.Process())
	for i := 0; b.Loop(); i++ {
		req := httptest.NewRequest("POST", "/v1/users/u"+strconv.Itoa(i%httpapitest.BenchUsers)+"/card-orders", strings.NewReader(`{"productionType":"standard"}`))
		req.Header.Set("Authorization", "Bearer "+httpapitest.BenchToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 201 {
			b.Fatal(rec.Code)
		}
	}
}
