// Package ports holds the interfaces the card-order domain needs from the outside world and the
// value types they carry. Adapters (stores, the bureau client, mailers, directories) import this
// package only; the domain in package cardorder imports it too. It imports nothing of ours.
//
// Every interface here must be safe for concurrent use. The conformance suite in
// [github.com/cardsaddon/extprod/ports/portstest] checks an implementation against the contracts
// written on each interface; run it on your adapter.
package ports

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors shared by the ports. Adapters return them (wrapped or not); callers test with errors.Is.
var (
	// ErrNotFound: no such user, card or bureau order.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-set lost (the stored version or state is not the one named).
	ErrConflict = errors.New("conflict: stored version changed")
	// ErrOpenOrderExists: the user already has an open card order and the write asked for
	// exclusivity.
	ErrOpenOrderExists = errors.New("user has an open card order")
	// ErrUnavailable: the dependency could not be reached or did not answer in time; the outcome
	// of the call is unknown and it may be retried (with the same idempotency key).
	ErrUnavailable = errors.New("unavailable")
	// ErrUnauthorized: the bureau refused the library's credentials. No card is at fault.
	ErrUnauthorized = errors.New("bureau refused the credentials")
	// ErrProtocol: the dependency answered something its contract does not allow.
	ErrProtocol = errors.New("protocol violation")
	// ErrRejected matches every [*RejectedError].
	ErrRejected = errors.New("rejected by the bureau")
)

// RetryLaterError is an ErrUnavailable with the bureau's own word on when to try again (a 429's
// Retry-After longer than the provider is willing to wait inside one call). A dispatcher does not
// try the order again before After has passed.
type RetryLaterError struct {
	After time.Duration
}

// Error says when to try again.
func (e *RetryLaterError) Error() string {
	return fmt.Sprintf("unavailable: the bureau asks to retry after %s", e.After)
}

// Is makes errors.Is(err, ErrUnavailable) true for every *RetryLaterError.
func (e *RetryLaterError) Is(target error) bool { return target == ErrUnavailable }

// RejectedError is a definitive refusal by the bureau (its 4xx with a reason). The card goes to
// failed with Reason.
type RejectedError struct {
	Status int               // the bureau's HTTP status, when there was one
	Reason string            // the bureau's words
	Fields map[string]string // per-field reasons, when given
}

// Error renders the bureau's reason.
func (e *RejectedError) Error() string {
	return fmt.Sprintf("rejected by the bureau: %s", e.Reason)
}

// Is makes errors.Is(err, ErrRejected) true for every *RejectedError.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// Clock gives the time. Inject a fake in tests.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to a [Clock], as http.HandlerFunc does for handlers.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// SystemClock is the wall clock: the default Clock of the domain and of every adapter.
var SystemClock Clock = ClockFunc(time.Now)

// IDSource gives new unique ids (cards, events, notifications).
type IDSource interface {
	NewID() string
}

// UserStore reads users from the host's directory.
//
// User returns ErrNotFound (possibly wrapped) for an unknown id.
type UserStore interface {
	User(ctx context.Context, id string) (User, error)
}

// Creation is an atomic write of new cards with the audit events and notifications they cause.
type Creation struct {
	// Cards are stored all or none. Their Version is ignored; the store sets it.
	Cards []Card
	// Exclusive refuses the whole creation with ErrOpenOrderExists when the user of the cards
	// already has an open card (docs/use-case.md §3), checked atomically with the insert.
	Exclusive     bool
	Events        []AuditEvent
	Notifications []Notification
}

// Change is an atomic compare-and-set of one card with its audit event and notifications.
type Change struct {
	// Card is the next value of the card. Card.Version names the version it was derived from;
	// the write fails with ErrConflict unless that is still the stored version.
	Card Card
	// Exclusive refuses the change with ErrOpenOrderExists when the card's user has another
	// open card, checked atomically with the write (repeat of a failed order).
	Exclusive     bool
	Event         AuditEvent
	Notifications []Notification
}

