package gocards_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/ports"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*gocards.Config)
		want string
	}{
		{"no base URL", func(c *gocards.Config) { c.BaseURL = "" }, "BaseURL is required"},
		{"bad scheme", func(c *gocards.Config) { c.BaseURL = "ftp://x" }, "want http(s)"},
		{"no host", func(c *gocards.Config) { c.BaseURL = "http://" }, "want http(s)"},
		{"no client id", func(c *gocards.Config) { c.ClientID = "" }, "ClientID is required"},
		{"no secret", func(c *gocards.Config) { c.ClientSecret = "" }, "ClientSecret is required"},
		{"no organisation", func(c *gocards.Config) { c.OrganisationID = "" }, "OrganisationID is required"},
		{"negative attempts", func(c *gocards.Config) { c.MaxAttempts = -1 }, "MaxAttempts is negative"},
		{"negative cap", func(c *gocards.Config) { c.RetryAfterCap = -1 }, "RetryAfterCap is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			cfg := testConfig("http://bureau.example", &sleeps{})
			tt.mod(&cfg)
			_, err := gocards.New(cfg)
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), tt.want))
		})
	}
	t.Run("zero values are defaults", func(t *testing.T) {
		is := is.New(t)
		cfg := gocards.Config{BaseURL: "https://b.example/base/", ClientID: "a", ClientSecret: "b", OrganisationID: "c"}.WithDefaults()
		is.Equal(cfg.MaxAttempts, gocards.DefaultMaxAttempts)
		is.Equal(cfg.RetryAfterCap, gocards.DefaultRetryAfterCap)
		is.Equal(cfg.LayoutTTL, gocards.DefaultLayoutTTL)
		is.True(cfg.HTTPClient != nil && cfg.Logger != nil && cfg.Sleep != nil && cfg.Jitter != nil && cfg.Clock != nil)
	})
}

func TestPlaceOrder(t *testing.T) {
	is := is.New(t)
	h := newFakeHarness(t, gocardsfake.Config{}, nil)
	ctx := t.Context()

	rec, err := h.client.PlaceOrder(ctx, order("card-1"))
	is.NoErr(err)
	is.Equal(rec, ports.ProviderReceipt{OrderID: "O-1", State: ports.StateOrdered})

	got, ok := h.fake.OrderByKey("card-1")
	is.True(ok)
	want := order("card-1")
	is.Equal(got.ExternalReference, want.ExternalReference)
	is.Equal(got.CardHolderEmail, want.CardHolderEmail)
	if d := cmp.Diff(want.Elements, got.Elements); d != "" {
		t.Errorf("elements at the bureau (-want +got):\n%s", d)
	}

	// The same attempt again (a dispatcher retry after a crash): the original order, nothing new.
	again, err := h.client.PlaceOrder(ctx, order("card-1"))
	is.NoErr(err)
	is.Equal(again, rec)
	st := h.fake.Stats()
	is.Equal(st.Orders, 1)
	is.Equal(st.Replays, 1)
	is.Equal(st.Duplicates, 0)

	// A repeat after a failure is a new attempt with a new key: a new order.
	o := order("card-1")
	o.IdempotencyKey = "card-1/repeat/1"
	rep, err := h.client.PlaceOrder(ctx, o)
	is.NoErr(err)
	is.Equal(rep.OrderID, "O-2")
}

