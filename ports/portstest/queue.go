package portstest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/ports"
)

var queueTests = []storeTest{
	{"ClaimDueOldestFirst", testClaimDueOldestFirst},
	{"ClaimMax", testClaimMax},
	{"ClaimMarksCard", testClaimMarksCard},
	{"ClaimLease", testClaimLease},
	{"CardLeavingProcessingLeavesQueue", testLeavingProcessing},
	{"CardEnteringProcessingJoinsQueue", testEnteringProcessing},
	{"UpdateReschedules", testUpdateReschedules},
	{"ConcurrentClaimers", testConcurrentClaimers},
	{"AbortClaimRace", testAbortClaimRace},
	{"Stats", testStats},
}

// lease is the lease the suite's claims take unless a test needs another.
const lease = 5 * time.Minute

// sec returns base plus n seconds.
func sec(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }

func testClaimDueOldestFirst(f *fixture) {
	t := f.t
	now := at(100)
	type spec struct {
		name                  string
		state                 ports.CardState
		queued                int // minutes after base
		notBefore, leaseUntil time.Time
		due                   bool
	}
	specs := []spec{
		{"due, queued third", ports.StateProcessing, 3, time.Time{}, time.Time{}, true},
		{"due, queued first", ports.StateProcessing, 1, time.Time{}, time.Time{}, true},
		{"backing off", ports.StateProcessing, 0, now.Add(time.Second), time.Time{}, false},
		{"leased", ports.StateProcessing, 0, time.Time{}, now.Add(time.Second), false},
		{"NotBefore = now", ports.StateProcessing, 4, now, time.Time{}, true},
		{"lease ended at now", ports.StateProcessing, 5, time.Time{}, now, true},
		{"back-off and lease over", ports.StateProcessing, 2, now.Add(-time.Hour), now.Add(-time.Minute), true},
		{"lease over, backing off", ports.StateProcessing, 0, now.Add(time.Minute), now.Add(-time.Minute), false},
		{"ordered", ports.StateOrdered, -10, time.Time{}, time.Time{}, false},
		{"requested", ports.StateRequested, -10, time.Time{}, time.Time{}, false},
		{"failed", ports.StateFailed, -10, time.Time{}, time.Time{}, false},
		{"aborted", ports.StateAborted, -10, time.Time{}, time.Time{}, false},
	}
	byQueued := map[int]string{}
	var dueIDs []string
	for _, s := range specs {
		c := card(f.id("card"), f.id("user"), s.state, at(s.queued))
		c.QueuedAt = at(s.queued)
		c.NotBefore, c.LeaseUntil = s.notBefore, s.leaseUntil
		f.createOne(c)
		if s.due {
			byQueued[s.queued] = c.ID
		}
	}
	for q := -10; q <= 10; q++ {
		if id, ok := byQueued[q]; ok {
			dueIDs = append(dueIDs, id)
		}
	}
	got := f.claim(now, 100, lease)
	if d := cmp.Diff(dueIDs, ids(got)); d != "" {
		t.Fatalf("Claim: the due processing cards, oldest QueuedAt first (-want +got):\n%s", d)
	}
	if again := f.claim(now, 100, lease); len(again) != 0 {
		t.Fatalf("Claim at the same time again returned %v; every due card is leased", ids(again))
	}
}

func testClaimMax(f *fixture) {
	t := f.t
	var cards []ports.Card
	for i := range 5 {
		cards = append(cards, card(f.id("card"), f.id("user"), ports.StateProcessing, at(5-i)))
	}
	f.create(cards...) // one creation, queued newest first
	now := at(10)
	var got [][]string
	for range 4 {
		got = append(got, ids(f.claim(now, 2, lease)))
	}
	want := [][]string{{cards[4].ID, cards[3].ID}, {cards[2].ID, cards[1].ID}, {cards[0].ID}, {}}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("Claims of at most 2 (-want +got):\n%s", d)
	}
}