// CardStore keeps cards. Every write is atomic together with its audit events and notifications
// (which land in the [Outbox] of the same store), and every update is a compare-and-set on the
// version read, never a blind overwrite.
//
//   - Create stores all cards or none; with Exclusive, of any number of racing creations for one
//     user without open cards, exactly one succeeds and the others get ErrOpenOrderExists.
//     Returns the stored cards (with Version set).
//   - Update writes Change.Card if the stored version equals Change.Card.Version, else returns
//     ErrConflict; ErrNotFound for an unknown card. Returns the stored card.
//   - A card in state processing is always in the [Queue]: the queue is derived from the card, so
//     no single failed call can strand it.
//   - Card returns ErrNotFound for an unknown id; List pages in creation order by a cursor that
//     stays correct while cards are added or change state. A zero Limit means the store's
//     maximum page.
//   - Cards given to and read from a store are copies: neither side sees the other's later
//     changes (maps and slices included). Create with an id already stored fails and stores
//     nothing.
//   - A Change whose Event has an empty ID records no event (a dispatch backoff changes no state).
type CardStore interface {
	Create(ctx context.Context, c Creation) ([]Card, error)
	Update(ctx context.Context, c Change) (Card, error)
	Card(ctx context.Context, id string) (Card, error)
	List(ctx context.Context, f CardFilter) (CardPage, error)
}

// Queue is a leased view of the processing cards of the same store as the [CardStore].
//
//   - Claim takes up to max processing cards that are due (NotBefore and LeaseUntil not after
//     now), oldest QueuedAt first, and in the same atomic step sets DispatchStarted, sets
//     LeaseUntil to now+lease and bumps Version. A card is held by at most one claimer until its
//     lease expires. Because a claim bumps the version, an abort that read the card before the
//     claim loses its compare-and-set: abort and dispatch have exactly one winner.
//   - Stats reports the queue depth and the oldest QueuedAt over all processing cards, leased or
//     waiting for a retry included.
type Queue interface {
	Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]Card, error)
	Stats(ctx context.Context, now time.Time) (QueueStats, error)
}

// AuditSink receives audit events, at least once each; it deduplicates by AuditEvent.ID if it
// needs exactly once.
type AuditSink interface {
	Record(ctx context.Context, e AuditEvent) error
}

// Mailer sends notifications. It resolves addresses (user ids, the approvers group) itself. It
// may be called more than once for one Notification.ID. ErrNotFound (possibly wrapped) means no
// address is known for the recipient: the notification is dropped, not retried; any other error
// keeps it pending for a later try.
type Mailer interface {
	Send(ctx context.Context, n Notification) error
}

// Provider is the card bureau.
//
//   - PlaceOrder places one order attempt. Calls with the same IdempotencyKey produce at most one
//     bureau order; a repeated call returns the first receipt. A definitive refusal is a
//     [*RejectedError]; an unknown outcome (bureau down, connection cut, retries exhausted) is
//     ErrUnavailable; refused credentials are ErrUnauthorized.
//   - OrderStatus returns the bureau's status of an order it accepted, mapped to a card state;
//     ErrNotFound when the bureau has no such order, ErrUnavailable when it cannot be reached.
type Provider interface {
	PlaceOrder(ctx context.Context, o ProviderOrder) (ProviderReceipt, error)
	OrderStatus(ctx context.Context, orderID string) (OrderStatus, error)
}

// LayoutSource is an optional capability of a [Provider]: it lists a layout's input fields, so
// card data can be checked at order time. Layout returns ErrNotFound for an unknown layout.
type LayoutSource interface {
	Layout(ctx context.Context, id string) (Layout, error)
}

// OptionsSource resolves the options in force for one order (docs/use-case.md §3). The options package
// implements it with the administrator's script; any error refuses the order and creates nothing.
type OptionsSource interface {
	Resolve(ctx context.Context, r OptionsRequest) (Resolved, error)
}

// ScriptStore keeps the installed option script, so every instance of a host uses the same one
// and a restart keeps it. Script returns ErrNotFound when none was ever installed. ReplaceScript
// is a compare-and-set: it installs (source, version) only if the stored version is still
// expectVersion ("" when none is stored), else ErrConflict.
type ScriptStore interface {
	Script(ctx context.Context) (source, version string, err error)
	ReplaceScript(ctx context.Context, source, version, expectVersion string) error
}
