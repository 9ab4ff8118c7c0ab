package portstest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cardsaddon/extprod/ports"
)

// race runs fn(i) for i in [0, n) on n goroutines that all start at once (behind a barrier)
// and returns when every call returned.
func race(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// recordsRaceN is how many goroutines race for one key, event or job.
const recordsRaceN = 64

// RunIdempotencyStore runs the conformance suite of [ports.IdempotencyStore] as subtests of t:
// reservations, replay of completed records, expiry by the now argument, stale tokens, release,
// the race for one key, and purge. newStore is called once per subtest and must return a new,
// empty store.
func RunIdempotencyStore(t *testing.T, newStore func(t *testing.T) ports.IdempotencyStore) {
	t.Helper()
	hold := time.Minute
	type rec = ports.IdempotencyRecord
	reserve := func(t *testing.T, s ports.IdempotencyStore, key, fp string, now time.Time) (rec, bool) {
		t.Helper()
		r, ok, err := s.Reserve(t.Context(), key, fp, now, hold)
		if err != nil {
			t.Fatalf("Reserve(%s): %v", key, err)
		}
		return r, ok
	}
	complete := func(t *testing.T, s ports.IdempotencyStore, key, token string, body string, exp time.Time) {
		t.Helper()
		if err := s.Complete(t.Context(), key, token, []byte(body), exp); err != nil {
			t.Fatalf("Complete(%s): %v", key, err)
		}
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s ports.IdempotencyStore)
	}{
		{"ReserveNew", func(t *testing.T, s ports.IdempotencyStore) {
			r, ok := reserve(t, s, "k", "fp-1", at(0))
			if !ok {
				t.Fatal("Reserve of a new key: reserved false, want true")
			}
			if r.Token == "" || r.Done || r.Fingerprint != "fp-1" || !r.ExpiresAt.Equal(at(0).Add(hold)) {
				t.Fatalf("Reserve of a new key = %+v, want a token, Done false, Fingerprint fp-1, ExpiresAt now+hold", r)
			}
			r2, ok := reserve(t, s, "other", "fp-1", at(0))
			if !ok || r2.Token == r.Token {
				t.Fatalf("Reserve of another key: reserved %v, token %q; want true and a token of its own", ok, r2.Token)
			}
		}},
		{"ReserveBusy", func(t *testing.T, s ports.IdempotencyStore) {
			first, _ := reserve(t, s, "k", "fp-1", at(0))
			r, ok := reserve(t, s, "k", "fp-2", at(0).Add(hold-time.Second))
			if ok {
				t.Fatal("Reserve of a key reserved by a live request: reserved true, want false")
			}
			if r.Done || r.Fingerprint != "fp-1" || r.Token != first.Token {
				t.Fatalf("Reserve of a reserved key returned %+v, want the first reservation (fp-1, not done)", r)
			}
		}},
		{"CompleteReplays", func(t *testing.T, s ports.IdempotencyStore) {
			r, _ := reserve(t, s, "k", "fp-1", at(0))
			body := []byte(`{"id":"card-1"}`)
			if err := s.Complete(t.Context(), "k", r.Token, body, at(60)); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			body[2] = 'X' // the store keeps its own copy
			got, ok := reserve(t, s, "k", "fp-1", at(59))
			if ok {
				t.Fatal("Reserve of a completed key: reserved true, want false")
			}
			want := rec{Fingerprint: "fp-1", Token: r.Token, Done: true, Body: []byte(`{"id":"card-1"}`), ExpiresAt: at(60)}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("Reserve of a completed key: the completed record (-want +got):\n%s", d)
			}
			if _, ok := reserve(t, s, "k", "fp-2", at(60)); !ok {
				t.Fatal("Reserve of a key whose completed record expired: reserved false, want true (expired counts as absent)")
			}
		}},
		{"ReservationExpires", func(t *testing.T, s ports.IdempotencyStore) {
			old, _ := reserve(t, s, "k", "fp-1", at(0))
			fresh, ok := reserve(t, s, "k", "fp-1", at(0).Add(hold))
			if !ok || fresh.Token == old.Token {
				t.Fatalf("Reserve when the reservation expired: reserved %v, token %q; want true and a new token", ok, fresh.Token)
			}
			err := s.Complete(t.Context(), "k", old.Token, []byte("late"), at(60))
			wantErr(t, "Complete with the token of an expired reservation", err, ports.ErrConflict)
			complete(t, s, "k", fresh.Token, "fresh", at(60))
			if got, _ := reserve(t, s, "k", "fp-1", at(2)); string(got.Body) != "fresh" {
				t.Fatalf("replayed body %q, want the live reservation's %q", got.Body, "fresh")
			}
			err = s.Complete(t.Context(), "other", "no-such-token", nil, at(60))
			wantErr(t, "Complete of a key never reserved", err, ports.ErrConflict)
		}},
		{"Release", func(t *testing.T, s ports.IdempotencyStore) {
			r, _ := reserve(t, s, "k", "fp-1", at(0))
			if err := s.Release(t.Context(), "k", r.Token); err != nil {
				t.Fatalf("Release: %v", err)
			}
			again, ok := reserve(t, s, "k", "fp-2", at(0))
			if !ok {
				t.Fatal("Reserve right after Release: reserved false, want true (the key is free at once)")
			}
			if err := s.Release(t.Context(), "k", r.Token); err != nil {
				t.Fatalf("Release of a reservation that is gone: %v, want nil", err)
			}
			if _, ok := reserve(t, s, "k", "fp-3", at(0)); ok {
				t.Fatal("Release with a stale token dropped another request's reservation")
			}
			if err := s.Release(t.Context(), "never", "no-such-token"); err != nil {
				t.Fatalf("Release of a key never reserved: %v, want nil", err)
			}
			complete(t, s, "k", again.Token, "done", at(60))
			if err := s.Release(t.Context(), "k", again.Token); err != nil {
				t.Fatalf("Release of a completed record: %v, want nil", err)
			}
			if got, ok := reserve(t, s, "k", "fp-2", at(1)); ok || !got.Done {
				t.Fatalf("Release dropped a completed record: reserved %v, Done %v; want false, true", ok, got.Done)
			}
		}},
		{"ReserveRace", func(t *testing.T, s ports.IdempotencyStore) {
			won := make([]bool, recordsRaceN)
			errs := make([]error, recordsRaceN)
			race(recordsRaceN, func(i int) {
				_, won[i], errs[i] = s.Reserve(t.Context(), "k", "fp", at(0), hold)
			})
			winners := 0
			for i := range won {
				if errs[i] != nil {
					t.Fatalf("racing Reserve %d: %v", i, errs[i])
				}
				if won[i] {
					winners++
				}
			}
			if winners != 1 {
				t.Fatalf("%d of %d racing Reserve calls for one key got reserved true, want exactly 1", winners, recordsRaceN)
			}
		}},
		{"Purge", func(t *testing.T, s ports.IdempotencyStore) {
			for i := range 3 { // reservations that expire at at(0)+hold
				reserve(t, s, fmt.Sprintf("held-%d", i), "fp", at(0))
			}
			for i := range 2 { // completed records that expire at at(5)
				r, _ := reserve(t, s, fmt.Sprintf("done-%d", i), "fp", at(0))
				complete(t, s, fmt.Sprintf("done-%d", i), r.Token, "b", at(5))
			}
			r, _ := reserve(t, s, "live", "fp", at(0))
			complete(t, s, "live", r.Token, "b", at(60))
			purge := func(now time.Time, max, want int) {
				t.Helper()
				n, err := s.PurgeIdempotency(t.Context(), now, max)
				if err != nil || n != want {
					t.Fatalf("PurgeIdempotency(%v, %d) = %d, %v; want %d, nil", now, max, n, err, want)
				}
			}
			purge(at(0), 100, 0)
			purge(at(5), 4, 4)
			purge(at(5), 100, 1)
			purge(at(5), 100, 0)
			if got, ok := reserve(t, s, "live", "fp", at(6)); ok || !got.Done {
				t.Fatal("PurgeIdempotency removed a live record")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("portstest: the store constructor returned nil")
			}
			tt.fn(t, s)
		})
	}
}

