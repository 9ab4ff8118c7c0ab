package integration

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/options"
	"github.com/cardsaddon/extprod/ports"

	"github.com/cardsaddon/extprod/internal/cputime"
)

// liveScript decides per order, like the example host's demo script, and maps the user.
var liveScript = enabledScript(`
function resolve(ctx) {
  if (ctx.channel === "temporary") return Object.assign({}, options, { defaultProductionType: "standard" });
  if (ctx.user !== null && ctx.user.organisation === "Finance") return Object.assign({}, options, { approvalStep: true });
  return Object.assign({}, options, { allowMultipleCardOrders: ctx.actor.roles.indexOf("operator") >= 0 });
}
function mapUserToCard(user) {
  return { commonName: user.familyName + ", " + user.givenName, elements: { DEPARTMENT: (user.department || "none").toUpperCase() } };
}`)

// people is a directory in which every user has a name and a department of their own (and one in
// ten works in Finance), so that mapUserToCard, which reads the name, has a different answer for
// every order and is evaluated every time; resolve reads the channel, the organisation and the
// roles, as the example host's script does.
type people struct{}

func (people) User(_ context.Context, id string) (ports.User, error) {
	org := "Research"
	if strings.HasSuffix(id, "7") {
		org = "Finance"
	}
	return ports.User{ID: id, State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace " + id,
		Email: "ada." + id + "@example.com", Organisation: org, Department: "Department " + id}, nil
}

// BenchmarkOrderCard: OrderCard for distinct users with memory adapters, with static options
// (the use case enabled) and with the option engine serving liveScript, whose resolve and
// mapUserToCard run in the sandbox for every order. The two alternate in chunks of b.N/10
// orders, each chunk spread over GOMAXPROCS goroutines, so both figures come from the same
// stretch of a shared machine; it reports both rates and their ratio (issue 10: ≥ 50,000
// orders/s on 2 cores and ≥ 0.5 × static). See BENCHMARKS.md.
func BenchmarkOrderCard(b *testing.B) {
	static := ports.DefaultOptions()
	static.Enabled, static.AllowMultipleCardOrders = true, true
	// The default limits: the time limit counts the CPU time of the evaluation, so a loaded
	// machine does not stop honest evaluations (TestHonestScriptUnderLoad in package options).
	eng, err := options.NewEngine(context.Background(), &memory.Scripts{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := eng.Install(context.Background(), liveScript, ""); err != nil {
		b.Fatal(err)
	}
	staticSvc, liveSvc := orderService(b, cardorder.StaticOptions(static)), orderService(b, eng)
	var n atomic.Int64
	opts := &cardorder.OrderOptions{Actor: operator}
	workers := runtime.GOMAXPROCS(0)
	run := func(svc *cardorder.Service, count int, cpu *time.Duration) time.Duration {
		start, cpu0 := time.Now(), cputime.Process()
		defer func() { *cpu += cputime.Process() - cpu0 }()
		var g errgroup.Group
		for w := 0; w < workers; w++ {
			share := count / workers
			if w < count%workers {
				share++
			}
			g.Go(func() error {
				for i := 0; i < share; i++ {
					if _, err := svc.OrderCard(context.Background(), "u"+strconv.FormatInt(n.Add(1), 10), opts); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var staticCPU, liveCPU time.Duration
	run(liveSvc, workers, &liveCPU) // the pool's runtimes are built before the clock runs
	liveCPU = 0
	b.ReportAllocs()
	b.ResetTimer()
	var staticTime, liveTime time.Duration
	chunk := max(b.N/10, 1)
	for done := 0; done < b.N; done += chunk {
		c := min(chunk, b.N-done)
		staticTime += run(staticSvc, c, &staticCPU)
		liveTime += run(liveSvc, c, &liveCPU)
	}
	staticRate, liveRate := float64(b.N)/staticTime.Seconds(), float64(b.N)/liveTime.Seconds()
	b.ReportMetric(staticRate, "static-orders/s")
	b.ReportMetric(liveRate, "live-orders/s")
	b.ReportMetric(liveRate/staticRate, "live/static")
	// CPU time (user + system, garbage collection included) per order: what a loaded machine
	// does not distort.
	b.ReportMetric(float64(staticCPU.Microseconds())/float64(b.N), "static-cpu-µs/order")
	b.ReportMetric(float64(liveCPU.Microseconds())/float64(b.N), "live-cpu-µs/order")
}

func orderService(b *testing.B, src ports.OptionsSource) *cardorder.Service {
	store := memory.NewStore()
	svc, err := cardorder.New(cardorder.Ports{
		Users: people{}, Store: store, Provider: memory.NewBureau(), Options: src,
	}, &cardorder.Config{IDs: memory.NewIDs("c")})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}
