package sqlite_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/adapters/sqlite"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"

	"github.com/cardsaddon/extprod/internal/cputime"
)

// anyUser is a directory in which every id is an active user.
type anyUser struct{}

func (anyUser) User(_ context.Context, id string) (ports.User, error) {
	return ports.User{ID: id, State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace",
		Email: "ada@example.com", UPN: "ada@corp.example", Organisation: "Corp", Department: "R&D"}, nil
}

var benchOperator = ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}

// benchService wires store with the memory bureau and the discarding mailer and audit sink, the
// use case enabled with the default options (queueing on, one open order per user).
func benchService(b *testing.B, store ports.Store) *cardorder.Service {
	b.Helper()
	opts := ports.DefaultOptions()
	opts.Enabled = true
	svc, err := cardorder.New(cardorder.Ports{Users: anyUser{}, Store: store, Provider: memory.NewBureau(),
		Options: cardorder.StaticOptions(opts)}, &cardorder.Config{DispatchBatch: 200, DispatchConcurrency: 16})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

func benchStore(b *testing.B, kind string) ports.Store {
	b.Helper()
	if kind == "memory" {
		return memory.NewStore()
	}
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// callers is how many goroutines order at once.
const callers = 16

// orderParallel orders b.N cards for distinct users from 16 goroutines.
func orderParallel(b *testing.B, svc *cardorder.Service, prefix string) {
	var n atomic.Int64
	opts := &cardorder.OrderOptions{Actor: benchOperator}
	b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := svc.OrderCard(ctx, prefix+strconv.FormatInt(n.Add(1), 10), opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer() // closing the store (its last checkpoint) is not an order's cost
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
	b.ReportMetric(float64((cputime.Process()-cpu).Microseconds())/float64(b.N), "cpu-µs/order")
}

// BenchmarkOrderCard: Service.OrderCard with 16 concurrent callers for distinct users, queueing
// on, over the SQLite store and over the memory store in the same run.
func BenchmarkOrderCard(b *testing.B) {
	for _, kind := range []string{"sqlite", "memory"} {
		b.Run("store="+kind, func(b *testing.B) {
			orderParallel(b, benchService(b, benchStore(b, kind)), "u")
		})
	}
}

// BenchmarkDispatch: b.N queued cards dispatched by DispatchQueued passes to the memory bureau,
// through the SQLite queue and through the memory store in the same run. Queueing the cards is
// not timed.
func BenchmarkDispatch(b *testing.B) {
	for _, kind := range []string{"sqlite", "memory"} {
		b.Run("store="+kind, func(b *testing.B) {
			store := benchStore(b, kind)
			svc := benchService(b, store)
			ctx := context.Background()
			opts := &cardorder.OrderOptions{Actor: benchOperator}
			for i := range b.N {
				if _, err := svc.OrderCard(ctx, "d"+strconv.Itoa(i), opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cputime.Process()
			ordered := 0
			for ordered < b.N {
				res, err := svc.DispatchQueued(ctx, 200)
				if err != nil {
					b.Fatal(err)
				}
				if res.Ordered == 0 {
					b.Fatalf("a pass ordered nothing: %+v", res)
				}
				ordered += res.Ordered
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cards/s")
			b.ReportMetric(float64((cputime.Process()-cpu).Microseconds())/float64(b.N), "cpu-µs/card")
		})
	}
}

// BenchmarkOrderCardScale: the per-order cost of BenchmarkOrderCard over a SQLite store that
// already holds 10³ or 10⁶ cards (ordered, one per user), bulk-loaded in batches of 1,000.
func BenchmarkOrderCardScale(b *testing.B) {
	dir := b.TempDir()
	for _, stored := range []int{1_000, 1_000_000} {
		// The benchmark function runs more than once (b.N = 1 first): load a template once and
		// give every run a copy.
		template := filepath.Join(dir, fmt.Sprintf("template-%d.db", stored))
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			if _, err := os.Stat(template); err != nil {
				s, err := sqlite.Open(context.Background(), template, nil)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				bulkLoad(b, s, stored)
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.Logf("loaded %d cards in %s", stored, time.Since(start).Round(time.Millisecond))
			}
			path := filepath.Join(b.TempDir(), "scale.db")
			copyFile(b, template, path)
			s, err := sqlite.Open(context.Background(), path, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			orderParallel(b, benchService(b, s), "n")
		})
	}
}

func copyFile(b *testing.B, from, to string) {
	b.Helper()
	in, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

// bulkLoad stores n ordered cards of n users, 1,000 per creation.
func bulkLoad(b *testing.B, s *sqlite.Store, n int) {
	b.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := ports.DefaultOptions()
	opts.Enabled = true
	batch := make([]ports.Card, 0, 1000)
	flush := func() {
		if _, err := s.Create(ctx, ports.Creation{Cards: batch}); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range n {
		id := "old-" + strconv.Itoa(i)
		batch = append(batch, ports.Card{ID: id, UserID: "old-user-" + strconv.Itoa(i), State: ports.StateOrdered,
			Channel: ports.ChannelOperator, ProductionType: "standard", LayoutID: "L-100", CommonName: "Ada Lovelace",
			Email: "ada@example.com", Elements: map[string]string{"FIRST_NAME": "Ada", "LAST_NAME": "Lovelace"},
			OrderedBy: "op-1", Options: opts, Attempt: 1, ProviderOrderID: "GC-" + strconv.Itoa(i),
			CreatedAt: at, UpdatedAt: at, History: []ports.HistoryEntry{{State: ports.StateOrdered, At: at}}})
		if len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
}
