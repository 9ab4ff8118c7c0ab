package gocards

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/cardsaddon/extprod/ports"
)

var (
	_ ports.Provider     = (*Client)(nil)
	_ ports.LayoutSource = (*Client)(nil)
)

// Client is the GO Cards HTTP client: a [ports.Provider] and [ports.LayoutSource]. It is safe for
// concurrent use; create it with [New] and share one per bureau account, so the token, the
// layout cache and the connection pool are shared.
type Client struct {
	cfg        Config
	log        *slog.Logger
	tokenURL   string
	ordersURL  string
	layoutsURL string
	orgHeader  []string
	jsonHeader []string

	tok   atomic.Pointer[token]
	tokSF singleflight.Group

	layMu    sync.Mutex
	layouts  map[string]ports.Layout
	layUntil time.Time
	laySF    singleflight.Group

	bufs sync.Pool // *bytes.Buffer for response bodies
}

// token is a cached access token.
type token struct {
	header    []string // {"Bearer <access token>"}
	refreshAt time.Time
}

// New returns a client for the bureau cfg names. It does not contact the bureau.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	c := &Client{
		cfg:        cfg,
		log:        cfg.Logger,
		tokenURL:   base + "/oauth/token",
		ordersURL:  base + "/api/orders",
		layoutsURL: base + "/api/layouts",
		orgHeader:  []string{cfg.OrganisationID},
		jsonHeader: []string{"application/json; charset=utf-8"},
	}
	c.bufs.New = func() any { return new(bytes.Buffer) }
	return c, nil
}

// PlaceOrder places one order attempt (POST /api/orders) under o.IdempotencyKey. The body is
// built once and sent unchanged on every retry, so the bureau produces at most one order per
// key, also when a connection breaks after it accepted the order. The photo (base64), delivery
// address and cost centre are sent when the order has them, omitted otherwise; the photo never
// reaches a log.
//
// Errors: a 400, 409 or 422 is a [*ports.RejectedError] carrying the bureau's reason and
// per-field reasons; retries exhausted on 5xx, 429, timeouts or broken connections wrap
// [ports.ErrUnavailable] (the outcome is unknown; retry with the same key); refused credentials
// wrap [ports.ErrUnauthorized]; a status the contract does not allow or a malformed answer
// wraps [ports.ErrProtocol]. A 429 whose Retry-After exceeds Config.RetryAfterCap ends the call
// at once with a [*ports.RetryLaterError] carrying the bureau's wait (it also matches
// ports.ErrUnavailable). When ctx ends first, the error wraps ctx.Err() and
// ports.ErrUnavailable.
func (c *Client) PlaceOrder(ctx context.Context, o ports.ProviderOrder) (ports.ProviderReceipt, error) {
	if o.IdempotencyKey == "" || o.ExternalReference == "" || o.LayoutID == "" {
		return ports.ProviderReceipt{}, errors.New("gocards: place order: IdempotencyKey, ExternalReference and LayoutID are required")
	}
	elems := o.Elements
	if elems == nil {
		elems = map[string]string{}
	}
	req := orderRequest{
		ExternalReference: o.ExternalReference,
		LayoutID:          o.LayoutID,
		CardHolderEmail:   o.CardHolderEmail,
		CardElements:      elems,
		Photo:             o.Photo,
		CostCentre:        o.CostCentre,
	}
	if a := o.DeliveryAddress; a != nil {
		req.DeliveryAddress = (*addressBody)(a)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return ports.ProviderReceipt{}, fmt.Errorf("gocards: place order %s: encode: %w", o.IdempotencyKey, err)
	}
	var rec ports.ProviderReceipt
	err = c.do(ctx, call{op: "place order", method: http.MethodPost, url: c.ordersURL, body: body, key: o.IdempotencyKey},
		func(status int, b []byte, tooLarge bool) error {
			switch status {
			case http.StatusOK, http.StatusCreated:
				if tooLarge {
					return protocolErr("order receipt larger than %d bytes", c.cfg.MaxResponseBytes)
				}
				var err error
				rec, err = decodeReceipt(b)
				return err
			case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
				rej := decodeRejection(status, b)
				c.log.LogAttrs(ctx, slog.LevelWarn, "gocards: order rejected",
					slog.String("idempotency_key", o.IdempotencyKey), slog.Int("status", status))
				return rej
			}
			return unexpectedStatus(status)
		})
	if err != nil {
		return ports.ProviderReceipt{}, fmt.Errorf("gocards: place order %s: %w", o.IdempotencyKey, err)
	}
	return rec, nil
}

