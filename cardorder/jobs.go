package cardorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// The job names of the leases the Service takes in [Ports.Leases] (docs/use-case.md §8).
const (
	JobStatusSync = "status-sync"
	JobCleanup    = "cleanup"
)

// errJobHeld: another instance holds the job's lease.
var errJobHeld = errors.New("another instance holds the job")

// job holds the named job's lease while it runs: acquire, then renew before each step, then
// release. Without Ports.Leases it holds nothing (a single instance).
type job struct {
	s    *Service
	name string
}

// acquire takes or renews the job's lease; errJobHeld when another instance holds it.
func (j job) acquire(ctx context.Context) error {
	if j.s.p.Leases == nil {
		return nil
	}
	ok, err := j.s.p.Leases.AcquireLease(ctx, j.name, j.s.cfg.Instance, j.s.now(), j.s.cfg.JobLease)
	switch {
	case err != nil:
		return fmt.Errorf("lease of job %s: %w", j.name, err)
	case !ok:
		return errJobHeld
	}
	return nil
}

// release frees the lease; a failure only delays the next run until the lease expires.
func (j job) release(ctx context.Context) {
	if j.s.p.Leases == nil {
		return
	}
	if err := j.s.p.Leases.ReleaseLease(context.WithoutCancel(ctx), j.name, j.s.cfg.Instance); err != nil {
		j.s.log.LogAttrs(ctx, slog.LevelWarn, "cardorder: job lease not released; it expires", slog.String("job", j.name),
			slog.String("err", err.Error()))
	}
}

// CleanUpResult counts what one clean-up removed.
type CleanUpResult struct {
	// Skipped is true when another instance holds the clean-up's lease; nothing was removed.
	Skipped bool
	// Outbox counts delivered outbox entries older than Config.OutboxRetention.
	Outbox int
	// Idempotency and Dedup count expired records of [Ports.Idempotency] and [Ports.Dedup].
	Idempotency, Dedup int
}

// CleanUp removes the technical rows that expired (docs/use-case.md §8): delivered outbox
// entries older than Config.OutboxRetention and, when the Service has them, expired idempotency
// records and bureau-event dedup entries. It removes them in batches of Config.CleanupBatch,
// renewing its "cleanup" job lease before each batch, so only one instance cleans up at a time
// and no batch holds the store long. It checks no actor; a [Relay] runs it periodically.
func (s *Service) CleanUp(ctx context.Context) (CleanUpResult, error) {
	var res CleanUpResult
	j := job{s: s, name: JobCleanup}
	if err := j.acquire(ctx); errors.Is(err, errJobHeld) {
		res.Skipped = true
		return res, nil
	} else if err != nil {
		return res, err
	}
	defer j.release(ctx)
	steps := []purgeStep{
		{"outbox", &res.Outbox, func() (int, error) {
			return s.p.Store.PurgeDelivered(ctx, s.now().Add(-s.cfg.OutboxRetention), s.cfg.CleanupBatch)
		}},
	}
	if s.p.Idempotency != nil {
		steps = append(steps, purgeStep{"idempotency records", &res.Idempotency, func() (int, error) {
			return s.p.Idempotency.PurgeIdempotency(ctx, s.now(), s.cfg.CleanupBatch)
		}})
	}
	if s.p.Dedup != nil {
		steps = append(steps, purgeStep{"event dedup entries", &res.Dedup, func() (int, error) {
			return s.p.Dedup.PurgeEvents(ctx, s.now(), s.cfg.CleanupBatch)
		}})
	}
	for i, st := range steps {
		for {
			if i > 0 || *st.count > 0 {
				if err := j.acquire(ctx); err != nil {
					return res, fmt.Errorf("clean-up: %w", err) // lost the lease: stop, another instance goes on
				}
			}
			n, err := st.purge()
			*st.count += n
			if err != nil {
				return res, fmt.Errorf("clean-up of %s: %w", st.name, err)
			}
			if n < s.cfg.CleanupBatch {
				break
			}
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// purgeStep is one kind of row CleanUp removes.
type purgeStep struct {
	name  string
	count *int
	purge func() (int, error)
}
