package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/ports"

	"github.com/cardsaddon/extprod/internal/cputime"
)

// benchClients is the number of concurrent clients of docs/http-api.md "Performance".
const benchClients = 16

// benchUsers is how many users the benchmarks order for, round robin.
const benchUsers = 256

// BenchmarkOrderOverHTTP measures ordering over loopback HTTP with 16 concurrent clients
// (in-memory store, static options: enabled, queueing on, multiple orders allowed so every order
// succeeds) against a bare net/http handler that decodes the same body and encodes a card-sized
// answer, with the same client in the same run. It reports both throughputs and their ratio
// (docs/http-api.md's target: at least 0.8). One op is one request to each server. Run it with
// -benchtime 40000x -count 6 and take the median: a shared machine makes single runs noisy.
func BenchmarkOrderOverHTTP(b *testing.B) {
	svc := benchService(b)
	h, err := httpapi.New(httpapi.Config{Service: svc, Auth: tokens})
	if err != nil {
		b.Fatal(err)
	}
	api := httptest.NewServer(h)
	defer api.Close()

	// The bare handler: decode the same body with encoding/json, answer a card of the same shape
	// and size encoded by encoding/json (plainCard has the card's fields and tags, without the
	// handler's hand-written encoder).
	now := time.Now().UTC()
	sample := httpapi.Card{ID: "ceb3mlxq6dbhjfvbkxoqzb5m", UserID: "u17", State: ports.StateProcessing,
		ProductionType: "standard", LayoutID: "L-100", CommonName: "Ada Lovelace", UPN: "ada@corp.example",
		Email: "ada@example.com", OrderedBy: "op-1", Attempt: 1, ScriptVersion: "static",
		CreatedAt: now, UpdatedAt: now, History: []httpapi.History{{State: ports.StateProcessing, At: now, Actor: "op-1"}}}
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		out, _ := json.Marshal(plainCard(sample))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(out)
	}))
	defer bare.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchClients}}
	defer client.CloseIdleConnections()
	body := []byte(`{"productionType":"standard"}`)
	var seq atomic.Int64
	post := func(base string) error {
		n := seq.Add(1)
		req, err := http.NewRequest("POST", fmt.Sprintf("%s/v1/users/u%d/card-orders", base, n%benchUsers), bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tokOp)
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
	// run sends n requests to base from benchClients goroutines and returns the elapsed wall
	// and process CPU time.
	run := func(base string, n int) (wall, cpu time.Duration) {
		var left atomic.Int64
		left.Store(int64(n))
		var wg sync.WaitGroup
		var failed atomic.Pointer[error]
		start, startCPU := time.Now(), cputime.Process()
		for range benchClients {
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
	run(bare.URL, 4*benchClients) // open the connections
	run(api.URL, 4*benchClients)

	b.ResetTimer()
	// Alternate the two in many rounds so that drift (GC, other load on the machine) hits both
	// alike.
	const rounds = 16
	var bareT, apiT, bareCPU, apiCPU time.Duration
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
		w, c := run(bare.URL, n)
		bareT, bareCPU = bareT+w, bareCPU+c
		w, c = run(api.URL, n)
		apiT, apiCPU = apiT+w, apiCPU+c
	}
	b.StopTimer()
	bareRate := float64(b.N) / bareT.Seconds()
	apiRate := float64(b.N) / apiT.Seconds()
	b.ReportMetric(bareRate, "bare-req/s")
	b.ReportMetric(apiRate, "api-req/s")
	b.ReportMetric(apiRate/bareRate, "api/bare")
	if bareCPU > 0 && apiCPU > 0 {
		// The same ratio by CPU time per request (client and server together), which other
		// processes on the machine disturb less than wall time.
		b.ReportMetric(float64(bareCPU.Microseconds())/float64(b.N), "bare-cpu-µs/req")
		b.ReportMetric(float64(apiCPU.Microseconds())/float64(b.N), "api-cpu-µs/req")
		b.ReportMetric(float64(bareCPU)/float64(apiCPU), "api/bare-by-cpu")
	}
}
