// Package otel reports what extprod does to OpenTelemetry: a span for each domain operation and
// bureau call, and metrics of orders, state changes, dispatch latency, bureau errors, the queue,
// the outbox, the option script and failed authentication. It is its own module, so the core
// and a host that does not trace pull in no OpenTelemetry.
//
// # Why OpenTelemetry
//
// OpenTelemetry is the vendor-neutral standard for traces and metrics: one instrumentation,
// exported by the host's choice of SDK exporter (OTLP to any backend, Prometheus, stdout), with
// W3C trace context so a card order's trace continues across the operator API, the dispatcher
// and the bureau's HTTP calls. The package follows river's otelriver: it implements the
// domain's hook interface ([ports.Observer]) and never changes what the domain does.
//
// # Wiring
//
//	obs, err := otel.New(&otel.Config{TracerProvider: tp, MeterProvider: mp})
//	client, err := gocards.New(gocards.Config{..., HTTPClient: &http.Client{Transport: obs.Transport(nil)}})
//	svc, err := cardorder.New(ports, &cardorder.Config{Observer: obs})
//	reg, err := obs.ObserveStats(svc) // queue and outbox gauges
//	api, err := httpapi.New(httpapi.Config{Service: svc, Auth: auth})
//	http.Handle("/", obs.Handler(api, "extprod.api"))
//
// Package otelprom builds a MeterProvider with a Prometheus /metrics handler in one call.
//
// The Observer is a [ports.TraceParenter]: the domain stores the W3C traceparent of the order's
// span with the card, and the dispatch pass that later claims the card, and the bureau call
// that places it, link to that trace (a dispatch pass is a trace of its own, since it serves
// many orders).
//
// # Spans
//
// Every span is named "extprod.<operation>", of kind internal, a child of the context's span.
// Its attributes are set once the span is known to be recording (a sampler sees the name, not
// the attributes), so an order whose trace is not sampled pays for none:
//
//	span                      operation                    attributes
//	extprod.order             OrderCard, batch, temporary  extprod.operation, extprod.channel, extprod.cards
//	extprod.approve           Approve                      extprod.operation, extprod.card.id
//	extprod.reject            Reject                       extprod.operation, extprod.card.id
//	extprod.abort             Abort                        extprod.operation, extprod.card.id
//	extprod.repeat            Repeat                       extprod.operation, extprod.card.id
//	extprod.refresh           Refresh                      extprod.operation, extprod.card.id
//	extprod.dispatch_pass     one claim and its calls      extprod.operation, extprod.cards; links to the orders
//	extprod.bureau_call       PlaceOrder, OrderStatus      extprod.operation, extprod.bureau.call, extprod.card.id,
//	                                                       extprod.channel; link to the order
//	extprod.status_sync       one status sync pass         extprod.operation, extprod.cards
//	extprod.status_update     one bureau status            extprod.operation, extprod.card.id
//	extprod.deliver           one outbox relay pass        extprod.operation, extprod.cards
//	extprod.authenticate      one request's authentication extprod.operation
//
// A failed operation has status Error and error.type: the domain's error code (order_exists,
// forbidden, …) or, for a bureau call, the error kind (unavailable, rejected, unauthorized,
// not_found, protocol). [Observer.Transport] adds an otelhttp client span (kind client) under
// each bureau call, and [Observer.Handler] a server span per operator-API request, with the
// semantic conventions' http.request.method, server.address, server.port, url.scheme,
// http.response.status_code and error.type (and url.full for bureau calls).
//
// # Metrics
//
//	instrument                   kind              unit            attributes
//	extprod.orders               counter           {order}         extprod.channel, error.type
//	extprod.operation.duration   histogram         s               extprod.operation, error.type (all but order)
//	extprod.dispatch.duration    histogram         s               error.type (one dispatch pass)
//	extprod.card.transitions     counter           {transition}    extprod.card.state.from, extprod.card.state.to, extprod.channel
//	extprod.bureau.errors        counter           {error}         extprod.bureau.call, error.type (the kind)
//	extprod.notifications        counter           {notification}  extprod.notification.kind, error.type (not_sent)
//	extprod.script.duration      histogram         s               (none)
//	extprod.script.limit_hits    counter           {run}           extprod.script.limit (time, depth, size, memory)
//	extprod.auth.failures        counter           {request}       error.type (unauthenticated, auth_unavailable, …)
//	extprod.queue.depth          observable gauge  {card}          (none)
//	extprod.queue.due            observable gauge  {card}          (none)
//	extprod.queue.oldest_age     observable gauge  s               (none)
//	extprod.outbox.pending       observable gauge  {entry}         extprod.outbox.entry (notification, audit_event)
//
// The counters are observable (asynchronous) counters: the Observer counts in process, with an
// atomic add per event, and reports the totals when the meter provider collects; they carry no
// exemplars. error.type is absent on success. An order's duration is not in extprod.operation.duration:
// OrderCard is the hot path, its count and outcome are extprod.orders', and its latency is the
// HTTP request's (http.server.request.duration). The gauges need [Observer.ObserveStats]; the
// authentication counter counts what the HTTP API reports, and a host's own driving adapters
// use [Observer.Authenticator] or [Observer.AuthFailed]. otelhttp adds
// http.server.request.duration and http.client.request.duration.
//
// # No personal data
//
// No attribute holds personal data. The domain passes card ids (random), channels, states,
// error codes and kinds, never user ids (which may be email addresses), names, addresses or
// photos, and no error text. The HTTP spans drop what otelhttp would record about the person
// calling: client.address, network.peer.address and port, user_agent.original, and url.path
// and url.query (the operator API's paths name users). Metric attributes are of small fixed
// sets only; a card id appears on spans, never on metrics.
package otel
