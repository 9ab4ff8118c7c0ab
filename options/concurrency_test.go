package options

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
)

// waitFor waits, yielding, until cond holds, and fails the test by name after a watchdog.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(watchdog)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, watchdog)
		}
		runtime.Gosched()
	}
}

// TestWaitingForASlotEndsWithTheContext: with every slot held, an order waits; its context
// ends the wait (with the context's error, not the time limit).
func TestWaitingForASlotEndsWithTheContext(t *testing.T) {
	is := is.New(t)
	s := MustLoad(withResolve("var x = 1;"), Limits{MaxConcurrent: 1})
	held, err := s.pool.acquire(context.Background())
	is.NoErr(err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := s.Resolve(ctx, operatorRequest()); done <- err }()
	waitFor(t, "the order waits for the slot", func() bool { return s.pool.waiting.Load() == 1 })
	cancel()
	var err2 error
	within(t, watchdog, func() { err2 = <-done })
	is.True(errors.Is(err2, ErrScriptFailed))
	is.True(errors.Is(err2, context.Canceled))
	is.True(!errors.Is(err2, ErrTimeLimit))
	s.pool.release(held)
	_, err = s.Resolve(context.Background(), operatorRequest())
	is.NoErr(err)
}

// TestTimeLimitStartsWithTheSlot: an order that waited far longer than the time limit for its
// slot still gets its whole limit once it holds the slot and a runtime.
func TestTimeLimitStartsWithTheSlot(t *testing.T) {
	is := is.New(t)
	lim := 20 * time.Millisecond
	s := MustLoad(withResolve("var x = 1;"), Limits{MaxConcurrent: 1, TimeLimit: lim})
	held, err := s.pool.acquire(context.Background())
	is.NoErr(err)
	done := make(chan error, 1)
	go func() { _, err := s.Resolve(context.Background(), operatorRequest()); done <- err }()
	waitFor(t, "the order waits for the slot", func() bool { return s.pool.waiting.Load() == 1 })
	<-time.After(10 * lim) // time passes while it waits
	s.pool.release(held)
	within(t, watchdog, func() { err = <-done })
	is.NoErr(err)
}

// TestCeilingBoundsConcurrentEvaluations: however many orders arrive at once, at most
// MaxConcurrent evaluations run; the others wait and then succeed.
func TestCeilingBoundsConcurrentEvaluations(t *testing.T) {
	is := is.New(t)
	// resolve reads the actor's id, which differs for every order: no order is answered from
	// the memo, each is evaluated.
	s := MustLoad(withResolve("var x = ctx.actor.id;"), Limits{MaxConcurrent: 2, TimeLimit: 5 * time.Second})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := operatorRequest()
			for j := 0; j < 20; j++ {
				if len(s.pool.slots) > 2 {
					failed.Add(1)
				}
				req.Actor.ID = fmt.Sprint("op-", i, "-", j)
				if _, err := s.Resolve(context.Background(), req); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	is.Equal(failed.Load(), int32(0))
	is.True(len(s.pool.idle) <= 2)
	is.Equal(s.resolveMemo.results, 16*20) // every order was evaluated (and its answer kept)
}

// honestScript is a live script like the demo host's: resolve and mapUserToCard decide per
// user.
const honestScript = `
var options = {
  enabled: true, approvalStep: false,
  productionTypes: [
    { id: "standard", layoutId: "L-100", label: "Standard card" },
    { id: "temporary", layoutId: "L-TEMP", label: "Temporary card" }
  ],
  defaultProductionType: "standard", selectProductionType: false, queueCards: true,
  allowMultipleCardOrders: false, sendCardOrderedEmail: true
};
function resolve(ctx) {
  if (ctx.channel === "temporary") return Object.assign({}, options, { defaultProductionType: "temporary" });
  if (ctx.user !== null && ctx.user.organisation === "Finance") return Object.assign({}, options, { approvalStep: true });
  return options;
}
function mapUserToCard(user) {
  var name = user.familyName + ", " + user.givenName; // (a local name: not a template, so JavaScript runs it)
  return { commonName: name, elements: { DEPARTMENT: user.department.toUpperCase() } };
}`

// TestHonestScriptUnderLoad: thousands of orders with an honest live script, at the default
// limits, while as many busy goroutines as there are CPUs keep the machine loaded: none fails.
func TestHonestScriptUnderLoad(t *testing.T) {
	is := is.New(t)
	e, err := NewEngine(context.Background(), &fakeStore{}, &EngineConfig{RefreshInterval: -1})
	is.NoErr(err)
	_, err = e.Install(context.Background(), honestScript, "")
	is.NoErr(err)
	stop := make(chan struct{})
	var busy sync.WaitGroup
	for i := 0; i < runtime.NumCPU(); i++ {
		busy.Add(1)
		go func() {
			defer busy.Done()
			x := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				for j := 0; j < 1000; j++ {
					x += j * j
				}
			}
		}()
	}
	defer func() { close(stop); busy.Wait() }()
	n := 4000
	if testing.Short() {
		n = 500
	}
	var failures atomic.Int32
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := operatorRequest()
			u := *req.User
			req.User = &u
			for i := 0; i < n/8; i++ {
				// A user of their own: mapUserToCard (which reads the name) runs for every
				// order, not answered from its memo.
				u.FamilyName = fmt.Sprint("Lovelace ", w, "-", i)
				if _, err := e.Resolve(context.Background(), req); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		t.Fatalf("%d of %d honest orders failed; first: %v", failures.Load(), n, *p)
	}
}
