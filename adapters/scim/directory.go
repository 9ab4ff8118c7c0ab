package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// Directory is a [ports.UserStore] over a SCIM 2.0 service provider, and a [ports.PhotoSource]
// for the photos it names. It is safe for concurrent use.
type Directory struct {
	cfg         Config
	base        *url.URL // BaseURL without a trailing slash
	client      *http.Client
	photoClient *http.Client
	m           mapping
	cache       *cache // nil when CacheTTL is 0
}

var (
	_ ports.UserStore   = (*Directory)(nil)
	_ ports.PhotoSource = (*Directory)(nil)
)

// StatusError is the directory's answer with an HTTP status the adapter does not map to a
// result. It wraps the port error it stands for: ports.ErrUnavailable for 401, 403, 408, 429
// and 5xx (the directory refuses or cannot serve now; nothing is wrong with the user), and
// ports.ErrProtocol for every other status, a 3xx included. It carries no body: a SCIM error's
// detail may quote personal data.
type StatusError struct {
	// Op is the operation: "get user", "find user" or "get photo".
	Op string
	// Status is the HTTP status code.
	Status int
	// Err is ports.ErrUnavailable or ports.ErrProtocol.
	Err error
}

// Error names the operation and the status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("scim: %s: directory answered %d %s: %v", e.Op, e.Status, http.StatusText(e.Status), e.Err)
}

// Unwrap returns the port error the status stands for.
func (e *StatusError) Unwrap() error { return e.Err }

// New returns a Directory for cfg, after applying its defaults; it fails on an invalid config.
func New(cfg Config) (*Directory, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	base, _ := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	d := &Directory{
		cfg:  cfg,
		base: base,
		m:    mapping{upnAttribute: cfg.UPNAttribute, activeWhenAbsent: cfg.ActiveWhenAbsent},
	}
	// SCIM requests carry the bearer token: no redirect is followed, a 3xx is a protocol error.
	c := *cfg.HTTPClient
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	d.client = &c
	// Photos may be redirected, but only within the directory's origin (docs/use-case.md §3).
	p := *cfg.HTTPClient
	p.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 || !sameOrigin(req.URL, d.base) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	d.photoClient = &p
	if cfg.CacheTTL > 0 {
		d.cache = newCache(cfg.CacheMaxEntries)
	}
	return d, nil
}

// User returns the user whose key (see [Config.KeyAttribute]) is id. The returned User's ID is
// id. It returns ports.ErrNotFound (wrapped) when the directory has no such user,
// ports.ErrUnavailable when it cannot be reached or does not answer in time (wrapping the
// context's error when ctx ended), and ports.ErrProtocol for an answer SCIM does not allow.
// Errors never contain id: it may be a login.
func (d *Directory) User(ctx context.Context, id string) (ports.User, error) {
	if d.cache != nil {
		if u, ok := d.cache.get(id, d.cfg.Clock.Now()); ok {
			return u, nil
		}
	}
	started := d.cfg.Clock.Now()
	u, err := d.fetchUser(ctx, id)
	if err != nil {
		d.logFailure(ctx, err)
		return ports.User{}, err
	}
	if d.cache != nil {
		d.cache.put(id, u, started.Add(d.cfg.CacheTTL), d.cfg.Clock.Now())
	}
	return u, nil
}

func (d *Directory) fetchUser(ctx context.Context, id string) (ports.User, error) {
	if id == "" || id == "." || id == ".." {
		return ports.User{}, fmt.Errorf("scim: get user: empty or dot id: %w", ports.ErrNotFound)
	}
	if d.cfg.KeyAttribute == KeyID {
		const op = "get user"
		body, err := d.get(ctx, op, d.base.String()+"/Users/"+url.PathEscape(id), true)
		if err != nil {
			return ports.User{}, err
		}
		su, raw, err := decodeUser(body)
		if err != nil {
			return ports.User{}, err
		}
		if su.ID != id {
			return ports.User{}, fmt.Errorf("scim: %s: the directory answered with another resource id: %w", op, ports.ErrProtocol)
		}
		return d.m.toUser(id, su, raw)
	}

	const op = "find user"
	q := url.Values{}
	q.Set("filter", d.cfg.KeyAttribute+" eq "+filterString(id))
	q.Set("count", "2") // two are enough to tell a unique match from an ambiguous one
	body, err := d.get(ctx, op, d.base.String()+"/Users?"+q.Encode(), true)
	if err != nil {
		return ports.User{}, err
	}
	total, resources, err := decodeList(body)
	if err != nil {
		return ports.User{}, err
	}
	switch {
	case total == 0:
		return ports.User{}, fmt.Errorf("scim: %s: no match: %w", op, ports.ErrNotFound)
	case total > 1:
		return ports.User{}, fmt.Errorf("scim: %s: %s matches %d users, want one: %w", op, d.cfg.KeyAttribute, total, ports.ErrProtocol)
	case len(resources) != 1:
		return ports.User{}, fmt.Errorf("scim: %s: totalResults 1 without the resource: %w", op, ports.ErrProtocol)
	}
	su, raw, err := decodeUser(resources[0])
	if err != nil {
		return ports.User{}, err
	}
	// A server that ignores the filter must not hand out another user.
	if ok, err := keyMatches(raw, d.cfg.KeyAttribute, id); err != nil {
		return ports.User{}, err
	} else if !ok {
		return ports.User{}, fmt.Errorf("scim: %s: the directory answered with a user whose %s differs: %w", op, d.cfg.KeyAttribute, ports.ErrProtocol)
	}
	return d.m.toUser(id, su, raw)
}

