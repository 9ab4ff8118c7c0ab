package gocards_test

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

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
)

var benchRound atomic.Int64

// BenchmarkDispatchVsBare places b.N orders through Client.PlaceOrder and b.N orders through a
// bare net/http client making the same POSTs (same body, same headers, a cached token) to the
// same fake bureau on loopback, in the same run, with the same concurrency, in alternating
// chunks so both see the same fake state. It reports both throughputs and their ratio.
func BenchmarkDispatchVsBare(b *testing.B) {
	const workers = 8
	fake := gocardsfake.New(gocardsfake.Config{})
	srv := httptest.NewServer(fake)
	defer srv.Close()

	client := newClient(b, gocards.Config{
		BaseURL: srv.URL, ClientID: gocardsfake.DefaultClientID,
		ClientSecret: gocardsfake.DefaultClientSecret, OrganisationID: gocardsfake.DefaultOrganisationID,
	})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	bare := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	token := fake.IssueToken()

	round := benchRound.Add(1)
	viaClient := func(i int) error {
		_, err := client.PlaceOrder(b.Context(), order(fmt.Sprintf("c%d-%d", round, i)))
		return err
	}
	viaBare := func(i int) error {
		o := order(fmt.Sprintf("b%d-%d", round, i))
		body, err := json.Marshal(struct {
			ExternalReference string            `json:"externalReference"`
			LayoutID          string            `json:"layoutId"`
			CardHolderEmail   string            `json:"cardHolderEmail,omitempty"`
			CardElements      map[string]string `json:"cardElements"`
		}{o.ExternalReference, o.LayoutID, o.CardHolderEmail, o.Elements})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, srv.URL+"/api/orders", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Organisation-Id", gocardsfake.DefaultOrganisationID)
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Idempotency-Key", o.IdempotencyKey)
		resp, err := bare.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("bare: HTTP %d", resp.StatusCode)
		}
		return nil
	}
	// Warm both connection pools and the token outside the timing.
	for i := range workers {
		if err := viaClient(-1 - i); err != nil {
			b.Fatal(err)
		}
		if err := viaBare(-1 - i); err != nil {
			b.Fatal(err)
		}
	}

	var tClient, tBare time.Duration
	const chunks = 4
	b.ResetTimer()
	for c := range chunks {
		lo, hi := b.N*c/chunks, b.N*(c+1)/chunks
		tClient += runWorkers(b, workers, lo, hi, viaClient)
		tBare += runWorkers(b, workers, lo, hi, viaBare)
	}
	b.StopTimer()

	clientRate := float64(b.N) / tClient.Seconds()
	bareRate := float64(b.N) / tBare.Seconds()
	b.ReportMetric(clientRate, "client-orders/s")
	b.ReportMetric(bareRate, "bare-orders/s")
	b.ReportMetric(clientRate/bareRate, "client/bare")
	b.ReportMetric(float64(tClient.Nanoseconds())/float64(b.N), "client-ns/order")
	b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/order")
	if st := fake.Stats(); st.Duplicates != 0 {
		b.Fatalf("duplicates: %d", st.Duplicates)
	}
}

// runWorkers calls place(i) for i in [lo, hi) from `workers` goroutines and returns the elapsed
// time.
func runWorkers(b *testing.B, workers, lo, hi int, place func(int) error) time.Duration {
	var next atomic.Int64
	next.Store(int64(lo))
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= hi {
					return
				}
				if err := place(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkPlaceOrderWithPhoto places one order carrying a photo at the fake's 1 MiB cap, again
// and again under the same key (each call after the first is a replay: the fake decodes and
// compares the whole body), so an op is the cost of building, sending and checking one order
// body with a photo. SetBytes makes the figure a throughput of photo bytes.
func BenchmarkPlaceOrderWithPhoto(b *testing.B) {
	fake := gocardsfake.New(gocardsfake.Config{})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	client := newClient(b, gocards.Config{
		BaseURL: srv.URL, ClientID: gocardsfake.DefaultClientID,
		ClientSecret: gocardsfake.DefaultClientSecret, OrganisationID: gocardsfake.DefaultOrganisationID,
	})
	o := fullOrder(fmt.Sprintf("photo-%d", benchRound.Add(1)))
	o.Photo = append(bytes.Clone(jpeg), make([]byte, gocardsfake.DefaultMaxPhotoBytes-len(jpeg))...)
	b.SetBytes(int64(len(o.Photo)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.PlaceOrder(b.Context(), o); err != nil {
			b.Fatal(err)
		}
	}
}
