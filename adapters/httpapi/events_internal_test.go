package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/cardsaddon/extprod/ports"
)

// TestEventErrorCodes: an EventServer's refusal gets the code its cause calls for, whatever
// status the events handler would have answered; an unknown cause is an internal failure.
func TestEventErrorCodes(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("sig: %w", ports.ErrUnauthenticated), "unauthenticated"},
		{fmt.Errorf("x: %w", &http.MaxBytesError{Limit: 10}), "payload_too_large"},
		{fmt.Errorf("busy: %w", ports.ErrUnavailable), "unavailable"},
		{fmt.Errorf("bad: %w", ports.ErrProtocol), "bad_request"},
		{errors.New("something else"), "internal"},
	} {
		p, internal := problemOf(eventError(tt.err))
		if p.Code != tt.code || internal != (tt.code == "internal") {
			t.Errorf("%v: code %s (internal %v), want %s", tt.err, p.Code, internal, tt.code)
		}
	}
}
