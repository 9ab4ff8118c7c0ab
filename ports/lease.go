package ports

import (
	"context"
	"time"
)

// JobLeases lets one of several instances of a host run a periodic job that is not split into
// rows of its own — the status sync, the clean-up of expired rows — at a time.
//
//   - AcquireLease gives the named job to holder until now+ttl and returns true when the job is
//     free, its lease expired at now, or holder already holds it (a renewal). It returns false
//     while another holder's lease runs. Of racing calls for a free job, exactly one wins.
//   - ReleaseLease frees the job if holder holds it; otherwise it does nothing.
type JobLeases interface {
	AcquireLease(ctx context.Context, job, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, job, holder string) error
}
