package scim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/scim"
)

// TestConfig: New refuses an invalid config and names what is wrong.
func TestConfig(t *testing.T) {
	ok := scim.Config{BaseURL: "https://idp.example/scim/v2", Token: "t"}
	for _, tc := range []struct {
		name string
		mod  func(*scim.Config)
		want string // "" for valid
	}{
		{"valid", func(*scim.Config) {}, ""},
		{"trailing slash", func(c *scim.Config) { c.BaseURL += "/" }, ""},
		{"key by login, UPN from the extension", func(c *scim.Config) {
			c.KeyAttribute = scim.KeyUserName
			c.UPNAttribute = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
		}, ""},
		{"no base URL", func(c *scim.Config) { c.BaseURL = "" }, "BaseURL is required"},
		{"base URL without scheme", func(c *scim.Config) { c.BaseURL = "idp.example/scim" }, "want http(s)"},
		{"base URL ftp", func(c *scim.Config) { c.BaseURL = "ftp://idp.example" }, "want http(s)"},
		{"base URL with query", func(c *scim.Config) { c.BaseURL += "?x=1" }, "no query"},
		{"base URL with user info", func(c *scim.Config) { c.BaseURL = "https://u:p@idp.example" }, "user info"},
		{"no token", func(c *scim.Config) { c.Token = "" }, "Token is required"},
		{"token with a line break", func(c *scim.Config) { c.Token = "t\r\nX-Evil: 1" }, "line break"},
		{"key attribute injection", func(c *scim.Config) { c.KeyAttribute = `userName pr or id` }, "KeyAttribute"},
		{"UPN attribute not a path", func(c *scim.Config) { c.UPNAttribute = "a.b.c" }, "UPNAttribute"},
		{"negative timeout", func(c *scim.Config) { c.Timeout = -time.Second }, "Timeout is negative"},
		{"negative TTL", func(c *scim.Config) { c.CacheTTL = -time.Second }, "CacheTTL is negative"},
		{"negative sizes", func(c *scim.Config) { c.MaxResponseBytes, c.MaxPhotoBytes, c.CacheMaxEntries = -1, -1, -1 }, "MaxResponseBytes is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			cfg := ok
			tc.mod(&cfg)
			_, err := scim.New(cfg)
			if tc.want == "" {
				is.NoErr(err)
				return
			}
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), tc.want))   // names the problem
			is.True(!strings.Contains(err.Error(), "X-Evil")) // never quotes the token
		})
	}
}

// TestDefaults: the zero Config fields take the documented defaults.
func TestDefaults(t *testing.T) {
	is := is.New(t)
	c := scim.Config{}.WithDefaults()
	is.Equal(c.Timeout, scim.DefaultTimeout)
	is.Equal(c.MaxResponseBytes, int64(scim.DefaultMaxResponseBytes))
	is.Equal(c.MaxPhotoBytes, int64(1<<20))
	is.Equal(c.KeyAttribute, scim.KeyID)
	is.Equal(c.UPNAttribute, "userName")
	is.Equal(c.CacheTTL, time.Duration(0)) // no cache
	is.Equal(c.CacheMaxEntries, scim.DefaultCacheMaxEntries)
	is.Equal(c.SendTokenWithPhoto, false)
	is.Equal(c.ActiveWhenAbsent, false)
	is.True(c.HTTPClient != nil)
	is.True(c.Logger != nil)
	is.True(c.Clock != nil)
}
