package ports

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Operation names a unit of work the domain reports to an [Observer].
type Operation string

// The operations the domain reports.
const (
	OpOrder        Operation = "order"         // OrderCard, batch and temporary orders
	OpApprove      Operation = "approve"       // an approval (and the order it places)
	OpReject       Operation = "reject"        // a rejection
	OpAbort        Operation = "abort"         // an abort
	OpRepeat       Operation = "repeat"        // a repeat of a failed order
	OpRefresh      Operation = "refresh"       // an operator's refresh of one card (refusals only)
	OpDispatchPass Operation = "dispatch_pass" // one claim of queued cards and the bureau calls it causes
	OpBureauCall   Operation = "bureau_call"   // one PlaceOrder or OrderStatus call (Span.Call says which)
	OpStatusSync   Operation = "status_sync"   // one status sync pass
	OpStatusUpdate Operation = "status_update" // one bureau status applied to a card
	OpDeliver      Operation = "deliver"       // one outbox relay pass
	// OpAuthenticate is one authentication by a driving adapter (the HTTP API); a failure ends
	// with Code "unauthenticated", so an observer counts failed authentications.
	OpAuthenticate Operation = "authenticate"
)

// BureauCall names the bureau method of an [OpBureauCall].
type BureauCall string

// The bureau calls the domain makes.
const (
	CallPlaceOrder  BureauCall = "place_order"
	CallOrderStatus BureauCall = "order_status"
)

// The error kinds of a failed bureau call, reported as [Outcome.Code] of an [OpBureauCall].
const (
	KindUnavailable  = "unavailable"  // ErrUnavailable, or the call was cancelled: outcome unknown
	KindRejected     = "rejected"     // a [*RejectedError]: the bureau refused the order for good
	KindUnauthorized = "unauthorized" // ErrUnauthorized: the bureau refused the credentials
	KindNotFound     = "not_found"    // ErrNotFound: the bureau has no such order (OrderStatus)
	KindProtocol     = "protocol"     // anything else: the answer broke the bureau's contract
)

// BureauErrorKind classifies an error of a [Provider] call into one of the Kind constants; ""
// for nil.
func BureauErrorKind(err error) string {
	var rejected *RejectedError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &rejected), errors.Is(err, ErrRejected):
		return KindRejected
	case errors.Is(err, ErrUnauthorized):
		return KindUnauthorized
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return KindUnavailable
	case errors.Is(err, ErrNotFound):
		return KindNotFound
	}
	return KindProtocol
}

// Span describes one operation as it starts. It carries no personal data: ids of cards, never
// user ids (which may be email addresses), names or addresses.
type Span struct {
	Op      Operation
	Channel Channel    // order operations: the channel, when known
	CardID  string     // when the operation concerns one card
	Call    BureauCall // OpBureauCall: which call
	// Links are W3C trace contexts the operation continues (the orders of the cards a dispatch
	// pass claimed, the order of the card a bureau call places), so a tracer can link to them.
	Links []string
}

// Outcome is how an operation ended.
type Outcome struct {
	// Code is empty on success, else the domain's error code (order_exists, forbidden, …) or,
	// for bureau calls, the error kind (KindUnavailable, KindRejected, …).
	Code string
	// Cards counts what the operation touched: the cards an order created, the cards a
	// dispatch pass claimed, the cards a status sync changed, 1 or 0 for a status update
	// (applied or not), the outbox entries a relay pass delivered.
	Cards int
}

