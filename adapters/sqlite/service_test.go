package sqlite_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/adapters/sqlite"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// TestOneOpenOrderThroughTheService: 1,000 concurrent orders for one user, multiple orders off,
// through cardorder.Service over two Stores on one file (as two host processes): exactly one
// card is created; every other order is refused with order_exists.
func TestOneOpenOrderThroughTheService(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "db")
	opts := ports.DefaultOptions()
	opts.Enabled, opts.AllowMultipleCardOrders = true, false
	var svcs []*cardorder.Service
	var stores []*sqlite.Store
	for range 2 {
		s := openTest(t, path)
		svc, err := cardorder.New(cardorder.Ports{Users: anyUser{}, Store: s, Provider: memory.NewBureau(),
			Options: cardorder.StaticOptions(opts)}, nil)
		is.NoErr(err)
		svcs, stores = append(svcs, svc), append(stores, s)
	}
	const n = 1000
	var won, refused atomic.Int64
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			_, err := svcs[i%2].OrderCard(ctx, "u-1", &cardorder.OrderOptions{Actor: benchOperator})
			switch {
			case err == nil:
				won.Add(1)
			case cardorder.CodeOf(err) == cardorder.CodeOrderExists:
				refused.Add(1)
			default:
				return err
			}
			return nil
		})
	}
	is.NoErr(g.Wait())
	is.Equal(won.Load(), int64(1))
	is.Equal(refused.Load(), int64(n-1))
	page, err := stores[0].List(ctx, ports.CardFilter{UserID: "u-1"})
	is.NoErr(err)
	is.Equal(len(page.Cards), 1) // exactly one card stored
}
