package gocardsfake_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
)

type bureau struct {
	t     *testing.T
	fake  *gocardsfake.Server
	srv   *httptest.Server
	token string
}

func newBureau(t *testing.T, cfg gocardsfake.Config) *bureau {
	t.Helper()
	b := &bureau{t: t, fake: gocardsfake.New(cfg)}
	b.srv = httptest.NewServer(b.fake)
	t.Cleanup(b.srv.Close)
	code, body := b.tokenRequest(gocardsfake.DefaultClientID, gocardsfake.DefaultClientSecret)
	if code == 200 {
		var tb struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal([]byte(body), &tb)
		b.token = tb.AccessToken
	}
	return b
}

func (b *bureau) tokenRequest(id, secret string) (int, string) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, err := http.Post(b.srv.URL+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *bureau) do(method, path, key, body string, hdr ...string) (int, string, error) {
	req, _ := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("X-Organisation-Id", gocardsfake.DefaultOrganisationID)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := freshConns.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), nil
}

func (b *bureau) must(method, path, key, body string, hdr ...string) (int, string) {
	b.t.Helper()
	code, out, err := b.do(method, path, key, body, hdr...)
	if err != nil {
		b.t.Fatal(err)
	}
	return code, out
}

// freshConns uses a new connection per request: net/http's transport would itself retry a
// request carrying an Idempotency-Key after a cut on a reused connection, hiding the cut.
var freshConns = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

const ada = `{"externalReference":"card-1","layoutId":"L-100","cardHolderEmail":"ada@example.com",` +
	`"cardElements":{"FIRST_NAME":"Ada","LAST_NAME":"Lovelace","COMMON_NAME":"Ada Lovelace","UPN":"ada@corp.example"}}`

func TestTokens(t *testing.T) {
	is := is.New(t)
	b := newBureau(t, gocardsfake.Config{})
	is.True(b.token != "")
	code, body := b.tokenRequest("x", gocardsfake.DefaultClientSecret)
	is.Equal(code, 401)
	is.True(strings.Contains(body, "invalid_client"))

	code, _ = b.must("GET", "/api/layouts", "", "")
	is.Equal(code, 200)
	code, _ = b.must("GET", "/api/layouts", "", "", "Authorization", "")
	is.Equal(code, 401)
	code, _ = b.must("GET", "/api/layouts", "", "", "X-Organisation-Id", "ORG-2")
	is.Equal(code, 403)

	b.fake.ExpireTokens()
	code, _ = b.must("GET", "/api/layouts", "", "")
	is.Equal(code, 401)
	_, body = b.tokenRequest(gocardsfake.DefaultClientID, gocardsfake.DefaultClientSecret)
	var tb struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	is.NoErr(json.Unmarshal([]byte(body), &tb))
	is.Equal(tb.TokenType, "Bearer")
	is.Equal(tb.ExpiresIn, 3600)
	b.token = tb.AccessToken
	code, _ = b.must("GET", "/api/layouts", "", "")
	is.Equal(code, 200)
	b.fake.RevokeTokens()
	code, _ = b.must("GET", "/api/layouts", "", "")
	is.Equal(code, 401)

	b.fake.SetCredentials("new", "creds")
	code, _ = b.tokenRequest(gocardsfake.DefaultClientID, gocardsfake.DefaultClientSecret)
	is.Equal(code, 401)
	code, _ = b.tokenRequest("new", "creds")
	is.Equal(code, 200)
}