// OrderStatus returns the bureau's status of one order (GET /api/orders/{orderID}) mapped to a
// card state: ORDERED → ordered, IN_PRODUCTION → in_production, PRODUCED and SHIPPED →
// produced, FAILED and CANCELLED → failed with the bureau's reason. A 404 wraps
// [ports.ErrNotFound]; an unknown status or malformed body wraps [ports.ErrProtocol]; retries
// exhausted wrap [ports.ErrUnavailable].
func (c *Client) OrderStatus(ctx context.Context, orderID string) (ports.OrderStatus, error) {
	if orderID == "" {
		return ports.OrderStatus{}, fmt.Errorf("gocards: order status: empty order id: %w", ports.ErrNotFound)
	}
	var st ports.OrderStatus
	err := c.do(ctx, call{op: "order status", method: http.MethodGet, url: c.ordersURL + "/" + url.PathEscape(orderID)},
		func(status int, b []byte, tooLarge bool) error {
			switch status {
			case http.StatusOK:
				if tooLarge {
					return protocolErr("order status larger than %d bytes", c.cfg.MaxResponseBytes)
				}
				var err error
				if st, err = decodeOrderStatus(b); err != nil {
					return err
				}
				if st.OrderID != orderID {
					return protocolErr("asked for order %q, got %q", orderID, st.OrderID)
				}
				return nil
			case http.StatusNotFound:
				return ports.ErrNotFound
			}
			return unexpectedStatus(status)
		})
	if err != nil {
		return ports.OrderStatus{}, fmt.Errorf("gocards: order status %s: %w", orderID, err)
	}
	return st, nil
}

// Layout returns the layout with the given id and its input fields, from GET /api/layouts
// cached for Config.LayoutTTL. An id the bureau does not list wraps [ports.ErrNotFound].
func (c *Client) Layout(ctx context.Context, id string) (ports.Layout, error) {
	layouts, err := c.layoutList(ctx)
	if err != nil {
		return ports.Layout{}, fmt.Errorf("gocards: layout %s: %w", id, err)
	}
	l, ok := layouts[id]
	if !ok {
		return ports.Layout{}, fmt.Errorf("gocards: layout %s: %w", id, ports.ErrNotFound)
	}
	l.Fields = append([]ports.LayoutField(nil), l.Fields...)
	return l, nil
}

