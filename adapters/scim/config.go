package scim

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// Defaults of [Config]; a zero field of Config takes the value here (see [Config.WithDefaults]).
const (
	// DefaultTimeout bounds one request to the directory: connect, send, read the answer.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes limits a SCIM response body.
	DefaultMaxResponseBytes = 1 << 20
	// DefaultMaxPhotoBytes limits a photo (docs/use-case.md §3: 1 MiB by default).
	DefaultMaxPhotoBytes = 1 << 20
	// DefaultCacheMaxEntries bounds the cache when it is on.
	DefaultCacheMaxEntries = 10_000
)

// The key attributes a host commonly keys its users by (see [Config.KeyAttribute]).
const (
	// KeyID: the host's user id is the SCIM resource id; users are read with GET /Users/{id}.
	KeyID = "id"
	// KeyUserName: the host's user id is the login; users are found with the filter
	// userName eq "<login>".
	KeyUserName = "userName"
)

// Config configures a [Directory]. BaseURL and Token are required; every other zero field means
// the documented default. Negative values are invalid.
type Config struct {
	// BaseURL is the SCIM service's root, e.g. "https://idp.example/scim/v2"; "/Users" is
	// appended to it. Scheme http or https, no query or fragment. Its origin is also the only
	// origin photos are fetched from.
	BaseURL string
	// Token is the bearer token sent as "Authorization: Bearer <Token>" with every SCIM request
	// (RFC 6750). It is never logged and never sent with a photo request unless
	// SendTokenWithPhoto is set.
	Token string

	// HTTPClient sends the requests. Default: a client of its own on a clone of
	// http.DefaultTransport. Whichever client is used, the directory follows no redirects for
	// SCIM requests and only same-origin redirects for photos (it sets its own CheckRedirect on
	// a copy of the client).
	HTTPClient *http.Client
	// Timeout bounds one request (connect, send, read the whole answer); default DefaultTimeout.
	// A request that times out is ports.ErrUnavailable.
	Timeout time.Duration
	// MaxResponseBytes limits a SCIM response body; a longer one is ports.ErrProtocol. Default
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64

	// KeyAttribute says what the id given to [Directory.User] is. "" or KeyID: the SCIM
	// resource id (GET /Users/{id}). Any other attribute path — KeyUserName when the host keys
	// users by login, "externalId", or an extension attribute such as
	// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber" — is looked up
	// with the filter `<KeyAttribute> eq "<id>"` (RFC 7644 §3.4.2.2), which must match exactly
	// one user. The directory must support filtering on that attribute.
	KeyAttribute string
	// UPNAttribute names the attribute mapped to ports.User.UPN; default "userName". Same path
	// syntax as KeyAttribute: "name", "parent.sub" or "<schema URN>:name"; it must be a string.
	UPNAttribute string
	// ActiveWhenAbsent maps a user without the "active" attribute to active. Default false: a
	// user the directory does not say is active is inactive and gets no card.
	ActiveWhenAbsent bool

	// CacheTTL turns on a cache of users read, for hosts whose directory is slow: a user read
	// is served from memory until CacheTTL after the request that read it began, never later.
	// Only found users are cached. Default 0: no cache, every call asks the directory.
	CacheTTL time.Duration
	// CacheMaxEntries bounds the cache; when full, expired entries go first, then the oldest.
	// Default DefaultCacheMaxEntries.
	CacheMaxEntries int

	// MaxPhotoBytes limits a photo; a larger one is ports.ErrPhotoRefused. Default
	// DefaultMaxPhotoBytes.
	MaxPhotoBytes int64
	// SendTokenWithPhoto sends Token with photo requests too. Default false: a photo is fetched
	// without the directory's credentials (docs/use-case.md §3).
	SendTokenWithPhoto bool

	// Logger receives request outcomes (operation, status, duration), never personal data: no
	// ids, logins, names, emails, URLs or bodies. Default: discard.
	Logger *slog.Logger
	// Clock gives the time for the cache; default [ports.SystemClock].
	Clock ports.Clock
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.KeyAttribute == "" {
		c.KeyAttribute = KeyID
	}
	if c.UPNAttribute == "" {
		c.UPNAttribute = "userName"
	}
	if c.CacheMaxEntries == 0 {
		c.CacheMaxEntries = DefaultCacheMaxEntries
	}
	if c.MaxPhotoBytes == 0 {
		c.MaxPhotoBytes = DefaultMaxPhotoBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = ports.SystemClock
	}
	return c
}

// attrPathRe is an attribute path of RFC 7644 §3.10 as far as this adapter accepts it: an
// optional schema URN, an attribute name and an optional sub-attribute name.
var attrPathRe = regexp.MustCompile(`^(urn:[A-Za-z0-9:._-]+:)?[A-Za-z][A-Za-z0-9_$-]*(\.[A-Za-z][A-Za-z0-9_$-]*)?$`)

func (c Config) validate() error {
	var errs []error
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "":
		errs = append(errs, errors.New("BaseURL is required"))
	case err != nil:
		errs = append(errs, errors.New("BaseURL does not parse"))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		errs = append(errs, fmt.Errorf("BaseURL %q: want http(s)://host[/path]", c.BaseURL))
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		errs = append(errs, errors.New("BaseURL: no query, fragment or user info allowed"))
	}
	if c.Token == "" {
		errs = append(errs, errors.New("Token is required"))
	} else if strings.ContainsAny(c.Token, "\r\n") {
		errs = append(errs, errors.New("Token contains a line break"))
	}
	if c.KeyAttribute != KeyID && !attrPathRe.MatchString(c.KeyAttribute) {
		errs = append(errs, fmt.Errorf("KeyAttribute %q is not an attribute path", c.KeyAttribute))
	}
	if !attrPathRe.MatchString(c.UPNAttribute) {
		errs = append(errs, fmt.Errorf("UPNAttribute %q is not an attribute path", c.UPNAttribute))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("Timeout is negative"))
	}
	if c.MaxResponseBytes < 0 {
		errs = append(errs, errors.New("MaxResponseBytes is negative"))
	}
	if c.CacheTTL < 0 {
		errs = append(errs, errors.New("CacheTTL is negative"))
	}
	if c.CacheMaxEntries < 0 {
		errs = append(errs, errors.New("CacheMaxEntries is negative"))
	}
	if c.MaxPhotoBytes < 0 {
		errs = append(errs, errors.New("MaxPhotoBytes is negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scim: invalid config: %w", err)
	}
	return nil
}
