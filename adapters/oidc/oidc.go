package oidc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/cardsaddon/extprod/ports"
)

// The roles-claim presets: JSON Pointers (RFC 6901) to where well-known providers put an
// access token's roles. Any other pointer works too, for example
// "/resource_access/my-client/roles" for Keycloak client roles.
const (
	// RolesKeycloak is Keycloak's realm roles: {"realm_access": {"roles": ["operator"]}}.
	RolesKeycloak = "/realm_access/roles"
	// RolesZitadel is Zitadel's project roles, an object whose keys are the role names:
	// {"urn:zitadel:iam:org:project:roles": {"operator": {"<org id>": "<org domain>"}}}.
	RolesZitadel = "/urn:zitadel:iam:org:project:roles"
	// RolesPlain is a top-level array of role names: {"roles": ["operator"]}. The default.
	RolesPlain = "/roles"
)

// Defaults that a zero [Config] field stands for.
const (
	// DefaultClockSkew is how long after its "exp" a token is still accepted.
	DefaultClockSkew = time.Minute
	// DefaultTimeout bounds one call to the provider (discovery or key set) and one
	// [Authenticator.Authenticate] call as a whole.
	DefaultTimeout = 10 * time.Second
	// DefaultActorClaim is the claim that names the actor.
	DefaultActorClaim = "sub"
)

// DefaultAlgorithms returns the signing algorithms accepted when [Config.Algorithms] is empty:
// RS256 and ES256.
func DefaultAlgorithms() []string { return []string{gooidc.RS256, gooidc.ES256} }

// DefaultRoleMap returns the role map used when [Config.RoleMap] is nil: each of the library's
// roles under its own name ("operator", "approver", "admin", "selfservice").
func DefaultRoleMap() map[string]ports.Role {
	return map[string]ports.Role{
		string(ports.RoleOperator):    ports.RoleOperator,
		string(ports.RoleApprover):    ports.RoleApprover,
		string(ports.RoleAdmin):       ports.RoleAdmin,
		string(ports.RoleSelfService): ports.RoleSelfService,
	}
}

