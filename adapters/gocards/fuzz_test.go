package gocards

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

var statusSeeds = []string{
	`{"orderId":"O-1","externalReference":"card-1","status":"ORDERED"}`,
	`{"orderId":"O-1","externalReference":"card-1","status":"PRODUCED","cardNumber":"C-1","productionDate":"2030-01-01T00:00:00Z","validThru":"2035-01","readouts":[{"type":"MIFARE_UID","uid":"04A1"}]}`,
	`{"orderId":"O-1","status":"FAILED","error":"chip defect"}`,
	`{"orderId":"O-1","status":"CANCELLED"}`,
	`{"orderId":"O-1","status":"SHIPPED","readouts":[null]}`,
	`{"orderId":"O-1","status":"IN_PRODUCTION","readouts":{}}`,
	`{"orderId":1}`, `null`, `[]`, `{`, `{"orderId":"O-1","status":"ORDERED"} x`, "",
	"{\"orderId\":\"O-\xff\",\"status\":\"ORDERED\"}",
}

// FuzzDecodeOrderStatus: any bureau status body decodes to a mapped status or a protocol
// error, never a panic.
func FuzzDecodeOrderStatus(f *testing.F) {
	for _, s := range statusSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeOrderStatus(b)
		if err != nil {
			if !errors.Is(err, ports.ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		if st.OrderID == "" {
			t.Fatal("decoded a status without an order id")
		}
		switch st.State {
		case ports.StateOrdered, ports.StateInProduction, ports.StateProduced:
			if st.Reason != "" {
				t.Fatal("reason on a non-failed status")
			}
		case ports.StateFailed:
			if st.Reason == "" {
				t.Fatal("failed status without a reason")
			}
		default:
			t.Fatalf("unmapped state %q", st.State)
		}
	})
}

// FuzzDecodeResponses: the receipt, layout and token decoders never panic and fail only with
// protocol errors.
func FuzzDecodeResponses(f *testing.F) {
	for _, s := range []string{
		`{"orderId":"O-1","status":"ORDERED","created":"2030-01-01T00:00:00Z"}`,
		`{"layouts":[{"layoutId":"L-100","name":"x","inputFields":[{"name":"A","required":true,"maxLength":4}]}]}`,
		`{"layouts":[{"layoutId":"L-100"},{"layoutId":"L-100"}]}`,
		`{"access_token":"t","token_type":"Bearer","expires_in":3600}`,
		`{"error":"bad","fields":{"A":"too long"}}`, `{"error":5}`, `{"layouts":null}`, `0`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(err error) {
			if err != nil && !errors.Is(err, ports.ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
		}
		r, err := decodeReceipt(b)
		check(err)
		if err == nil && (r.OrderID == "" || r.State == "") {
			t.Fatal("incomplete receipt")
		}
		ls, err := decodeLayouts(b)
		check(err)
		for id, l := range ls {
			if id == "" || l.ID != id {
				t.Fatal("layout keyed wrong")
			}
		}
		_, err = decodeToken(b)
		check(err)
		rej := decodeRejection(422, b)
		if rej.Reason == "" || rej.Status != 422 {
			t.Fatal("rejection without a reason")
		}
	})
}

type countingApplier struct{ n int }

func (a *countingApplier) ApplyOrderStatus(_ context.Context, s ports.OrderStatus) (bool, error) {
	a.n++
	if s.ExternalReference == "unknown" {
		return false, ports.ErrNotFound
	}
	return true, nil
}

// FuzzEventHandler: any validly signed body is answered 204 or 400, and the applier sees only
// well-formed statuses; the same body unsigned is always 401.
func FuzzEventHandler(f *testing.F) {
	for _, s := range statusSeeds {
		f.Add([]byte(`{"eventId":"e1","created":"2030-01-01T00:00:00Z","topic":"ORDER_STATUS_CHANGED","data":` + s + `}`))
	}
	f.Add([]byte(`{"eventId":"e2","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"unknown","status":"ORDERED"}}`))
	f.Add([]byte(`{"eventId":"e3","topic":"OTHER"}`))
	f.Add([]byte(`{"eventId":"","topic":"ORDER_STATUS_CHANGED"}`))
	secret := []byte("k")
	f.Fuzz(func(t *testing.T, body []byte) {
		a := &countingApplier{}
		h, err := NewEventHandler(EventHandlerConfig{Secret: secret, Applier: a})
		if err != nil {
			t.Fatal(err)
		}
		serve := func(sig string) int {
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			if sig != "" {
				req.Header.Set(SignatureHeader, sig)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		if code := serve(""); code != http.StatusUnauthorized {
			t.Fatalf("unsigned: %d", code)
		}
		code := serve(SignBody(secret, body))
		switch code {
		case http.StatusNoContent:
		case http.StatusBadRequest:
			if a.n != 0 {
				t.Fatal("applier called for a malformed event")
			}
		default:
			t.Fatalf("signed: %d", code)
		}
		calls := a.n
		if code == http.StatusNoContent && serve(SignBody(secret, body)) != http.StatusNoContent {
			t.Fatal("replay not answered 204")
		}
		if a.n != calls {
			t.Fatal("replay applied again")
		}
	})
}

func TestBackoffBounds(t *testing.T) {
	is := is.New(t)
	c, err := New(Config{BaseURL: "http://b", ClientID: "a", ClientSecret: "b", OrganisationID: "c",
		BaseBackoff: 100 * time.Millisecond, MaxBackoff: 3 * time.Second})
	is.NoErr(err)
	want := []time.Duration{100, 200, 400, 800, 1600, 3000, 3000}
	for i, w := range want {
		is.Equal(c.backoff(i+1), w*time.Millisecond)
	}
	is.Equal(c.backoff(500), 3*time.Second) // no overflow
}

func TestFullJitterIsUniform(t *testing.T) {
	is := is.New(t)
	const max = 1000 * time.Nanosecond
	var lo, hi int
	for range 10000 {
		d := fullJitter(max)
		is.True(d >= 0 && d <= max)
		if d < max/2 {
			lo++
		} else {
			hi++
		}
	}
	is.True(lo > 4000 && hi > 4000) // both halves drawn: full jitter, not equal jitter
	is.Equal(fullJitter(0), time.Duration(0))
}
