// Package orderbench drives the OrderCard benchmarks that compare paths in one run (the options
// of a live script beside static ones, the OpenTelemetry hooks beside none): orders for
// distinct users spread over GOMAXPROCS goroutines, timed by the wall clock and by the process's
// CPU time, and the median of the rounds' ratios. For tests only.
package orderbench

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/internal/cputime"
)

// Orders orders cards for users it numbers "u1", "u2", … (never the same user twice), as Actor.
type Orders struct {
	Options cardorder.OrderOptions
	n       atomic.Int64
}

// Run orders count cards through svc from GOMAXPROCS goroutines and returns the wall time and
// the process CPU time (user and system, garbage collection included) they took; an order that
// fails fails tb.
func (o *Orders) Run(tb testing.TB, svc *cardorder.Service, count int) (wall, cpu time.Duration) {
	workers := runtime.GOMAXPROCS(0)
	start, cpu0 := time.Now(), cputime.Process()
	var g errgroup.Group
	for w := 0; w < workers; w++ {
		share := count / workers
		if w < count%workers {
			share++
		}
		g.Go(func() error {
			for i := 0; i < share; i++ {
				if _, err := svc.OrderCard(context.Background(), "u"+strconv.FormatInt(o.n.Add(1), 10), &o.Options); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start), cputime.Process() - cpu0
}

// Median returns the median of xs (which it sorts).
func Median(xs []float64) float64 {
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}
