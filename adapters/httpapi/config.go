package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// Defaults of [Config]; a zero field of Config takes the value here.
const (
	// DefaultMaxBodyBytes limits a JSON request body (docs/http-api.md: 1 MiB).
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxScriptBytes limits an option script, sent to PUT or inside a dry run (256 KiB).
	DefaultMaxScriptBytes = 256 << 10
	// DefaultIdempotencyTTL is how long a successful creation is remembered under its
	// Idempotency-Key (docs/http-api.md: at least 24 hours).
	DefaultIdempotencyTTL = 24 * time.Hour
	// DefaultIdempotencyHold is how long a request holds its Idempotency-Key while it runs.
	DefaultIdempotencyHold = time.Minute
)

// StaticTokens is a [ports.Authenticator] over a fixed map from token to actor, for examples, tests
// and hosts whose tokens are provisioned out of band. Build it as a map literal (or make and assign)
// with the tokens in clear as keys; do not modify it while it is in use.
//
// Tokens are never looked up by their clear text: a map lookup by string compares the
// presented token byte by byte with a stored one, and its timing would tell an attacker how
// much of a token they guessed right. Instead the SHA-256 of every token is the key, and the
// SHA-256 of the presented token is looked up, so the timing depends on the digest only, not
// on the token's content. [New] hashes the map's tokens once when given a StaticTokens (later
// changes to the map are not seen); Authenticate called directly hashes them on every call.
type StaticTokens map[string]ports.Actor

// Authenticate implements [ports.Authenticator]: it looks the SHA-256 of token up among the
// SHA-256 of t's tokens. An unknown token, or one whose actor has no ID, is
// [ports.ErrUnauthenticated]; a fixed map is never unavailable.
func (t StaticTokens) Authenticate(ctx context.Context, token string) (ports.Actor, error) {
	return t.digests().Authenticate(ctx, token)
}

// digests returns t keyed by the SHA-256 of each token.
func (t StaticTokens) digests() tokenDigests {
	d := make(tokenDigests, len(t))
	for tok, a := range t {
		d[sha256.Sum256([]byte(tok))] = a
	}
	return d
}

// tokenDigests maps the SHA-256 of a token to its actor: the form [StaticTokens] is used in.
type tokenDigests map[[sha256.Size]byte]ports.Actor

// Authenticate implements [ports.Authenticator].
func (d tokenDigests) Authenticate(_ context.Context, token string) (ports.Actor, error) {
	a, ok := d[sha256.Sum256([]byte(token))]
	if !ok || a.ID == "" {
		return ports.Actor{}, ports.ErrUnauthenticated
	}
	return a, nil
}

// Config configures the handler [New] returns. Service and Auth are required; every other zero
// field is a documented default.
type Config struct {
	// Service is the domain every endpoint calls.
	Service *cardorder.Service
	// Auth authenticates the bearer token of every request but GET /healthz and the bureau's
	// events: [ports.ErrUnauthenticated] answers 401 unauthenticated, any other error 503
	// auth_unavailable (the identity provider could not decide now).
	Auth ports.Authenticator
	// Scripts serves the option-script endpoints (an *options.Engine, or the host's own
	// [ports.ScriptAdmin]). Nil: GET and PUT answer 404 not_found, and a dry run can only use
	// the installed options (a script in its body answers 404).
	Scripts ports.ScriptAdmin
	// Events, when set, is mounted at POST /v1/gocards/events without bearer authentication: it
	// authenticates the bureau by its signature itself (gocards.EventHandler). Nil: the path
	// answers 404.
	Events http.Handler
	// Idempotency keeps the requests made with an Idempotency-Key as reserve-then-complete
	// records (docs/http-api.md). Default a new [memory.Idempotency]: in-process only; a host
	// with several instances plugs a shared, durable one (and gives it to the Service's
	// clean-up, [cardorder.Ports].Idempotency, to purge expired records).
	Idempotency ports.IdempotencyStore
	// IdempotencyTTL is how long a successful creation is replayed; default
	// DefaultIdempotencyTTL. It must not be shorter than 24 hours.
	IdempotencyTTL time.Duration
	// IdempotencyHold is how long a request holds its reservation of a key while it runs;
	// default DefaultIdempotencyHold. Make it longer than a creation can take (a direct order
	// waits up to the Service's DirectOrderTimeout): a reservation that expires lets a retry
	// create a second card.
	IdempotencyHold time.Duration
	// Clock gives the time (idempotency expiry); default the wall clock.
	Clock ports.Clock
	// Logger receives server-side failures (route, status, code and the internal cause), never
	// request bodies or personal data. Default: discard.
	Logger *slog.Logger
	// MaxBodyBytes limits a JSON request body; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxScriptBytes limits an option script; default DefaultMaxScriptBytes.
	MaxScriptBytes int64
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Clock == nil {
		c.Clock = wallClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxScriptBytes == 0 {
		c.MaxScriptBytes = DefaultMaxScriptBytes
	}
	if c.IdempotencyTTL == 0 {
		c.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if c.IdempotencyHold == 0 {
		c.IdempotencyHold = DefaultIdempotencyHold
	}
	if c.Idempotency == nil {
		c.Idempotency = &memory.Idempotency{}
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Service == nil {
		errs = append(errs, errors.New("field Service is required"))
	}
	if c.Auth == nil {
		errs = append(errs, errors.New("field Auth is required"))
	}
	if c.MaxBodyBytes < 0 || c.MaxScriptBytes < 0 {
		errs = append(errs, errors.New("MaxBodyBytes and MaxScriptBytes must not be negative"))
	}
	if c.IdempotencyHold < 0 {
		errs = append(errs, errors.New("IdempotencyHold must not be negative"))
	}
	if c.IdempotencyTTL < DefaultIdempotencyTTL {
		errs = append(errs, errors.New("IdempotencyTTL must be at least 24h"))
	}
	if err := errors.Join(errs...); err != nil {
		return errors.Join(errors.New("httpapi: invalid config"), err)
	}
	return nil
}

type wallClock struct{}

// Now implements [ports.Clock].
func (wallClock) Now() time.Time { return time.Now() }
