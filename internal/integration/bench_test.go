package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// BenchmarkDispatchVsBare dispatches b.N queued cards to the fake bureau on loopback through the
// domain (DispatchQueued: claim, gocards client, compare-and-set, audit) and, in the same run,
// makes the same number of bare net/http POSTs of the same order body to the same fake with the
// same concurrency, in alternating chunks. It reports both throughputs and their ratio.
func BenchmarkDispatchVsBare(b *testing.B) {
	const workers, chunk = 8, 500
	fake := gocardsfake.New(gocardsfake.Config{})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	defer tr.CloseIdleConnections()
	client, err := gocards.New(gocards.Config{
		BaseURL: srv.URL, ClientID: gocardsfake.DefaultClientID, ClientSecret: gocardsfake.DefaultClientSecret,
		OrganisationID: gocardsfake.DefaultOrganisationID, HTTPClient: &http.Client{Transport: tr},
	})
	if err != nil {
		b.Fatal(err)
	}
	store := memory.NewStore()
	opts := ports.DefaultOptions()
	opts.Enabled, opts.AllowMultipleCardOrders = true, true
	svc, err := cardorder.New(cardorder.Ports{
		Users: everyone{}, Store: store, Provider: client, Options: cardorder.StaticOptions(opts),
	}, &cardorder.Config{DispatchConcurrency: workers, DispatchBatch: chunk})
	if err != nil {
		b.Fatal(err)
	}
	bare := &http.Client{Transport: tr}
	token := fake.IssueToken()

	ctx := context.Background()
	var viaDomain, viaBare time.Duration
	done, seq := 0, 0
	for done < b.N {
		n := min(chunk, b.N-done)
		cards := make([]ports.Card, n)
		for i := range cards {
			seq++
			if cards[i], err = svc.OrderCard(ctx, fmt.Sprintf("u%d", seq), &cardorder.OrderOptions{Actor: operator}); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		res, err := svc.DispatchQueued(ctx, n)
		viaDomain += time.Since(start)
		if err != nil || res.Ordered != n {
			b.Fatalf("dispatch: %+v, %v", res, err)
		}

		start = time.Now()
		var g errgroup.Group
		g.SetLimit(workers)
		for _, c := range cards {
			g.Go(func() error { return barePost(bare, srv.URL, token, c) })
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		viaBare += time.Since(start)
		done += n
	}
	domainRate := float64(b.N) / viaDomain.Seconds()
	bareRate := float64(b.N) / viaBare.Seconds()
	b.ReportMetric(domainRate, "dispatch-orders/s")
	b.ReportMetric(bareRate, "bare-orders/s")
	b.ReportMetric(domainRate/bareRate, "dispatch/bare")
}

// barePost places the same order as the domain did for c, under another key.
func barePost(c *http.Client, base, token string, card ports.Card) error {
	body, err := json.Marshal(map[string]any{
		"externalReference": "bare-" + card.ID, "layoutId": card.LayoutID,
		"cardHolderEmail": card.Email, "cardElements": card.Elements,
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api/orders", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Organisation-Id", gocardsfake.DefaultOrganisationID)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Idempotency-Key", "bare-"+card.ID)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("bare: HTTP %d", resp.StatusCode)
	}
	return nil
}