func TestPlaceOrderRejected(t *testing.T) {
	tooLong := strings.Repeat("x", 41)
	tests := []struct {
		name   string
		setup  func(h *fakeHarness) // before the order
		order  func() ports.ProviderOrder
		want   *ports.RejectedError
		script func(n int, w http.ResponseWriter, r *http.Request) // instead of the fake
	}{
		{
			name: "422 with fields",
			order: func() ports.ProviderOrder {
				o := order("c1")
				o.Elements["FIRST_NAME"] = tooLong
				delete(o.Elements, "LAST_NAME")
				return o
			},
			want: &ports.RejectedError{Status: 422, Reason: "invalid card data",
				Fields: map[string]string{"FIRST_NAME": "too long", "LAST_NAME": "required"}},
		},
		{
			name:  "422 unknown layout",
			order: func() ports.ProviderOrder { o := order("c1"); o.LayoutID = "L-999"; return o },
			want: &ports.RejectedError{Status: 422, Reason: "unknown layout",
				Fields: map[string]string{"layoutId": "unknown layout L-999"}},
		},
		{
			name: "409 same key, different body",
			setup: func(h *fakeHarness) {
				if _, err := h.client.PlaceOrder(context.Background(), order("c1")); err != nil {
					panic(err)
				}
			},
			order: func() ports.ProviderOrder { o := order("c1"); o.Elements["FIRST_NAME"] = "Augusta"; return o },
			want:  &ports.RejectedError{Status: 409, Reason: "Idempotency-Key already used with a different order"},
		},
		{
			name:   "400 with reason",
			script: func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 400, `{"error":"no such cost centre"}`) },
			order:  func() ports.ProviderOrder { return order("c1") },
			want:   &ports.RejectedError{Status: 400, Reason: "no such cost centre"},
		},
		{
			name:   "400 with a malformed body",
			script: func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 400, `<html>bad request`) },
			order:  func() ports.ProviderOrder { return order("c1") },
			want:   &ports.RejectedError{Status: 400, Reason: "HTTP 400"},
		},
		{
			name:   "409 without a body",
			script: func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(409) },
			order:  func() ports.ProviderOrder { return order("c1") },
			want: &ports.RejectedError{Status: 409,
				Reason: "HTTP 409: idempotency key already used with a different order body"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			var client *gocards.Client
			var sl *sleeps
			if tt.script != nil {
				s := newScripted(t, tt.script)
				sl = &sleeps{}
				client = newClient(t, testConfig(s.srv.URL, sl))
			} else {
				h := newFakeHarness(t, gocardsfake.Config{}, nil)
				if tt.setup != nil {
					tt.setup(h)
				}
				client, sl = h.client, h.sleeps
			}
			_, err := client.PlaceOrder(t.Context(), tt.order())
			var rej *ports.RejectedError
			is.True(errors.As(err, &rej))
			is.True(errors.Is(err, ports.ErrRejected))
			is.True(!errors.Is(err, ports.ErrUnavailable))
			if d := cmp.Diff(tt.want, rej); d != "" {
				t.Errorf("rejection (-want +got):\n%s", d)
			}
			is.Equal(len(sl.All()), 0) // a permanent error is not retried
		})
	}
}