// RunEventDedup runs the conformance suite of [ports.EventDedup] as subtests of t: new, busy
// and done ids, expiry of holds and of applied ids by the now argument, forgetting ids not
// applied, the race for one id, and purge. newDedup is called once per subtest and must return
// a new, empty dedup.
func RunEventDedup(t *testing.T, newDedup func(t *testing.T) ports.EventDedup) {
	t.Helper()
	hold := time.Minute
	begin := func(t *testing.T, d ports.EventDedup, id string, now time.Time, want ports.DedupState, why string) {
		t.Helper()
		got, err := d.BeginEvent(t.Context(), id, now, hold)
		if err != nil {
			t.Fatalf("BeginEvent(%s): %v", id, err)
		}
		if got != want {
			t.Fatalf("BeginEvent(%s) %s = %s, want %s", id, why, dedupName(got), dedupName(want))
		}
	}
	finish := func(t *testing.T, d ports.EventDedup, id string, applied bool, keep time.Time) {
		t.Helper()
		if err := d.FinishEvent(t.Context(), id, applied, keep); err != nil {
			t.Fatalf("FinishEvent(%s): %v", id, err)
		}
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, d ports.EventDedup)
	}{
		{"NewBusyDone", func(t *testing.T, d ports.EventDedup) {
			begin(t, d, "e1", at(0), ports.DedupNew, "of a new id")
			begin(t, d, "e1", at(0).Add(hold-time.Second), ports.DedupBusy, "while another delivery holds it")
			begin(t, d, "e2", at(0), ports.DedupNew, "of another id")
			finish(t, d, "e1", true, at(60))
			begin(t, d, "e1", at(59), ports.DedupDone, "of an applied id within its window")
			begin(t, d, "e1", at(60), ports.DedupNew, "when its window ended")
		}},
		{"NotAppliedIsForgotten", func(t *testing.T, d ports.EventDedup) {
			begin(t, d, "e1", at(0), ports.DedupNew, "of a new id")
			finish(t, d, "e1", false, at(60))
			begin(t, d, "e1", at(0), ports.DedupNew, "after the first delivery did not apply it")
		}},
		{"HoldExpires", func(t *testing.T, d ports.EventDedup) {
			begin(t, d, "e1", at(0), ports.DedupNew, "of a new id")
			begin(t, d, "e1", at(0).Add(hold), ports.DedupNew, "when the hold of a delivery that died ended")
		}},
		{"BeginRace", func(t *testing.T, d ports.EventDedup) {
			got := make([]ports.DedupState, recordsRaceN)
			errs := make([]error, recordsRaceN)
			race(recordsRaceN, func(i int) { got[i], errs[i] = d.BeginEvent(t.Context(), "e1", at(0), hold) })
			news := 0
			for i := range got {
				switch {
				case errs[i] != nil:
					t.Fatalf("racing BeginEvent %d: %v", i, errs[i])
				case got[i] == ports.DedupNew:
					news++
				case got[i] != ports.DedupBusy:
					t.Fatalf("racing BeginEvent %d = %s, want DedupNew or DedupBusy", i, dedupName(got[i]))
				}
			}
			if news != 1 {
				t.Fatalf("%d of %d racing BeginEvent calls for one id got DedupNew, want exactly 1", news, recordsRaceN)
			}
		}},
		{"Purge", func(t *testing.T, d ports.EventDedup) {
			for i := range 3 {
				id := fmt.Sprintf("applied-%d", i)
				begin(t, d, id, at(0), ports.DedupNew, "of a new id")
				finish(t, d, id, true, at(5))
			}
			begin(t, d, "held", at(0), ports.DedupNew, "of a new id") // held until at(0)+hold
			begin(t, d, "live", at(0), ports.DedupNew, "of a new id")
			finish(t, d, "live", true, at(60))
			purge := func(now time.Time, max, want int) {
				t.Helper()
				n, err := d.PurgeEvents(t.Context(), now, max)
				if err != nil || n != want {
					t.Fatalf("PurgeEvents(%v, %d) = %d, %v; want %d, nil", now, max, n, err, want)
				}
			}
			purge(at(0), 100, 0)
			purge(at(5), 3, 3)
			purge(at(5), 100, 1)
			purge(at(5), 100, 0)
			begin(t, d, "live", at(6), ports.DedupDone, "of an applied id after a purge of others")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDedup(t)
			if d == nil {
				t.Fatal("portstest: the dedup constructor returned nil")
			}
			tt.fn(t, d)
		})
	}
}

