package gocards

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/ports"
)

// Defaults of [EventHandlerConfig].
const (
	DefaultEventMaxBodyBytes = 1 << 20
	DefaultEventDedupTTL     = 24 * time.Hour
	// DefaultEventDedupHold is how long one delivery holds an event id while it applies it.
	DefaultEventDedupHold = time.Minute
)

// MaxEventIDBytes is the longest eventId the handler accepts (the bureau sends UUIDs); a longer
// one is a malformed event (400), so a signed sender cannot fill the dedup memory with huge keys.
const MaxEventIDBytes = 128

// SignatureHeader is the header that carries an event's signature:
// "sha256=<hex HMAC-SHA256 of the raw body with the shared secret>".
const SignatureHeader = "X-GoCards-Signature"

// EventHandlerConfig configures an [EventHandler]. Secret and Applier are required; every other
// zero field means the documented default.
type EventHandlerConfig struct {
	// Secret is the shared secret the bureau signs events with.
	Secret []byte
	// Applier applies each new status; the domain's Service is one. ApplyOrderStatus returning
	// an error wrapping [ports.ErrNotFound] (an unknown card) is a final answer; any other
	// error is taken as transient: the bureau is asked to deliver the event again.
	Applier ports.StatusApplier
	// Dedup remembers which event ids were applied, so a redelivered event is applied once.
	// Default a new [memory.EventDedup] of this handler's own, which it purges of expired ids
	// as it goes; a host with several instances plugs a shared one (and purges it with the
	// Service's clean-up, cardorder.Ports.Dedup).
	Dedup ports.EventDedup
	// Logger receives ignored and failed events (event id, order id, card id and state only,
	// never the body). Default: discard.
	Logger *slog.Logger
	// MaxBodyBytes limits an event body; a longer one is answered 413. Default
	// DefaultEventMaxBodyBytes.
	MaxBodyBytes int64
	// DedupTTL is how long an applied event id is remembered (a replay within it is a no-op);
	// default DefaultEventDedupTTL.
	DedupTTL time.Duration
	// DedupHold is how long one delivery holds an event id while it applies it; a delivery of
	// the same event meanwhile is answered 503 (Retry-After: 1). Default DefaultEventDedupHold.
	DedupHold time.Duration
	// Clock gives the time for the dedup expiry; default [ports.SystemClock].
	Clock ports.Clock
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c EventHandlerConfig) WithDefaults() EventHandlerConfig {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultEventMaxBodyBytes
	}
	if c.DedupTTL == 0 {
		c.DedupTTL = DefaultEventDedupTTL
	}
	if c.DedupHold == 0 {
		c.DedupHold = DefaultEventDedupHold
	}
	if c.Clock == nil {
		c.Clock = ports.SystemClock
	}
	return c
}

