package gocards_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// jpeg is a photo as the domain stores it: bytes that start like a JPEG.
var jpeg = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x7F}

// fullOrder is order(key) with a photo, a delivery address and a cost centre.
func fullOrder(key string) ports.ProviderOrder {
	o := order(key)
	o.Photo = jpeg
	o.CostCentre = "CC-4711"
	o.DeliveryAddress = &ports.Address{Recipient: "Ada Lovelace", AddressOne: "12 St James's Square",
		PostalCode: "SW1Y 4JH", City: "London", CountryCode: "GB"}
	return o
}

// TestPlaceOrderSendsBureauData checks that the photo (base64), the delivery address and the
// cost centre reach the bureau as sent, and that an order without them omits the members.
func TestPlaceOrderSendsBureauData(t *testing.T) {
	is := is.New(t)
	h := newFakeHarness(t, gocardsfake.Config{}, nil)
	ctx := t.Context()

	_, err := h.client.PlaceOrder(ctx, fullOrder("card-1"))
	is.NoErr(err)
	got, ok := h.fake.OrderByKey("card-1")
	is.True(ok)
	is.Equal(got.Photo, jpeg)
	is.Equal(got.CostCentre, "CC-4711")
	is.Equal(*got.DeliveryAddress, gocardsfake.Address{Recipient: "Ada Lovelace", AddressOne: "12 St James's Square",
		PostalCode: "SW1Y 4JH", City: "London", CountryCode: "GB"})

	_, err = h.client.PlaceOrder(ctx, order("card-2"))
	is.NoErr(err)
	got, _ = h.fake.OrderByKey("card-2")
	is.Equal(got.Photo, nil)
	is.Equal(got.DeliveryAddress, nil)
	is.Equal(got.CostCentre, "")
}

// TestBureauDataOnTheWire checks the exact members of the body (docs/gocards-wire.md), and that
// every retry of an attempt sends the same bytes, photo included.
func TestBureauDataOnTheWire(t *testing.T) {
	is := is.New(t)
	s := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			reply(w, 503, `busy`)
			return
		}
		reply(w, 201, `{"orderId":"O-1","status":"ORDERED","created":"2030-01-01T00:00:00Z"}`)
	})
	cfg := testConfig(s.srv.URL, &sleeps{})
	cfg.MaxAttempts = 5
	c := newClient(t, cfg)
	_, err := c.PlaceOrder(t.Context(), fullOrder("card-7"))
	is.NoErr(err)
	_, err = c.PlaceOrder(t.Context(), order("card-8"))
	is.NoErr(err)

	s.mu.Lock()
	defer s.mu.Unlock()
	is.Equal(len(s.bodies), 4)
	is.Equal(s.bodies[1], s.bodies[0]) // retries of one attempt send the same bytes
	is.Equal(s.bodies[2], s.bodies[0])
	var body map[string]any
	is.NoErr(json.Unmarshal([]byte(s.bodies[0]), &body))
	is.Equal(body["photo"], base64.StdEncoding.EncodeToString(jpeg))
	is.Equal(body["costCentre"], "CC-4711")
	if d := cmp.Diff(map[string]any{"recipient": "Ada Lovelace", "addressOne": "12 St James's Square",
		"postalCode": "SW1Y 4JH", "city": "London", "countryCode": "GB"}, body["deliveryAddress"]); d != "" {
		t.Errorf("deliveryAddress (-want +got):\n%s", d)
	}
	for _, member := range []string{`"photo"`, `"deliveryAddress"`, `"costCentre"`} {
		is.True(!strings.Contains(s.bodies[3], member)) // omitted when the order has none
	}
}

// TestBureauRefusesBadData checks that the fake's field reasons for a bad photo, address or
// cost centre come back as a permanent refusal.
func TestBureauRefusesBadData(t *testing.T) {
	is := is.New(t)
	h := newFakeHarness(t, gocardsfake.Config{}, nil)
	o := fullOrder("card-9")
	o.Photo = []byte("GIF89a")
	o.CostCentre = strings.Repeat("9", 40)
	o.DeliveryAddress.CountryCode = "gb"
	_, err := h.client.PlaceOrder(t.Context(), o)
	var rej *ports.RejectedError
	is.True(errors.As(err, &rej))
	is.Equal(rej.Status, 422)
	if d := cmp.Diff(map[string]string{"photo": "not a JPEG or PNG", "costCentre": "too long",
		"deliveryAddress.countryCode": "not a two-letter country code"}, rej.Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}

// photoDirectory is a user store whose users all have the photo jpeg.
type photoDirectory struct{ *memory.Users }

func (photoDirectory) Photo(context.Context, ports.User) ([]byte, string, error) {
	return bytes.Clone(jpeg), "image/jpeg", nil
}

// losingBureau serves the fake but, while lose is set, answers an accepted order with a 503:
// the bureau holds the order, the client does not know.
type losingBureau struct {
	fake *gocardsfake.Server
	lose atomic.Bool
}

func (b *losingBureau) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/orders" || !b.lose.Load() {
		b.fake.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	b.fake.ServeHTTP(rec, r)
	reply(w, http.StatusServiceUnavailable, "lost")
}

