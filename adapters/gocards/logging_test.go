package gocards_test

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/internal/logbuf"
)

// TestLogsHoldNoPersonalData drives retries, refusals, token refreshes and events with debug
// logging on and checks that no name, email, UPN, address, cost centre or photo reaches the log.
func TestLogsHoldNoPersonalData(t *testing.T) {
	is := is.New(t)
	var buf logbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))

	applier := newStatusApplier()
	events, err := gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: secret, Applier: applier, Logger: logger})
	is.NoErr(err)
	es := httptest.NewServer(events)
	defer es.Close()
	h := newFakeHarness(t, gocardsfake.Config{Seed: 3, CallbackURL: es.URL, EventSecret: secret,
		Faults: gocardsfake.Faults{FailRate: 0.5, RateLimitRate: 0.2, CutRate: 0.5}},
		func(c *gocards.Config) { c.Logger = logger; c.MaxAttempts = 50 })
	ctx := t.Context()

	rec, err := h.client.PlaceOrder(ctx, fullOrder("card-1"))
	is.NoErr(err)
	h.fake.RevokeTokens()
	bad := fullOrder("card-2")
	bad.Elements["FIRST_NAME"] = strings.Repeat("Ada", 20)
	_, err = h.client.PlaceOrder(ctx, bad)
	is.True(err != nil)
	_ = h.fake.Fail(ctx, rec.OrderID, "chip defect") // unknown card to the applier: logged, 204
	body := []byte(`{"eventId":"x","topic":"ORDER_STATUS_CHANGED","data":{"orderId":"O-1","externalReference":"ada@example.com","status":"LOST"}}`)
	req, _ := http.NewRequest(http.MethodPost, es.URL, bytes.NewReader(body))
	req.Header.Set(gocards.SignatureHeader, gocards.SignBody(secret, body))
	resp, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	resp.Body.Close()
	is.Equal(resp.StatusCode, http.StatusBadRequest)

	out := buf.String()
	is.True(strings.Contains(out, "retrying"))       // the log is not empty ...
	is.True(strings.Contains(out, "order rejected")) // ... and covers refusals
	for _, personal := range []string{"Ada", "Lovelace", "ada@", "corp.example", "James", "SW1Y", "London", "CC-4711",
		base64.StdEncoding.EncodeToString(jpeg)[:8]} {
		if strings.Contains(out, personal) {
			t.Errorf("log contains %q:\n%s", personal, out)
		}
	}
}
