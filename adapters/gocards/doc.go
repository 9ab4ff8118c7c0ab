// Package gocards is the reference adapter for the GO Cards bureau over HTTP, speaking the
// contract of docs/gocards-wire.md. It has two halves:
//
//   - [Client], the driven side: a [ports.Provider] (place an order, look up its status) and a
//     [ports.LayoutSource] (a layout's input fields), with client-credentials tokens, bounded
//     retries and typed errors;
//   - [EventHandler], the driving side: an [http.Handler] for the bureau's signed status events,
//     which applies each event once (a [ports.EventDedup]) through a [ports.StatusApplier] (the domain's Service).
//
// The package imports [ports] (and [memory] for its default event dedup) only, never the domain. A fake bureau for tests and examples is in
// package [github.com/cardsaddon/extprod/adapters/gocards/gocardsfake].
//
// # Retries and idempotency
//
// Every call makes at most Config.MaxAttempts HTTP attempts. A 5xx (500, 502, 503, 504), a
// timeout or a broken connection is retried after an exponential backoff with full jitter; a
// 429 is retried after its Retry-After when that is at most Config.RetryAfterCap; a longer one
// ends the call with a [*ports.RetryLaterError] carrying the bureau's wait. Every wait ends when
// the call's context ends. [Client.PlaceOrder] sends the same body under the same
// Idempotency-Key on every attempt, so a retry after a connection cut when the bureau had
// already accepted the order returns the original order (200) instead of producing a second
// card. (net/http's transport itself may resend a request that carries an Idempotency-Key when a
// reused connection breaks before any answer; that is safe for the same reason.)
//
// The retries are written here rather than taken from golang.org/x/oauth2 and
// hashicorp/go-retryablehttp because the bureau needs what neither does: a token the bureau
// refuses (401) is dropped and fetched again once, without using up an attempt; a Retry-After is
// honoured only up to a cap and beyond it handed to the dispatcher as a typed error; and a POST
// is retried only because it carries an Idempotency-Key.
//
// # Errors
//
// Callers test errors with errors.Is and errors.As:
//
//   - [*ports.RejectedError] (errors.Is [ports.ErrRejected]): the bureau refused the order
//     (400, 409, 422); Reason and Fields carry its words. The card goes to failed.
//   - [ports.ErrUnavailable]: retries exhausted or the context ended; the outcome is unknown and
//     the call may be repeated with the same idempotency key. When the context ended, the error
//     also wraps the context's error. A [*ports.RetryLaterError] (also ErrUnavailable) says the
//     bureau answered 429 with a Retry-After beyond Config.RetryAfterCap: repeat the call no
//     earlier than its After.
//   - [ports.ErrUnauthorized]: the token endpoint refused the credentials, an API call was
//     refused with a freshly fetched token, or the bureau answered 403 (not in the contract;
//     treated as refused credentials since no card is at fault). No card should be failed for it.
//   - [ports.ErrNotFound]: no such order or layout.
//   - [ports.ErrProtocol]: an answer the contract does not allow (another status, a malformed or
//     oversized body, an unknown status string).
//
// # Decoding
//
// Responses are read through a size limit (Config.MaxResponseBytes) and decoded strictly in
// what matters and leniently in what may grow: object members the client does not know are
// ignored (DisallowUnknownFields would break the client the day the bureau adds a field), but a
// member of the wrong JSON type, truncated JSON, trailing data, a missing required member (an
// order id, a status) or an unknown status string is a protocol error, never a panic.
//
// # Logging
//
// The client and the handler log through the given [log/slog.Logger]: operation, status,
// attempt, idempotency key, order id, card id and state. They never log card elements, email
// addresses, photos, delivery addresses, cost centres or bodies.
package gocards
