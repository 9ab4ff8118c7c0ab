package otel

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// personal are the attributes otelhttp records that may identify a person or carry personal
// data: the caller's address and user agent, and the request path (the operator API's paths
// name users, /v1/users/{userId}/...). They are removed from the HTTP spans this package makes.
var personal = map[attribute.Key]bool{
	"client.address":       true,
	"network.peer.address": true,
	"network.peer.port":    true,
	"user_agent.original":  true,
	"url.path":             true,
	"url.query":            true,
}

// Handler wraps h (the operator API, httpapi.New's handler) with otelhttp: a server span per
// request (continuing the caller's trace from its traceparent header; otelhttp names it by the
// method, operation being its fallback), and the http.server.* metrics. The span carries method, scheme, server address and port, status code
// and error.type, never the caller's address, user agent or the path (which names users).
func (o *Observer) Handler(h http.Handler, operation string) http.Handler {
	return otelhttp.NewHandler(h, operation,
		otelhttp.WithTracerProvider(redacting{o.tp}),
		otelhttp.WithMeterProvider(o.mp),
		otelhttp.WithPropagators(o.prop))
}

// Transport wraps base (nil: http.DefaultTransport) with otelhttp: a client span per bureau
// request, a child of the bureau call's span, and the http.client.* metrics. Give the result
// to the gocards client (gocards.Config.HTTPClient). The request carries the trace context in
// the [Config.Propagator]'s headers (W3C traceparent by default); the span records method,
// server address and port, url.full (the bureau's API paths hold no personal data), status code
// and error.type.
func (o *Observer) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(redacting{o.tp}),
		otelhttp.WithMeterProvider(o.mp),
		otelhttp.WithPropagators(o.prop))
}

// redacting is a TracerProvider whose spans start without the [personal] attributes.
type redacting struct{ trace.TracerProvider }

func (r redacting) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return redactingTracer{next: r.TracerProvider.Tracer(name, opts...)}
}

type redactingTracer struct {
	embedded.Tracer
	next trace.Tracer
}

func (t redactingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	kept := make([]attribute.KeyValue, 0, len(cfg.Attributes()))
	for _, kv := range cfg.Attributes() {
		if !personal[kv.Key] {
			kept = append(kept, kv)
		}
	}
	out := []trace.SpanStartOption{trace.WithAttributes(kept...), trace.WithSpanKind(cfg.SpanKind()), trace.WithLinks(cfg.Links()...)}
	if !cfg.Timestamp().IsZero() {
		out = append(out, trace.WithTimestamp(cfg.Timestamp()))
	}
	if cfg.NewRoot() {
		out = append(out, trace.WithNewRoot())
	}
	return t.next.Start(ctx, name, out...)
}
