package otel

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// personal reports whether an attribute otelhttp records may identify a person or carry
// personal data: the caller's address and user agent, and the request path and query (the
// operator API's paths name users, /v1/users/{userId}/...). They are removed from the HTTP spans
// this package makes.
func personal(k attribute.Key) bool {
	switch k {
	case "client.address", "network.peer.address", "network.peer.port", "user_agent.original", "url.path", "url.query":
		return true
	}
	return false
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

// redacting is a TracerProvider whose spans carry none of the [personal] attributes.
type redacting struct{ trace.TracerProvider }

func (r redacting) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return redactingTracer{next: r.TracerProvider.Tracer(name, opts...)}
}

type redactingTracer struct {
	embedded.Tracer
	next trace.Tracer
}

// Start starts the span with the options' kind, links, timestamp and root flag, and gives it the
// options' attributes, but the personal ones, once it is known to be recording: a request whose
// trace is not sampled pays for no filtering. A sampler therefore sees the span's name and kind,
// not its attributes.
func (t redactingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	out := make([]trace.SpanStartOption, 1, 4)
	out[0] = trace.WithSpanKind(cfg.SpanKind())
	if ls := cfg.Links(); len(ls) > 0 {
		out = append(out, trace.WithLinks(ls...))
	}
	if !cfg.Timestamp().IsZero() {
		out = append(out, trace.WithTimestamp(cfg.Timestamp()))
	}
	if cfg.NewRoot() {
		out = append(out, trace.WithNewRoot())
	}
	ctx, span := t.next.Start(ctx, name, out...)
	if span.IsRecording() {
		attrs := cfg.Attributes()
		kept := make([]attribute.KeyValue, 0, len(attrs))
		for _, kv := range attrs {
			if !personal(kv.Key) {
				kept = append(kept, kv)
			}
		}
		span.SetAttributes(kept...)
	}
	return ctx, span
}