// Observer hears what the domain does, for metrics, traces and logs. Its methods must be safe
// for concurrent use, return quickly and never fail the work they observe. Nothing the domain
// passes holds personal data.
//
//   - Start is called when an operation begins; the domain continues with the returned context
//     (which may carry a span) and calls the returned function exactly once when the
//     operation is over. The time between the two is the operation's latency.
//   - CardMoved reports a state change that was written.
//   - NotificationDone reports one delivery attempt of a notification: sent or not (the
//     mailer's error is not passed on: it may name an address).
//   - ScriptEvaluated reports one run of the option script (one Resolve of the options source;
//     static options, which run no script, are not reported):
//     how long it took and, when it was stopped by a limit, which one (see [ScriptLimitOf];
//     empty otherwise).
//
// An Observer may also implement [TraceParenter]. Embed [NopObserver] to implement only some
// methods.
type Observer interface {
	Start(ctx context.Context, s Span) (context.Context, func(Outcome))
	CardMoved(ctx context.Context, from, to CardState, ch Channel)
	NotificationDone(ctx context.Context, kind NotificationKind, sent bool)
	ScriptEvaluated(ctx context.Context, took time.Duration, limit string)
}

// TraceParenter is an optional capability of an [Observer]: the W3C traceparent of the span
// ctx carries ("" when none). The domain stores it with a new card ([Card.TraceParent]), so the
// dispatch links to the order's trace, and with every audit event ([AuditEvent.TraceParent]).
type TraceParenter interface {
	TraceParent(ctx context.Context) string
}

// NopObserver observes nothing. Embed it in an Observer that implements only some methods.
type NopObserver struct{}

// Start returns ctx and an end function that does nothing.
func (NopObserver) Start(ctx context.Context, _ Span) (context.Context, func(Outcome)) {
	return ctx, func(Outcome) {}
}

// CardMoved does nothing.
func (NopObserver) CardMoved(context.Context, CardState, CardState, Channel) {}

// NotificationDone does nothing.
func (NopObserver) NotificationDone(context.Context, NotificationKind, bool) {}

// ScriptEvaluated does nothing.
func (NopObserver) ScriptEvaluated(context.Context, time.Duration, string) {}

// The limits an option script can hit, as [ScriptLimitOf] reports them.
const (
	LimitTime   = "time"
	LimitDepth  = "depth"
	LimitSize   = "size"
	LimitMemory = "memory"
)

// ScriptLimitError is implemented by an [OptionsSource]'s error when the script was stopped by
// one of its limits: ScriptLimit names it (LimitTime, LimitDepth, LimitSize, LimitMemory). The
// domain finds it with errors.As, so an options source needs only a method on its own error
// type.
type ScriptLimitError interface {
	error
	ScriptLimit() string
}

// ScriptLimitOf returns the limit err reports it hit (see [ScriptLimitError]), or "".
func ScriptLimitOf(err error) string {
	if err == nil {
		return ""
	}
	if le, ok := errors.AsType[ScriptLimitError](err); ok {
		return le.ScriptLimit()
	}
	return ""
}

// Request describes the request that caused the work in a context: its id and the caller's
// address. A driving adapter (the HTTP API) puts it in the context with [WithRequest]; the
// domain copies it into the audit events it writes (AU-3's source of an event).
type Request struct {
	ID            string
	ClientAddress string // the caller's IP address, when the host knows it; never a name
}

type requestKey struct{}

// requestCtx carries a Request: what context.WithValue would build, in one allocation instead
// of two (the context and the boxed Request), since every request of a driving adapter makes
// one.
type requestCtx struct {
	context.Context
	r Request
}

// Value returns a pointer to the Request for requestKey, else asks the parent.
func (c *requestCtx) Value(key any) any {
	if key == (requestKey{}) {
		return &c.r
	}
	return c.Context.Value(key)
}

// String names the context as context.WithValue's do.
func (c *requestCtx) String() string {
	return fmt.Sprint(c.Context) + ".WithValue(ports.Request)"
}

// WithRequest returns a copy of ctx that carries r. ctx must not be nil (as for
// context.WithValue).
func WithRequest(ctx context.Context, r Request) context.Context {
	if ctx == nil {
		panic("ports.WithRequest: nil parent context")
	}
	return &requestCtx{Context: ctx, r: r}
}

// RequestOf returns the Request ctx carries; the zero Request when none.
func RequestOf(ctx context.Context) Request {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		return *r
	}
	return Request{}
}