// Config configures an [Authenticator]. Issuer and Audience are required; every other zero
// value stands for the documented default.
type Config struct {
	// Issuer is the provider's issuer URL exactly as its discovery document and its tokens
	// state it (mind a trailing slash). Discovery reads Issuer + "/.well-known/openid-configuration".
	Issuer string
	// Audience is the value the token's "aud" must contain: the API's resource or client id
	// as the provider puts it into access tokens. Required: an access token issued for
	// another service must not open this one.
	Audience string
	// Algorithms lists the accepted signing algorithms ("RS256", "ES256", "PS256", "EdDSA", …).
	// Empty means [DefaultAlgorithms]. "none" and symmetric algorithms are never accepted.
	Algorithms []string
	// ClockSkew is how long after its expiry a token is still accepted, for clocks that drift
	// apart. Zero means [DefaultClockSkew]; a negative value means none.
	ClockSkew time.Duration
	// ActorClaim names the top-level string claim that becomes [ports.Actor.ID]. Empty means
	// [DefaultActorClaim] ("sub"). A token without it is refused.
	ActorClaim string
	// RolesClaim is a JSON Pointer (RFC 6901) to the token's roles: an array of role names,
	// an object whose keys are role names, or a single name. Empty means [RolesPlain]; see also
	// [RolesKeycloak] and [RolesZitadel]. A token without it authenticates with no roles.
	RolesClaim string
	// RoleMap maps the provider's role names to the library's roles; names it lacks are
	// ignored. Nil means [DefaultRoleMap]. A map that is not nil replaces the default whole.
	RoleMap map[string]ports.Role
	// Timeout bounds each call to the provider and each Authenticate call. Zero means
	// [DefaultTimeout].
	Timeout time.Duration
	// HTTPClient talks to the provider. Nil means a new client; a client whose Timeout is
	// zero is used with Timeout set to the Timeout above (the key set is fetched in the
	// background, where only the client's own timeout applies).
	HTTPClient *http.Client
	// Clock tells the time for the expiry check. Nil means the system clock.
	Clock ports.Clock
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if len(c.Algorithms) == 0 {
		c.Algorithms = DefaultAlgorithms()
	}
	switch {
	case c.ClockSkew == 0:
		c.ClockSkew = DefaultClockSkew
	case c.ClockSkew < 0:
		c.ClockSkew = 0
	}
	if c.ActorClaim == "" {
		c.ActorClaim = DefaultActorClaim
	}
	if c.RolesClaim == "" {
		c.RolesClaim = RolesPlain
	}
	if c.RoleMap == nil {
		c.RoleMap = DefaultRoleMap()
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.HTTPClient.Timeout == 0 {
		client := *c.HTTPClient
		client.Timeout = c.Timeout
		c.HTTPClient = &client
	}
	if c.Clock == nil {
		c.Clock = ports.SystemClock
	}
	return c
}

// acceptedAlgorithms returns the asymmetric algorithms go-oidc verifies against a key set.
func acceptedAlgorithms() []string {
	return []string{
		gooidc.RS256, gooidc.RS384, gooidc.RS512,
		gooidc.ES256, gooidc.ES384, gooidc.ES512,
		gooidc.PS256, gooidc.PS384, gooidc.PS512,
		gooidc.EdDSA,
	}
}

func (c Config) validate() error {
	if c.Issuer == "" {
		return errors.New("oidc: Config.Issuer is required")
	}
	if !strings.HasPrefix(c.Issuer, "https://") && !strings.HasPrefix(c.Issuer, "http://") {
		return fmt.Errorf("oidc: Config.Issuer %q is not an http(s) URL", c.Issuer)
	}
	if c.Audience == "" {
		return errors.New("oidc: Config.Audience is required")
	}
	for _, alg := range c.Algorithms {
		if !slices.Contains(acceptedAlgorithms(), alg) {
			return fmt.Errorf("oidc: Config.Algorithms: %q is not an accepted algorithm (one of %v)", alg, acceptedAlgorithms())
		}
	}
	if _, err := parsePointer(c.RolesClaim); err != nil {
		return fmt.Errorf("oidc: Config.RolesClaim: %w", err)
	}
	for name, role := range c.RoleMap {
		switch role {
		case ports.RoleOperator, ports.RoleApprover, ports.RoleAdmin, ports.RoleSelfService:
		default:
			return fmt.Errorf("oidc: Config.RoleMap[%q] = %q is not a role of the library", name, role)
		}
	}
	return nil
}

// Authenticator verifies JWT access tokens of one OpenID Connect provider and turns them into
// actors. It discovers the provider on first use (or on [Authenticator.Discover]), caches its
// keys and fetches them again when a token names a key it has not seen (key rotation). It is
// safe for concurrent use.
type Authenticator struct {
	cfg   Config
	roles []string // the RolesClaim pointer, parsed

	// discovering holds one token while a discovery runs, so that only one caller discovers
	// at a time and waiting callers still honour their contexts.
	discovering chan struct{}
	verifier    atomic.Pointer[gooidc.IDTokenVerifier]
}

var _ ports.Authenticator = (*Authenticator)(nil)

// New checks cfg and returns an Authenticator. It does not reach the provider: a provider
// that is down when the host starts makes the first calls answer [ports.ErrUnavailable]
// instead of keeping the host from starting. Call [Authenticator.Discover] to check it early.
func New(cfg Config) (*Authenticator, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pointer, _ := parsePointer(cfg.RolesClaim)
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	cfg.RoleMap = maps.Clone(cfg.RoleMap) // the host may go on using its map
	return &Authenticator{cfg: cfg, roles: pointer, discovering: make(chan struct{}, 1)}, nil
}

// Discover fetches the provider's discovery document unless an earlier call succeeded. It
// returns an error wrapping [ports.ErrUnavailable] when the provider cannot be reached, does
// not answer within the timeout, or answers with a document for another issuer.
func (a *Authenticator) Discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	_, err := a.verifierFor(ctx)
	return err
}

// Authenticate verifies token (the bearer token without its "Bearer " prefix) and returns the
// actor it names. A token that names no one — malformed, forged, expired, for another
// audience or issuer, signed with an algorithm not allowed, without the actor claim — is an
// error wrapping [ports.ErrUnauthenticated] with the reason; a provider that cannot be reached
// is an error wrapping [ports.ErrUnavailable]. No error contains the token.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (ports.Actor, error) {
	if token == "" {
		return ports.Actor{}, unauthenticated("no token")
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	verifier, err := a.verifierFor(ctx)
	if err != nil {
		return ports.Actor{}, err
	}

	fetch := &fetchFailure{}
	verified, err := verifier.Verify(context.WithValue(ctx, fetchFailureKey{}, fetch), token)
	if err != nil {
		if fetchErr := fetch.get(); fetchErr != nil {
			return ports.Actor{}, fmt.Errorf("oidc: fetch the provider's keys: %w: %w", ports.ErrUnavailable, fetchErr)
		}
		var expired *gooidc.TokenExpiredError
		if errors.As(err, &expired) {
			return ports.Actor{}, unauthenticated("token expired at " + expired.Expiry.UTC().Format(time.RFC3339))
		}
		return ports.Actor{}, unauthenticated(redact(err.Error(), token))
	}

	var claims map[string]any
	if err := verified.Claims(&claims); err != nil {
		return ports.Actor{}, unauthenticated("claims are not a JSON object")
	}
	id, ok := claims[a.cfg.ActorClaim].(string)
	if !ok || id == "" {
		return ports.Actor{}, unauthenticated(fmt.Sprintf("no string claim %q names the actor", a.cfg.ActorClaim))
	}
	roles, err := a.mapRoles(claims)
	if err != nil {
		return ports.Actor{}, unauthenticated(err.Error())
	}
	return ports.Actor{ID: id, Roles: roles}, nil
}

