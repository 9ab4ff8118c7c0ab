package scim

import (
	"maps"
	"sync"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// cache keeps users read for a short while. An entry is served only strictly before its
// expiry, so no user is served past the TTL. Users go in and out as copies.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[string]cacheEntry
}

type cacheEntry struct {
	user    ports.User
	expires time.Time
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[string]cacheEntry)}
}

func (c *cache) get(key string, now time.Time) (ports.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return ports.User{}, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, key)
		return ports.User{}, false
	}
	return copyUser(e.user), true
}

func (c *cache) put(key string, u ports.User, expires, now time.Time) {
	if !now.Before(expires) {
		return // the request took longer than the TTL: the answer is already too old to keep
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		for len(c.entries) >= c.max {
			// the entry that expires first: the oldest read
			var oldest string
			var at time.Time
			for k, e := range c.entries {
				if at.IsZero() || e.expires.Before(at) {
					oldest, at = k, e.expires
				}
			}
			delete(c.entries, oldest)
		}
	}
	c.entries[key] = cacheEntry{user: copyUser(u), expires: expires}
}

// copyUser copies the user's address and attributes, so neither the cache nor its callers see
// the other's later changes.
func copyUser(u ports.User) ports.User {
	if u.DeliveryAddress != nil {
		a := *u.DeliveryAddress
		u.DeliveryAddress = &a
	}
	u.Attributes = maps.Clone(u.Attributes)
	return u
}
