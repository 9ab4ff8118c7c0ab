package otel

import (
	"context"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	otelglobal "go.opentelemetry.io/otel"

	"github.com/cardsaddon/extprod/ports"
)

// ScopeName is the instrumentation scope of every span and instrument this package makes.
const ScopeName = "github.com/cardsaddon/extprod/adapters/otel"

// The attribute keys of this package's spans and metrics, beside the semantic conventions'
// error.type (see the package documentation for which carries which).
const (
	AttrOperation    = attribute.Key("extprod.operation")         // ports.Operation
	AttrChannel      = attribute.Key("extprod.channel")           // ports.Channel
	AttrCardID       = attribute.Key("extprod.card.id")           // a card's random id (spans only)
	AttrCards        = attribute.Key("extprod.cards")             // cards an operation touched (spans only)
	AttrBureauCall   = attribute.Key("extprod.bureau.call")       // ports.BureauCall
	AttrStateFrom    = attribute.Key("extprod.card.state.from")   // ports.CardState
	AttrStateTo      = attribute.Key("extprod.card.state.to")     // ports.CardState
	AttrNotification = attribute.Key("extprod.notification.kind") // ports.NotificationKind
	AttrScriptLimit  = attribute.Key("extprod.script.limit")      // time, depth, size, memory
	AttrOutboxEntry  = attribute.Key("extprod.outbox.entry")      // notification or audit_event
)