// verifierFor returns the verifier, discovering the provider first if no call has yet.
func (a *Authenticator) verifierFor(ctx context.Context) (*gooidc.IDTokenVerifier, error) {
	if v := a.verifier.Load(); v != nil {
		return v, nil
	}
	select {
	case a.discovering <- struct{}{}:
		defer func() { <-a.discovering }()
	case <-ctx.Done():
		return nil, fmt.Errorf("oidc: discover %s: %w: %w", a.cfg.Issuer, ports.ErrUnavailable, ctx.Err())
	}
	if v := a.verifier.Load(); v != nil { // another caller discovered while this one waited
		return v, nil
	}
	v, err := a.discover(ctx)
	if err != nil {
		return nil, fmt.Errorf("oidc: discover %s: %w: %w", a.cfg.Issuer, ports.ErrUnavailable, err)
	}
	a.verifier.Store(v)
	return v, nil
}

func (a *Authenticator) discover(ctx context.Context) (*gooidc.IDTokenVerifier, error) {
	provider, err := gooidc.NewProvider(gooidc.ClientContext(ctx, a.cfg.HTTPClient), a.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, err
	}
	if meta.JWKSURI == "" {
		return nil, errors.New("the discovery document has no jwks_uri")
	}
	keys := &keySet{url: meta.JWKSURI, client: a.cfg.HTTPClient, timeout: a.cfg.Timeout}
	for _, alg := range a.cfg.Algorithms {
		keys.algs = append(keys.algs, jose.SignatureAlgorithm(alg))
	}
	skew := a.cfg.ClockSkew
	clock := a.cfg.Clock
	return gooidc.NewVerifier(a.cfg.Issuer, keys, &gooidc.Config{
		ClientID:             a.cfg.Audience,
		SupportedSigningAlgs: a.cfg.Algorithms,
		// go-oidc refuses a token whose exp is before Now; moving Now back by the skew
		// accepts a token up to skew after its expiry.
		Now: func() time.Time { return clock.Now().Add(-skew) },
	}), nil
}

// mapRoles reads the roles claim and maps it to the library's roles, in the order of
// docs/use-case.md §1, without duplicates.
func (a *Authenticator) mapRoles(claims map[string]any) ([]ports.Role, error) {
	value, found := lookup(claims, a.roles)
	if !found || value == nil {
		return nil, nil
	}
	var names []string
	switch v := value.(type) {
	case string:
		names = []string{v}
	case []any:
		for _, item := range v {
			if s, ok := item.(string); ok {
				names = append(names, s)
			}
		}
	case map[string]any:
		for name := range v {
			names = append(names, name)
		}
	default:
		return nil, fmt.Errorf("roles claim %q is neither a list, an object nor a string", a.cfg.RolesClaim)
	}
	held := map[ports.Role]bool{}
	for _, name := range names {
		if role, ok := a.cfg.RoleMap[name]; ok {
			held[role] = true
		}
	}
	var roles []ports.Role
	for _, role := range []ports.Role{ports.RoleOperator, ports.RoleApprover, ports.RoleAdmin, ports.RoleSelfService} {
		if held[role] {
			roles = append(roles, role)
		}
	}
	return roles, nil
}

// parsePointer splits a JSON Pointer (RFC 6901) into its unescaped reference tokens.
func parsePointer(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%q is not a JSON Pointer: it must start with '/'", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, part := range parts {
		parts[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
	}
	return parts, nil
}

// lookup follows a parsed JSON Pointer through decoded JSON.
func lookup(doc any, pointer []string) (any, bool) {
	for _, token := range pointer {
		switch node := doc.(type) {
		case map[string]any:
			next, ok := node[token]
			if !ok {
				return nil, false
			}
			doc = next
		case []any:
			i, err := strconv.Atoi(token)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			doc = node[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

func unauthenticated(reason string) error {
	return fmt.Errorf("oidc: %w: %s", ports.ErrUnauthenticated, reason)
}

// redact removes the token and each of its parts from a message taken from a library, so
// that no error carries a credential even if a library quotes its input.
func redact(msg, token string) string {
	msg = strings.ReplaceAll(msg, token, "[token]")
	for part := range strings.SplitSeq(token, ".") {
		if len(part) >= 8 {
			msg = strings.ReplaceAll(msg, part, "[token]")
		}
	}
	return msg
}
