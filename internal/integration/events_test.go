package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// TestEventsDriveTheRealService: the bureau's signed status events through the gocards handler
// into the real Service. Events it must ignore (unknown card, card not yet ordered, a move
// backwards) are answered 204 so the bureau does not retry them forever.
func TestEventsDriveTheRealService(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	secret := []byte("s3cret")
	store := memory.NewStore()
	bureau := memory.NewBureau()
	opts := ports.DefaultOptions()
	opts.Enabled, opts.AllowMultipleCardOrders = true, true
	svc, err := cardorder.New(cardorder.Ports{Users: everyone{}, Store: store,
		Provider: bureau, Options: cardorder.StaticOptions(opts)}, nil)
	is.NoErr(err)
	h, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: svc})
	is.NoErr(err)

	ordered, _ := svc.OrderCard(ctx, "u1", &cardorder.OrderOptions{Actor: operator})
	queued, _ := svc.OrderCard(ctx, "u2", &cardorder.OrderOptions{Actor: operator})
	_, err = svc.DispatchQueued(ctx, 1) // the older card only
	is.NoErr(err)
	ordered, _ = store.Card(ctx, ordered.ID)
	is.Equal(ordered.State, ports.StateOrdered)

	n := 0
	send := func(orderID, ref, status string) int {
		n++
		body := fmt.Sprintf(`{"eventId":"e-%d","created":"2026-11-25T10:00:00Z","topic":"ORDER_STATUS_CHANGED",`+
			`"data":{"orderId":%q,"externalReference":%q,"status":%q}}`, n, orderID, ref, status)
		req := httptest.NewRequest(http.MethodPost, "/v1/gocards/events", strings.NewReader(body))
		req.Header.Set(gocards.SignatureHeader, gocards.SignBody(secret, []byte(body)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	state := func(id string) ports.CardState { c, _ := store.Card(ctx, id); return c.State }

	is.Equal(send("O-9", "no-such-card", "PRODUCED"), http.StatusNoContent)
	is.Equal(send("O-9", queued.ID, "PRODUCED"), http.StatusNoContent) // not yet ordered
	is.Equal(state(queued.ID), ports.StateProcessing)
	is.Equal(send(ordered.ProviderOrderID, ordered.ID, "IN_PRODUCTION"), http.StatusNoContent)
	is.Equal(state(ordered.ID), ports.StateInProduction)
	is.Equal(send(ordered.ProviderOrderID, ordered.ID, "ORDERED"), http.StatusNoContent) // backwards
	is.Equal(state(ordered.ID), ports.StateInProduction)
	is.Equal(send(ordered.ProviderOrderID, ordered.ID, "SHIPPED"), http.StatusNoContent)
	is.Equal(state(ordered.ID), ports.StateProduced)
}