func testClaimMarksCard(f *fixture) {
	t := f.t
	before := f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(0)))
	now := at(1)
	got := f.claim(now, 1, lease)
	if len(got) != 1 {
		t.Fatalf("Claim returned %d cards, want 1", len(got))
	}
	c := got[0]
	if !c.DispatchStarted {
		t.Error("claimed card: DispatchStarted is false, want true")
	}
	if !c.LeaseUntil.Equal(now.Add(lease)) {
		t.Errorf("claimed card: LeaseUntil = %v, want now+lease = %v", c.LeaseUntil, now.Add(lease))
	}
	if c.Version == before.Version {
		t.Errorf("claimed card: Version = %d, unchanged; a claim bumps it", c.Version)
	}
	wantCard(t, "claimed card apart from DispatchStarted, LeaseUntil and Version", before, c,
		cmpopts.IgnoreFields(ports.Card{}, "DispatchStarted", "LeaseUntil", "Version"))
	wantCard(t, "stored card after the claim", c, f.get(c.ID))

	// An abort derived from the card read before the claim loses.
	ch := f.change(before, ports.StateAborted)
	_, err := f.s.Update(f.ctx, ch)
	wantErr(t, "Update from the version read before a claim", err, ports.ErrConflict)
	wantCard(t, "stored card after the lost abort", c, f.get(c.ID))
	f.wantNoOutbox([]ports.AuditEvent{ch.Event}, nil)
}

func testClaimLease(f *fixture) {
	t := f.t
	a := f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(0)))
	now := at(1)
	const l = 10 * time.Minute
	first := f.claim(now, 10, l)
	if d := cmp.Diff([]string{a.ID}, ids(first)); d != "" {
		t.Fatalf("first Claim (-want +got):\n%s", d)
	}
	for _, later := range []time.Duration{0, time.Second, l / 2, l - time.Second} {
		if got := f.claim(now.Add(later), 10, l); len(got) != 0 {
			t.Fatalf("Claim %v after a claim with lease %v returned %v; the card is leased", later, l, ids(got))
		}
	}
	// LeaseUntil not after now: claimable exactly when the lease ends.
	second := f.claim(now.Add(l), 10, l)
	if d := cmp.Diff([]string{a.ID}, ids(second)); d != "" {
		t.Fatalf("Claim when the lease ended (-want +got):\n%s", d)
	}
	c := second[0]
	if !c.LeaseUntil.Equal(now.Add(2*l)) || !c.DispatchStarted || c.Version == first[0].Version {
		t.Fatalf("card claimed again: LeaseUntil %v (want %v), DispatchStarted %v, Version %d (first claim %d)",
			c.LeaseUntil, now.Add(2*l), c.DispatchStarted, c.Version, first[0].Version)
	}
	wantCard(t, "stored card after the second claim", c, f.get(a.ID))
}

func testLeavingProcessing(f *fixture) {
	t := f.t
	now := at(10)
	for _, to := range []ports.CardState{ports.StateOrdered, ports.StateFailed, ports.StateAborted} {
		p := f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(0)))
		f.update(p, to, nil)
		if got := f.claim(now, 10, lease); len(got) != 0 {
			t.Fatalf("Claim after the only processing card went to %s returned %v", to, ids(got))
		}
		// Also a card that was claimed and then left processing.
		q := f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(0)))
		claimed := f.claim(now, 10, lease)
		if len(claimed) != 1 || claimed[0].ID != q.ID {
			t.Fatalf("Claim returned %d cards, want 1", len(claimed))
		}
		f.update(claimed[0], to, func(c *ports.Card) { c.LeaseUntil = time.Time{} })
		if got := f.claim(now.Add(time.Hour), 10, lease); len(got) != 0 {
			t.Fatalf("Claim after the claimed card went to %s returned %v", to, ids(got))
		}
		st, err := f.s.Stats(f.ctx, now)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if st.Depth != 0 {
			t.Fatalf("Stats.Depth = %d with no processing card", st.Depth)
		}
	}
}

func testEnteringProcessing(f *fixture) {
	t := f.t
	now := at(10)
	r := f.createOne(card(f.id("card"), f.id("user"), ports.StateRequested, at(0)))
	fl := f.createOne(card(f.id("card"), f.id("user"), ports.StateFailed, at(0)))
	if got := f.claim(now, 10, lease); len(got) != 0 {
		t.Fatalf("Claim with no processing card returned %v", ids(got))
	}
	approved := f.update(r, ports.StateProcessing, func(c *ports.Card) { c.QueuedAt = at(2) })
	repeated := f.update(fl, ports.StateProcessing, func(c *ports.Card) {
		c.QueuedAt = at(1)
		c.Attempt = 2
		c.FailureReason = ""
	})
	got := f.claim(now, 10, lease)
	if d := cmp.Diff([]string{repeated.ID, approved.ID}, ids(got)); d != "" {
		t.Fatalf("Claim after two cards entered processing (-want +got):\n%s", d)
	}
}

