package options

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cardsaddon/extprod/internal/cputime"
)

// BenchmarkEngineResolveLive: an engine serving honestScript, under b.RunParallel, for orders of
// users with names of their own: resolve (which reads the channel and the organisation) is
// answered from its memo after the first orders, mapUserToCard (which reads the names) runs for
// every order, on the runtime's shared top level.
func BenchmarkEngineResolveLive(b *testing.B) {
	e, err := NewEngine(context.Background(), &fakeStore{}, &EngineConfig{RefreshInterval: -1, Limits: Limits{TimeLimit: 1e9}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.Install(context.Background(), honestScript, ""); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		req := operatorRequest()
		u := *req.User
		req.User = &u
		for pb.Next() {
			u.FamilyName = "Lovelace " + strconv.FormatInt(n.Add(1), 10)
			if _, err := e.Resolve(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
	// The CPU time per evaluation (garbage collection included) is the figure a loaded machine
	// does not distort.
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
}
