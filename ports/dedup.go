package ports

import (
	"context"
	"time"
)

// DedupState is what an [EventDedup] knows of one event id.
type DedupState int

// The answers of [EventDedup.BeginEvent].
const (
	// DedupNew: the id was not seen (or its record expired); the caller now holds it and applies
	// the event, then calls FinishEvent.
	DedupNew DedupState = iota
	// DedupBusy: another delivery of the same event is being applied now; the caller answers
	// "try again later" and applies nothing.
	DedupBusy
	// DedupDone: the event was applied within its window; the caller applies nothing.
	DedupDone
)

// EventDedup remembers which bureau status events were applied, so a redelivered event is applied
// once while it is remembered.
//
//   - BeginEvent answers DedupDone for an id applied and not expired at now, DedupBusy for an id
//     another caller holds (its hold has not expired at now), and otherwise holds the id until
//     now+hold and answers DedupNew. Of racing BeginEvent calls for one new id, exactly one gets
//     DedupNew.
//   - FinishEvent ends the hold: applied ids are remembered until keepUntil, ids not applied are
//     forgotten so the next delivery applies them.
//   - PurgeEvents removes up to max ids whose records expired at now and returns how many.
type EventDedup interface {
	BeginEvent(ctx context.Context, id string, now time.Time, hold time.Duration) (DedupState, error)
	FinishEvent(ctx context.Context, id string, applied bool, keepUntil time.Time) error
	PurgeEvents(ctx context.Context, now time.Time, max int) (int, error)
}