func testUpdateReschedules(f *fixture) {
	t := f.t
	now := at(10)
	a := f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(0)))
	b := f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(1)))
	claimed := f.claim(now, 2, time.Hour)
	if d := cmp.Diff([]string{a.ID, b.ID}, ids(claimed)); d != "" {
		t.Fatalf("Claim (-want +got):\n%s", d)
	}
	// The dispatcher got a transient error for a: it releases the lease and backs off.
	f.update(claimed[0], ports.StateProcessing, func(c *ports.Card) {
		c.LeaseUntil = time.Time{}
		c.NotBefore = now.Add(30 * time.Minute)
		c.DispatchTries = 1
	})
	// b's lease is released at once (say the dispatcher shut down cleanly).
	f.update(claimed[1], ports.StateProcessing, func(c *ports.Card) { c.LeaseUntil = time.Time{} })

	if d := cmp.Diff([]string{b.ID}, ids(f.claim(now, 10, time.Hour))); d != "" {
		t.Fatalf("Claim after b's lease was released and a backs off (-want +got):\n%s", d)
	}
	if got := f.claim(now.Add(30*time.Minute-time.Second), 10, time.Hour); len(got) != 0 {
		t.Fatalf("Claim before a's back-off ended returned %v", ids(got))
	}
	if d := cmp.Diff([]string{a.ID}, ids(f.claim(now.Add(30*time.Minute), 10, time.Hour))); d != "" {
		t.Fatalf("Claim when a's back-off ended (-want +got):\n%s", d)
	}
}

func testConcurrentClaimers(f *fixture) {
	t := f.t
	const n, claimers = 600, 4
	cards := make([]ports.Card, n)
	for i := range cards {
		cards[i] = card(f.id("card"), f.id("user"), ports.StateProcessing, sec(i))
	}
	f.createMany(cards)
	now := at(100)
	var (
		mu   sync.Mutex
		seen = map[string]int{} // card id → claimer
		got  = make([]int, claimers)
	)
	start := make(chan struct{})
	var g errgroup.Group
	for w := range claimers {
		g.Go(func() error {
			<-start
			for {
				cs, err := f.s.Claim(f.ctx, now, 3, time.Hour)
				if err != nil {
					return fmt.Errorf("concurrent Claim: %w", err)
				}
				if len(cs) == 0 {
					return nil
				}
				mu.Lock()
				for _, c := range cs {
					if prev, dup := seen[c.ID]; dup {
						mu.Unlock()
						return fmt.Errorf("card %s claimed by claimers %d and %d within one lease", c.ID, prev, w)
					}
					seen[c.ID] = w
					if !c.LeaseUntil.Equal(now.Add(time.Hour)) {
						mu.Unlock()
						return fmt.Errorf("card %s claimed with LeaseUntil %v, want %v", c.ID, c.LeaseUntil, now.Add(time.Hour))
					}
				}
				got[w] += len(cs)
				mu.Unlock()
			}
		})
	}
	close(start)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("the claimers got %d distinct cards, want all %d", len(seen), n)
	}
	t.Logf("cards per claimer: %v", got)
}

