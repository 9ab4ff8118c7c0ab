package httpapitest

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// jpeg is a photo as a photo source returns it.
var jpeg = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x42}

// photoUsers is a user store and photo source whose photo answer the test sets.
type photoUsers struct {
	*memory.Users
	mu  sync.Mutex
	err error
}

func (p *photoUsers) Photo(context.Context, ports.User) ([]byte, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return nil, "", p.err
	}
	return bytes.Clone(jpeg), "image/jpeg", nil
}

func (p *photoUsers) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

// photoEnv is a handler over a service whose user u1 has a photo, a cost centre and an address.
func photoEnv(t *testing.T) (http.Handler, *cardorder.Service, *photoUsers) {
	t.Helper()
	u := testUsers()[0]
	u.PhotoURL, u.CostCentre = "/photos/u1", "CC-4711"
	u.DeliveryAddress = &ports.Address{AddressOne: "12 St James's Square", PostalCode: "SW1Y 4JH", City: "London", CountryCode: "GB"}
	users := &photoUsers{Users: memory.NewUsers(u)}
	opts := enabledOptions()
	svc, err := cardorder.New(cardorder.Ports{Users: users, Store: memory.NewStore(), Provider: memory.NewBureau(),
		Options: cardorder.StaticOptions(opts)}, &cardorder.Config{Clock: memory.NewClock(t0), IDs: memory.NewIDs("c")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Config{Service: svc, Auth: tokens, Scripts: newFakeScripts("var options = { enabled: true };"),
		Idempotency: &memory.Idempotency{}})
	if err != nil {
		t.Fatal(err)
	}
	return h, svc, users
}

// TestCardShowsBureauData: the preview and the card show the cost centre, the delivery address
// and whether a photo is waiting to be sent, and never the photo's bytes.
func TestCardShowsBureauData(t *testing.T) {
	is := is.New(t)
	h, svc, users := photoEnv(t)
	photo := base64.StdEncoding.EncodeToString(jpeg)[:8]
	addr := ports.Address{Recipient: "Ada Lovelace", AddressOne: "12 St James's Square", PostalCode: "SW1Y 4JH", City: "London", CountryCode: "GB"}

	r := record(h, "POST", "/v1/users/u1/card-orders/preview", tokOp, "")
	is.Equal(r.status, http.StatusOK)
	is.True(!bytes.Contains(r.body, []byte(photo)))
	var pv struct{ Card httpapi.Card }
	r.into(t, &pv)
	is.Equal(pv.Card.CostCentre, "CC-4711")
	is.Equal(*pv.Card.DeliveryAddress, addr)
	is.True(pv.Card.HasPhoto) // the order would send one

	r = record(h, "POST", "/v1/users/u1/card-orders", tokOp, "")
	is.Equal(r.status, http.StatusCreated)
	is.True(!bytes.Contains(r.body, []byte(photo)))
	c := r.card(t)
	is.True(c.HasPhoto) // queued with its photo
	is.Equal(c.CostCentre, "CC-4711")
	_, err := svc.DispatchQueued(context.Background(), 0)
	is.NoErr(err)
	r = record(h, "GET", "/v1/cards/"+c.ID, tokOp, "")
	is.True(!bytes.Contains(r.body, []byte(`"hasPhoto"`))) // erased once ordered
	is.Equal(*r.card(t).DeliveryAddress, addr)

	users.fail(ports.ErrUnavailable)
	r = record(h, "POST", "/v1/users/u1/card-orders/preview", tokOp, "")
	is.Equal(r.status, http.StatusOK)
	var refused struct{ Refusal httpapi.Problem }
	r.into(t, &refused)
	is.Equal(refused.Refusal.Code, "directory_unavailable")
	is.Equal(refused.Refusal.Status, http.StatusServiceUnavailable)
}
