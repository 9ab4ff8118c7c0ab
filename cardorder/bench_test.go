package cardorder_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// anyUser is a directory in which every id is an active user, so a benchmark can order for as
// many distinct users as it likes without building a map first.
type anyUser struct{}

func (anyUser) User(_ context.Context, id string) (ports.User, error) {
	return ports.User{ID: id, State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace",
		Email: "ada@example.com", UPN: "ada@corp.example", Organisation: "Corp", Department: "R&D"}, nil
}

// benchService wires the memory adapters; the audit sink and mailer are the default discarding
// ones, so the figures show the library, not a test recorder's growing log.
func benchService(b *testing.B, src ports.OptionsSource) (*cardorder.Service, *memory.Store) {
	store := memory.NewStore()
	svc, err := cardorder.New(cardorder.Ports{
		Users: anyUser{}, Store: store,
		Provider: memory.NewBureau(), Options: src,
	}, &cardorder.Config{IDs: memory.NewIDs("c")})
	if err != nil {
		b.Fatal(err)
	}
	return svc, store
}

// BenchmarkOrderCard orders cards for distinct users in parallel: memory adapters, the default
// options with the use case enabled (queueing on, one open order per user).
func BenchmarkOrderCard(b *testing.B) {
	svc, _ := benchService(b, cardorder.StaticOptions(enabled(nil)))
	benchOrders(b, svc)
}

func benchOrders(b *testing.B, svc *cardorder.Service) {
	var n atomic.Int64
	opts := &cardorder.OrderOptions{Actor: operator}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := svc.OrderCard(ctx, "u"+strconv.FormatInt(n.Add(1), 10), opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}

// BenchmarkOrderCardScale measures the per-order cost with 10³ and 10⁶ cards already stored, and
// the heap each stored card takes.
func BenchmarkOrderCardScale(b *testing.B) {
	for _, stored := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			svc, _ := benchService(b, cardorder.StaticOptions(enabled(nil)))
			ctx := context.Background()
			opts := &cardorder.OrderOptions{Actor: operator}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for i := range stored {
				if _, err := svc.OrderCard(ctx, "p"+strconv.Itoa(i), opts); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			perCard := float64(after.HeapAlloc-before.HeapAlloc) / float64(stored)
			b.ReportAllocs()
			i := 0
			for b.Loop() { // b.Loop runs the set-up above once, not once per round
				i++
				if _, err := svc.OrderCard(ctx, "n"+strconv.Itoa(i), opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(perCard, "heapB/card")
		})
	}
}