// layoutList returns the cached layouts, fetching them when the cache is stale. Concurrent
// callers share one fetch.
func (c *Client) layoutList(ctx context.Context) (map[string]ports.Layout, error) {
	c.layMu.Lock()
	if c.layouts != nil && c.cfg.Clock.Now().Before(c.layUntil) {
		l := c.layouts
		c.layMu.Unlock()
		return l, nil
	}
	c.layMu.Unlock()
	ch := c.laySF.DoChan("layouts", func() (any, error) {
		var layouts map[string]ports.Layout
		err := c.do(context.WithoutCancel(ctx), call{op: "layouts", method: http.MethodGet, url: c.layoutsURL},
			func(status int, b []byte, tooLarge bool) error {
				if status != http.StatusOK {
					return unexpectedStatus(status)
				}
				if tooLarge {
					return protocolErr("layouts larger than %d bytes", c.cfg.MaxResponseBytes)
				}
				var err error
				layouts, err = decodeLayouts(b)
				return err
			})
		if err != nil {
			return nil, err
		}
		c.layMu.Lock()
		c.layouts, c.layUntil = layouts, c.cfg.Clock.Now().Add(c.cfg.LayoutTTL)
		c.layMu.Unlock()
		return layouts, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(map[string]ports.Layout), nil
	case <-ctx.Done():
		return nil, ctxErr(ctx)
	}
}

// call is one API call: what do sends on every attempt.
type call struct {
	op     string
	method string
	url    string
	body   []byte // nil for GET
	key    string // Idempotency-Key, "" for none
}

// handleFunc interprets a final answer: any status but 401, 429, 500, 502, 503 and 504. body
// holds at most MaxResponseBytes (tooLarge says the answer was longer) and is valid only during
// the call.
type handleFunc func(status int, body []byte, tooLarge bool) error

// transientError is one failed attempt that may be retried.
type transientError struct {
	reason     string
	retryAfter time.Duration // >0: the bureau asked for this wait (already capped)
}

func (e *transientError) Error() string { return e.reason }

// do runs one call with token handling and bounded retries.
func (c *Client) do(ctx context.Context, cl call, handle handleFunc) error {
	refreshed := false
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return ctxErr(ctx)
		}
		tok, err := c.token(ctx)
		if err == nil {
			var status int
			status, err = c.attempt(ctx, cl, tok, handle)
			if status == http.StatusUnauthorized {
				c.tok.CompareAndSwap(tok, nil)
				if !refreshed {
					refreshed = true
					attempt-- // the retry after a token refresh is not a new attempt
					c.log.LogAttrs(ctx, slog.LevelDebug, "gocards: token refused, refreshing", slog.String("op", cl.op))
					continue
				}
				return fmt.Errorf("API answered 401 with a fresh token: %w", ports.ErrUnauthorized)
			}
		}
		var te *transientError
		if !errors.As(err, &te) {
			if later := (*ports.RetryLaterError)(nil); errors.As(err, &later) {
				c.log.LogAttrs(ctx, slog.LevelWarn, "gocards: bureau asks to retry later",
					slog.String("op", cl.op), slog.String("idempotency_key", cl.key),
					slog.Int("attempts", attempt), slog.Duration("retry_after", later.After))
			}
			return err // nil, permanent, the bureau's retry-later, or the context's end
		}
		if attempt >= c.cfg.MaxAttempts {
			c.log.LogAttrs(ctx, slog.LevelWarn, "gocards: retries exhausted",
				slog.String("op", cl.op), slog.String("idempotency_key", cl.key),
				slog.Int("attempts", attempt), slog.String("last", te.reason))
			return fmt.Errorf("%d attempts, last: %s: %w", attempt, te.reason, ports.ErrUnavailable)
		}
		wait := te.retryAfter
		if wait <= 0 {
			wait = c.cfg.Jitter(c.backoff(attempt))
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "gocards: retrying",
			slog.String("op", cl.op), slog.String("idempotency_key", cl.key),
			slog.Int("attempt", attempt), slog.String("reason", te.reason), slog.Duration("wait", wait))
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return ctxErr(ctx)
		}
	}
}

// backoff is the upper bound of the wait after the given (1-based) failed attempt.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.BaseBackoff
	for i := 1; i < attempt; i++ {
		d *= 2
		if d >= c.cfg.MaxBackoff || d <= 0 {
			return c.cfg.MaxBackoff
		}
	}
	return min(d, c.cfg.MaxBackoff)
}

// ctxErr is the error of a call whose context ended: it wraps the context's error and, since the
// outcome of a call cut short is unknown, ports.ErrUnavailable.
func ctxErr(ctx context.Context) error {
	return fmt.Errorf("%w (%w)", context.Cause(ctx), ports.ErrUnavailable)
}

func unexpectedStatus(status int) error {
	if status == http.StatusForbidden {
		// Not in the contract: the bureau refuses this client for the organisation. No card is at
		// fault, so it is reported like refused credentials.
		return fmt.Errorf("HTTP 403: %w", ports.ErrUnauthorized)
	}
	return protocolErr("unexpected HTTP status %d", status)
}

// attempt sends one HTTP request. It returns the status when there was an answer (401 included,
// for do to handle) and the error: a *transientError to retry, or handle's result.
func (c *Client) attempt(ctx context.Context, cl call, tok *token, handle handleFunc) (int, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, cl.url, body)
	if err != nil {
		return 0, fmt.Errorf("gocards: build request: %w", err)
	}
	h := make(http.Header, 5)
	h["Authorization"] = tok.header
	h["X-Organisation-Id"] = c.orgHeader
	h["Accept"] = c.jsonHeader
	if cl.body != nil {
		h["Content-Type"] = c.jsonHeader
	}
	if cl.key != "" {
		h["Idempotency-Key"] = []string{cl.key}
	}
	req.Header = h
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctxErr(ctx)
		}
		return 0, &transientError{reason: "transport: " + transportReason(err)}
	}
	return c.answer(ctx, resp, handle)
}

