package httpapi

// Limits of request fields.
const (
	maxTextField = 256  // a production type
	maxReason    = 2000 // a rejection reason
	// MaxBatchUsers is the most users one batch order names.
	MaxBatchUsers = 1000
	// MaxDispatch is the largest "max" a dispatch request may ask for.
	MaxDispatch = 100_000
	// DefaultDispatch is a dispatch pass's "max" when the body names none.
	DefaultDispatch = 1000
	// DefaultLimit and MaxLimit bound a listing page.
	DefaultLimit = 50
	MaxLimit     = 500
	// maxIdempotencyKey bounds an Idempotency-Key header.
	maxIdempotencyKey = 255
)
