package cardorder_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/internal/logbuf"
	"github.com/cardsaddon/extprod/ports"
)

// jpeg is a photo as a photo source returns it: bytes that start like a JPEG.
var jpeg = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x42}

// photoUsers is a user store that is also a ports.PhotoSource: each user's answer is set by the
// test, and every fetch is counted.
type photoUsers struct {
	*memory.Users
	mu      sync.Mutex
	answers map[string]photoAnswer
	calls   int
}

type photoAnswer struct {
	data []byte
	err  error
}

var _ ports.PhotoSource = (*photoUsers)(nil)

func (p *photoUsers) Photo(ctx context.Context, u ports.User) ([]byte, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	a, ok := p.answers[u.ID]
	if !ok {
		return nil, "", ports.ErrNotFound
	}
	return bytes.Clone(a.data), "image/jpeg", a.err
}

func (p *photoUsers) set(userID string, a photoAnswer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers[userID] = a
}

func (p *photoUsers) fetches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// recordingBureau is the memory bureau that also records every order it is sent, retries
// included, as it was sent.
type recordingBureau struct {
	*memory.Bureau
	mu   sync.Mutex
	sent []ports.ProviderOrder
}

func (b *recordingBureau) PlaceOrder(ctx context.Context, o ports.ProviderOrder) (ports.ProviderReceipt, error) {
	c := o
	c.Photo = bytes.Clone(o.Photo)
	c.Elements = maps.Clone(o.Elements)
	if o.DeliveryAddress != nil {
		a := *o.DeliveryAddress
		c.DeliveryAddress = &a
	}
	b.mu.Lock()
	b.sent = append(b.sent, c)
	b.mu.Unlock()
	return b.Bureau.PlaceOrder(ctx, o)
}

func (b *recordingBureau) orders() []ports.ProviderOrder {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sent)
}

// photoWorld is a world whose user store gives photos and whose bureau records what it is sent.
type photoWorld struct {
	*world
	photos *photoUsers
	sent   *recordingBureau
	log    *logbuf.Buffer
}

// Ada with the data of the full bureau order.
var adaFull = func() ports.User {
	u := ada
	u.PhotoURL = "https://directory.example/photos/u1"
	u.CostCentre = "CC-4711"
	u.DeliveryAddress = &ports.Address{AddressOne: "12 St James's Square", PostalCode: "SW1Y 4JH", City: "London", CountryCode: "GB"}
	return u
}()

