package scim_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/scim"
	"github.com/cardsaddon/extprod/adapters/scim/scimtest"
	"github.com/cardsaddon/extprod/ports"
)

// TestCacheTTL: with a cache, a user read is served from memory until the TTL after its read
// began and never later: a user deleted meanwhile is served until then and not found after.
// The real SCIM server runs in process inside a synctest bubble, where time is fake.
func TestCacheTTL(t *testing.T) {
	const ttl = 30 * time.Second
	for _, key := range []string{scim.KeyID, scim.KeyUserName} {
		t.Run(key, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				d := scimtest.NewInProcess(t)
				id := d.Create(resource(withOrigin(d, adaMembers)))
				cfg := config(d)
				cfg.KeyAttribute = key
				cfg.CacheTTL = ttl
				dir := open(t, cfg)
				asked := map[string]string{scim.KeyID: id, scim.KeyUserName: adaUserName}[key]

				first, err := dir.User(t.Context(), asked)
				is.NoErr(err)
				before := d.Requests()
				d.Delete(id)

				time.Sleep(ttl - time.Nanosecond) // fake time: the last moment the entry is fresh
				cached, err := dir.User(t.Context(), asked)
				is.NoErr(err) // served from the cache
				if diff := cmp.Diff(first, cached); diff != "" {
					t.Errorf("cached user (-first +cached):\n%s", diff)
				}
				is.Equal(d.Requests(), before+1) // only the delete reached the directory

				time.Sleep(time.Nanosecond) // the TTL has passed
				_, err = dir.User(t.Context(), asked)
				is.True(errors.Is(err, ports.ErrNotFound)) // asked the directory again
				is.Equal(d.Requests(), before+2)
			})
		})
	}
}

// TestCacheOffByDefault: without CacheTTL every read asks the directory.
func TestCacheOffByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		d := scimtest.NewInProcess(t)
		id := d.Create(resource(linusMembers))
		dir := open(t, config(d))
		before := d.Requests()
		for range 3 {
			_, err := dir.User(t.Context(), id)
			is.NoErr(err)
		}
		is.Equal(d.Requests(), before+3)
	})
}

// TestCacheCopies: what the cache hands out is the caller's copy.
func TestCacheCopies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		d := scimtest.NewInProcess(t)
		id := d.Create(resource(withOrigin(d, adaMembers)))
		cfg := config(d)
		cfg.CacheTTL = time.Minute
		dir := open(t, cfg)
		u, err := dir.User(t.Context(), id)
		is.NoErr(err)
		u.DeliveryAddress.City = "changed"
		u.Attributes["title"] = "changed"
		again, err := dir.User(t.Context(), id)
		is.NoErr(err)
		is.Equal(again.DeliveryAddress.City, "London")
		is.Equal(again.Attributes["title"], "Analyst")
	})
}

// TestCacheSlowRead: the TTL counts from when the read began, so an answer that took longer
// than the TTL is not cached at all.
func TestCacheSlowRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		d := scimtest.NewInProcess(t)
		id := d.Create(resource(linusMembers))
		const ttl = 5 * time.Second
		cfg := config(d)
		cfg.CacheTTL = ttl
		cfg.Timeout = time.Minute
		slow := true
		cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if slow {
				time.Sleep(ttl) // fake time: the directory takes the whole TTL to answer
			}
			return d.Client.Transport.RoundTrip(r)
		})}
		dir := open(t, cfg)
		before := d.Requests()
		_, err := dir.User(t.Context(), id)
		is.NoErr(err)
		slow = false
		_, err = dir.User(t.Context(), id)
		is.NoErr(err)
		is.Equal(d.Requests(), before+2) // the first answer was too old to cache
	})
}

// TestCacheBounded: a full cache makes room by dropping its oldest entry.
func TestCacheBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		is := is.New(t)
		d := scimtest.NewInProcess(t)
		ids := []string{d.Create(resource(linusMembers)), d.Create(resource(margaretMembers)), d.Create(resource(withOrigin(d, graceMembers)))}
		cfg := config(d)
		cfg.CacheTTL = time.Minute
		cfg.CacheMaxEntries = 2
		dir := open(t, cfg)
		for _, id := range ids {
			_, err := dir.User(t.Context(), id)
			is.NoErr(err)
			time.Sleep(time.Second) // fake time: the reads have an order
		}
		for _, tc := range []struct {
			id       string
			requests int64
		}{{ids[1], 0}, {ids[2], 0}, {ids[0], 1}, {ids[2], 0}, {ids[1], 1}} {
			before := d.Requests()
			_, err := dir.User(t.Context(), tc.id)
			is.NoErr(err)
			is.Equal(d.Requests()-before, tc.requests) // requests for this read
		}
	})
}

// TestTimeoutExact: Config.Timeout ends a request that gets no answer at exactly the timeout
// (fake time), and the default is DefaultTimeout.
func TestTimeoutExact(t *testing.T) {
	for _, tc := range []struct {
		timeout, want time.Duration
	}{{0, scim.DefaultTimeout}, {3 * time.Second, 3 * time.Second}} {
		t.Run(tc.want.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				is := is.New(t)
				cfg := scim.Config{BaseURL: "http://scim.test/v2", Token: scimtest.Token, Timeout: tc.timeout}
				cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					<-r.Context().Done() // a directory that never answers
					return nil, r.Context().Err()
				})}
				start := time.Now()
				_, err := open(t, cfg).User(t.Context(), "u1")
				is.Equal(time.Since(start), tc.want)
				is.True(errors.Is(err, ports.ErrUnavailable))
				is.True(errors.Is(err, context.DeadlineExceeded))
			})
		})
	}
}

// TestConcurrentReads: the directory and its cache are safe for concurrent use (run with -race).
func TestConcurrentReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := scimtest.NewInProcess(t)
		ids := []string{d.Create(resource(linusMembers)), d.Create(resource(withOrigin(d, adaMembers)))}
		cfg := config(d)
		cfg.CacheTTL = time.Second
		cfg.CacheMaxEntries = 1
		dir := open(t, cfg)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				for j := range 20 {
					if _, err := dir.User(t.Context(), ids[(i+j)%2]); err != nil {
						t.Error(err)
					}
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
		wg.Wait()
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
