package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/memory"
)

func TestMemoryIdempotency(t *testing.T) {
	is := is.New(t)
	clock := memory.NewClock(t0)
	m := httpapi.NewMemoryIdempotency(clock, 24*time.Hour)
	ctx := context.Background()

	// Nothing remembered: the key is held, then forgotten on unlock.
	_, found, unlock, err := m.Lock(ctx, "k")
	is.NoErr(err)
	is.True(!found)
	is.Equal(m.Len(), 1)
	unlock()
	unlock() // idempotent
	is.Equal(m.Len(), 0)

	// Remembered: found until the TTL passes, then swept.
	_, _, unlock, err = m.Lock(ctx, "k")
	is.NoErr(err)
	is.NoErr(m.Remember(ctx, "k", httpapi.Remembered{Fingerprint: "f", Body: []byte("{}"), At: clock.Now()}))
	unlock()
	rec, found, unlock, err := m.Lock(ctx, "k")
	is.NoErr(err)
	is.True(found)
	is.Equal(rec.Fingerprint, "f")
	unlock()
	clock.Advance(24 * time.Hour)
	_, found, unlock, err = m.Lock(ctx, "other") // sweeps "k"
	is.NoErr(err)
	is.True(!found)
	unlock()
	is.Equal(m.Len(), 0)

	// A waiter whose context ends gives up and leaves nothing behind.
	_, _, unlock, err = m.Lock(ctx, "busy")
	is.NoErr(err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _, _, err = m.Lock(cctx, "busy")
	is.Equal(err, context.Canceled)
	unlock()
	is.Equal(m.Len(), 0)
}