func TestTokenCachedAndRefreshedOnce(t *testing.T) {
	is := is.New(t)
	h := newFakeHarness(t, gocardsfake.Config{}, nil)
	ctx := t.Context()
	for i := range 3 {
		_, err := h.client.PlaceOrder(ctx, order("c"+itoa(i)))
		is.NoErr(err)
	}
	is.Equal(h.fake.Stats().TokensIssued, 1) // cached

	h.fake.RevokeTokens()
	_, err := h.client.OrderStatus(ctx, "O-1")
	is.NoErr(err)
	st := h.fake.Stats()
	is.Equal(st.TokensIssued, 2) // refreshed once
	is.Equal(st.Unauthorized, 1)
	is.Equal(len(h.sleeps.All()), 0) // a refresh is not a backoff

	h.fake.ExpireTokens()
	_, err = h.client.Layout(ctx, "L-100")
	is.NoErr(err)
	is.Equal(h.fake.Stats().TokensIssued, 3)
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	is := is.New(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newFakeHarness(t, gocardsfake.Config{TokenTTL: 10 * time.Minute}, func(c *gocards.Config) {
		c.Clock = ports.ClockFunc(func() time.Time { return now })
		c.TokenRefreshMargin = time.Minute
	})
	ctx := t.Context()
	_, err := h.client.PlaceOrder(ctx, order("a"))
	is.NoErr(err)
	now = now.Add(8 * time.Minute) // still fresh
	_, err = h.client.PlaceOrder(ctx, order("b"))
	is.NoErr(err)
	is.Equal(h.fake.Stats().TokensIssued, 1)
	now = now.Add(90 * time.Second) // within the margin: replaced before the bureau refuses it
	_, err = h.client.PlaceOrder(ctx, order("c"))
	is.NoErr(err)
	st := h.fake.Stats()
	is.Equal(st.TokensIssued, 2)
	is.Equal(st.Unauthorized, 0)
}

func TestUnauthorized(t *testing.T) {
	t.Run("credentials refused", func(t *testing.T) {
		is := is.New(t)
		h := newFakeHarness(t, gocardsfake.Config{ClientSecret: "other"}, nil)
		_, err := h.client.PlaceOrder(t.Context(), order("c1"))
		is.True(errors.Is(err, ports.ErrUnauthorized))
		is.True(!errors.Is(err, ports.ErrRejected)) // no card is failed for it
		st := h.fake.Stats()
		is.Equal(st.TokenRefusals, 1) // not retried
		is.Equal(st.Orders, 0)
		is.Equal(len(h.sleeps.All()), 0)
	})
	t.Run("401 again with a fresh token", func(t *testing.T) {
		is := is.New(t)
		s := newScripted(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 401, `{}`) })
		c := newClient(t, testConfig(s.srv.URL, &sleeps{}))
		_, err := c.OrderStatus(t.Context(), "O-1")
		is.True(errors.Is(err, ports.ErrUnauthorized))
		tok, api := s.counts()
		is.Equal(tok, 2) // fetched, refreshed once
		is.Equal(api, 2) // tried, retried once
	})
	t.Run("wrong organisation", func(t *testing.T) {
		is := is.New(t)
		h := newFakeHarness(t, gocardsfake.Config{}, func(c *gocards.Config) { c.OrganisationID = "ORG-X" })
		_, err := h.client.PlaceOrder(t.Context(), order("c1"))
		is.True(errors.Is(err, ports.ErrUnauthorized))
	})
	t.Run("token endpoint down, then up", func(t *testing.T) {
		is := is.New(t)
		s := newScripted(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			reply(w, 201, `{"orderId":"O-9","status":"ORDERED"}`)
		})
		s.tokenFn = func(n int, w http.ResponseWriter) {
			if n < 3 {
				reply(w, 503, `{}`)
				return
			}
			reply(w, 200, `{"access_token":"t","token_type":"bearer","expires_in":60}`)
		}
		sl := &sleeps{}
		c := newClient(t, testConfig(s.srv.URL, sl))
		rec, err := c.PlaceOrder(t.Context(), order("c1"))
		is.NoErr(err)
		is.Equal(rec.OrderID, "O-9")
		is.Equal(sl.All(), []time.Duration{100 * time.Millisecond, 200 * time.Millisecond})
	})
	t.Run("token endpoint malformed", func(t *testing.T) {
		for _, body := range []string{`{"access_token":"","token_type":"Bearer","expires_in":60}`,
			`{"access_token":"t","token_type":"MAC","expires_in":60}`,
			`{"access_token":"t","token_type":"Bearer","expires_in":0}`,
			`{"access_token":"t","token_type":"Bearer","expires_in":"60"}`, `{"access_token":`} {
			is := is.New(t)
			s := newScripted(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 500, ``) })
			s.tokenFn = func(_ int, w http.ResponseWriter) { reply(w, 200, body) }
			c := newClient(t, testConfig(s.srv.URL, &sleeps{}))
			_, err := c.PlaceOrder(t.Context(), order("c1"))
			is.True(errors.Is(err, ports.ErrProtocol))
			_, api := s.counts()
			is.Equal(api, 0)
		}
	})
}