// answer reads and interprets one response and closes its body.
func (c *Client) answer(ctx context.Context, resp *http.Response, handle handleFunc) (int, error) {
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		drain(resp.Body)
		return resp.StatusCode, nil
	case http.StatusTooManyRequests:
		drain(resp.Body)
		ra, ok := retryAfter(resp.Header.Get("Retry-After"), c.cfg.Clock.Now())
		if ok && ra > c.cfg.RetryAfterCap {
			// Longer than this call may wait: stop here and pass the bureau's wait on, so the
			// caller does not try again before it.
			return resp.StatusCode, &ports.RetryLaterError{After: ra}
		}
		if ok {
			ra = max(ra, 1) // 1ns: "honour it", but never a negative wait
		}
		return resp.StatusCode, &transientError{reason: "HTTP 429", retryAfter: ra}
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		drain(resp.Body)
		return resp.StatusCode, &transientError{reason: "HTTP " + strconv.Itoa(resp.StatusCode)}
	}
	buf := c.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			c.bufs.Put(buf)
		}
	}()
	limit := c.cfg.MaxResponseBytes
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctxErr(ctx)
		}
		// The answer broke off: for an order the bureau may hold it; the retry with the same key
		// settles that.
		return 0, &transientError{reason: "reading answer: " + transportReason(err)}
	}
	b := buf.Bytes()
	tooLarge := int64(len(b)) > limit
	if tooLarge {
		b = b[:limit]
	}
	return resp.StatusCode, handle(resp.StatusCode, b, tooLarge)
}

// drain reads a little of an unused body so the connection can be reused.
func drain(r io.Reader) {
	_, _ = io.CopyN(io.Discard, r, 4<<10)
}

// transportReason describes a transport error without the request URL (which holds order ids
// only, but keeps log lines short).
func transportReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// retryAfter parses a Retry-After value: delay-seconds (docs/gocards-wire.md) or, leniently, an
// HTTP-date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		const maxSeconds = uint64((1<<63 - 1) / time.Second)
		if err != nil || n > maxSeconds {
			n = maxSeconds
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// token returns a valid cached token or fetches one; concurrent callers share one fetch.
func (c *Client) token(ctx context.Context) (*token, error) {
	if t := c.tok.Load(); t != nil && c.cfg.Clock.Now().Before(t.refreshAt) {
		return t, nil
	}
	ch := c.tokSF.DoChan("token", func() (any, error) {
		if t := c.tok.Load(); t != nil && c.cfg.Clock.Now().Before(t.refreshAt) {
			return t, nil // fetched while this caller queued
		}
		t, err := c.fetchToken(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		c.tok.Store(t)
		return t, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*token), nil
	case <-ctx.Done():
		return nil, ctxErr(ctx)
	}
}

// fetchToken runs one client-credentials exchange. Refused credentials wrap
// ports.ErrUnauthorized; 429 and 5xx and transport failures are transient.
func (c *Client) fetchToken(ctx context.Context) (*token, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret},
	}.Encode()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.tokenURL, strings.NewReader(form))
	if err != nil {
		return nil, fmt.Errorf("gocards: build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, &transientError{reason: "token: transport: " + transportReason(err)}
	}
	obtained := c.cfg.Clock.Now()
	var tb tokenBody
	status, err := c.answer(ctx, resp, func(status int, b []byte, tooLarge bool) error {
		switch status {
		case http.StatusOK:
			if tooLarge {
				return protocolErr("token answer larger than %d bytes", c.cfg.MaxResponseBytes)
			}
			var err error
			tb, err = decodeToken(b)
			return err
		case http.StatusBadRequest, http.StatusForbidden:
			return fmt.Errorf("token endpoint answered %d: %w", status, ports.ErrUnauthorized)
		}
		return protocolErr("token endpoint answered HTTP %d", status)
	})
	if status == http.StatusUnauthorized {
		err = fmt.Errorf("token endpoint answered 401: %w", ports.ErrUnauthorized)
	}
	if err != nil {
		var te *transientError
		if errors.As(err, &te) {
			te.reason = "token: " + te.reason
		} else if later := (*ports.RetryLaterError)(nil); !errors.As(err, &later) { // do logs a retry-later
			c.log.LogAttrs(ctx, slog.LevelError, "gocards: token request failed", slog.String("error", err.Error()))
		}
		return nil, err
	}
	life := time.Duration(tb.ExpiresIn) * time.Second
	if tb.ExpiresIn > int64(24*365*time.Hour/time.Second) {
		life = 24 * 365 * time.Hour
	}
	margin := min(c.cfg.TokenRefreshMargin, life/2)
	return &token{header: []string{"Bearer " + tb.AccessToken}, refreshAt: obtained.Add(life - margin)}, nil
}
