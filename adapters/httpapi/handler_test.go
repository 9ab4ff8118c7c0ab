package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/httpapi"
)

func TestNewValidatesConfig(t *testing.T) {
	is := is.New(t)
	_, err := httpapi.New(httpapi.Config{})
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "Service is required"))
	is.True(strings.Contains(err.Error(), "Auth is required"))
}

func TestCursorRoundTrip(t *testing.T) {
	is := is.New(t)
	for _, v := range []int64{1, 42, 1 << 40, 1<<63 - 1} {
		got, ok := httpapi.DecodeCursor(httpapi.EncodeCursor(v))
		is.True(ok)
		is.Equal(got, v)
	}
	_, ok := httpapi.DecodeCursor(httpapi.EncodeCursor(0))
	is.True(!ok)
	_, ok = httpapi.DecodeCursor(httpapi.EncodeCursor(-1))
	is.True(!ok)
	var b []byte
	b, _ = json.Marshal(httpapi.EncodeCursor(1 << 40))
	is.True(!strings.ContainsAny(string(b), "+/="))
}