// Config configures an [Observer]. Its zero value uses the global providers of
// go.opentelemetry.io/otel and the W3C trace-context propagator; a nil *Config is the zero
// value.
type Config struct {
	// TracerProvider makes the spans; default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the instruments; default otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Propagator carries the trace context in the HTTP requests [Observer.Handler] and
	// [Observer.Transport] serve and send; default propagation.TraceContext{} (W3C traceparent
	// and tracestate). The trace context a card stores is W3C's in any case.
	Propagator propagation.TextMapPropagator
	// Clock gives the time the oldest-queued age is measured against; default the wall clock.
	Clock ports.Clock
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Observer implements [ports.Observer] with OpenTelemetry spans and metrics. Build it with
// [New]; it is safe for concurrent use.
type Observer struct {
	tp    trace.TracerProvider
	mp    metric.MeterProvider
	prop  propagation.TextMapPropagator
	clock ports.Clock

	tracer trace.Tracer
	meter  metric.Meter
	// epoch is when New ran. An operation's start is kept as the monotonic time since epoch:
	// reading it costs one clock read where time.Now costs two (wall and monotonic), and it
	// makes the end function's closure smaller.
	epoch time.Time

	// The counters are observable: each attribute set's count is an atomic in its measure,
	// added to as things happen and observed when the meter provider collects (observeCounts),
	// so counting costs the hot path an atomic add, not an SDK measurement.
	orders           metric.Int64ObservableCounter
	opDuration       metric.Float64Histogram
	dispatchDuration metric.Float64Histogram
	transitions      metric.Int64ObservableCounter
	bureauErrors     metric.Int64ObservableCounter
	notifications    metric.Int64ObservableCounter
	scriptDuration   metric.Float64Histogram
	scriptLimits     metric.Int64ObservableCounter
	authFailures     metric.Int64ObservableCounter

	names [len(operations)]string // span names by opIndex, fixed at New
	// orderEnds end an order whose span does not record, one per orderChannels, built at New,
	// so such an order allocates no closure.
	orderEnds [len(orderChannels)]func(ports.Outcome)
	// opOK and moves are the measures of the hot paths, found by index rather than by hashing
	// an attrKey: each operation's successful duration (by opIndex) and each state change (by
	// moveIndex). A slot is filled from sets on first use, so an attribute set that never
	// occurred is never reported.
	opOK  [len(operations)]atomic.Pointer[measure]
	moves [len(cardStates) * len(cardStates) * (len(orderChannels) + 1)]atomic.Pointer[measure]

	// sets maps an attrKey to its *measure, built once per value: a map replaced whole under
	// setsMu when a value first appears, read without a lock (a sync.Map would hash the key
	// through an interface on every measurement).
	sets   atomic.Pointer[map[attrKey]*measure]
	setsMu sync.Mutex
}

// ErrConfig reports an unusable [Config] or a provider that refused an instrument.
var ErrConfig = errors.New("otel: invalid configuration")

// New returns an Observer over cfg's providers, with every instrument of the package
// documentation created.
func New(cfg *Config) (*Observer, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otelglobal.GetTracerProvider()
	}
	if c.MeterProvider == nil {
		c.MeterProvider = otelglobal.GetMeterProvider()
	}
	if c.Propagator == nil {
		c.Propagator = propagation.TraceContext{}
	}
	if c.Clock == nil {
		c.Clock = wallClock{}
	}
	o := &Observer{
		tp: c.TracerProvider, mp: c.MeterProvider, prop: c.Propagator, clock: c.Clock,
		tracer: c.TracerProvider.Tracer(ScopeName),
		meter:  c.MeterProvider.Meter(ScopeName),
		epoch:  time.Now(),
	}
	for i, op := range operations {
		o.names[i] = "extprod." + string(op)
	}
	for i, ch := range orderChannels {
		k := opKind{op: ports.OpOrder, ch: ch, i: int8(opIndex(ports.OpOrder))}
		// The accepted orders of the channel, as record counts them, found once.
		accepted := sync.OnceValue(func() *measure {
			return o.set(attrKey{inst: instOrders, a: string(ch)}, func() []attribute.KeyValue {
				return []attribute.KeyValue{AttrChannel.String(string(ch))}
			})
		})
		o.orderEnds[i] = func(out ports.Outcome) {
			if out.Code == "" {
				accepted().n.Add(1)
				return
			}
			o.record(context.Background(), k, out, 0)
		}
	}
	// Latencies of in-process work and bureau calls: 1 ms to 30 s.
	buckets := metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
	var errs []error
	must := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	o.orders, err = o.meter.Int64ObservableCounter("extprod.orders", metric.WithUnit("{order}"),
		metric.WithDescription("Card orders asked for, by channel and outcome (error.type absent: accepted)."))
	must(err)
	o.opDuration, err = o.meter.Float64Histogram("extprod.operation.duration", metric.WithUnit("s"), buckets,
		metric.WithDescription("Duration of each domain operation, by operation and outcome."))
	must(err)
	o.dispatchDuration, err = o.meter.Float64Histogram("extprod.dispatch.duration", metric.WithUnit("s"), buckets,
		metric.WithDescription("Duration of one dispatch pass: the claim and the bureau calls it causes."))
	must(err)
	o.transitions, err = o.meter.Int64ObservableCounter("extprod.card.transitions", metric.WithUnit("{transition}"),
		metric.WithDescription("Card state changes written, by from state, to state and channel."))
	must(err)
	o.bureauErrors, err = o.meter.Int64ObservableCounter("extprod.bureau.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Failed bureau calls, by call and error kind (unavailable, rejected, unauthorized, not_found, protocol)."))
	must(err)
	o.notifications, err = o.meter.Int64ObservableCounter("extprod.notifications", metric.WithUnit("{notification}"),
		metric.WithDescription("Notification delivery attempts, by kind and outcome (error.type absent: sent)."))
	must(err)
	o.scriptDuration, err = o.meter.Float64Histogram("extprod.script.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
		metric.WithDescription("Duration of one run of the option script."))
	must(err)
	o.scriptLimits, err = o.meter.Int64ObservableCounter("extprod.script.limit_hits", metric.WithUnit("{run}"),
		metric.WithDescription("Option-script runs stopped by a limit, by limit (time, depth, size, memory)."))
	must(err)
	o.authFailures, err = o.meter.Int64ObservableCounter("extprod.auth.failures", metric.WithUnit("{request}"),
		metric.WithDescription("Requests whose credentials were not accepted, by error.type (unauthenticated, auth_unavailable, …)."))
	must(err)
	if len(errs) > 0 {
		return nil, errors.Join(append([]error{ErrConfig}, errs...)...)
	}
	if _, err := o.meter.RegisterCallback(o.observeCounts, o.orders, o.transitions, o.bureauErrors,
		o.notifications, o.scriptLimits, o.authFailures); err != nil {
		return nil, errors.Join(ErrConfig, err)
	}
	return o, nil
}

// observeCounts reports the count of every attribute set of the counters.
func (o *Observer) observeCounts(_ context.Context, ob metric.Observer) error {
	if m := o.sets.Load(); m != nil {
		for _, v := range *m {
			if v.counter != nil {
				ob.ObserveInt64(v.counter, v.n.Load(), v.obs...)
			}
		}
	}
	return nil
}

