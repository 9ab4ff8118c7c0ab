package options

import (
	"context"
	"testing"

	"github.com/cardsaddon/extprod/internal/cputime"
)

// BenchmarkEngineResolveLive: an engine serving honestScript (resolve and mapUserToCard run for
// every order in a pooled runtime), under b.RunParallel.
func BenchmarkEngineResolveLive(b *testing.B) {
	e, err := NewEngine(context.Background(), &fakeStore{}, &EngineConfig{RefreshInterval: -1, Limits: Limits{TimeLimit: 1e9}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.Install(context.Background(), honestScript, ""); err != nil {
		b.Fatal(err)
	}
	req := operatorRequest()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
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
