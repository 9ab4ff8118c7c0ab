package httpapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"

	"github.com/cardsaddon/extprod/internal/cputime"
	"github.com/cardsaddon/extprod/internal/orderbench"
)

// Benchmark support: the domain and the driver of the ordering-over-HTTP comparison of
// docs/http-api.md "Performance", shared by package httpapi's BenchmarkOrderOverHTTP and the
// OpenTelemetry adapter's benchmark of the same path with its hooks on, so that both measure
// the same thing the same way.

// BenchClients is the number of concurrent clients of docs/http-api.md "Performance".
const BenchClients = 16

// BenchUsers is how many users [BenchService] holds (u0 to u255); [BenchOrderOverHTTP] orders
// for them round robin.
const BenchUsers = 256

// BenchToken is the bearer token [BenchAuth] accepts, for operator op-1.
const BenchToken = "t-op"

// BenchAuth returns the authenticator of the benchmarks: [BenchToken] is operator op-1.
func BenchAuth() httpapi.StaticTokens {
	return httpapi.StaticTokens{BenchToken: {ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}}
}

// BenchService returns the domain of the ordering benchmarks: [BenchUsers] active users u0, u1,
// …, the in-memory store, static options with the use case enabled, queueing on and multiple
// orders allowed (so every order succeeds and none calls the bureau), and a bureau that lists
// its layout, as the GO Cards client does from its cache, so card data is checked at order
// time. cfg configures the Service (nil: the defaults), for example with an Observer.
func BenchService(tb testing.TB, cfg *cardorder.Config) *cardorder.Service {
	tb.Helper()
	userList := make([]ports.User, BenchUsers)
	for i := range userList {
		userList[i] = ports.User{ID: "u" + strconv.Itoa(i), State: ports.UserActive, GivenName: "Ada",
			FamilyName: "Lovelace", Email: "ada@example.com", UPN: "ada@corp.example", Organisation: "Corp"}
	}
	opts := ports.DefaultOptions()
	opts.Enabled, opts.QueueCards, opts.AllowMultipleCardOrders = true, true, true
	bureau := memory.NewBureau()
	bureau.SetLayout(ports.Layout{ID: "L-100", Name: "Employee card", Fields: []ports.LayoutField{
		{Name: "FIRST_NAME", Required: true, MaxLength: 40}, {Name: "LAST_NAME", Required: true, MaxLength: 40},
		{Name: "COMMON_NAME", Required: true, MaxLength: 64}, {Name: "UPN", MaxLength: 128},
		{Name: "EMAIL", MaxLength: 128},
	}})
	svc, err := cardorder.New(cardorder.Ports{
		Users: memory.NewUsers(userList...), Store: memory.NewStore(),
		Provider: bureau, Options: cardorder.StaticOptions(opts),
	}, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

// benchCard has the fields and tags of [httpapi.Card] but not its hand-written encoder: the
// bare handler encodes it with encoding/json.
type benchCard httpapi.Card

// bareHandler is the reference of the comparison: a bare net/http JSON handler that reads and
// decodes the order's body with encoding/json and answers 201 with a card of the same shape
// and size, encoded by encoding/json.
func bareHandler() http.Handler {
	now := time.Now().UTC()
	sample := benchCard{ID: "ceb3mlxq6dbhjfvbkxoqzb5m", UserID: "u17", State: ports.StateProcessing,
		ProductionType: "standard", LayoutID: "L-100", CommonName: "Ada Lovelace", UPN: "ada@corp.example",
		Email: "ada@example.com", OrderedBy: "op-1", Attempt: 1, ScriptVersion: "static",
		CreatedAt: now, UpdatedAt: now, History: []httpapi.History{{State: ports.StateProcessing, At: now, Actor: "op-1"}}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var in struct {
			ProductionType string `json:"productionType"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, _ := json.Marshal(sample)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(out)
	})
}

// BenchOrderOverHTTP measures ordering a card over loopback HTTP with [BenchClients]
// concurrent clients against api, and against a bare net/http handler that decodes the same
// body and answers a card of the same shape and size with encoding/json, with the same client
// in the same run (docs/http-api.md "Performance": api should reach at least 0.8 of bare). api
// must serve POST /v1/users/{userId}/card-orders for [BenchService]'s users with 201,
// authenticating "Bearer " + [BenchToken]. One op is one request to each server; the two
// alternate in 16 rounds, each going first in turn, so drift on a shared machine (GC, other
// load) hits both alike.
//
// It reports bare-req/s and api-req/s (wall time over the run) and the process CPU time per
// request of each, client and server together (bare-cpu-µs/req, api-cpu-µs/req); the ratio of
// the two rates over the run (api/bare-run) and of their CPU times (api/bare-run-by-cpu); and the
// medians over the rounds of the rounds' ratios, api/bare (by wall time) and api/bare-by-cpu
// (other processes disturb the CPU figure less), which a burst of load or a garbage collection
// falling in one round moves less. The garbage the API leaves (its in-memory store grows) is
// the API's cost: the run's ratios count all of it, the medians less when it falls in a bare
// round. Run it with -benchtime 60000x -count 6 or more, alternating before and after when
// comparing changes, and take the median.
func BenchOrderOverHTTP(b *testing.B, api http.Handler) {
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()
	bareSrv := httptest.NewServer(bareHandler())
	defer bareSrv.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * BenchClients}}
	defer client.CloseIdleConnections()
	body := []byte(`{"productionType":"standard"}`)
	var seq atomic.Int64
	post := func(base string) error {
		n := seq.Add(1)
		req, err := http.NewRequest("POST", fmt.Sprintf("%s/v1/users/u%d/card-orders", base, n%BenchUsers), bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+BenchToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return err
	}
	// run sends n requests to base from BenchClients goroutines and returns the elapsed wall
	// and process CPU time.
	run := func(base string, n int) (wall, cpu time.Duration) {
		var left atomic.Int64
		left.Store(int64(n))
		var wg sync.WaitGroup
		var failed atomic.Pointer[error]
		start, startCPU := time.Now(), cputime.Process()
		for range BenchClients {
			wg.Go(func() {
				for left.Add(-1) >= 0 {
					if err := post(base); err != nil {
						failed.CompareAndSwap(nil, &err)
						return
					}
				}
			})
		}
		wg.Wait()
		wall, cpu = time.Since(start), cputime.Process()-startCPU
		if p := failed.Load(); p != nil {
			b.Fatal(*p)
		}
		return wall, cpu
	}
	run(bareSrv.URL, 4*BenchClients) // open the connections
	run(apiSrv.URL, 4*BenchClients)

	b.ResetTimer()
	const rounds = 16
	var bareT, apiT, bareCPU, apiCPU time.Duration
	var byWall, byCPU []float64 // api/bare of each round: bare's time over the API's (the rates' ratio)
	done := 0
	for r := range rounds {
		n := b.N / rounds
		if r == rounds-1 {
			n = b.N - done
		}
		done += n
		if n == 0 {
			continue
		}
		// Each goes first in turn, so neither always inherits the other's garbage.
		var bw, bc, aw, ac time.Duration
		if r%2 == 0 {
			bw, bc = run(bareSrv.URL, n)
			aw, ac = run(apiSrv.URL, n)
		} else {
			aw, ac = run(apiSrv.URL, n)
			bw, bc = run(bareSrv.URL, n)
		}
		bareT, bareCPU, apiT, apiCPU = bareT+bw, bareCPU+bc, apiT+aw, apiCPU+ac
		byWall = append(byWall, bw.Seconds()/aw.Seconds())
		if bc > 0 && ac > 0 {
			byCPU = append(byCPU, bc.Seconds()/ac.Seconds())
		}
	}
	b.StopTimer()
	bareRate := float64(b.N) / bareT.Seconds()
	apiRate := float64(b.N) / apiT.Seconds()
	b.ReportMetric(bareRate, "bare-req/s")
	b.ReportMetric(apiRate, "api-req/s")
	b.ReportMetric(apiRate/bareRate, "api/bare-run")
	b.ReportMetric(orderbench.Median(byWall), "api/bare")
	if bareCPU > 0 && apiCPU > 0 && len(byCPU) > 0 {
		b.ReportMetric(float64(bareCPU.Microseconds())/float64(b.N), "bare-cpu-µs/req")
		b.ReportMetric(float64(apiCPU.Microseconds())/float64(b.N), "api-cpu-µs/req")
		b.ReportMetric(float64(bareCPU)/float64(apiCPU), "api/bare-run-by-cpu")
		b.ReportMetric(orderbench.Median(byCPU), "api/bare-by-cpu")
	}
}
