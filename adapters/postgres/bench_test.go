package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/adapters/postgres"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// benchConns is the pool size of the benchmarks' stores: one connection per concurrent caller.
const benchConns = 16

// BenchmarkOrderCard orders cards for distinct users through cardorder.Service over the
// PostgreSQL store, 16 callers at once (b.SetParallelism(8) on 2 CPUs): the default options with
// the use case enabled (queueing on, one open order per user). Each order is one exclusive
// Create (one pipelined batch: the user's lock, the guarded card insert, its audit event, and
// the commit). Besides the rate it
// reports the CPU time per order of this process and of the PostgreSQL server, which say what
// 2 dedicated cores would sustain when the machine is shared.
func BenchmarkOrderCard(b *testing.B) {
	schema := newSchema(b)
	store := openStore(b, schema, &postgres.Config{MaxConns: benchConns})
	svc := newService(b, store, enabled(nil), cardorder.Ports{}, nil)
	var n atomic.Int64
	opts := &cardorder.OrderOptions{Actor: operator}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := readCPU()
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
	cpu.report(b, schema)
}

// BenchmarkDispatch dispatches b.N queued cards to the in-memory bureau through the PostgreSQL
// queue and, in the same run, through the memory store: claim (batches of 100), place the order
// (8 in flight), record it ordered. Queueing the cards is set-up, outside the timer.
func BenchmarkDispatch(b *testing.B) {
	for _, kind := range []string{"postgres", "memory"} {
		b.Run("store="+kind, func(b *testing.B) {
			var store ports.Store
			schema := newSchema(b)
			if kind == "postgres" {
				store = openStore(b, schema, &postgres.Config{MaxConns: benchConns})
			} else {
				store = memory.NewStore()
			}
			svc, err := cardorder.New(cardorder.Ports{Users: anyUser{}, Store: store, Provider: memory.NewBureau(),
				Options: cardorder.StaticOptions(enabled(nil))}, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			opts := &cardorder.OrderOptions{Actor: operator}
			for i := range b.N {
				if _, err := svc.OrderCard(ctx, fmt.Sprintf("d%d-%d", b.N, i), opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			cpu := readCPU()
			ordered := 0
			for ordered < b.N {
				res, err := svc.DispatchQueued(ctx, b.N)
				if err != nil {
					b.Fatal(err)
				}
				if res.Ordered == 0 {
					b.Fatalf("a dispatch pass ordered nothing: %+v", res)
				}
				ordered += res.Ordered
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cards/s")
			cpu.report(b, schema)
		})
	}
}

// BenchmarkOrderCardScale measures the per-order cost (one caller, so each order waits for its
// own commit) with 10³ and 10⁶ cards already stored. The stored cards are bulk-loaded with COPY
// once per size (set-up, outside the timer): one per user, 80 % produced, 10 % ordered, 10 %
// processing. The sizes are measured in alternating rounds, so that both see the same load of a
// shared machine.
func BenchmarkOrderCardScale(b *testing.B) {
	sizes := []int{1_000, 1_000_000}
	services := make([]*cardorder.Service, len(sizes))
	for i, stored := range sizes {
		schema := newSchema(b)
		store := openStore(b, schema, &postgres.Config{MaxConns: benchConns})
		start := time.Now()
		bulkLoad(b, schema, stored)
		b.Logf("COPY of %d cards and ANALYZE: %v", stored, time.Since(start).Round(time.Millisecond))
		services[i] = newService(b, store, enabled(nil), cardorder.Ports{}, nil)
	}
	opts := &cardorder.OrderOptions{Actor: operator}
	var n atomic.Int64
	for range 3 {
		for i, stored := range sizes {
			b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := services[i].OrderCard(ctx, "n"+strconv.FormatInt(n.Add(1), 10), opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// bulkLoad stores n cards in schema with COPY, then analyzes the table.
func bulkLoad(b *testing.B, schema string, n int) {
	b.Helper()
	ctx := context.Background()
	conn := adminConn(b, testURL(b))
	defer conn.Close(ctx)
	states := []ports.CardState{ports.StateProduced, ports.StateProduced, ports.StateProduced, ports.StateProduced,
		ports.StateProduced, ports.StateProduced, ports.StateProduced, ports.StateProduced,
		ports.StateOrdered, ports.StateProcessing}
	i := 0
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		at := base.Add(time.Duration(i) * time.Second)
		c := benchCard(fmt.Sprintf("bulk-%07d", i), fmt.Sprintf("p%07d", i), at)
		c.Version = 1
		c.State = states[i%len(states)]
		var queued, orderID any
		if c.State == ports.StateProcessing {
			queued = at
		} else {
			c.QueuedAt = time.Time{}
			c.ProviderOrderID = "O-" + c.ID
			orderID = c.ProviderOrderID
		}
		data, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		i++
		return []any{c.ID, c.UserID, string(c.State), int64(1), queued, orderID, data}, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{schema, "extprod_cards"},
		[]string{"id", "user_id", "state", "version", "queued_at", "provider_order_id", "data"}, rows); err != nil {
		b.Fatalf("COPY %d cards: %v", n, err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE `+pgx.Identifier{schema, "extprod_cards"}.Sanitize()); err != nil {
		b.Fatal(err)
	}
}
