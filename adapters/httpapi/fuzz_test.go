package httpapi_test

import (
	"testing"

	"github.com/cardsaddon/extprod/adapters/httpapi"
)

// FuzzCursor checks that any cursor either decodes to a positive position or is refused.
func FuzzCursor(f *testing.F) {
	for _, s := range []string{"", "AAAAAAAAAAE", httpapi.EncodeCursor(7), "////////////", "AAAAAAAAAAE="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := httpapi.DecodeCursor(s)
		if ok && (v <= 0 || httpapi.EncodeCursor(v) != s) {
			t.Fatalf("cursor %q decoded to %d", s, v)
		}
	})
}