func TestOrdersIdempotency(t *testing.T) {
	is := is.New(t)
	b := newBureau(t, gocardsfake.Config{})
	code, first := b.must("POST", "/api/orders", "card-1", ada)
	is.Equal(code, 201)
	is.True(strings.Contains(first, `"orderId":"O-1"`))
	is.True(strings.Contains(first, `"status":"ORDERED"`))

	// Same key, same order (members in another order): the original, 200.
	reordered := `{"layoutId":"L-100","externalReference":"card-1","cardHolderEmail":"ada@example.com",` +
		`"cardElements":{"UPN":"ada@corp.example","COMMON_NAME":"Ada Lovelace","LAST_NAME":"Lovelace","FIRST_NAME":"Ada"}}`
	code, again := b.must("POST", "/api/orders", "card-1", reordered)
	is.Equal(code, 200)
	is.Equal(again, first)

	// Same key, different body: 409.
	code, _ = b.must("POST", "/api/orders", "card-1", strings.Replace(ada, "Ada\"", "Augusta\"", 1))
	is.Equal(code, 409)

	st := b.fake.Stats()
	is.Equal(st.Orders, 1)
	is.Equal(st.Replays, 1)
	is.Equal(st.Conflicts, 1)
	is.Equal(st.Duplicates, 0)
	is.Equal(b.fake.OrdersForKey("card-1"), 1)

	// A repeat of the same card under a new key while the first order is live counts as a
	// reference duplicate; after the first order failed it does not.
	code, _ = b.must("POST", "/api/orders", "card-1/repeat/1", ada)
	is.Equal(code, 201)
	is.Equal(b.fake.Stats().ReferenceDuplicates, 1)
	is.NoErr(b.fake.Fail(t.Context(), "O-1", "chip defect"))
	is.NoErr(b.fake.Fail(t.Context(), "O-2", "chip defect"))
	code, _ = b.must("POST", "/api/orders", "card-1/repeat/2", ada)
	is.Equal(code, 201)
	is.Equal(b.fake.Stats().ReferenceDuplicates, 1)
}

// temp is an order of a temporary card with the JSON members extra.
func temp(extra string) string {
	return `{"externalReference":"c","layoutId":"L-TEMP","cardElements":{"TEMPORARY":"true"},` + extra + `}`
}