// filterString renders s as a SCIM filter string literal (RFC 7644 §3.4.2.2: a JSON string),
// so no id can change the filter's meaning.
func filterString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// get performs one GET under the configured timeout and returns the body of a 200 answer with
// a SCIM content type, read through the size limit. A 404 is ports.ErrNotFound.
func (d *Directory) get(ctx context.Context, op, rawURL string, withToken bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("scim: %s: cannot build the request: %w", op, ports.ErrProtocol)
	}
	req.Header.Set("Accept", "application/scim+json, application/json")
	if withToken {
		req.Header.Set("Authorization", "Bearer "+d.cfg.Token)
	}
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scim: %s: %w", op, transportError(ctx, err))
	}
	defer resp.Body.Close()
	d.cfg.Logger.DebugContext(ctx, "scim: directory answered", "op", op, "status", resp.StatusCode, "duration", time.Since(start))
	if err := statusError(op, resp.StatusCode); err != nil {
		return nil, err
	}
	if err := checkContentType(resp.Header.Get("Content-Type")); err != nil {
		return nil, fmt.Errorf("scim: %s: %w", op, err)
	}
	body, err := readLimited(ctx, resp, d.cfg.MaxResponseBytes)
	if err != nil {
		return nil, fmt.Errorf("scim: %s: %w", op, err)
	}
	return body, nil
}

// logFailure logs a failed call, unless it found nothing (an everyday answer). The adapter's
// errors carry no personal data, so they are logged as they are.
func (d *Directory) logFailure(ctx context.Context, err error) {
	if errors.Is(err, ports.ErrNotFound) {
		return
	}
	d.cfg.Logger.WarnContext(ctx, "scim: directory call failed", "error", err)
}

// statusError maps a status other than 200 to an error; nil for 200.
func statusError(op string, status int) error {
	switch {
	case status == http.StatusOK:
		return nil
	case status == http.StatusNotFound:
		return fmt.Errorf("scim: %s: %w", op, ports.ErrNotFound)
	case status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500 && status <= 599:
		return &StatusError{Op: op, Status: status, Err: ports.ErrUnavailable}
	default:
		return &StatusError{Op: op, Status: status, Err: ports.ErrProtocol}
	}
}

// checkContentType accepts application/scim+json (RFC 7644 §3.1) and application/json.
func checkContentType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/scim+json" && mt != "application/json") {
		return fmt.Errorf("content type %q is not SCIM JSON: %w", truncate(ct, 64), ports.ErrProtocol)
	}
	return nil
}

// readLimited reads the body, failing with ports.ErrProtocol past max bytes (announced or
// read) and with ports.ErrUnavailable when the read is cut or times out.
func readLimited(ctx context.Context, resp *http.Response, max int64) ([]byte, error) {
	if resp.ContentLength > max {
		return nil, fmt.Errorf("body of %d bytes exceeds the limit of %d: %w", resp.ContentLength, max, ports.ErrProtocol)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", transportError(ctx, err))
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("body exceeds the limit of %d bytes: %w", max, ports.ErrProtocol)
	}
	return body, nil
}

// transportError turns a failed request into ports.ErrUnavailable without the URL (which names
// the user) that net/http puts into its errors. When ctx ended, it wraps ctx's error too.
func transportError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w: %w", ports.ErrUnavailable, cerr)
	}
	var (
		ne   net.Error
		what = "connection failed"
	)
	if errors.As(err, &ne) && ne.Timeout() {
		what = "timed out"
	}
	return fmt.Errorf("%s: %w", what, ports.ErrUnavailable)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// sameOrigin reports whether u is on the origin of base: same scheme, host and port (the
// default port of the scheme when none is written).
func sameOrigin(u, base *url.URL) bool {
	return strings.EqualFold(u.Scheme, base.Scheme) &&
		strings.EqualFold(u.Hostname(), base.Hostname()) &&
		effectivePort(u) == effectivePort(base)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}
