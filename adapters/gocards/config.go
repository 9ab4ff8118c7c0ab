package gocards

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// Defaults of [Config]; a zero field of Config takes the value here (see [Config.WithDefaults]).
const (
	DefaultMaxAttempts        = 5
	DefaultBaseBackoff        = 250 * time.Millisecond
	DefaultMaxBackoff         = 15 * time.Second
	DefaultRetryAfterCap      = 30 * time.Second
	DefaultAttemptTimeout     = 20 * time.Second
	DefaultMaxResponseBytes   = 1 << 20
	DefaultLayoutTTL          = 5 * time.Minute
	DefaultTokenRefreshMargin = time.Minute
	// DefaultMaxIdleConnsPerHost is the idle-connection pool of the transport the client builds
	// when Config.HTTPClient is nil; it bounds how many concurrent calls reuse connections.
	DefaultMaxIdleConnsPerHost = 64
)

// Config configures a [Client]. BaseURL, ClientID, ClientSecret and OrganisationID are required;
// every other zero field means the documented default. Negative values are invalid.
type Config struct {
	// BaseURL is the bureau's root, e.g. "https://api.gocards.example"; the API paths of
	// docs/gocards-wire.md are appended to it. Scheme http or https.
	BaseURL string
	// ClientID and ClientSecret are the client credentials sent to POST /oauth/token.
	ClientID     string
	ClientSecret string
	// OrganisationID is sent as X-Organisation-Id on every API call.
	OrganisationID string

	// HTTPClient sends the requests. Default: a client of its own that follows no redirects,
	// whose transport is a clone of http.DefaultTransport keeping DefaultMaxIdleConnsPerHost
	// idle connections per host. A client's own Timeout, if any, applies on top of
	// AttemptTimeout. Give it a transport with enough idle connections for the concurrency you
	// call the client with, or connections are churned.
	HTTPClient *http.Client

	// MaxAttempts bounds the HTTP attempts of one call (the first try included); default
	// DefaultMaxAttempts. The one extra try after a token refresh on 401 is not counted.
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the exponential backoff with full jitter between
	// attempts: the wait before attempt n+1 is uniform in [0, min(MaxBackoff, BaseBackoff·2ⁿ⁻¹)].
	// Defaults DefaultBaseBackoff and DefaultMaxBackoff.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// RetryAfterCap is the longest wait a 429's Retry-After may ask for within one call; default
	// DefaultRetryAfterCap. Up to the cap the client waits as asked and tries again (counting
	// against MaxAttempts). A longer Retry-After ends the call at once with a
	// [*ports.RetryLaterError] whose After is the bureau's full wait (errors.Is
	// [ports.ErrUnavailable]): the domain then does not try the order again before that time,
	// instead of one call sleeping for it or hammering the bureau early.
	RetryAfterCap time.Duration
	// AttemptTimeout bounds one HTTP attempt (connect, send, read the answer); an attempt that
	// times out is a transient failure and is retried. Default DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// MaxResponseBytes limits a response body the client reads; a longer one is a protocol
	// error. Default DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// LayoutTTL is how long the layout list is cached; default DefaultLayoutTTL.
	LayoutTTL time.Duration
	// TokenRefreshMargin is how long before its expiry a token is replaced; default
	// DefaultTokenRefreshMargin (at most half the token's lifetime).
	TokenRefreshMargin time.Duration

	// Logger receives retries and refusals, never personal data (no card elements, no email, no
	// response bodies). Default: discard.
	Logger *slog.Logger

	// Clock gives the time for token and layout expiry; default [ports.SystemClock].
	Clock ports.Clock
	// Sleep waits d or until ctx ends, returning ctx.Err() in that case; default a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a duration uniform in [0, max]; default math/rand/v2. Inject a fixed
	// function for deterministic tests.
	Jitter func(max time.Duration) time.Duration
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 2 * DefaultMaxIdleConnsPerHost
		t.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
		c.HTTPClient = &http.Client{
			Transport: t,
			// The contract has no redirects; following one would turn a POST into a GET and
			// carry the bearer token along. A 3xx is reported as a protocol error.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BaseBackoff == 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.RetryAfterCap == 0 {
		c.RetryAfterCap = DefaultRetryAfterCap
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.LayoutTTL == 0 {
		c.LayoutTTL = DefaultLayoutTTL
	}
	if c.TokenRefreshMargin == 0 {
		c.TokenRefreshMargin = DefaultTokenRefreshMargin
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = ports.SystemClock
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	if c.Jitter == nil {
		c.Jitter = fullJitter
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "":
		errs = append(errs, errors.New("BaseURL is required"))
	case err != nil:
		errs = append(errs, fmt.Errorf("BaseURL: %w", err))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		errs = append(errs, fmt.Errorf("BaseURL %q: want http(s)://host[/path]", c.BaseURL))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, fmt.Errorf("BaseURL %q: no query or fragment allowed", c.BaseURL))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("ClientID is required"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("ClientSecret is required"))
	}
	if c.OrganisationID == "" {
		errs = append(errs, errors.New("OrganisationID is required"))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, errors.New("MaxAttempts is negative"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"BaseBackoff", c.BaseBackoff}, {"MaxBackoff", c.MaxBackoff}, {"RetryAfterCap", c.RetryAfterCap},
		{"AttemptTimeout", c.AttemptTimeout}, {"LayoutTTL", c.LayoutTTL}, {"TokenRefreshMargin", c.TokenRefreshMargin},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s is negative", d.name))
		}
	}
	if c.MaxResponseBytes < 0 {
		errs = append(errs, errors.New("MaxResponseBytes is negative"))
	}
	if c.BaseBackoff > c.MaxBackoff && c.MaxBackoff > 0 {
		errs = append(errs, errors.New("BaseBackoff exceeds MaxBackoff"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gocards: invalid config: %w", err)
	}
	return nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fullJitter returns a duration uniform in [0, max].
func fullJitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(max) + 1))
}
