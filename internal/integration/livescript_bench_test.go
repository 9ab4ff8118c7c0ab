package integration

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/internal/orderbench"
	"github.com/cardsaddon/extprod/options"
	"github.com/cardsaddon/extprod/ports"
)

// liveScript decides per order, like the example host's demo script, and maps the user with a
// template (answered in Go: docs/option-script.md, "Templates").
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

// liveJSScript is liveScript with a mapUserToCard that is not a template (it names a local), so
// JavaScript runs it for every order.
var liveJSScript = strings.Replace(liveScript, `return { commonName: user.familyName + ", " + user.givenName,`,
	`var name = user.familyName + ", " + user.givenName; return { commonName: name,`, 1)

// perUserScript is liveJSScript with a resolve that reads the user's email, which differs for
// every order: its memo never answers, so resolve is evaluated in JavaScript for every order too.
var perUserScript = strings.Replace(liveJSScript, `if (ctx.user !== null && ctx.user.organisation === "Finance")`,
	`if (ctx.user !== null && (ctx.user.organisation === "Finance" || ctx.user.email.indexOf("contractor") >= 0))`, 1)

// BenchmarkOrderCard: OrderCard for distinct users (people) with memory adapters, with static
// options (the use case enabled), with the option engine serving liveScript (resolve answered
// from its memo after the first orders, mapUserToCard, a template, evaluated in Go for every
// order), liveJSScript (mapUserToCard run in JavaScript for every order) and perUserScript (both
// run in JavaScript for every order). It runs in rounds of benchRound orders per
// path, the paths alternating (each going first in turn) and each round on a fresh store, so
// that all figures come from the same stretch of a shared machine and no path carries the
// garbage collection of an ever larger in-memory store (a store backed by a database keeps its
// cards out of the Go heap). It reports the rates and CPU time per order of each path over the
// whole run, and the median over the rounds of live/static (issue 10: live ≥ 50,000 orders/s on
// 2 cores and ≥ 0.5 × static) and of live-js/static (measured, as are the per-user figures).
// See BENCHMARKS.md.
func BenchmarkOrderCard(b *testing.B) {
	static := ports.DefaultOptions()
	static.Enabled, static.AllowMultipleCardOrders = true, true
	paths := []struct {
		name       string
		src        ports.OptionsSource
		time, cpu  time.Duration
		roundTimes []time.Duration
		roundCPU   []time.Duration
	}{{name: "static", src: cardorder.StaticOptions(static)},
		{name: "live", src: liveEngine(b, liveScript)},
		{name: "live-js", src: liveEngine(b, liveJSScript)},
		{name: "per-user", src: liveEngine(b, perUserScript)}}
	orders := &orderbench.Orders{Options: cardorder.OrderOptions{Actor: operator}}
	run := func(svc *cardorder.Service, count int) (time.Duration, time.Duration) {
		return orders.Run(b, svc, count)
	}
	workers := runtime.GOMAXPROCS(0)
	for _, p := range paths[1:] {
		run(orderService(b, p.src), workers) // the pools' runtimes are built before the clock runs
	}
	b.ReportAllocs()
	b.ResetTimer()
	for round, done := 0, 0; done < b.N; round++ {
		c := min(benchRound, b.N-done)
		for k := range paths {
			i := (round + k) % len(paths)
			svc := orderService(b, paths[i].src)
			wall, cpu := run(svc, c)
			paths[i].time += wall
			paths[i].cpu += cpu
			paths[i].roundTimes = append(paths[i].roundTimes, wall)
			paths[i].roundCPU = append(paths[i].roundCPU, cpu)
		}
		done += c
	}
	rate := func(i int) float64 { return float64(b.N) / paths[i].time.Seconds() }
	for i, p := range paths {
		b.ReportMetric(rate(i), p.name+"-orders/s")
		// CPU time (user + system, garbage collection included) per order: what a loaded
		// machine does not distort.
		b.ReportMetric(float64(p.cpu.Microseconds())/float64(b.N), p.name+"-cpu-µs/order")
	}
	for _, i := range []int{1, 2} { // live and live-js, each against static
		var byWall, byCPU []float64
		for r := range paths[0].roundTimes {
			byWall = append(byWall, paths[0].roundTimes[r].Seconds()/paths[i].roundTimes[r].Seconds())
			byCPU = append(byCPU, paths[0].roundCPU[r].Seconds()/paths[i].roundCPU[r].Seconds())
		}
		b.ReportMetric(orderbench.Median(byWall), paths[i].name+"/static")
		b.ReportMetric(orderbench.Median(byCPU), paths[i].name+"/static-by-cpu")
	}
}

// benchRound is the orders per path in one round of BenchmarkOrderCard.
const benchRound = 4000

// liveEngine is an option engine serving src, at the default limits: the time limit counts the
// CPU time of the evaluation, so a loaded machine does not stop honest evaluations
// (TestHonestScriptUnderLoad in package options).
func liveEngine(b *testing.B, src string) *options.Engine {
	eng, err := options.NewEngine(context.Background(), &memory.Scripts{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := eng.Install(context.Background(), src, ""); err != nil {
		b.Fatal(err)
	}
	return eng
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