func dedupName(s ports.DedupState) string {
	switch s {
	case ports.DedupNew:
		return "DedupNew"
	case ports.DedupBusy:
		return "DedupBusy"
	case ports.DedupDone:
		return "DedupDone"
	}
	return fmt.Sprintf("DedupState(%d)", int(s))
}

// RunJobLeases runs the conformance suite of [ports.JobLeases] as subtests of t: acquire,
// renewal, expiry by the now argument, release, independent jobs and the race for a free job.
// newLeases is called once per subtest and must return a new, empty lease table.
func RunJobLeases(t *testing.T, newLeases func(t *testing.T) ports.JobLeases) {
	t.Helper()
	ttl := time.Minute
	acquire := func(t *testing.T, l ports.JobLeases, job, holder string, now time.Time, want bool, why string) {
		t.Helper()
		got, err := l.AcquireLease(t.Context(), job, holder, now, ttl)
		if err != nil {
			t.Fatalf("AcquireLease(%s, %s): %v", job, holder, err)
		}
		if got != want {
			t.Fatalf("AcquireLease(%s, %s) %s = %v, want %v", job, holder, why, got, want)
		}
	}
	release := func(t *testing.T, l ports.JobLeases, job, holder string) {
		t.Helper()
		if err := l.ReleaseLease(t.Context(), job, holder); err != nil {
			t.Fatalf("ReleaseLease(%s, %s): %v", job, holder, err)
		}
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, l ports.JobLeases)
	}{
		{"AcquireRenewExpire", func(t *testing.T, l ports.JobLeases) {
			acquire(t, l, "sync", "a", at(0), true, "of a free job")
			acquire(t, l, "sync", "b", at(0).Add(ttl-time.Second), false, "while a holds it")
			acquire(t, l, "cleanup", "b", at(0), true, "of another job")
			acquire(t, l, "sync", "a", at(0).Add(ttl-time.Second), true, "by its holder (a renewal)")
			acquire(t, l, "sync", "b", at(0).Add(ttl), false, "after a renewed it (the renewal runs from its now)")
			acquire(t, l, "sync", "b", at(0).Add(2*ttl-time.Second), true, "when a's renewed lease expired")
		}},
		{"Release", func(t *testing.T, l ports.JobLeases) {
			acquire(t, l, "sync", "a", at(0), true, "of a free job")
			release(t, l, "sync", "b") // not the holder: nothing happens
			acquire(t, l, "sync", "b", at(0), false, "after a non-holder released it")
			release(t, l, "sync", "a")
			acquire(t, l, "sync", "b", at(0), true, "right after its holder released it")
			release(t, l, "never", "a")
		}},
		{"AcquireRace", func(t *testing.T, l ports.JobLeases) {
			won := make([]bool, recordsRaceN)
			errs := make([]error, recordsRaceN)
			race(recordsRaceN, func(i int) {
				won[i], errs[i] = l.AcquireLease(t.Context(), "sync", fmt.Sprintf("holder-%d", i), at(0), ttl)
			})
			winners := 0
			for i := range won {
				if errs[i] != nil {
					t.Fatalf("racing AcquireLease %d: %v", i, errs[i])
				}
				if won[i] {
					winners++
				}
			}
			if winners != 1 {
				t.Fatalf("%d of %d racing AcquireLease calls for a free job won, want exactly 1", winners, recordsRaceN)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLeases(t)
			if l == nil {
				t.Fatal("portstest: the leases constructor returned nil")
			}
			tt.fn(t, l)
		})
	}
}