var (
	_ ports.Observer      = (*Observer)(nil)
	_ ports.TraceParenter = (*Observer)(nil)
)

// attrKey identifies one attribute set of one instrument; its measurement option is built once.
type attrKey struct {
	inst    uint8
	a, b, c string
}

const (
	instOrders uint8 = iota
	instOp
	instDispatch
	instTransition
	instBureau
	instNotification
	instScriptLimit
	instAuth
)

// measure is one attribute set of one instrument: for a histogram, its options as the slice
// Record takes, so recording allocates nothing; for a counter, its count and the options it is
// observed with.
type measure struct {
	rec     []metric.RecordOption
	counter metric.Int64ObservableCounter // nil for a histogram
	obs     []metric.ObserveOption
	n       atomic.Int64
}

// counter returns the counter of inst, nil for a histogram.
func (o *Observer) counter(inst uint8) metric.Int64ObservableCounter {
	switch inst {
	case instOrders:
		return o.orders
	case instTransition:
		return o.transitions
	case instBureau:
		return o.bureauErrors
	case instNotification:
		return o.notifications
	case instScriptLimit:
		return o.scriptLimits
	case instAuth:
		return o.authFailures
	}
	return nil
}

// count adds one to the count of k, whose attributes mk builds on first use.
func (o *Observer) count(k attrKey, mk func() []attribute.KeyValue) {
	o.set(k, mk).n.Add(1)
}

// set returns the options of k, built by mk on first use. The values are of small, fixed sets
// (operations, channels, states, error codes), so the map stays small.
func (o *Observer) set(k attrKey, mk func() []attribute.KeyValue) *measure {
	if m := o.sets.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	o.setsMu.Lock()
	defer o.setsMu.Unlock()
	var old map[attrKey]*measure
	if m := o.sets.Load(); m != nil {
		old = *m
	}
	if v, ok := old[k]; ok {
		return v
	}
	opt := metric.WithAttributeSet(attribute.NewSet(mk()...))
	v := &measure{rec: []metric.RecordOption{opt}, counter: o.counter(k.inst), obs: []metric.ObserveOption{opt}}
	next := make(map[attrKey]*measure, len(old)+1)
	maps.Copy(next, old)
	next[k] = v
	o.sets.Store(&next)
	return v
}

// withError appends error.type when code is not empty.
func withError(kv []attribute.KeyValue, code string) []attribute.KeyValue {
	if code != "" {
		kv = append(kv, semconv.ErrorTypeKey.String(code))
	}
	return kv
}

// Start implements [ports.Observer]: it starts a span named "extprod.<operation>" (a child of
// ctx's span, linked to the trace contexts of s.Links) and returns the function that ends it and
// records the operation's metrics.
//
// The span's attributes are set once it is known to be recording, so an order whose trace is
// not sampled allocates none; a sampler therefore sees the span's name (which names the
// operation), not its attributes.
func (o *Observer) Start(ctx context.Context, s ports.Span) (context.Context, func(ports.Outcome)) {
	i := opIndex(s.Op)
	name := "extprod.operation"
	if i >= 0 {
		name = o.names[i]
	}
	start := time.Duration(-1)
	if timed(s.Op) {
		start = time.Since(o.epoch)
	}
	var sctx context.Context
	var span trace.Span
	if len(s.Links) == 0 {
		sctx, span = o.tracer.Start(ctx, name)
	} else {
		sctx, span = o.tracer.Start(ctx, name, trace.WithLinks(links(s.Links)...))
	}
	k := opKind{op: s.Op, ch: s.Channel, call: s.Call, i: int8(i)}
	if !span.IsRecording() {
		// Nothing to set on the span, now or at its end: end it now (a span that does not
		// record ignores End), so the end function holds only what the metrics need.
		span.End()
		if s.Op == ports.OpOrder {
			if c := channelIndex(s.Channel); c < len(orderChannels) {
				return sctx, o.orderEnds[c] // nothing to time (see timed): no closure
			}
		}
		return sctx, func(out ports.Outcome) {
			o.record(sctx, k, out, o.since(start))
		}
	}
	span.SetAttributes(spanAttrs(s)...)
	return sctx, func(out ports.Outcome) {
		took := o.since(start)
		if out.Cards > 0 {
			span.SetAttributes(AttrCards.Int(out.Cards))
		}
		if out.Code != "" {
			span.SetAttributes(semconv.ErrorTypeKey.String(out.Code))
			span.SetStatus(codes.Error, out.Code)
		}
		span.End()
		o.record(sctx, k, out, took)
	}
}

