// Package cardorder is the domain of extprod: ordering ID cards from an external card bureau
// (docs/use-case.md). [Service] holds the use cases — order, preview, approve, reject, abort, repeat,
// dispatch, status updates, batch and temporary orders — and enforces the state machine, the
// permissions of each actor and the one-open-order-per-user rule on every path.
//
// The Service talks to the world through the interfaces of package ports only; package memory
// implements all of them in memory. Every state change is one compare-and-set in the card store
// together with its audit event and notifications (an outbox), which a [Relay] claims and
// delivers outside the call that wrote them, retrying until they are through.
package cardorder

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/cardsaddon/extprod/ports"
)

// Ports are the adapters a Service uses. Users, Store and Provider are required. Store is one
// storage for the cards, their queue and their outbox, because a state change, its audit event
// and its notifications are one atomic write (docs/use-case.md §8). Options defaults to
// [StaticOptions] of [ports.DefaultOptions] (the use case disabled); Mailer and Audit default to
// sinks that discard.
type Ports struct {
	Users    ports.UserStore
	Store    ports.Store
	Provider ports.Provider
	Options  ports.OptionsSource
	Mailer   ports.Mailer
	Audit    ports.AuditSink

	// Leases, when set, lets one of several instances at a time run the jobs that are not
	// claimed row by row: the status sync ("status-sync") and the clean-up ("cleanup")
	// (docs/use-case.md §8). Nil means a single instance: the jobs run without a lease.
	Leases ports.JobLeases
	// Idempotency and Dedup, when set, are purged of expired records by [Service.CleanUp]: the
	// HTTP API's idempotency records and the bureau events' dedup entries. The Service uses them
	// for nothing else.
	Idempotency IdempotencyPurger
	Dedup       DedupPurger
}

// IdempotencyPurger removes expired idempotency records; every [ports.IdempotencyStore] is one.
type IdempotencyPurger interface {
	PurgeIdempotency(ctx context.Context, now time.Time, max int) (int, error)
}

// DedupPurger removes expired bureau-event dedup entries; every [ports.EventDedup] is one.
type DedupPurger interface {
	PurgeEvents(ctx context.Context, now time.Time, max int) (int, error)
}

// Config tunes a Service. Its zero value is the documented defaults; a nil *Config is the zero
// value.
type Config struct {
	// Clock gives the time; default the wall clock.
	Clock ports.Clock
	// IDs gives card, event and notification ids; default random 20-character ids.
	IDs ports.IDSource
	// Logger receives operational logs, never personal data; default discards.
	Logger *slog.Logger
	// DispatchBatch is how many queued cards one claim takes; default 100.
	DispatchBatch int
	// DispatchConcurrency bounds the bureau calls in flight per dispatch pass; default 8.
	DispatchConcurrency int
	// DispatchLease is how long a claimed card is held before another pass may retry it; default
	// 2 minutes. Make it longer than the provider's own retries of one call take.
	DispatchLease time.Duration
	// MaxDispatchTries is how many unsuccessful dispatch attempts (bureau unreachable) a card gets
	// before it fails with "bureau unreachable"; default 10. Such an outcome was unknown, so the
	// bureau may still hold the order: check with the bureau before repeating such a card.
	MaxDispatchTries int
	// RetryBackoff is the wait after the first unsuccessful dispatch attempt; it doubles with each
	// further attempt up to MaxRetryBackoff. Defaults 10 s and 30 min.
	RetryBackoff, MaxRetryBackoff time.Duration
	// DirectOrderTimeout bounds how long an order, approval or repeat with queueing off waits for
	// the bureau; after it the call returns the card still processing and the dispatcher retries
	// it under the same idempotency key. Default 20 s.
	DirectOrderTimeout time.Duration
	// NotifyRetry is the wait before a failed notification is tried again; default 1 minute.
	NotifyRetry time.Duration
	// DeliveryLease is how long a relay pass holds the outbox entries it claimed before another
	// relay (of this or another instance) may take them again; default 1 minute. Make it longer
	// than a mailer or audit sink call takes.
	DeliveryLease time.Duration
	// InlineDelivery sends a write's audit events and notifications from the call that wrote
	// them, right after the write, as releases before the relay did; what fails is left to the
	// relay. Default false: a [Relay] (or [Dispatcher.Run], which runs one) delivers them, so a
	// call never waits for the mailer (docs/use-case.md §6).
	InlineDelivery bool
	// OutboxRetention is how long delivered outbox entries are kept before [Service.CleanUp]
	// removes them; default 7 days.
	OutboxRetention time.Duration
	// CleanupBatch is how many rows of one kind one clean-up step removes at a time; default
	// 1000.
	CleanupBatch int
	// Instance names this instance of the host: the holder of the job leases. Default a random
	// id, so every Service is its own holder.
	Instance string
	// JobLease is how long a job lease (status sync, clean-up) is held before another instance
	// may take the job over; the holder renews it as it works. Default 5 minutes.
	JobLease time.Duration
	// SyncConcurrency bounds the bureau status lookups in flight during a status sync; default 8.
	SyncConcurrency int
	// Observer hears every operation, state change, bureau call, notification and script run,
	// for metrics and traces (see [ports.Observer]); default observes nothing. When it is also a
	// [ports.TraceParenter], new cards and audit events carry the trace context of their request.
	Observer ports.Observer
}

