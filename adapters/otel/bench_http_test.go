package otel_test

import (
	"net/http"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/httpapi/httpapitest"
	"github.com/cardsaddon/extprod/adapters/otel"
	"github.com/cardsaddon/extprod/cardorder"
)

// BenchmarkOrderOverHTTPHooks is httpapi's BenchmarkOrderOverHTTP (the same driver,
// httpapitest.BenchOrderOverHTTP: 16 clients ordering over loopback HTTP on the in-memory store
// with static options, against a bare net/http JSON handler in the same run) with the
// OpenTelemetry layers on. Every sub-benchmark has the Observer in the Service, with metrics on
// (a manual reader, never collected) and traces sampled at 1 % (parent-based) through the SDK's
// batch processor to an exporter that drops them: the order's span and metrics, the HTTP API's
// authentication span (ports.OpAuthenticate), the state change counted, the trace context stored
// with the card and its audit event. Then:
//
//   - hooks: that alone, what the library adds to the HTTP path (issue 12: at least 0.8 of
//     bare with all of this on);
//   - hooks+otelhttp: also Observer.Handler around the HTTP API, as the example host runs it
//     (-metrics): otelhttp's server span per request (the sampling decision is made there and
//     the domain's spans are its children) and its http.server.* metrics. otelhttp's own cost
//     is measured and recorded, not bounded.
//
// Observer.Authenticator is not on: the HTTP API reports its authentications to the Observer
// itself (see AuthFailed), and on success the wrapper only calls through. Run it with
// -benchtime 60000x -count 6 and take the median of the ratios (api/bare-run, the throughputs',
// and the medians of rounds api/bare and api/bare-by-cpu).
func BenchmarkOrderOverHTTPHooks(b *testing.B) {
	for _, tc := range []struct {
		name string
		wrap func(*otel.Observer, http.Handler) http.Handler
	}{
		{"hooks", func(_ *otel.Observer, h http.Handler) http.Handler { return h }},
		{"hooks+otelhttp", func(o *otel.Observer, h http.Handler) http.Handler { return o.Handler(h, "extprod.api") }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			obs := benchObserver(b, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01)))
			svc := httpapitest.BenchService(b, &cardorder.Config{Observer: obs})
			h, err := httpapi.New(httpapi.Config{Service: svc, Auth: httpapitest.BenchAuth()})
			if err != nil {
				b.Fatal(err)
			}
			httpapitest.BenchOrderOverHTTP(b, tc.wrap(obs, h))
		})
	}
}