func TestRetryBackoffWithFullJitter(t *testing.T) {
	tests := []struct {
		name      string
		failures  int
		jitter    func(time.Duration) time.Duration
		wantSleep []time.Duration
	}{
		{"upper bound", 6, maxJitter, []time.Duration{100, 200, 400, 800, 1000, 1000}},
		{"half", 3, func(d time.Duration) time.Duration { return d / 2 }, []time.Duration{50, 100, 200}},
		{"zero", 2, func(time.Duration) time.Duration { return 0 }, []time.Duration{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			codes := []int{500, 502, 503, 504}
			s := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n <= tt.failures {
					reply(w, codes[n%4], `oops`)
					return
				}
				reply(w, 201, `{"orderId":"O-1","status":"ORDERED","created":"2030-01-01T00:00:00Z","new":"ignored"}`)
			})
			sl := &sleeps{}
			var bounds []time.Duration
			cfg := testConfig(s.srv.URL, sl)
			cfg.MaxAttempts = 10
			cfg.Jitter = func(d time.Duration) time.Duration { bounds = append(bounds, d); return tt.jitter(d) }
			c := newClient(t, cfg)
			rec, err := c.PlaceOrder(t.Context(), order("card-7"))
			is.NoErr(err)
			is.Equal(rec, ports.ProviderReceipt{OrderID: "O-1", State: ports.StateOrdered})
			want := make([]time.Duration, len(tt.wantSleep))
			for i, d := range tt.wantSleep {
				want[i] = d * time.Millisecond
			}
			if d := cmp.Diff(want, sl.All()); d != "" {
				t.Errorf("sleeps (-want +got):\n%s", d)
			}
			// The jitter is drawn below the exponential bound, capped at MaxBackoff.
			is.Equal(bounds[len(bounds)-1], min(100*time.Millisecond<<(len(bounds)-1), time.Second))
			// Every attempt sent the same body under the same key.
			s.mu.Lock()
			defer s.mu.Unlock()
			is.Equal(len(s.bodies), tt.failures+1)
			for i := range s.bodies {
				is.Equal(s.bodies[i], s.bodies[0])
				is.Equal(s.keys[i], "card-7")
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	is := is.New(t)
	s := newScripted(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 503, ``) })
	sl := &sleeps{}
	cfg := testConfig(s.srv.URL, sl)
	cfg.MaxAttempts = 4
	c := newClient(t, cfg)
	_, err := c.PlaceOrder(t.Context(), order("c1"))
	is.True(errors.Is(err, ports.ErrUnavailable))
	is.True(strings.Contains(err.Error(), "4 attempts, last: HTTP 503"))
	_, api := s.counts()
	is.Equal(api, 4)
	is.Equal(len(sl.All()), 3)
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"honoured", "2", 2 * time.Second},
		{"at the cap: honoured", "5", 5 * time.Second},
		{"zero", "0", 1},
		{"missing: backoff", "", 100 * time.Millisecond},
		{"garbage: backoff", "soon", 100 * time.Millisecond},
		{"negative: backoff", "-3", 100 * time.Millisecond},
		{"http date in the past", "Mon, 02 Jan 2006 15:04:05 GMT", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			s := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					reply(w, 429, `{"error":"slow down"}`)
					return
				}
				reply(w, 201, `{"orderId":"O-1","status":"ORDERED"}`)
			})
			sl := &sleeps{}
			c := newClient(t, testConfig(s.srv.URL, sl))
			_, err := c.PlaceOrder(t.Context(), order("c1"))
			is.NoErr(err)
			is.Equal(sl.All(), []time.Duration{tt.want})
		})
	}
}

