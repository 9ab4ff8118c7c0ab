package gocards_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/ports"
)

// bubbleClient returns a client that reaches h in memory and waits with real timers, which
// synctest fakes.
func bubbleClient(t *testing.T, h http.Handler, mod func(*gocards.Config)) *gocards.Client {
	cfg := gocards.Config{
		BaseURL:        "http://bureau.test",
		ClientID:       gocardsfake.DefaultClientID,
		ClientSecret:   gocardsfake.DefaultClientSecret,
		OrganisationID: gocardsfake.DefaultOrganisationID,
		HTTPClient:     &http.Client{Transport: handlerTransport{h}},
		Jitter:         maxJitter,
	}
	if mod != nil {
		mod(&cfg)
	}
	return newClient(t, cfg)
}

func TestBackoffRealTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		fake := gocardsfake.New(gocardsfake.Config{Faults: gocardsfake.Faults{FailRate: 1}})
		c := bubbleClient(t, fake, func(c *gocards.Config) {
			c.BaseBackoff, c.MaxBackoff, c.MaxAttempts = time.Second, 4*time.Second, 5
		})
		start := time.Now()
		_, err := c.PlaceOrder(t.Context(), order("c1"))
		is.True(errors.Is(err, ports.ErrUnavailable))
		// Waits of 1, 2, 4 and 4 s (jitter at its upper bound), nothing after the last attempt.
		is.Equal(time.Since(start), 11*time.Second)
		is.Equal(fake.Stats().Injected5xx, 5)
	})
}

func TestRetryAfterRealTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		fake := gocardsfake.New(gocardsfake.Config{Faults: gocardsfake.Faults{RateLimitRate: 1, RetryAfterSeconds: 120}})
		c := bubbleClient(t, fake, func(c *gocards.Config) { c.RetryAfterCap, c.MaxAttempts = 120*time.Second, 3 })
		start := time.Now()
		_, err := c.PlaceOrder(t.Context(), order("c1"))
		is.True(errors.Is(err, ports.ErrUnavailable))
		is.Equal(time.Since(start), 240*time.Second) // two waits of 120 s, within the cap
		is.Equal(fake.Stats().Injected429, 3)
	})
	t.Run("beyond the cap", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			is := is.New(t)
			fake := gocardsfake.New(gocardsfake.Config{Faults: gocardsfake.Faults{RateLimitRate: 1, RetryAfterSeconds: 120}})
			c := bubbleClient(t, fake, func(c *gocards.Config) { c.RetryAfterCap, c.MaxAttempts = 30*time.Second, 3 })
			start := time.Now()
			_, err := c.PlaceOrder(t.Context(), order("c1"))
			is.True(errors.Is(err, ports.ErrUnavailable))
			var later *ports.RetryLaterError
			is.True(errors.As(err, &later))
			is.Equal(later.After, 120*time.Second) // the bureau's wait, not the cap
			is.Equal(time.Since(start), time.Duration(0))
			is.Equal(fake.Stats().Injected429, 1)
		})
	})
}

func TestCancelMidWait(t *testing.T) {
	tests := []struct {
		name   string
		faults gocardsfake.Faults
		cancel func(context.Context) (context.Context, context.CancelFunc)
		want   error
		after  time.Duration
	}{
		{"deadline during backoff", gocardsfake.Faults{FailRate: 1},
			func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, 10*time.Minute)
			}, context.DeadlineExceeded, 10 * time.Minute},
		{"cancel during Retry-After", gocardsfake.Faults{RateLimitRate: 1, RetryAfterSeconds: 3600},
			func(ctx context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(ctx)
				time.AfterFunc(90*time.Second, cancel)
				return ctx, cancel
			}, context.Canceled, 90 * time.Second},
		{"cancel during latency", gocardsfake.Faults{Latency: time.Hour},
			func(ctx context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(ctx)
				time.AfterFunc(time.Second, cancel)
				return ctx, cancel
			}, context.Canceled, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				fake := gocardsfake.New(gocardsfake.Config{Faults: tt.faults})
				c := bubbleClient(t, fake, func(c *gocards.Config) {
					c.BaseBackoff, c.MaxBackoff, c.MaxAttempts = time.Hour, time.Hour, 1000
					c.RetryAfterCap = 2 * time.Hour
					c.AttemptTimeout = 2 * time.Hour
				})
				ctx, cancel := tt.cancel(t.Context())
				defer cancel()
				start := time.Now()
				_, err := c.PlaceOrder(ctx, order("c1"))
				is.True(errors.Is(err, tt.want))
				is.True(errors.Is(err, ports.ErrUnavailable)) // outcome unknown
				is.Equal(time.Since(start), tt.after)         // returned at once
			})
		})
	}
}

func TestCancelWhileWaitingForToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		fake := gocardsfake.New(gocardsfake.Config{})
		release := make(chan struct{})
		slowToken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/oauth/token" {
				<-release
			}
			fake.ServeHTTP(w, r)
		})
		c := bubbleClient(t, slowToken, nil)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := c.PlaceOrder(ctx, order("c1"))
		is.True(errors.Is(err, context.DeadlineExceeded))
		close(release)
		synctest.Wait()
		// The shared token fetch finished for the next caller.
		_, err = c.PlaceOrder(t.Context(), order("c1"))
		is.NoErr(err)
		is.Equal(fake.Stats().TokensIssued, 1)
	})
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		fake := gocardsfake.New(gocardsfake.Config{})
		calls := 0
		hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/orders" {
				calls++
				if calls == 1 {
					<-r.Context().Done() // the bureau never answers the first attempt
					return
				}
			}
			fake.ServeHTTP(w, r)
		})
		c := bubbleClient(t, hang, func(c *gocards.Config) {
			c.AttemptTimeout, c.BaseBackoff = 20*time.Second, time.Second
		})
		start := time.Now()
		rec, err := c.PlaceOrder(t.Context(), order("c1"))
		is.NoErr(err)
		is.Equal(rec.OrderID, "O-1")
		is.Equal(time.Since(start), 21*time.Second) // the attempt timed out, then one backoff
	})
}
