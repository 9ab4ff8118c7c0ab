package gocards_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/ports"
)

// downApplier fails every status transiently.
type downApplier struct{}

func (downApplier) ApplyOrderStatus(context.Context, ports.OrderStatus) (bool, error) {
	return false, errors.New("store: connection refused")
}

// TestServeEventRefusals: ServeEvent writes nothing for a refusal but its headers and returns
// an *EventError whose cause an API maps to its own error format; ServeHTTP answers the same
// refusal with the status.
func TestServeEventRefusals(t *testing.T) {
	status := `{"eventId":"e2","created":"2025-03-01T09:00:00Z","topic":"ORDER_STATUS_CHANGED",` +
		`"data":{"orderId":"O-9","externalReference":"c-9","status":"IN_PRODUCTION"}}`
	var tooLarge *http.MaxBytesError
	for _, tt := range []struct {
		name, method, body, sig string
		status                  int
		cause                   func(error) bool
		header, value           string
	}{
		{"not a POST", http.MethodGet, "", "", http.StatusMethodNotAllowed,
			func(err error) bool { return errors.Is(err, gocards.ErrMethod) }, "Allow", "POST"},
		{"too large", http.MethodPost, strings.Repeat(" ", 100), "", http.StatusRequestEntityTooLarge,
			func(err error) bool { return errors.As(err, &tooLarge) }, "", ""},
		{"bad signature", http.MethodPost, status, "sha256=00", http.StatusUnauthorized,
			func(err error) bool { return errors.Is(err, ports.ErrUnauthenticated) }, "", ""},
		{"malformed", http.MethodPost, `{"eventId":""}`, "sign", http.StatusBadRequest,
			func(err error) bool { return errors.Is(err, ports.ErrProtocol) }, "", ""},
		{"applier down", http.MethodPost, status, "sign", http.StatusServiceUnavailable,
			func(err error) bool { return errors.Is(err, ports.ErrUnavailable) }, "Retry-After", "5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			h, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: downApplier{}, MaxBodyBytes: 64})
			is.NoErr(err)
			if len(tt.body) > 64 && tt.status != http.StatusRequestEntityTooLarge {
				h, err = gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: downApplier{}})
				is.NoErr(err)
			}
			req := func() *http.Request {
				r := httptest.NewRequest(tt.method, "/events", strings.NewReader(tt.body))
				sig := tt.sig
				if sig == "sign" {
					sig = gocards.SignBody(secret, []byte(tt.body))
				}
				r.Header.Set(gocards.SignatureHeader, sig)
				return r
			}
			rec := httptest.NewRecorder()
			err = h.ServeEvent(rec, req())
			var ee *gocards.EventError
			is.True(errors.As(err, &ee))
			is.Equal(ee.Status, tt.status)
			is.True(tt.cause(err))
			is.Equal(rec.Body.Len(), 0) // nothing written but headers: the caller answers
			if tt.header != "" {
				is.Equal(rec.Header().Get(tt.header), tt.value)
			}
			is.True(!strings.Contains(err.Error(), "IN_PRODUCTION")) // the body is not quoted

			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, req())
			is.Equal(rec.Code, tt.status)
		})
	}
}