// since is the time in seconds since start (an offset from o.epoch); 0 for an operation that
// is not timed (start < 0).
func (o *Observer) since(start time.Duration) float64 {
	if start < 0 {
		return 0
	}
	return (time.Since(o.epoch) - start).Seconds()
}

// operations are the operations the domain reports, in the order opIndex numbers them.
var operations = [...]ports.Operation{ports.OpOrder, ports.OpApprove, ports.OpReject, ports.OpAbort,
	ports.OpRepeat, ports.OpRefresh, ports.OpDispatchPass, ports.OpBureauCall, ports.OpStatusSync,
	ports.OpStatusUpdate, ports.OpDeliver, ports.OpAuthenticate}

// opIndex is the index of op in operations, -1 for an operation it does not list.
func opIndex(op ports.Operation) int { return slices.Index(operations[:], op) }

// orderChannels are the channels of an order that Observer.orderEnds serve.
var orderChannels = [...]ports.Channel{ports.ChannelOperator, ports.ChannelSelfService, ports.ChannelBatch, ports.ChannelTemporary}

// channelIndex is the index of ch in orderChannels; len(orderChannels) for no channel ("") or
// one it does not list.
func channelIndex(ch ports.Channel) int {
	if i := slices.Index(orderChannels[:], ch); i >= 0 {
		return i
	}
	return len(orderChannels)
}

// cardStates are the states stateIndex numbers.
var cardStates = [...]ports.CardState{ports.StateRegistered, ports.StateRequested, ports.StateProcessing,
	ports.StateOrdered, ports.StateInProduction, ports.StateProduced, ports.StateFailed, ports.StateAborted,
	ports.StateRejected}

// stateIndex is the index of st in cardStates, -1 for a state it does not list.
func stateIndex(st ports.CardState) int { return slices.Index(cardStates[:], st) }

// moveIndex is the slot of Observer.moves of a state change on channel ch ("" included), -1
// when a state is not in cardStates or ch is neither empty nor in orderChannels.
func moveIndex(from, to ports.CardState, ch ports.Channel) int {
	f, t, c := stateIndex(from), stateIndex(to), channelIndex(ch)
	if f < 0 || t < 0 || (c == len(orderChannels) && ch != "") {
		return -1
	}
	return (f*len(cardStates)+t)*(len(orderChannels)+1) + c
}

// slot returns the measure in p, filling it from o.set(k, mk) on first use.
func (o *Observer) slot(p *atomic.Pointer[measure], k attrKey, mk func() []attribute.KeyValue) *measure {
	if m := p.Load(); m != nil {
		return m
	}
	m := o.set(k, mk) // the same *measure for the same k, so a racing Store writes the same value
	p.Store(m)
	return m
}

// timed reports whether the metrics of op take its duration (extprod.operation.duration): every
// operation's but an order's, whose count and outcome are extprod.orders' and whose latency is
// the request's.
func timed(op ports.Operation) bool { return op != ports.OpOrder }

// opKind is what the metrics of an ended operation are recorded by; i is op's opIndex.
type opKind struct {
	op   ports.Operation
	ch   ports.Channel
	call ports.BureauCall
	i    int8
}

// spanAttrs are the attributes a span starts with.
func spanAttrs(s ports.Span) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs, AttrOperation.String(string(s.Op)))
	if s.Channel != "" {
		attrs = append(attrs, AttrChannel.String(string(s.Channel)))
	}
	if s.CardID != "" {
		attrs = append(attrs, AttrCardID.String(s.CardID))
	}
	if s.Call != "" {
		attrs = append(attrs, AttrBureauCall.String(string(s.Call)))
	}
	return attrs
}