// A Retry-After beyond RetryAfterCap ends the call at once: no wait, no second attempt, and the
// bureau's full wait is passed on so the domain holds the card back until then.
func TestRetryAfterBeyondCap(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"just over the cap", "6", 6 * time.Second},
		{"an hour", "3600", time.Hour},
		{"huge", "99999999999999999999", time.Duration((1<<63-1)/time.Second) * time.Second},
		{"http date", time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			s := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", tt.retryAfter)
					reply(w, 429, `{"error":"slow down"}`)
					return
				}
				reply(w, 201, `{"orderId":"O-1","status":"ORDERED"}`)
			})
			sl := &sleeps{}
			c := newClient(t, testConfig(s.srv.URL, sl))
			_, err := c.PlaceOrder(t.Context(), order("c1"))
			is.True(errors.Is(err, ports.ErrUnavailable))
			var later *ports.RetryLaterError
			is.True(errors.As(err, &later))
			if tt.want != 0 {
				is.Equal(later.After, tt.want)
			} else {
				is.True(later.After > 115*time.Minute && later.After <= 2*time.Hour) // the date, not the cap
			}
			is.Equal(len(sl.All()), 0) // no wait within the call
			_, api := s.counts()
			is.Equal(api, 1) // and no second attempt
		})
	}
}

func TestTransportFailures(t *testing.T) {
	t.Run("connection cut after the bureau accepted", func(t *testing.T) {
		is := is.New(t)
		h := newFakeHarness(t, gocardsfake.Config{Faults: gocardsfake.Faults{CutRate: 1}}, nil)
		rec, err := h.client.PlaceOrder(t.Context(), order("c1"))
		is.NoErr(err)
		is.Equal(rec.OrderID, "O-1")
		st := h.fake.Stats()
		is.Equal(st.Orders, 1)
		is.Equal(st.Cuts, 1)
		is.Equal(st.Duplicates, 0)
	})
	t.Run("bureau not listening", func(t *testing.T) {
		is := is.New(t)
		s := newScripted(t, nil)
		url := s.srv.URL
		s.srv.Close()
		sl := &sleeps{}
		cfg := testConfig(url, sl)
		cfg.MaxAttempts = 3
		c := newClient(t, cfg)
		_, err := c.PlaceOrder(t.Context(), order("c1"))
		is.True(errors.Is(err, ports.ErrUnavailable))
		is.Equal(len(sl.All()), 2)
	})
}

func TestOrderStatusMapping(t *testing.T) {
	tests := []struct {
		status gocardsfake.Status
		reason string
		want   ports.OrderStatus
	}{
		{gocardsfake.StatusOrdered, "", ports.OrderStatus{State: ports.StateOrdered}},
		{gocardsfake.StatusInProduction, "", ports.OrderStatus{State: ports.StateInProduction}},
		{gocardsfake.StatusProduced, "", ports.OrderStatus{State: ports.StateProduced, CardNumber: "C-00000001",
			Readouts: []ports.Readout{{Type: "MIFARE_UID"}}}},
		{gocardsfake.StatusShipped, "", ports.OrderStatus{State: ports.StateProduced, CardNumber: "C-00000001",
			Readouts: []ports.Readout{{Type: "MIFARE_UID"}}}},
		{gocardsfake.StatusFailed, "chip defect", ports.OrderStatus{State: ports.StateFailed, Reason: "chip defect"}},
		{gocardsfake.StatusCancelled, "", ports.OrderStatus{State: ports.StateFailed, Reason: "cancelled by the bureau"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			is := is.New(t)
			h := newFakeHarness(t, gocardsfake.Config{}, nil)
			ctx := t.Context()
			rec, err := h.client.PlaceOrder(ctx, order("card-1"))
			is.NoErr(err)
			if tt.status == gocardsfake.StatusFailed {
				is.NoErr(h.fake.Fail(ctx, rec.OrderID, tt.reason))
			} else {
				is.NoErr(h.fake.Advance(ctx, rec.OrderID, tt.status))
			}
			got, err := h.client.OrderStatus(ctx, rec.OrderID)
			is.NoErr(err)
			want := tt.want
			want.OrderID, want.ExternalReference = rec.OrderID, "card-1"
			if want.CardNumber != "" {
				is.True(got.ValidThru != "")
				is.True(len(got.Readouts) == 1 && got.Readouts[0].UID != "")
				want.ValidThru = got.ValidThru
				want.Readouts[0].UID = got.Readouts[0].UID
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("status (-want +got):\n%s", d)
			}
		})
	}
	t.Run("unknown order", func(t *testing.T) {
		is := is.New(t)
		h := newFakeHarness(t, gocardsfake.Config{}, nil)
		_, err := h.client.OrderStatus(t.Context(), "O-404")
		is.True(errors.Is(err, ports.ErrNotFound))
		_, err = h.client.OrderStatus(t.Context(), "")
		is.True(errors.Is(err, ports.ErrNotFound))
	})
	t.Run("id is path-escaped", func(t *testing.T) {
		is := is.New(t)
		var got string
		s := newScripted(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			got = r.URL.EscapedPath()
			reply(w, 200, `{"orderId":"a/b?c","status":"ORDERED"}`)
		})
		c := newClient(t, testConfig(s.srv.URL, &sleeps{}))
		st, err := c.OrderStatus(t.Context(), "a/b?c")
		is.NoErr(err)
		is.Equal(st.OrderID, "a/b?c")
		is.Equal(got, "/api/orders/a%2Fb%3Fc")
	})
}