func (c EventHandlerConfig) validate() error {
	var errs []error
	if len(c.Secret) == 0 {
		errs = append(errs, errors.New("Secret is required"))
	}
	if c.Applier == nil {
		errs = append(errs, errors.New("Applier is required"))
	}
	if c.MaxBodyBytes < 0 || c.DedupTTL < 0 || c.DedupHold < 0 {
		errs = append(errs, errors.New("MaxBodyBytes, DedupTTL and DedupHold must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gocards: invalid event handler config: %w", err)
	}
	return nil
}

// EventHandler receives the bureau's status events (POST, docs/gocards-wire.md "Status events") and
// applies them through a [ports.StatusApplier]. It is an [http.Handler], safe for concurrent use; the
// host mounts it on its callback URL.
//
// Answers, as docs/gocards-wire.md asks:
//   - 401: missing or bad X-GoCards-Signature (checked with hmac.Equal before the body is parsed);
//   - 400: a validly signed body that is not a well-formed event (an empty eventId or one longer
//     than MaxEventIDBytes included);
//   - 204: the event was applied, ignored (unknown card, backwards move, unknown topic) or is a
//     replay of an event already applied.
//
// Answers beyond docs/gocards-wire.md, which names none of them:
//   - 405 (with Allow: POST): not a POST;
//   - 413: body longer than MaxBodyBytes. The size limit is applied while reading, before the
//     signature is checked (verifying needs the whole body, and reading an unbounded one to
//     verify it would be worse), so an oversized body gets 413 whatever its signature;
//   - 503 (with Retry-After): the same event is being applied concurrently (Retry-After: 1), or
//     the applier failed transiently (Retry-After: 5); the bureau delivers it again and the event
//     is not remembered as applied.
//
// Each eventId is applied once while its [ports.EventDedup] remembers it (DedupTTL); two
// deliveries of one event at once apply it once. The default dedup is in memory and lost on
// restart. A replay the dedup has forgotten is applied again, which is harmless because the
// domain moves a card forward only.
type EventHandler struct {
	cfg EventHandlerConfig
	log *slog.Logger
	// ownDedup: the dedup is the handler's default, which it purges itself every purgeEvery
	// deliveries.
	ownDedup bool
	served   atomic.Uint64
}

// purgeEvery and purgeBatch pace the purge of the handler's own dedup.
const (
	purgeEvery = 1024
	purgeBatch = 4096
)

var _ http.Handler = (*EventHandler)(nil)

// NewEventHandler returns a handler for the bureau's status events.
func NewEventHandler(cfg EventHandlerConfig) (*EventHandler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &EventHandler{cfg: cfg, log: cfg.Logger}
	if h.cfg.Dedup == nil {
		h.cfg.Dedup, h.ownDedup = &memory.EventDedup{}, true
	}
	return h, nil
}

// EventError is a delivery [EventHandler.ServeEvent] refused. Status is the HTTP status
// ServeHTTP answers it with; Err, which the error wraps, says why in a form an API can map
// without looking at the status:
//
//	ports.ErrUnauthenticated  401: the signature is missing or wrong
//	ports.ErrProtocol         400: not a well-formed event (or the body could not be read)
//	*http.MaxBytesError       413: the body is longer than MaxBodyBytes
//	ports.ErrUnavailable      503: deliver it again after the Retry-After ServeEvent set
//	ErrMethod                 405: not a POST (Allow is set)
//
// Its message never quotes the body.
type EventError struct {
	Status int
	Err    error
}

// Error implements error.
func (e *EventError) Error() string { return "gocards: event refused: " + e.Err.Error() }

// Unwrap returns the cause, one of the errors listed on [EventError].
func (e *EventError) Unwrap() error { return e.Err }

// ErrMethod is the cause of a delivery that is not a POST.
var ErrMethod = errors.New("an event is delivered with POST")

func refuse(status int, err error) error { return &EventError{Status: status, Err: err} }

// ServeHTTP handles one event delivery: [EventHandler.ServeEvent], with a refusal answered as
// text with its status.
func (h *EventHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.ServeEvent(w, r); err != nil {
		status := http.StatusInternalServerError
		var ee *EventError
		if errors.As(err, &ee) {
			status = ee.Status
		}
		http.Error(w, http.StatusText(status), status)
	}
}

// ServeEvent handles one event delivery, as ServeHTTP does, but leaves the answer to a refusal
// to the caller: it answers 204 itself when the event was applied, ignored or replayed, and
// otherwise writes nothing but the Allow or Retry-After header and returns an *[EventError]. An
// API that answers its errors in its own format (the operator API's problem+json) mounts the
// handler through this method.
func (h *EventHandler) ServeEvent(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return refuse(http.StatusMethodNotAllowed, ErrMethod)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return refuse(http.StatusRequestEntityTooLarge, mbe)
		}
		return refuse(http.StatusBadRequest, fmt.Errorf("%w: the event body could not be read", ports.ErrProtocol))
	}
	if !validSignature(h.cfg.Secret, body, r.Header.Get(SignatureHeader)) {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "gocards: event with a bad or missing signature")
		return refuse(http.StatusUnauthorized, fmt.Errorf("%w: bad or missing %s", ports.ErrUnauthenticated, SignatureHeader))
	}
	ev, st, err := decodeEvent(body)
	if err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "gocards: malformed event", slog.String("error", err.Error()))
		return refuse(http.StatusBadRequest, fmt.Errorf("%w: malformed event", ports.ErrProtocol))
	}
	attrs := []slog.Attr{slog.String("event_id", ev.EventID), slog.String("topic", ev.Topic)}
	if ev.Topic != topicOrderStatusChanged {
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "gocards: event with an unknown topic ignored", attrs...)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	attrs = append(attrs, slog.String("order_id", st.OrderID), slog.String("card_id", st.ExternalReference),
		slog.String("state", string(st.State)))

	ctx := r.Context()
	now := h.cfg.Clock.Now()
	if h.ownDedup && h.served.Add(1)%purgeEvery == 0 {
		if _, err := h.cfg.Dedup.PurgeEvents(ctx, now, purgeBatch); err != nil {
			h.log.LogAttrs(ctx, slog.LevelWarn, "gocards: purging expired event ids failed", slog.String("error", err.Error()))
		}
	}
	state, err := h.cfg.Dedup.BeginEvent(ctx, ev.EventID, now, h.cfg.DedupHold)
	if err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "gocards: event dedup failed",
			append(attrs, slog.String("error", err.Error()))...)
		w.Header().Set("Retry-After", "5")
		return refuse(http.StatusServiceUnavailable, fmt.Errorf("%w: event dedup failed", ports.ErrUnavailable))
	}
	switch state {
	case ports.DedupDone:
		h.log.LogAttrs(ctx, slog.LevelDebug, "gocards: replayed event ignored", attrs...)
		w.WriteHeader(http.StatusNoContent)
		return nil
	case ports.DedupBusy:
		w.Header().Set("Retry-After", "1")
		return refuse(http.StatusServiceUnavailable, fmt.Errorf("%w: the event is being applied", ports.ErrUnavailable))
	}
	// The outcome is recorded even when the bureau hung up meanwhile.
	finish := func(applied bool) {
		wctx := context.WithoutCancel(ctx)
		if err := h.cfg.Dedup.FinishEvent(wctx, ev.EventID, applied, h.cfg.Clock.Now().Add(h.cfg.DedupTTL)); err != nil {
			h.log.LogAttrs(wctx, slog.LevelWarn, "gocards: event outcome not remembered; a redelivery is applied again",
				append(attrs, slog.String("error", err.Error()))...)
		}
	}
	changed, err := h.cfg.Applier.ApplyOrderStatus(ctx, st)
	switch {
	case err == nil:
		finish(true)
		if !changed {
			h.log.LogAttrs(ctx, slog.LevelInfo, "gocards: event ignored by the domain", attrs...)
		}
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ports.ErrNotFound):
		finish(true)
		h.log.LogAttrs(ctx, slog.LevelWarn, "gocards: event for an unknown card ignored", attrs...)
		w.WriteHeader(http.StatusNoContent)
	default:
		finish(false)
		h.log.LogAttrs(ctx, slog.LevelError, "gocards: applying event failed",
			append(attrs, slog.String("error", err.Error()))...)
		w.Header().Set("Retry-After", "5")
		return refuse(http.StatusServiceUnavailable, fmt.Errorf("%w: applying the event failed", ports.ErrUnavailable))
	}
	return nil
}