// record adds an ended operation to the metrics.
func (o *Observer) record(ctx context.Context, s opKind, out ports.Outcome, took float64) {
	op, code, ch := string(s.op), out.Code, string(s.ch)
	if timed(s.op) {
		k := attrKey{inst: instOp, a: op, b: code}
		mk := func() []attribute.KeyValue {
			return withError([]attribute.KeyValue{AttrOperation.String(op)}, code)
		}
		var m *measure
		if code == "" && s.i >= 0 {
			m = o.slot(&o.opOK[s.i], k, mk)
		} else {
			m = o.set(k, mk)
		}
		o.opDuration.Record(ctx, took, m.rec...)
	}
	switch s.op {
	case ports.OpOrder:
		o.count(attrKey{inst: instOrders, a: ch, b: code}, func() []attribute.KeyValue {
			return withError([]attribute.KeyValue{AttrChannel.String(ch)}, code)
		})
	case ports.OpAuthenticate:
		if code != "" {
			o.count(attrKey{inst: instAuth, b: code}, func() []attribute.KeyValue {
				return withError(nil, code)
			})
		}
	case ports.OpDispatchPass:
		o.dispatchDuration.Record(ctx, took, o.set(attrKey{inst: instDispatch, b: code}, func() []attribute.KeyValue {
			return withError(nil, code)
		}).rec...)
	case ports.OpBureauCall:
		if code != "" {
			call := string(s.call)
			o.count(attrKey{inst: instBureau, a: call, b: code}, func() []attribute.KeyValue {
				return withError([]attribute.KeyValue{AttrBureauCall.String(call)}, code)
			})
		}
	}
}

// links turns W3C trace contexts into span links; a malformed or empty one is skipped.
func links(tps []string) []trace.Link {
	ls := make([]trace.Link, 0, len(tps))
	for _, tp := range tps {
		if sc, ok := parseTraceParent(tp); ok {
			ls = append(ls, trace.Link{SpanContext: sc})
		}
	}
	return ls
}

// parseTraceParent reads a W3C traceparent of version 00: "00-<32 hex>-<16 hex>-<2 hex>".
func parseTraceParent(tp string) (trace.SpanContext, bool) {
	if len(tp) != 55 || tp[:3] != "00-" || tp[35] != '-' || tp[52] != '-' {
		return trace.SpanContext{}, false
	}
	tid, err1 := trace.TraceIDFromHex(tp[3:35])
	sid, err2 := trace.SpanIDFromHex(tp[36:52])
	flags, err3 := hex.DecodeString(tp[53:55])
	if err1 != nil || err2 != nil || err3 != nil {
		return trace.SpanContext{}, false
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags[0]), Remote: true})
	return sc, sc.IsValid()
}

// TraceParent implements [ports.TraceParenter]: the W3C trace context (a traceparent value,
// version 00) of ctx's span, for a card to store ([ports.Card].TraceParent) so its later dispatch
// can link to the order's trace; empty when ctx carries no span or one that is not sampled (a
// link to a trace that was never recorded leads nowhere, and the order does not pay for
// formatting it).
func (o *Observer) TraceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return ""
	}
	var b [55]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

// CardMoved implements [ports.Observer]: it counts the transition.
func (o *Observer) CardMoved(ctx context.Context, from, to ports.CardState, ch ports.Channel) {
	k := attrKey{inst: instTransition, a: string(from), b: string(to), c: string(ch)}
	mk := func() []attribute.KeyValue {
		kv := []attribute.KeyValue{AttrStateFrom.String(string(from)), AttrStateTo.String(string(to))}
		if ch != "" {
			kv = append(kv, AttrChannel.String(string(ch)))
		}
		return kv
	}
	if i := moveIndex(from, to, ch); i >= 0 {
		o.slot(&o.moves[i], k, mk).n.Add(1)
		return
	}
	o.count(k, mk)
}

// NotificationDone implements [ports.Observer]: it counts the delivery attempt; one not sent
// has error.type "not_sent".
func (o *Observer) NotificationDone(ctx context.Context, kind ports.NotificationKind, sent bool) {
	code := ""
	if !sent {
		code = "not_sent"
	}
	o.count(attrKey{inst: instNotification, a: string(kind), b: code}, func() []attribute.KeyValue {
		return withError([]attribute.KeyValue{AttrNotification.String(string(kind))}, code)
	})
}

// ScriptEvaluated implements [ports.Observer]: it records the run's duration and counts a limit
// hit.
func (o *Observer) ScriptEvaluated(ctx context.Context, took time.Duration, limit string) {
	o.scriptDuration.Record(ctx, took.Seconds())
	if limit != "" {
		o.count(attrKey{inst: instScriptLimit, a: limit}, func() []attribute.KeyValue {
			return []attribute.KeyValue{AttrScriptLimit.String(limit)}
		})
	}
}