func TestMalformedResponses(t *testing.T) {
	const big = 2048
	tests := []struct {
		name   string
		call   string // "place", "status", "layout"
		status int
		body   string
	}{
		{"place: truncated", "place", 201, `{"orderId":"O-1","sta`},
		{"place: not an object", "place", 201, `[]`},
		{"place: null", "place", 201, `null`},
		{"place: empty", "place", 201, ``},
		{"place: html", "place", 200, `<html>ok</html>`},
		{"place: wrong type", "place", 201, `{"orderId":5,"status":"ORDERED"}`},
		{"place: no order id", "place", 201, `{"status":"ORDERED"}`},
		{"place: unknown status", "place", 201, `{"orderId":"O-1","status":"SHREDDED"}`},
		{"place: lower-case status", "place", 201, `{"orderId":"O-1","status":"ordered"}`},
		{"place: trailing garbage", "place", 201, `{"orderId":"O-1","status":"ORDERED"} {}`},
		{"place: too large", "place", 201, `{"orderId":"O-1","status":"ORDERED","pad":"` + strings.Repeat("x", big) + `"}`},
		{"place: unexpected 404", "place", 404, `{}`},
		{"place: unexpected 302", "place", 302, ``},
		{"place: unexpected 501", "place", 501, ``},
		{"place: unexpected 418", "place", 418, ``},
		{"status: unknown status", "status", 200, `{"orderId":"O-1","status":"LOST"}`},
		{"status: other order", "status", 200, `{"orderId":"O-2","status":"ORDERED"}`},
		{"status: readouts not a list", "status", 200, `{"orderId":"O-1","status":"PRODUCED","readouts":{"type":"X"}}`},
		{"status: readout without type", "status", 200, `{"orderId":"O-1","status":"PRODUCED","readouts":[{"uid":"04"}]}`},
		{"status: null readout", "status", 200, `{"orderId":"O-1","status":"PRODUCED","readouts":[null]}`},
		{"status: error not a string", "status", 200, `{"orderId":"O-1","status":"FAILED","error":{"code":1}}`},
		{"status: unexpected 204", "status", 204, ``},
		{"layout: no layouts", "layout", 200, `{}`},
		{"layout: fields not a list", "layout", 200, `{"layouts":[{"layoutId":"L-100","inputFields":"FIRST_NAME"}]}`},
		{"layout: no id", "layout", 200, `{"layouts":[{"name":"x","inputFields":[]}]}`},
		{"layout: duplicate id", "layout", 200, `{"layouts":[{"layoutId":"L-100"},{"layoutId":"L-100"}]}`},
		{"layout: negative maxLength", "layout", 200, `{"layouts":[{"layoutId":"L-100","inputFields":[{"name":"A","maxLength":-1}]}]}`},
		{"layout: maxLength float", "layout", 200, `{"layouts":[{"layoutId":"L-100","inputFields":[{"name":"A","maxLength":1.5}]}]}`},
		{"layout: unexpected 404", "layout", 404, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			s := newScripted(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, tt.status, tt.body) })
			sl := &sleeps{}
			cfg := testConfig(s.srv.URL, sl)
			cfg.MaxResponseBytes = big
			c := newClient(t, cfg)
			var err error
			switch tt.call {
			case "place":
				_, err = c.PlaceOrder(t.Context(), order("c1"))
			case "status":
				_, err = c.OrderStatus(t.Context(), "O-1")
			case "layout":
				_, err = c.Layout(t.Context(), "L-100")
			}
			is.True(errors.Is(err, ports.ErrProtocol))
			is.Equal(len(sl.All()), 0) // not retried
		})
	}
}

