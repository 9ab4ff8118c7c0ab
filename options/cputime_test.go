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
		err := sb.run(context.Background(), true, func() error {
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

// TestOverWallIsRunAgainOnTheCPUClock: an evaluation first runs on the wall clock; one that is
// still running when the limit has passed there (here: it waits, as a thread of a busy machine
// waits for a CPU) is stopped and run again, once, on another runtime, with the limit counting
// CPU time — where the same wait does not stop it. The second run does not redo what the first
// finished (evaluateWith's body).
func TestOverWallIsRunAgainOnTheCPUClock(t *testing.T) {
	if !hasThreadClock {
		t.Skip("no per-thread CPU clock on this system: the time limit is wall-clock")
	}
	is := is.New(t)
	s := MustLoad(enabledDefault(), Limits{TimeLimit: 20 * time.Millisecond})
	rerunsBefore := s.pool.reruns.Load() // (a busy machine may have made the load's runs run again)
	var (
		cpuClock []bool
		runtimes []*sandbox
		runErr   error
	)
	offCPU := func(sb *sandbox, what string, done func() bool) {
		waitFor(t, what, func() bool {
			if done() {
				return true
			}
			<-time.After(5 * time.Millisecond) // off the CPU, not spinning
			return false
		})
	}
	within(t, watchdog, func() {
		runErr = s.eval(context.Background(), ErrScriptFailed, "operator", func(sb *sandbox, _ *evalState) error {
			cpuClock, runtimes = append(cpuClock, sb.timer.cpu), append(runtimes, sb)
			if len(cpuClock) == 1 {
				offCPU(sb, "the wall clock stops the first run", func() bool { return sb.stop.Load() != nil })
			} else {
				offCPU(sb, "the CPU clock re-arms in the second", func() bool { return sb.timer.rearms.Load() >= 2 })
			}
			_, err := sb.vm.RunString(`1 + 1`)
			return err
		})
	})
	is.NoErr(runErr)                        // the second run finished
	is.Equal(cpuClock, []bool{false, true}) // on the wall clock, then on the CPU clock
	is.Equal(s.pool.reruns.Load()-rerunsBefore, int32(1))
	is.True(runtimes[0] != runtimes[1]) // the stopped runtime is not used again
}

// TestComputingScriptIsStoppedOnBothClocks: a script that computes forever is stopped on the
// wall clock, run again, and stopped on the CPU clock: the order fails with the time limit, not
// with the wall clock's signal to run again.
func TestComputingScriptIsStoppedOnBothClocks(t *testing.T) {
	is := is.New(t)
	s := MustLoad(withResolve("if (ctx.user !== null && ctx.user.id !== 'sample-user') { for (;;) {} }"), Limits{TimeLimit: 20 * time.Millisecond})
	rerunsBefore := s.pool.reruns.Load()
	var err error
	within(t, watchdog, func() { _, err = s.Resolve(context.Background(), operatorRequest()) })
	is.True(errors.Is(err, ErrTimeLimit) && errors.Is(err, ErrScriptFailed))
	is.True(!errors.Is(err, errOverWall))
	reruns := int32(0)
	if hasThreadClock {
		reruns = 1 // run again once, on the CPU clock
	}
	is.Equal(s.pool.reruns.Load()-rerunsBefore, reruns)
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
		_ = sb.run(context.Background(), true, func() error {
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

// TestLateFiringDoesNotStopTheNextEvaluation: the timer is the runtime's, re-armed for each
// evaluation, so a firing that was due to the previous evaluation can arrive in the next one; on
// either clock it finds the new evaluation within its limit and re-arms instead of stopping it.
func TestLateFiringDoesNotStopTheNextEvaluation(t *testing.T) {
	for _, cpu := range []bool{true, false} {
		t.Run(fmt.Sprint("cpu clock ", cpu), func(t *testing.T) {
			is := is.New(t)
			_, sb := heldSandbox(t, time.Hour)
			is.NoErr(sb.run(context.Background(), cpu, func() error { return nil })) // the previous evaluation
			var runErr error
			err := sb.run(context.Background(), cpu, func() error {
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
