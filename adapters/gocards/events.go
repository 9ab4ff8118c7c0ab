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
	"sync"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// StatusApplier applies a bureau order status to the card it belongs to. The domain's Service
// satisfies it; the events handler calls it for each new status event.
//
// s.ExternalReference is the card id. ApplyOrderStatus returns changed=false for a status it
// ignores (a move backwards, the same state again, a card not yet ordered) and an error wrapping
// [ports.ErrNotFound] for an unknown card; both are final answers. Any other error is taken as
// transient: the bureau is asked to deliver the event again.
type StatusApplier interface {
	ApplyOrderStatus(ctx context.Context, s ports.OrderStatus) (changed bool, err error)
}

// Defaults of [EventHandlerConfig].
const (
	DefaultEventMaxBodyBytes = 1 << 20
	DefaultEventDedupTTL     = 24 * time.Hour
	DefaultEventDedupSize    = 100_000
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
	// Applier applies each new status.
	Applier StatusApplier
	// Logger receives ignored and failed events (event id, order id, card id and state only,
	// never the body). Default: discard.
	Logger *slog.Logger
	// MaxBodyBytes limits an event body; a longer one is answered 413. Default
	// DefaultEventMaxBodyBytes.
	MaxBodyBytes int64
	// DedupTTL is how long an applied event id is remembered (a replay within it is a no-op);
	// default DefaultEventDedupTTL.
	DedupTTL time.Duration
	// DedupSize bounds how many event ids are remembered; the oldest are forgotten first.
	// Default DefaultEventDedupSize.
	DedupSize int
	// Now gives the time for the dedup expiry; default time.Now.
	Now func() time.Time
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
	if c.DedupSize == 0 {
		c.DedupSize = DefaultEventDedupSize
	}
	if c.Now == nil {
		c.Now = time.Now
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
	if c.MaxBodyBytes < 0 || c.DedupTTL < 0 || c.DedupSize < 0 {
		errs = append(errs, errors.New("MaxBodyBytes, DedupTTL and DedupSize must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gocards: invalid event handler config: %w", err)
	}
	return nil
}

// EventHandler receives the bureau's status events (POST, docs/gocards-wire.md "Status events") and
// applies them through a [StatusApplier]. It is an [http.Handler], safe for concurrent use; the
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
// Each eventId is applied once while it is remembered: ids are kept in memory for DedupTTL, at
// most DedupSize of them, and are lost on restart. A replay the handler has forgotten is applied
// again, which is harmless because the domain moves a card forward only.
type EventHandler struct {
	cfg   EventHandlerConfig
	log   *slog.Logger
	dedup *dedupSet
}

var _ http.Handler = (*EventHandler)(nil)

// NewEventHandler returns a handler for the bureau's status events.
func NewEventHandler(cfg EventHandlerConfig) (*EventHandler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &EventHandler{cfg: cfg, log: cfg.Logger, dedup: newDedupSet(cfg.DedupSize, cfg.DedupTTL)}, nil
}

// ServeHTTP handles one event delivery.
func (h *EventHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "event body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read event body", http.StatusBadRequest)
		return
	}
	if !validSignature(h.cfg.Secret, body, r.Header.Get(SignatureHeader)) {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "gocards: event with a bad or missing signature")
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	ev, st, err := decodeEvent(body)
	if err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "gocards: malformed event", slog.String("error", err.Error()))
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	attrs := []slog.Attr{slog.String("event_id", ev.EventID), slog.String("topic", ev.Topic)}
	if ev.Topic != topicOrderStatusChanged {
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "gocards: event with an unknown topic ignored", attrs...)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	attrs = append(attrs, slog.String("order_id", st.OrderID), slog.String("card_id", st.ExternalReference),
		slog.String("state", string(st.State)))

	now := h.cfg.Now()
	switch h.dedup.begin(ev.EventID, now) {
	case dedupDone:
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "gocards: replayed event ignored", attrs...)
		w.WriteHeader(http.StatusNoContent)
		return
	case dedupBusy:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "event is being applied", http.StatusServiceUnavailable)
		return
	}
	changed, err := h.cfg.Applier.ApplyOrderStatus(r.Context(), st)
	switch {
	case err == nil:
		h.dedup.finish(ev.EventID, true, h.cfg.Now())
		if !changed {
			h.log.LogAttrs(r.Context(), slog.LevelInfo, "gocards: event ignored by the domain", attrs...)
		}
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ports.ErrNotFound):
		h.dedup.finish(ev.EventID, true, h.cfg.Now())
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "gocards: event for an unknown card ignored", attrs...)
		w.WriteHeader(http.StatusNoContent)
	default:
		h.dedup.finish(ev.EventID, false, h.cfg.Now())
		h.log.LogAttrs(r.Context(), slog.LevelError, "gocards: applying event failed",
			append(attrs, slog.String("error", err.Error()))...)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
	}
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

// dedupSet remembers applied event ids for a while, in insertion order, at most max of them.
type dedupSet struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	state map[string]dedupEntry
	order []dedupItem // applied ids, oldest first; order[head:] is live
	head  int
}

type dedupEntry struct {
	busy    bool
	expires time.Time
}

type dedupItem struct {
	id      string
	expires time.Time
}

type dedupResult int

const (
	dedupNew dedupResult = iota
	dedupBusy
	dedupDone
)

func newDedupSet(max int, ttl time.Duration) *dedupSet {
	return &dedupSet{max: max, ttl: ttl, state: make(map[string]dedupEntry)}
}

// begin reports whether id was applied (and not yet forgotten), is being applied now, or is new;
// a new id is marked busy until finish.
func (d *dedupSet) begin(id string, now time.Time) dedupResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune(now)
	if e, ok := d.state[id]; ok {
		if e.busy {
			return dedupBusy
		}
		if now.Before(e.expires) {
			return dedupDone
		}
	}
	d.state[id] = dedupEntry{busy: true}
	return dedupNew
}

// finish ends a begin: applied ids are remembered for the TTL, others forgotten.
func (d *dedupSet) finish(id string, applied bool, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !applied {
		delete(d.state, id)
		return
	}
	exp := now.Add(d.ttl)
	d.state[id] = dedupEntry{expires: exp}
	d.order = append(d.order, dedupItem{id: id, expires: exp})
	d.prune(now)
}

// prune forgets expired ids and the oldest ones beyond max.
func (d *dedupSet) prune(now time.Time) {
	for d.head < len(d.order) {
		it := d.order[d.head]
		if len(d.order)-d.head <= d.max && now.Before(it.expires) {
			break
		}
		if e, ok := d.state[it.id]; ok && !e.busy && e.expires.Equal(it.expires) {
			delete(d.state, it.id)
		}
		d.order[d.head] = dedupItem{}
		d.head++
	}
	if d.head > 1024 && d.head*2 > len(d.order) {
		d.order = append([]dedupItem(nil), d.order[d.head:]...)
		d.head = 0
	}
}