func TestLayout(t *testing.T) {
	is := is.New(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newFakeHarness(t, gocardsfake.Config{}, func(c *gocards.Config) {
		c.Clock = ports.ClockFunc(func() time.Time { return now })
		c.LayoutTTL = 5 * time.Minute
	})
	ctx := t.Context()
	l, err := h.client.Layout(ctx, "L-100")
	is.NoErr(err)
	want := ports.Layout{ID: "L-100", Name: "Employee card", Fields: []ports.LayoutField{
		{Name: "FIRST_NAME", Required: true, MaxLength: 40},
		{Name: "LAST_NAME", Required: true, MaxLength: 40},
		{Name: "COMMON_NAME", Required: true, MaxLength: 64},
		{Name: "UPN", MaxLength: 128},
		{Name: "EMAIL", MaxLength: 128},
		{Name: "DEPARTMENT", MaxLength: 64},
		{Name: "EMPLOYEE_NUMBER", MaxLength: 32},
	}}
	if d := cmp.Diff(want, l); d != "" {
		t.Errorf("layout (-want +got):\n%s", d)
	}
	l.Fields[0].Name = "MUTATED" // the caller's copy

	_, err = h.client.Layout(ctx, "L-999")
	is.True(errors.Is(err, ports.ErrNotFound))
	temp, err := h.client.Layout(ctx, "L-TEMP")
	is.NoErr(err)
	is.Equal(temp.Fields[0].Name, "TEMPORARY")
	requests := h.fake.Stats().Requests
	is.Equal(requests, 2) // one token, one layout list: cached

	h.fake.SetLayouts([]gocardsfake.Layout{{ID: "L-200", Name: "New"}})
	now = now.Add(4 * time.Minute)
	again, err := h.client.Layout(ctx, "L-100")
	is.NoErr(err)
	is.Equal(again.Fields[0].Name, "FIRST_NAME")
	now = now.Add(2 * time.Minute) // stale: fetched again
	_, err = h.client.Layout(ctx, "L-100")
	is.True(errors.Is(err, ports.ErrNotFound))
	_, err = h.client.Layout(ctx, "L-200")
	is.NoErr(err)
	is.Equal(h.fake.Stats().Requests, 3)
}

func TestPlaceOrderNeedsKey(t *testing.T) {
	is := is.New(t)
	h := newFakeHarness(t, gocardsfake.Config{}, nil)
	o := order("c1")
	o.IdempotencyKey = ""
	_, err := h.client.PlaceOrder(t.Context(), o)
	is.True(err != nil)
	is.Equal(h.fake.Stats().Requests, 0)
}

func TestRedirectIsNotFollowed(t *testing.T) {
	is := is.New(t)
	s := newScripted(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			http.Redirect(w, r, "/api/orders/O-1", http.StatusSeeOther)
			return
		}
		reply(w, 200, `{"orderId":"O-1","status":"ORDERED"}`)
	})
	c := newClient(t, testConfig(s.srv.URL, &sleeps{}))
	_, err := c.PlaceOrder(t.Context(), order("c1"))
	is.True(errors.Is(err, ports.ErrProtocol))
	_, api := s.counts()
	is.Equal(api, 1)
}
