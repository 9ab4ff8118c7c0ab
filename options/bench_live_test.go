package options

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time (user + system) the process has used, or 0 when unknown.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
	cpu0 := processCPU()
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
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}