// SignBody returns the X-GoCards-Signature value of body under secret:
// "sha256=" + hex(HMAC-SHA256(secret, body)).
func SignBody(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// validSignature checks header against the HMAC of body in constant time.
func validSignature(secret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// decodeEvent decodes a status event body.
func decodeEvent(b []byte) (eventBody, ports.OrderStatus, error) {
	var ev eventBody
	if err := decodeJSON("event", b, &ev); err != nil {
		return eventBody{}, ports.OrderStatus{}, err
	}
	if ev.EventID == "" {
		return eventBody{}, ports.OrderStatus{}, protocolErr("event: no eventId")
	}
	if len(ev.EventID) > MaxEventIDBytes {
		return eventBody{}, ports.OrderStatus{}, protocolErr("event: eventId longer than %d bytes", MaxEventIDBytes)
	}
	if ev.Topic == "" {
		return eventBody{}, ports.OrderStatus{}, protocolErr("event: no topic")
	}
	if ev.Topic != topicOrderStatusChanged {
		return ev, ports.OrderStatus{}, nil // ignored, but well-formed
	}
	if len(ev.Data) == 0 {
		return eventBody{}, ports.OrderStatus{}, protocolErr("event: no data")
	}
	st, err := decodeOrderStatus(ev.Data)
	if err != nil {
		return eventBody{}, ports.OrderStatus{}, err
	}
	if st.ExternalReference == "" {
		return eventBody{}, ports.OrderStatus{}, protocolErr("event: order status without externalReference")
	}
	return ev, st, nil
}