// domainOverFake wires the domain to the client and the fake, with queueing on and one HTTP
// try per dispatch.
func domainOverFake(t *testing.T, users ...ports.User) (*cardorder.Service, *losingBureau, *memory.Clock) {
	t.Helper()
	b := &losingBureau{fake: gocardsfake.New(gocardsfake.Config{})}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	cfg := testConfig(srv.URL, &sleeps{})
	cfg.MaxAttempts = 1
	clock := memory.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	opts := ports.DefaultOptions()
	opts.Enabled = true
	svc, err := cardorder.New(cardorder.Ports{Users: photoDirectory{memory.NewUsers(users...)}, Store: memory.NewStore(),
		Provider: newClient(t, cfg), Options: cardorder.StaticOptions(opts)}, &cardorder.Config{Clock: clock, IDs: memory.NewIDs("c")})
	if err != nil {
		t.Fatal(err)
	}
	return svc, b, clock
}

var cardholder = ports.User{ID: "u1", State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@example.com",
	PhotoURL: "/photos/u1", CostCentre: "CC-4711",
	DeliveryAddress: &ports.Address{AddressOne: "12 St James's Square", PostalCode: "SW1Y 4JH", City: "London", CountryCode: "GB"}}

// TestDomainResendsTheSameBody: the connection breaks after the bureau accepted an order with a
// photo; the dispatcher's next pass rebuilds the body from the stored card, and the bureau sees
// the same bytes under the same key (a replay, not a 409), so the card ends ordered, once.
func TestDomainResendsTheSameBody(t *testing.T) {
	is := is.New(t)
	svc, h, clock := domainOverFake(t, cardholder)
	actor := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}
	c, err := svc.OrderCard(t.Context(), cardholder.ID, &cardorder.OrderOptions{Actor: actor})
	is.NoErr(err)
	h.lose.Store(true)
	res, err := svc.DispatchQueued(t.Context(), 0)
	is.NoErr(err)
	is.Equal(res.Retry, 1)
	h.lose.Store(false)
	clock.Advance(time.Hour)
	res, err = svc.DispatchQueued(t.Context(), 0)
	is.NoErr(err)
	is.Equal(res.Ordered, 1)

	st := h.fake.Stats()
	is.Equal(st.Orders, 1)
	is.Equal(st.Replays, 1)
	is.Equal(st.Conflicts, 0) // the same body both times
	o, ok := h.fake.OrderByKey(c.ID)
	is.True(ok)
	is.Equal(o.Photo, jpeg)
	is.Equal(o.CostCentre, "CC-4711")
	is.Equal(*o.DeliveryAddress, gocardsfake.Address{Recipient: "Ada Lovelace", AddressOne: "12 St James's Square",
		PostalCode: "SW1Y 4JH", City: "London", CountryCode: "GB"})
}

// TestDomainCardFailsWithTheBureausFieldReasons: data the domain accepts but the bureau does
// not (a cost centre over the fake's 32 characters) fails the card with the bureau's reasons.
func TestDomainCardFailsWithTheBureausFieldReasons(t *testing.T) {
	is := is.New(t)
	u := cardholder
	u.CostCentre = strings.Repeat("9", 40)
	svc, _, _ := domainOverFake(t, u)
	actor := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}
	c, err := svc.OrderCard(t.Context(), u.ID, &cardorder.OrderOptions{Actor: actor})
	is.NoErr(err)
	res, err := svc.DispatchQueued(t.Context(), 0)
	is.NoErr(err)
	is.Equal(res.Failed, 1)
	got, err := svc.Card(t.Context(), actor, c.ID)
	is.NoErr(err)
	is.Equal(got.State, ports.StateFailed)
	is.Equal(got.FailureReason, "invalid card data; costCentre: too long")
	is.Equal(got.Photo, nil)
}