func TestOrdersValidation(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		body   string
		code   int
		fields map[string]string
	}{
		{"no key", "", ada, 400, nil},
		{"malformed", "k", `{"externalReference":`, 400, nil},
		{"trailing data", "k", ada + ` {}`, 400, nil},
		{"unknown member", "k", strings.Replace(ada, `{"externalReference"`, `{"x":1,"externalReference"`, 1), 400, nil},
		{"no reference", "k", `{"layoutId":"L-100","cardElements":{}}`, 400, nil},
		{"no layout", "k", `{"externalReference":"c","cardElements":{}}`, 400, nil},
		{"unknown layout", "k", `{"externalReference":"c","layoutId":"L-1","cardElements":{}}`, 422,
			map[string]string{"layoutId": "unknown layout L-1"}},
		{"fields", "k", `{"externalReference":"c","layoutId":"L-100","cardElements":{"FIRST_NAME":"` +
			strings.Repeat("é", 41) + `","LAST_NAME":" "}}`, 422,
			map[string]string{"FIRST_NAME": "too long", "LAST_NAME": "required", "COMMON_NAME": "required"}},
		{"temporary on a personal layout", "k", `{"externalReference":"c","layoutId":"L-100","cardElements":{"TEMPORARY":"true"}}`, 422,
			map[string]string{"FIRST_NAME": "required", "LAST_NAME": "required", "COMMON_NAME": "required"}},
		{"temporary", "k", `{"externalReference":"c","layoutId":"L-TEMP","cardElements":{"TEMPORARY":"true","SEQUENCE":"3"}}`, 201, nil},
		{"extra elements accepted", "k", `{"externalReference":"c","layoutId":"L-100","cardElements":{"FIRST_NAME":"A","LAST_NAME":"B","COMMON_NAME":"A B","X":"y"}}`, 201, nil},
		{"optional members", "k", `{"externalReference":"c","layoutId":"L-TEMP","cardElements":{"TEMPORARY":"true"},"photo":"/9j/",` +
			`"deliveryAddress":{"recipient":"r","addressOne":"a","postalCode":"1","city":"c","countryCode":"SE"},"costCentre":"cc"}`, 201, nil},
		{"photo not base64", "k", temp(`"photo":"/9j/*"`), 422, map[string]string{"photo": "not base64"}},
		{"photo not an image", "k", temp(`"photo":"AAAA"`), 422, map[string]string{"photo": "not a JPEG or PNG"}},
		{"photo too large", "k", temp(`"photo":"` + base64.StdEncoding.EncodeToString(append([]byte{0xFF, 0xD8, 0xFF}, make([]byte, 1<<20)...)) + `"`), 422,
			map[string]string{"photo": "larger than 1048576 bytes"}},
		{"png photo", "k", temp(`"photo":"` + base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n....")) + `"`), 201, nil},
		{"address incomplete", "k", temp(`"deliveryAddress":{"recipient":" ","addressOne":"","postalCode":"` + strings.Repeat("1", 17) + `","city":"c","countryCode":"se"}`), 422,
			map[string]string{"deliveryAddress.recipient": "required", "deliveryAddress.addressOne": "required",
				"deliveryAddress.postalCode": "too long", "deliveryAddress.countryCode": "not a two-letter country code"}},
		{"address country", "k", temp(`"deliveryAddress":{"recipient":"r","addressOne":"a","postalCode":"1","city":"c","countryCode":"SWE"}`), 422,
			map[string]string{"deliveryAddress.countryCode": "not a two-letter country code"}},
		{"cost centre too long", "k", temp(`"costCentre":"` + strings.Repeat("9", 33) + `"`), 422, map[string]string{"costCentre": "too long"}},
		{"cost centre at the limit", "k", temp(`"costCentre":"` + strings.Repeat("é", 32) + `"`), 201, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b := newBureau(t, gocardsfake.Config{})
			code, body := b.must("POST", "/api/orders", tt.key, tt.body)
			is.Equal(code, tt.code)
			if tt.code >= 400 {
				var eb struct {
					Error  string            `json:"error"`
					Fields map[string]string `json:"fields"`
				}
				is.NoErr(json.Unmarshal([]byte(body), &eb))
				is.True(eb.Error != "")
				if d := cmp.Diff(tt.fields, eb.Fields); d != "" {
					t.Errorf("fields (-want +got):\n%s", d)
				}
				is.Equal(b.fake.Stats().Orders, 0)
			}
		})
	}
}

func TestStatusAndLayouts(t *testing.T) {
	is := is.New(t)
	b := newBureau(t, gocardsfake.Config{})
	code, _ := b.must("GET", "/api/orders/O-1", "", "")
	is.Equal(code, 404)
	b.must("POST", "/api/orders", "card-1", ada)
	code, body := b.must("GET", "/api/orders/O-1", "", "")
	is.Equal(code, 200)
	is.Equal(body, `{"orderId":"O-1","externalReference":"card-1","status":"ORDERED"}`)
	is.NoErr(b.fake.Advance(t.Context(), "O-1", gocardsfake.StatusShipped))
	_, body = b.must("GET", "/api/orders/O-1", "", "")
	var sb struct {
		Status     string `json:"status"`
		CardNumber string `json:"cardNumber"`
		ValidThru  string `json:"validThru"`
		Readouts   []struct{ Type, UID string }
	}
	is.NoErr(json.Unmarshal([]byte(body), &sb))
	is.Equal(sb.Status, "SHIPPED")
	is.Equal(sb.CardNumber, "C-00000001")
	is.Equal(len(sb.Readouts), 1)
	is.True(b.fake.Advance(t.Context(), "O-9", gocardsfake.StatusShipped) != nil)
	is.True(b.fake.Advance(t.Context(), "O-1", "MELTED") != nil)

	b.must("POST", "/api/orders", "card-2", strings.Replace(ada, "card-1", "card-2", 1))
	n, err := b.fake.AdvanceAll(t.Context(), gocardsfake.StatusInProduction)
	is.NoErr(err)
	is.Equal(n, 2)
	for _, o := range b.fake.Orders() {
		is.Equal(o.Status, gocardsfake.StatusInProduction)
	}

	code, body = b.must("GET", "/api/layouts", "", "")
	is.Equal(code, 200)
	is.True(strings.HasPrefix(body, `{"layouts":[{"layoutId":"L-100","name":"Employee card","inputFields":[{"name":"FIRST_NAME","required":true,"maxLength":40}`))
}

func TestFaults(t *testing.T) {
	t.Run("5xx and 429 before processing", func(t *testing.T) {
		is := is.New(t)
		b := newBureau(t, gocardsfake.Config{Faults: gocardsfake.Faults{FailRate: 1}})
		code, _ := b.must("POST", "/api/orders", "card-1", ada)
		is.True(code == 500 || code == 502 || code == 503 || code == 504)
		b.fake.SetFaults(gocardsfake.Faults{RateLimitRate: 1, RetryAfterSeconds: 7})
		req, _ := http.NewRequest("GET", b.srv.URL+"/api/layouts", nil)
		resp, err := http.DefaultClient.Do(req)
		is.NoErr(err)
		resp.Body.Close()
		is.Equal(resp.StatusCode, 429)
		is.Equal(resp.Header.Get("Retry-After"), "7")
		st := b.fake.Stats()
		is.Equal(st.Orders, 0)
		is.Equal(st.Injected5xx, 1)
		is.Equal(st.Injected429, 1)
	})
	t.Run("cut after accept", func(t *testing.T) {
		is := is.New(t)
		b := newBureau(t, gocardsfake.Config{Faults: gocardsfake.Faults{CutRate: 1}})
		_, _, err := b.do("POST", "/api/orders", "card-1", ada)
		is.True(err != nil) // the connection broke ...
		o, ok := b.fake.OrderByKey("card-1")
		is.True(ok) // ... after the bureau stored the order
		is.Equal(o.ExternalReference, "card-1")
		code, _ := b.must("POST", "/api/orders", "card-1", ada) // replays are not cut
		is.Equal(code, 200)
		is.Equal(b.fake.Stats().Cuts, 1)
	})
	t.Run("latency honours the request context", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			is := is.New(t)
			fake := gocardsfake.New(gocardsfake.Config{Faults: gocardsfake.Faults{Latency: time.Hour}})
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			start := time.Now()
			rec := httptest.NewRecorder()
			fake.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/api/layouts", nil))
			is.Equal(time.Since(start), time.Minute) // gave up with the request, not after the hour
		})
	})
	t.Run("seeded", func(t *testing.T) {
		is := is.New(t)
		run := func() []int {
			b := newBureau(t, gocardsfake.Config{Seed: 7, Faults: gocardsfake.Faults{FailRate: 0.5}})
			var codes []int
			for range 20 {
				code, _ := b.must("GET", "/api/layouts", "", "")
				codes = append(codes, code)
			}
			return codes
		}
		is.Equal(run(), run())
	})
}

func TestConcurrentSameKey(t *testing.T) {
	is := is.New(t)
	b := newBureau(t, gocardsfake.Config{})
	var wg sync.WaitGroup
	codes := make([]int, 50)
	for i := range codes {
		wg.Go(func() { codes[i], _ = b.must("POST", "/api/orders", "card-1", ada) })
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		is.True(c == 200 || c == 201)
		if c == 201 {
			created++
		}
	}
	is.Equal(created, 1)
	st := b.fake.Stats()
	is.Equal(st.Orders, 1)
	is.Equal(st.Duplicates, 0)
}

func TestEventsPushedAndSigned(t *testing.T) {
	is := is.New(t)
	secret := []byte("s3cret")
	var mu sync.Mutex
	var got []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("X-GoCards-Signature") != gocardsfake.Sign(secret, body) {
			w.WriteHeader(401)
			return
		}
		got = append(got, string(body))
		w.WriteHeader(204)
	}))
	defer recv.Close()
	b := newBureau(t, gocardsfake.Config{Seed: 1})
	b.must("POST", "/api/orders", "card-1", ada)
	is.NoErr(b.fake.Advance(t.Context(), "O-1", gocardsfake.StatusInProduction)) // no callback yet: nothing pushed
	b.fake.SetCallback(recv.URL, secret)
	is.NoErr(b.fake.Fail(t.Context(), "O-1", "chip defect"))
	evs := b.fake.Events()
	is.Equal(len(evs), 1)
	is.Equal(evs[0].Status, 204)
	var ev struct {
		EventID string `json:"eventId"`
		Created string `json:"created"`
		Topic   string `json:"topic"`
		Data    struct {
			OrderID, ExternalReference, Status, Error string
		} `json:"data"`
	}
	is.NoErr(json.Unmarshal(evs[0].Body, &ev))
	is.Equal(len(ev.EventID), 36)
	is.Equal(ev.Topic, "ORDER_STATUS_CHANGED")
	is.Equal(ev.Data.Status, "FAILED")
	is.Equal(ev.Data.Error, "chip defect")
	is.Equal(ev.Data.ExternalReference, "card-1")
	is.NoErr(b.fake.ReplayEvent(t.Context(), ev.EventID))
	mu.Lock()
	is.Equal(got, []string{string(evs[0].Body), string(evs[0].Body)})
	mu.Unlock()

	b.fake.SetCallback(recv.URL, []byte("wrong"))
	is.True(b.fake.Advance(t.Context(), "O-1", gocardsfake.StatusCancelled) != nil) // receiver refused: 401
	is.Equal(b.fake.Stats().EventFailures, 1)
}

func TestServe(t *testing.T) {
	is := is.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	fake := gocardsfake.New(gocardsfake.Config{})
	go func() { done <- fake.Serve(ctx, ln) }()
	resp, err := http.Post("http://"+ln.Addr().String()+"/oauth/token", "application/x-www-form-urlencoded",
		strings.NewReader("grant_type=client_credentials&client_id="+gocardsfake.DefaultClientID+"&client_secret="+gocardsfake.DefaultClientSecret))
	is.NoErr(err)
	resp.Body.Close()
	is.Equal(resp.StatusCode, 200)
	cancel()
	is.NoErr(<-done)
}

func TestIssueTokenAuthorizes(t *testing.T) {
	fake := gocardsfake.New(gocardsfake.Config{})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	get := func(token string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/layouts", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Organisation-Id", gocardsfake.DefaultOrganisationID)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := get("made-up"); got != http.StatusUnauthorized {
		t.Fatalf("a made-up token got %d", got)
	}
	if got := get(fake.IssueToken()); got != http.StatusOK {
		t.Fatalf("an issued token got %d", got)
	}
}

// TestOrderRecordsBureauData checks that an accepted order keeps its decoded photo, delivery
// address and cost centre for a test to assert, and that a layout requiring PHOTO refuses an
// order without a photo.
func TestOrderRecordsBureauData(t *testing.T) {
	is := is.New(t)
	b := newBureau(t, gocardsfake.Config{Layouts: []gocardsfake.Layout{{ID: "L-P", Fields: []gocardsfake.Field{
		{Name: "COMMON_NAME", Required: true}, {Name: gocardsfake.PhotoField, Required: true},
	}}}})
	code, body := b.must("POST", "/api/orders", "k1", `{"externalReference":"c","layoutId":"L-P","cardElements":{"COMMON_NAME":"A B"}}`)
	is.Equal(code, 422)
	is.True(strings.Contains(body, `"photo":"required"`)) // the PHOTO field asks for the photo, not an element
	photo := []byte{0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3}
	code, _ = b.must("POST", "/api/orders", "k2", `{"externalReference":"c","layoutId":"L-P","cardElements":{"COMMON_NAME":"A B"},`+
		`"photo":"`+base64.StdEncoding.EncodeToString(photo)+`","costCentre":"CC-7",`+
		`"deliveryAddress":{"recipient":"A B","addressOne":"Main St 1","addressTwo":"Floor 2","postalCode":"111 22","city":"Stockholm","countryCode":"SE"}}`)
	is.Equal(code, 201)
	o, ok := b.fake.OrderByKey("k2")
	is.True(ok)
	is.Equal(o.Photo, photo)
	is.Equal(o.CostCentre, "CC-7")
	is.Equal(*o.DeliveryAddress, gocardsfake.Address{Recipient: "A B", AddressOne: "Main St 1", AddressTwo: "Floor 2",
		PostalCode: "111 22", City: "Stockholm", CountryCode: "SE"})
	o.Photo[0], o.DeliveryAddress.City = 0, "x" // a snapshot is the caller's copy
	o, _ = b.fake.OrderByKey("k2")
	is.Equal(o.Photo, photo)
	is.Equal(o.DeliveryAddress.City, "Stockholm")
}
