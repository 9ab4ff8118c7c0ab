package ports

import (
	"context"
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
	OpDispatchPass Operation = "dispatch_pass" // one claim and the bureau calls it causes
	OpBureauCall   Operation = "bureau_call"   // one PlaceOrder or OrderStatus call
	OpStatusSync   Operation = "status_sync"   // one status sync pass
	OpStatusUpdate Operation = "status_update" // one bureau status applied to a card
	OpDeliver      Operation = "deliver"       // one outbox relay pass
)

// Span describes one operation as it starts. It carries no personal data: ids of cards, never
// names or addresses.
type Span struct {
	Op      Operation
	Channel Channel // order operations: the channel
	CardID  string  // when the operation concerns one card
	// Links are W3C trace contexts the operation continues (the orders of the cards a dispatch
	// pass claimed), so a tracer can link to them.
	Links []string
}

// Outcome is how an operation ended.
type Outcome struct {
	// Code is empty on success, else the domain's error code (order_exists, forbidden, …) or,
	// for bureau calls, the error kind (unavailable, rejected, unauthorized, protocol).
	Code string
	// Cards counts the cards the operation touched (a dispatch pass: cards claimed).
	Cards int
}

// Observer hears what the domain does, for metrics, traces and logs. Its methods must be safe
// for concurrent use, return quickly and never fail the work they observe.
//
//   - Start is called when an operation begins; the domain continues with the returned context
//     (which may carry a span) and calls end exactly once when the operation is over.
//   - CardMoved reports a state change that was written.
//   - NotificationDone reports one delivery attempt of a notification (err nil when sent).
//   - ScriptEvaluated reports one run of the option script: how long it took and, when it hit
//     a limit, which one ("time", "depth", "size", "memory"; empty otherwise).
type Observer interface {
	Start(ctx context.Context, s Span) (context.Context, func(Outcome))
	CardMoved(ctx context.Context, from, to CardState, ch Channel)
	NotificationDone(ctx context.Context, kind NotificationKind, err error)
	ScriptEvaluated(ctx context.Context, took time.Duration, limit string)
}