// WithDefaults returns a copy of c (nil is the zero Config) with every zero field set to its
// default. Negative values are left for validate to refuse.
func (c *Config) WithDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.Clock == nil {
		out.Clock = ports.SystemClock
	}
	if out.IDs == nil {
		out.IDs = randomIDs{}
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.Observer == nil {
		out.Observer = ports.NopObserver{}
	}
	setDefault(&out.DispatchBatch, 100)
	setDefault(&out.DispatchConcurrency, 8)
	setDefault(&out.DispatchLease, 2*time.Minute)
	setDefault(&out.MaxDispatchTries, 10)
	setDefault(&out.RetryBackoff, 10*time.Second)
	setDefault(&out.MaxRetryBackoff, 30*time.Minute)
	setDefault(&out.NotifyRetry, time.Minute)
	setDefault(&out.DeliveryLease, time.Minute)
	setDefault(&out.OutboxRetention, 7*24*time.Hour)
	setDefault(&out.CleanupBatch, 1000)
	setDefault(&out.JobLease, 5*time.Minute)
	if out.Instance == "" {
		out.Instance = "instance-" + randomIDs{}.NewID()
	}
	setDefault(&out.DirectOrderTimeout, 20*time.Second)
	setDefault(&out.SyncConcurrency, 8)
	return out
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// validate refuses settings no default can mend.
func (c Config) validate() error {
	var errs []error
	for name, v := range map[string]int64{
		"DispatchBatch": int64(c.DispatchBatch), "DispatchConcurrency": int64(c.DispatchConcurrency),
		"DispatchLease": int64(c.DispatchLease), "MaxDispatchTries": int64(c.MaxDispatchTries),
		"RetryBackoff": int64(c.RetryBackoff), "MaxRetryBackoff": int64(c.MaxRetryBackoff),
		"NotifyRetry": int64(c.NotifyRetry), "SyncConcurrency": int64(c.SyncConcurrency),
		"DirectOrderTimeout": int64(c.DirectOrderTimeout), "DeliveryLease": int64(c.DeliveryLease),
		"OutboxRetention": int64(c.OutboxRetention), "CleanupBatch": int64(c.CleanupBatch), "JobLease": int64(c.JobLease),
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s is negative", name))
		}
	}
	if c.MaxRetryBackoff < c.RetryBackoff {
		errs = append(errs, errors.New("MaxRetryBackoff is below RetryBackoff"))
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// Service runs the use cases. It is safe for concurrent use; all its state lives in the ports.
type Service struct {
	p        Ports
	cfg      Config
	now      func() time.Time
	log      *slog.Logger
	validate *validator.Validate
	wake     chan struct{} // a write signals the in-process relay (see Relay)
}

// New returns a Service over p, configured by cfg (nil for the defaults).
func New(p Ports, cfg *Config) (*Service, error) {
	var missing []string
	for name, set := range map[string]bool{
		"Users": p.Users != nil, "Store": p.Store != nil, "Provider": p.Provider != nil,
	} {
		if !set {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, errors.New("cardorder: missing required ports: " + strings.Join(missing, ", "))
	}
	if p.Options == nil {
		p.Options = StaticOptions(ports.DefaultOptions())
	}
	if p.Mailer == nil {
		p.Mailer = discard{}
	}
	if p.Audit == nil {
		p.Audit = discard{}
	}
	c := cfg.WithDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("cardorder: %w", err)
	}
	c.Logger = slog.New(RequestLogHandler(c.Logger.Handler()))
	return &Service{p: p, cfg: c, now: c.Clock.Now, log: c.Logger, validate: newValidator(),
		wake: make(chan struct{}, 1)}, nil
}

// StaticOptions is an options source that gives the same options for every order, with script
// version "static".
type StaticOptions ports.Options

// Resolve implements [ports.OptionsSource].
func (o StaticOptions) Resolve(context.Context, ports.OptionsRequest) (ports.Resolved, error) {
	return ports.Resolved{Options: ports.Options(o), ScriptVersion: "static"}, nil
}

type randomIDs struct{}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func (randomIDs) NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	// The base32 of 12 bytes, unpadded, is 20 characters.
	var out [20]byte
	idEncoding.Encode(out[:], b[:])
	return string(out[:])
}

type discard struct{}

func (discard) Send(context.Context, ports.Notification) error { return nil }
func (discard) Record(context.Context, ports.AuditEvent) error { return nil }
