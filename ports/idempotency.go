package ports

import (
	"context"
	"errors"
	"time"
)

// ErrIdempotencyBusy: another request holds a live reservation of the idempotency key. The caller
// waits and asks again, or answers that the request is in progress.
var ErrIdempotencyBusy = errors.New("idempotency key is reserved by a request in progress")

// IdempotencyRecord is what an [IdempotencyStore] keeps under one key.
type IdempotencyRecord struct {
	// Fingerprint binds the key to one request (for the HTTP API: a hash of its method, path and
	// parsed body). A later request with the same key and another fingerprint is a misuse.
	Fingerprint string
	// Token identifies the reservation; Complete and Release name it, so a request whose
	// reservation expired cannot complete or release another request's reservation.
	Token string
	// Done is true once the request completed; Body is then its answer, replayed as is.
	Done bool
	Body []byte
	// ExpiresAt ends the record: a reservation that was neither completed nor released, or a
	// completed record past its retention. An expired record counts as absent.
	ExpiresAt time.Time
}

// IdempotencyStore remembers requests under their idempotency key (already scoped to the caller)
// as a reserve-then-complete record that expires. No lock and no transaction is held while the
// request runs, so it works the same on one process and on a shared database.
//
//   - Reserve returns the live record under key, if any, with reserved false: a completed one
//     (replay its Body) or another request's reservation (the caller waits and asks again, or
//     gives up). Without a live record it stores a reservation (fingerprint, a new Token,
//     ExpiresAt now+hold) and returns it with reserved true. Of any number of racing Reserve
//     calls for one key, exactly one gets reserved true.
//   - Complete turns the caller's reservation into a completed record with body, kept until
//     expiresAt. It returns ErrConflict when the reservation named by token is no longer
//     stored (it expired and another request reserved the key).
//   - Release drops the caller's reservation (the request failed and remembers nothing), so the
//     key can be used again at once. Releasing a reservation that is gone is no error.
//   - PurgeIdempotency removes up to max records expired at now and returns how many.
type IdempotencyStore interface {
	Reserve(ctx context.Context, key, fingerprint string, now time.Time, hold time.Duration) (rec IdempotencyRecord, reserved bool, err error)
	Complete(ctx context.Context, key, token string, body []byte, expiresAt time.Time) error
	Release(ctx context.Context, key, token string) error
	PurgeIdempotency(ctx context.Context, now time.Time, max int) (int, error)
}
