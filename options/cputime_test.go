package options

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"
)

// heldSandbox takes a runtime from a fresh pool with the given time limit.
func heldSandbox(t *testing.T, limit time.Duration) (*pool, *sandbox) {
	t.Helper()
	p := newPool(Limits{TimeLimit: limit}.WithDefaults())
	sb, err := p.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.release(sb) })
	return p, sb
}

// TestTimeLimitCountsCPUTime: an evaluation whose thread gets no CPU for longer than the time
// limit (here: it waits on a channel, as a thread of a busy machine waits for a CPU) is not
// stopped: the wall timer fires, finds the CPU time under the limit and re-arms. Its script code
// then still runs.
func TestTimeLimitCountsCPUTime(t *testing.T) {
	if _, ok := currentThreadClock(); !ok {
		t.Skip("no per-thread CPU clock on this system: the time limit is wall-clock")
	}
	is := is.New(t)
	_, sb := heldSandbox(t, 50*time.Millisecond)
	var runErr error
	within(t, watchdog, func() {
		err := sb.run(context.Background(), func() error {
			// Off the CPU until the wall timer has fired (and re-armed) three times.
			d := sb.timer
			waitFor(t, "the wall timer re-arms", func() bool {
				if d.rearms.Load() >= 3 {
					return true
				}
				<-time.After(10 * time.Millisecond) // off the CPU, not spinning
				return false
			})
			_, runErr = sb.vm.RunString(`(function () { var s = 0; for (var i = 0; i < 1000; i++) s += i; return s; })()`)
			return nil
		})
		is.NoErr(err)
	})
	is.NoErr(runErr) // the script ran: not interrupted
	is.True(!sb.broken)
}

// TestTimeLimitWallCeiling: an evaluation that gets no CPU still stops at its time limit plus
// WallSlack on the wall clock.
func TestTimeLimitWallCeiling(t *testing.T) {
	is := is.New(t)
	limit := 50 * time.Millisecond
	_, sb := heldSandbox(t, limit)
	var runErr error
	start := time.Now()
	within(t, watchdog, func() {
		_ = sb.run(context.Background(), func() error {
			waitFor(t, "the evaluation is stopped", func() bool {
				if sb.stop.Load() != nil {
					return true
				}
				<-time.After(10 * time.Millisecond)
				return false
			})
			_, runErr = sb.vm.RunString(`(function () { for (;;) {} })()`)
			return nil
		})
	})
	is.True(errors.Is(runErr, ErrTimeLimit))
	is.True(sb.broken)
	is.True(time.Since(start) >= limit+WallSlack) // not before the ceiling
}

// TestBusyLoopStopsAtItsCPULimit: a script that computes forever is stopped (its CPU time
// reaches the limit long before the wall ceiling).
func TestBusyLoopStopsAtItsCPULimit(t *testing.T) {
	is := is.New(t)
	s := MustLoad(withResolve("if (ctx.user !== null && ctx.user.id !== 'sample-user') { for (;;) {} }"), Limits{TimeLimit: 20 * time.Millisecond})
	var err error
	within(t, watchdog, func() { _, err = s.Resolve(context.Background(), operatorRequest()) })
	is.True(errors.Is(err, ErrTimeLimit))
	is.True(errors.Is(err, ErrScriptFailed))
}

// TestLateFiringDoesNotStopTheNextEvaluation: the timer is the runtime's, re-armed for each
// evaluation, so a firing that was due to the previous evaluation can arrive in the next one; on
// either clock it finds the new evaluation within its limit and re-arms instead of stopping it.
func TestLateFiringDoesNotStopTheNextEvaluation(t *testing.T) {
	for _, cpu := range []bool{true, false} {
		t.Run(fmt.Sprint("cpu clock ", cpu), func(t *testing.T) {
			is := is.New(t)
			_, sb := heldSandbox(t, time.Hour)
			is.NoErr(sb.run(context.Background(), func() error { return nil })) // the previous evaluation
			var runErr error
			err := sb.run(context.Background(), func() error {
				sb.timer.mu.Lock()
				sb.timer.cpu = sb.timer.cpu && cpu
				sb.timer.mu.Unlock()
				sb.timer.fire() // as if armed by the previous evaluation
				_, runErr = sb.vm.RunString(`1 + 1`)
				return nil
			})
			is.NoErr(err)
			is.NoErr(runErr)
			is.True(sb.stop.Load() == nil && !sb.broken)
		})
	}
}
