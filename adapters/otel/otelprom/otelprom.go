// Package otelprom builds an OpenTelemetry MeterProvider whose metrics are served in the
// Prometheus exposition format, so a host gets its /metrics handler in one call:
//
//	mp, metrics, err := otelprom.New()
//	if err != nil { ... }
//	defer mp.Shutdown(context.Background())
//	obs, err := otel.New(&otel.Config{MeterProvider: mp})
//	mux.Handle("GET /metrics", metrics)
//
// The metrics go to a registry of their own (not Prometheus's global one), read on each scrape.
// Metric names are translated the Prometheus way: extprod.orders becomes extprod_orders_total.
package otelprom

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprometheus "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// ErrSetup wraps a failure to build the exporter.
var ErrSetup = errors.New("otelprom: cannot build the Prometheus exporter")

// New returns a MeterProvider that exports to a new Prometheus registry and the handler that
// serves that registry (mount it at GET /metrics). opts are added to the provider's options (a
// resource, views); the exporter is its reader. Shut the provider down when the host stops.
func New(opts ...sdkmetric.Option) (*sdkmetric.MeterProvider, http.Handler, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprometheus.New(otelprometheus.WithRegisterer(reg))
	if err != nil {
		return nil, nil, errors.Join(ErrSetup, err)
	}
	mp := sdkmetric.NewMeterProvider(append([]sdkmetric.Option{sdkmetric.WithReader(exp)}, opts...)...)
	return mp, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}