func newPhotoWorld(t testing.TB, src ports.OptionsSource, users ...ports.User) *photoWorld {
	t.Helper()
	if len(users) == 0 {
		users = []ports.User{adaFull, grace}
	}
	w := &photoWorld{
		world: &world{store: memory.NewStore(), users: memory.NewUsers(users...), mailer: &memory.Mailer{},
			audit: &memory.AuditLog{}, clock: memory.NewClock(t0)},
		log: &logbuf.Buffer{},
	}
	w.photos = &photoUsers{Users: w.users, answers: map[string]photoAnswer{adaFull.ID: {data: jpeg}}}
	w.sent = &recordingBureau{Bureau: memory.NewBureau()}
	w.bureau = w.sent.Bureau
	svc, err := cardorder.New(cardorder.Ports{
		Users: w.photos, Store: w.store, Provider: w.sent, Options: src, Mailer: w.mailer, Audit: w.audit,
	}, &cardorder.Config{Clock: w.clock, IDs: memory.NewIDs("c"), MaxDispatchTries: 3, RetryBackoff: time.Second,
		Logger: slog.New(slog.NewTextHandler(w.log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return w
}

// TestPhotoSentUnchangedAndErasedWhenOrdered: the photo is fetched once at order time, stored
// with the card, kept across a retryable failure, sent unchanged with every try, and erased in
// the write that records the order.
func TestPhotoSentUnchangedAndErasedWhenOrdered(t *testing.T) {
	is := is.New(t)
	w := newPhotoWorld(t, cardorder.StaticOptions(enabled(nil)))
	c := w.order(t, adaFull.ID)
	is.Equal(c.State, ports.StateProcessing)
	is.Equal(w.card(t, c.ID).Photo, jpeg) // stored with the card
	is.Equal(w.photos.fetches(), 1)

	w.bureau.FailNext(1)
	is.Equal(w.dispatch(t).Retry, 1)
	is.Equal(w.card(t, c.ID).Photo, jpeg) // a retryable failure keeps it
	w.photos.set(adaFull.ID, photoAnswer{data: []byte{0xFF, 0xD8, 0xFF, 0x00}})
	w.clock.Advance(time.Hour)
	is.Equal(w.dispatch(t).Ordered, 1)

	sent := w.sent.orders()
	is.Equal(len(sent), 2)
	for _, o := range sent {
		if d := cmp.Diff(sent[0], o); d != "" {
			t.Errorf("a retry sent another order (-first +retry):\n%s", d)
		}
	}
	is.Equal(sent[0].Photo, jpeg) // the photo of order time, not the directory's newer one
	is.Equal(sent[0].IdempotencyKey, c.ID)
	is.Equal(w.photos.fetches(), 1) // fetched once, not per try
	stored := w.card(t, c.ID)
	is.Equal(stored.State, ports.StateOrdered)
	is.Equal(stored.Photo, nil) // erased once the bureau has it
}

// TestPhotoErasedWhenFailedForGoodAndFetchedForRepeat: a bureau refusal and running out of
// tries both erase the photo; a repeat fetches it again for the new attempt.
func TestPhotoErasedWhenFailedForGoodAndFetchedForRepeat(t *testing.T) {
	for _, tt := range []struct {
		name string
		fail func(w *photoWorld)
	}{
		{"refused", func(w *photoWorld) { w.bureau.Reject("invalid card data"); w.dispatch(t) }},
		{"out of tries", func(w *photoWorld) {
			for range 3 {
				w.bureau.FailNext(1)
				w.dispatch(t)
				w.clock.Advance(time.Hour)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			w := newPhotoWorld(t, cardorder.StaticOptions(enabled(nil)))
			c := w.order(t, adaFull.ID)
			tt.fail(w)
			failed := w.card(t, c.ID)
			is.Equal(failed.State, ports.StateFailed)
			is.Equal(failed.Photo, nil)

			w.bureau.Reject("")
			newer := []byte("\x89PNG\r\n\x1a\nnewer")
			w.photos.set(adaFull.ID, photoAnswer{data: newer})
			rep, err := w.svc.Repeat(context.Background(), operator, c.ID)
			is.NoErr(err)
			is.Equal(w.card(t, rep.ID).Photo, newer) // fetched again for the new attempt
			is.Equal(w.dispatch(t).Ordered, 1)
			o, ok := w.bureau.OrderFor(c.ID + "/repeat/1")
			is.True(ok)
			is.Equal(o.Photo, newer)
			is.Equal(w.card(t, c.ID).Photo, nil)
		})
	}
}

// TestPhotoErasedWhenTheOrderEnds: aborted and rejected cards keep no photo.
func TestPhotoErasedWhenTheOrderEnds(t *testing.T) {
	is := is.New(t)
	w := newPhotoWorld(t, cardorder.StaticOptions(enabled(func(o *ports.Options) { o.ApprovalStep = true })))
	c := w.order(t, adaFull.ID)
	is.Equal(w.card(t, c.ID).Photo, jpeg) // requested: waits with its photo
	_, err := w.svc.Reject(context.Background(), approver, c.ID, "no budget")
	is.NoErr(err)
	is.Equal(w.card(t, c.ID).Photo, nil)

	c = w.order(t, adaFull.ID)
	_, err = w.svc.Abort(context.Background(), operator, c.ID)
	is.NoErr(err)
	is.Equal(w.card(t, c.ID).Photo, nil)
}

// TestNoUsablePhoto: a photo the source refuses, a missing one, bytes that are no JPEG or PNG,
// a user without a photo URL and a store that gives no photos all order without a photo —
// unless the layout requires one, which refuses the order with invalid_card_data naming PHOTO.
func TestNoUsablePhoto(t *testing.T) {
	tests := []struct {
		name   string
		answer *photoAnswer // nil: the user has no photo URL
	}{
		{"refused", &photoAnswer{err: fmt.Errorf("scim: too large: %w", ports.ErrPhotoRefused)}},
		{"missing", &photoAnswer{err: ports.ErrNotFound}},
		{"not an image", &photoAnswer{data: []byte("GIF89a....")}},
		{"no photo URL", nil},
	}
	for _, tt := range tests {
		for _, required := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/required=%v", tt.name, required), func(t *testing.T) {
				is := is.New(t)
				u := adaFull
				if tt.answer == nil {
					u.PhotoURL = ""
				}
				w := newPhotoWorld(t, cardorder.StaticOptions(enabled(nil)), u)
				if tt.answer != nil {
					w.photos.set(u.ID, *tt.answer)
				}
				if required {
					w.bureau.SetLayout(ports.Layout{ID: "L-100", Fields: []ports.LayoutField{{Name: cardorder.LayoutFieldPhoto, Required: true}}})
				}
				c, err := w.svc.OrderCard(context.Background(), u.ID, &cardorder.OrderOptions{Actor: operator})
				if required {
					var e *cardorder.Error
					is.True(errors.As(err, &e))
					is.Equal(e.Code, cardorder.CodeInvalidCardData)
					is.Equal(e.Fields, map[string]string{"PHOTO": "required by layout L-100"})
					page, _ := w.store.List(context.Background(), ports.CardFilter{})
					is.Equal(len(page.Cards), 0) // nothing created
					return
				}
				is.NoErr(err)
				is.Equal(w.card(t, c.ID).Photo, nil)
				w.dispatch(t)
				o, _ := w.bureau.OrderFor(c.ID)
				is.Equal(o.Photo, nil)
				is.Equal(o.CostCentre, "CC-4711") // the rest of the order goes on
			})
		}
	}
}

// TestPhotoOptionalInLayout: a layout that lists PHOTO as optional takes a card with or without.
func TestPhotoOptionalInLayout(t *testing.T) {
	is := is.New(t)
	w := newPhotoWorld(t, cardorder.StaticOptions(enabled(nil)))
	w.bureau.SetLayout(ports.Layout{ID: "L-100", Fields: []ports.LayoutField{{Name: cardorder.LayoutFieldPhoto}, {Name: "FIRST_NAME", Required: true}}})
	is.Equal(w.card(t, w.order(t, adaFull.ID).ID).Photo, jpeg)
	is.Equal(w.card(t, w.order(t, grace.ID).ID).Photo, nil)
}

// TestStoreWithoutPhotos: a user store that is no PhotoSource gives cards without photos.
func TestStoreWithoutPhotos(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	w.users.Put(adaFull)
	c := w.order(t, adaFull.ID)
	is.Equal(c.Photo, nil)
	is.Equal(c.CostCentre, "CC-4711")
}

// TestDirectoryUnavailableForThePhoto: a directory that cannot give the photo refuses the order
// (and a repeat) with directory_unavailable, creating nothing, and the cause stays out of the
// refusal's detail.
func TestDirectoryUnavailableForThePhoto(t *testing.T) {
	is := is.New(t)
	w := newPhotoWorld(t, cardorder.StaticOptions(enabled(nil)))
	w.photos.set(adaFull.ID, photoAnswer{err: fmt.Errorf("scim: photo: %w", ports.ErrUnavailable)})
	_, err := w.svc.OrderCard(context.Background(), adaFull.ID, &cardorder.OrderOptions{Actor: operator})
	isCode(t, err, cardorder.ErrDirectoryUnavailable)
	is.True(errors.Is(err, ports.ErrUnavailable)) // the cause is kept for the host's logs
	page, _ := w.store.List(context.Background(), ports.CardFilter{})
	is.Equal(len(page.Cards), 0)
	pv, err := w.svc.PreviewOrder(context.Background(), adaFull.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	isCode(t, pv.Refusal, cardorder.ErrDirectoryUnavailable)

	w.photos.set(adaFull.ID, photoAnswer{data: jpeg})
	c := w.order(t, adaFull.ID)
	w.bureau.Reject("chip defect")
	w.dispatch(t)
	w.photos.set(adaFull.ID, photoAnswer{err: fmt.Errorf("scim: photo: %w", ports.ErrProtocol)})
	_, err = w.svc.Repeat(context.Background(), operator, c.ID)
	isCode(t, err, cardorder.ErrDirectoryUnavailable)
	is.Equal(w.card(t, c.ID).State, ports.StateFailed) // the repeat changed nothing
}

// TestDeliveryAddressAndCostCentre: the user's address and cost centre go with the order, an
// address without a recipient is addressed to the common name, and the script's overrides
// replace them (an all-empty address sends none).
func TestDeliveryAddressAndCostCentre(t *testing.T) {
	office := &ports.Address{Recipient: "Mail room", AddressOne: "1 Main St", AddressTwo: "Floor 3", PostalCode: "11122", City: "Stockholm", CountryCode: "SE"}
	str := func(s string) *string { return &s }
	tests := []struct {
		name     string
		ov       *ports.CardOverrides
		wantCC   string
		wantAddr *ports.Address
	}{
		{"the user's", nil, "CC-4711", &ports.Address{Recipient: "Ada Lovelace", AddressOne: "12 St James's Square",
			PostalCode: "SW1Y 4JH", City: "London", CountryCode: "GB"}},
		{"recipient is the overridden common name", &ports.CardOverrides{CommonName: str("A. Lovelace")}, "CC-4711",
			&ports.Address{Recipient: "A. Lovelace", AddressOne: "12 St James's Square", PostalCode: "SW1Y 4JH", City: "London", CountryCode: "GB"}},
		{"overridden", &ports.CardOverrides{CostCentre: str("CC-1"), DeliveryAddress: office}, "CC-1", office},
		{"cleared", &ports.CardOverrides{CostCentre: str(""), DeliveryAddress: &ports.Address{}}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			src := ports.OptionsSource(cardorder.StaticOptions(enabled(nil)))
			if tt.ov != nil {
				src = overrideSource{*tt.ov}
			}
			w := newPhotoWorld(t, src)
			c := w.order(t, adaFull.ID)
			is.Equal(c.CostCentre, tt.wantCC)
			is.Equal(c.DeliveryAddress, tt.wantAddr)
			w.dispatch(t)
			o, ok := w.bureau.OrderFor(c.ID)
			is.True(ok)
			is.Equal(o.CostCentre, tt.wantCC)
			is.Equal(o.DeliveryAddress, tt.wantAddr)
			is.Equal(o.Photo, jpeg) // mapUserToCard cannot take the photo away
		})
	}
}

// TestBadDeliveryData: an address or cost centre that cannot be sent refuses the order with
// invalid_card_data naming the fields (never their values).
func TestBadDeliveryData(t *testing.T) {
	is := is.New(t)
	u := adaFull
	u.CostCentre = strings.Repeat("9", cardorder.MaxCostCentre+1)
	u.DeliveryAddress = &ports.Address{AddressOne: "12 St James's Square", City: strings.Repeat("L", cardorder.MaxCity+1), CountryCode: "gb"}
	w := newPhotoWorld(t, cardorder.StaticOptions(enabled(nil)), u)
	_, err := w.svc.OrderCard(context.Background(), u.ID, &cardorder.OrderOptions{Actor: operator})
	var e *cardorder.Error
	is.True(errors.As(err, &e))
	is.Equal(e.Code, cardorder.CodeInvalidCardData)
	if d := cmp.Diff(map[string]string{
		"costCentre":                  "longer than 64",
		"deliveryAddress.postalCode":  "required",
		"deliveryAddress.city":        "longer than 64",
		"deliveryAddress.countryCode": "not an ISO 3166-1 alpha-2 country code",
	}, e.Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	is.True(!strings.Contains(err.Error(), "James")) // no personal data in the refusal
}

// TestTemporaryCardsCarryNoBureauData: temporary cards have no photo, address or cost centre,
// and no photo is fetched for them.
func TestTemporaryCardsCarryNoBureauData(t *testing.T) {
	is := is.New(t)
	w := newPhotoWorld(t, cardorder.StaticOptions(enabled(nil)))
	cards, err := w.svc.OrderTemporaryCards(context.Background(), operator, 2, "")
	is.NoErr(err)
	w.dispatch(t)
	for _, c := range cards {
		o, ok := w.bureau.OrderFor(c.ID)
		is.True(ok)
		is.Equal(o.Photo, nil)
		is.Equal(o.DeliveryAddress, nil)
		is.Equal(o.CostCentre, "")
	}
	is.Equal(w.photos.fetches(), 0)
}

// TestPreviewShowsBureauDataNotThePhoto: the preview shows the address, the cost centre and
// whether a photo will be sent, never the photo's bytes; nothing is stored.
func TestPreviewShowsBureauDataNotThePhoto(t *testing.T) {
	is := is.New(t)
	w := newPhotoWorld(t, cardorder.StaticOptions(enabled(nil)))
	pv, err := w.svc.PreviewOrder(context.Background(), adaFull.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	is.NoErr(pv.Refusal)
	is.True(pv.HasPhoto)
	is.Equal(pv.Card.Photo, nil)
	is.Equal(pv.Card.CostCentre, "CC-4711")
	is.Equal(pv.Card.DeliveryAddress.City, "London")
	pv, err = w.svc.PreviewOrder(context.Background(), grace.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	is.True(!pv.HasPhoto)
	page, _ := w.store.List(context.Background(), ports.CardFilter{})
	is.Equal(len(page.Cards), 0)
}

// TestNoPhotoInJSONOrLogs: a card holding a photo encodes without it, and no log line of an
// order's life (fetch, retries, refusal, repeat) carries its bytes or the address.
func TestNoPhotoInJSONOrLogs(t *testing.T) {
	is := is.New(t)
	w := newPhotoWorld(t, cardorder.StaticOptions(enabled(nil)))
	c := w.order(t, adaFull.ID)
	b, err := json.Marshal(w.card(t, c.ID))
	is.NoErr(err)
	w.bureau.FailNext(1)
	w.dispatch(t)
	w.bureau.Reject("invalid card data")
	w.clock.Advance(time.Hour)
	w.dispatch(t)
	w.photos.set(adaFull.ID, photoAnswer{err: fmt.Errorf("scim: photo larger than 1048576 bytes: %w", ports.ErrPhotoRefused)})
	_, err = w.svc.Repeat(context.Background(), operator, c.ID)
	is.NoErr(err)
	logs := w.log.String()
	is.True(strings.Contains(logs, "photo not used")) // the log is not empty
	for _, s := range []string{string(b), logs} {
		for _, secret := range []string{base64.StdEncoding.EncodeToString(jpeg)[:8], string(jpeg[6:10]), "directory.example"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q found in:\n%s", secret, s)
			}
		}
	}
	is.True(!strings.Contains(logs, "James"))
}
