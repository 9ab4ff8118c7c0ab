package httpapi_test

import (
	"testing"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/httpapi/httpapitest"
)

// BenchmarkOrderOverHTTP measures ordering over loopback HTTP with 16 concurrent clients
// (in-memory store, static options: enabled, queueing on, multiple orders allowed so every order
// succeeds) against a bare net/http handler that decodes the same body and encodes a card-sized
// answer, with the same client in the same run (httpapitest.BenchOrderOverHTTP, which the
// OpenTelemetry adapter's benchmark shares). It reports both throughputs, the CPU time per
// request of each and their ratios (docs/http-api.md's target: at least 0.8). One op is one
// request to each server. Run it with -benchtime 60000x -count 6 and take the median: a shared
// machine makes single runs noisy.
func BenchmarkOrderOverHTTP(b *testing.B) {
	h, err := httpapi.New(httpapi.Config{Service: httpapitest.BenchService(b, nil), Auth: httpapitest.BenchAuth()})
	if err != nil {
		b.Fatal(err)
	}
	httpapitest.BenchOrderOverHTTP(b, h)
}