func testAbortClaimRace(f *fixture) {
	t := f.t
	// The race runs in rounds: in each, a dispatcher claims the round's cards oldest first while
	// an operator aborts them newest first, so the two meet on some card whatever their speeds.
	const rounds, perRound = 10, raceN / 10
	now := at(100)
	var (
		cards     []ports.Card
		mu        sync.Mutex
		claimed   = map[string]ports.Card{} // by id, as the claim returned it
		aborted   = map[string]bool{}       // the abort's compare-and-set succeeded
		lost      = map[string]bool{}       // the abort got ErrConflict
		dispStart = map[string]bool{}       // the abort read a card whose dispatch had begun
	)
	for r := range rounds {
		round := make([]ports.Card, perRound)
		for i := range round {
			round[i] = card(f.id("card"), f.id("user"), ports.StateProcessing, sec(r*perRound+i))
		}
		f.createMany(round)
		cards = append(cards, round...)

		start := make(chan struct{})
		var g errgroup.Group
		// The dispatcher claims small batches until the queue is empty.
		g.Go(func() error {
			<-start
			for {
				cs, err := f.s.Claim(f.ctx, now, 2, time.Hour)
				if err != nil {
					return fmt.Errorf("Claim: %w", err)
				}
				if len(cs) == 0 {
					return nil
				}
				mu.Lock()
				for _, c := range cs {
					if _, dup := claimed[c.ID]; dup {
						mu.Unlock()
						return fmt.Errorf("card %s claimed twice within one lease", c.ID)
					}
					claimed[c.ID] = c
				}
				mu.Unlock()
			}
		})
		// The operator aborts every card as the domain does: read, refuse when the dispatch has
		// begun, else compare-and-set to aborted.
		g.Go(func() error {
			<-start
			for _, c := range slices.Backward(round) {
				cur, err := f.s.Card(f.ctx, c.ID)
				if err != nil {
					return fmt.Errorf("Card(%s): %w", c.ID, err)
				}
				if cur.DispatchStarted {
					mu.Lock()
					dispStart[c.ID] = true
					mu.Unlock()
					continue
				}
				if cur.State != ports.StateProcessing {
					return fmt.Errorf("card %s is %s before anyone aborted it", c.ID, cur.State)
				}
				_, err = f.s.Update(f.ctx, f.change(cur, ports.StateAborted))
				mu.Lock()
				switch {
				case err == nil:
					aborted[c.ID] = true
				case errors.Is(err, ports.ErrConflict):
					lost[c.ID] = true
				default:
					mu.Unlock()
					return fmt.Errorf("abort of %s: got error %w, want nil or errors.Is(err, ports.ErrConflict)", c.ID, err)
				}
				mu.Unlock()
			}
			return nil
		})
		close(start)
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range cards {
		cl, wasClaimed := claimed[c.ID]
		switch {
		case aborted[c.ID] && wasClaimed:
			t.Fatalf("card %s was both aborted and claimed (claim version %d)", c.ID, cl.Version)
		case !aborted[c.ID] && !wasClaimed:
			t.Fatalf("card %s was neither aborted nor claimed", c.ID)
		case lost[c.ID] && !wasClaimed:
			t.Fatalf("the abort of %s lost its compare-and-set, but no claim took the card", c.ID)
		case dispStart[c.ID] && !wasClaimed:
			t.Fatalf("card %s read with DispatchStarted, but no claim took it", c.ID)
		}
		got := f.get(c.ID)
		if aborted[c.ID] && got.State != ports.StateAborted {
			t.Fatalf("card %s: abort succeeded but the card is %s", c.ID, got.State)
		}
		if wasClaimed {
			wantCard(t, "stored card claimed in the race", cl, got)
		}
	}
	if left := f.claim(now, len(cards), time.Hour); len(left) != 0 {
		t.Fatalf("Claim after the race returned %v; every card is leased or aborted", ids(left))
	}
	// When the leases end, exactly the claimed cards are claimable again.
	again := ids(f.claim(now.Add(time.Hour), len(cards), time.Hour))
	var want []string
	for _, c := range cards {
		if _, ok := claimed[c.ID]; ok {
			want = append(want, c.ID)
		}
	}
	slices.Sort(again)
	slices.Sort(want)
	if d := cmp.Diff(want, again, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("Claim after the leases ended: the cards claimed in the race (-want +got):\n%s", d)
	}
	t.Logf("%d claimed, %d aborted, %d aborts lost the compare-and-set, %d aborts saw the dispatch begun",
		len(claimed), len(aborted), len(lost), len(dispStart))
}

func testStats(f *fixture) {
	t := f.t
	now := at(100)
	stats := func(now time.Time) ports.QueueStats {
		t.Helper()
		st, err := f.s.Stats(f.ctx, now)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		return st
	}
	if d := cmp.Diff(ports.QueueStats{}, stats(now)); d != "" {
		t.Fatalf("Stats of an empty store (-want +got):\n%s", d)
	}

	old := card(f.id("card"), f.id("user"), ports.StateOrdered, at(0))
	old.QueuedAt = at(0) // left the queue: not counted
	f.createOne(old)
	backingOff := card(f.id("card"), f.id("user"), ports.StateProcessing, at(2))
	backingOff.NotBefore = now.Add(time.Hour)
	f.createOne(backingOff)
	f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(7)))
	f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(5))) // the oldest due: claimed below
	f.createOne(card(f.id("card"), f.id("user"), ports.StateProcessing, at(9)))
	if got := f.claim(now, 1, lease); len(got) != 1 {
		t.Fatalf("Claim returned %d cards, want 1", len(got))
	}

	if d := cmp.Diff(ports.QueueStats{Depth: 4, Due: 2, OldestQueuedAt: at(2)}, stats(now)); d != "" {
		t.Fatalf("Stats with 4 processing cards, one backing off and one leased (-want +got):\n%s", d)
	}
	if d := cmp.Diff(ports.QueueStats{Depth: 4, Due: 3, OldestQueuedAt: at(2)}, stats(now.Add(lease))); d != "" {
		t.Fatalf("Stats when the lease ended (-want +got):\n%s", d)
	}
	if d := cmp.Diff(ports.QueueStats{Depth: 4, Due: 4, OldestQueuedAt: at(2)}, stats(now.Add(time.Hour))); d != "" {
		t.Fatalf("Stats when the back-off ended (-want +got):\n%s", d)
	}
}
