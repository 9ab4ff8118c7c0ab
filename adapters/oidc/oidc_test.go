package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/oidc"
	"github.com/cardsaddon/extprod/adapters/oidc/oidctest"
	"github.com/cardsaddon/extprod/ports"
)

// fixedClock is a ports.Clock that always tells the same time.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

func newAuthenticator(t *testing.T, cfg oidc.Config) *oidc.Authenticator {
	t.Helper()
	a, err := oidc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// testContext is a watchdog for a test that talks to a provider: generous, so it never decides
// a test, only keeps a broken one from hanging.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// refused checks that err says the token names no one, for the given reason, and does not
// carry the token.
func refused(t *testing.T, err error, reason, token string) {
	t.Helper()
	if !errors.Is(err, ports.ErrUnauthenticated) || errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("want ErrUnauthenticated, got %v", err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Fatalf("error %q does not give the reason %q", err, reason)
	}
	noToken(t, err, token)
}

// unavailable checks that err says the provider could not be reached, and does not carry
// the token.
func unavailable(t *testing.T, err error, token string) {
	t.Helper()
	if !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
	noToken(t, err, token)
}

func noToken(t *testing.T, err error, token string) {
	t.Helper()
	if token == "" {
		return
	}
	parts := strings.Split(token, ".")
	sig := parts[len(parts)-1]
	if strings.Contains(err.Error(), token) || len(sig) >= 8 && strings.Contains(err.Error(), sig) {
		t.Fatalf("the error carries the token: %v", err)
	}
}

// rewrite returns token with its header and payload replaced (each nil keeps the original)
// and its signature set to sig.
func rewrite(t *testing.T, token string, header, payload func(map[string]any), sig string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	edit := func(part string, f func(map[string]any)) string {
		if f == nil {
			return part
		}
		raw, err := base64.RawURLEncoding.DecodeString(part)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(out)
	}
	return edit(parts[0], header) + "." + edit(parts[1], payload) + "." + sig
}

func TestValidToken(t *testing.T) {
	is := is.New(t)
	p := oidctest.New(t)
	a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience})
	tok := p.Issue(t, "svc-operator", map[string]any{"roles": []string{"operator", "approver"}})

	actor, err := a.Authenticate(testContext(t), tok)
	is.NoErr(err)
	if d := cmp.Diff(ports.Actor{ID: "svc-operator", Roles: []ports.Role{ports.RoleOperator, ports.RoleApprover}}, actor); d != "" {
		t.Fatal(d)
	}

	again, err := a.Authenticate(testContext(t), tok)
	is.NoErr(err)
	is.Equal(again.ID, "svc-operator")
	is.Equal(p.Faults.Keys.Requests.Load(), int64(1)) // the keys are cached
}

func TestRefusedTokens(t *testing.T) {
	p := oidctest.New(t)
	other := p.Another(t) // same keys, another issuer
	valid := p.Issue(t, "svc", map[string]any{"roles": []string{"operator"}})

	// An expired token, from the provider's token-issuing clock set back: it expired four
	// minutes ago, beyond the default minute of skew.
	p.SetClock(func() time.Time { return time.Now().Add(-9 * time.Minute) })
	expired := p.Issue(t, "svc-expired", nil)
	p.SetClock(time.Now)

	cases := []struct {
		name   string
		cfg    func(*oidc.Config)
		token  string
		reason string
	}{
		{name: "no token", token: "", reason: "no token"},
		{name: "not a JWT", token: "opaque-reference-token", reason: "malformed jwt"},
		{name: "expired", token: expired, reason: "token expired at"},
		{name: "wrong audience", cfg: func(c *oidc.Config) { c.Audience = "another-api" }, token: valid, reason: "audience"},
		{name: "wrong issuer", token: other.Issue(t, "svc-other", nil), reason: "different provider"},
		{
			name:   "alg none",
			token:  rewrite(t, valid, func(h map[string]any) { h["alg"] = "none"; delete(h, "kid") }, nil, ""),
			reason: "malformed jwt",
		},
		{
			name:   "alg none with the original signature",
			token:  rewrite(t, valid, func(h map[string]any) { h["alg"] = "none" }, nil, strings.Split(valid, ".")[2]),
			reason: "malformed jwt",
		},
		{
			name:   "alg not allowed",
			cfg:    func(c *oidc.Config) { c.Algorithms = []string{"ES256"} },
			token:  valid,
			reason: "malformed jwt",
		},
		{
			name:   "forged claims",
			token:  rewrite(t, valid, nil, func(c map[string]any) { c["sub"] = "someone-else" }, strings.Split(valid, ".")[2]),
			reason: "signature",
		},
		{
			name:   "no actor claim",
			cfg:    func(c *oidc.Config) { c.ActorClaim = "employee_id" },
			token:  valid,
			reason: `no string claim "employee_id"`,
		},
		{
			name:   "roles claim of the wrong shape",
			token:  p.Issue(t, "svc-odd-roles", map[string]any{"roles": 7}),
			reason: `roles claim "/roles"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			a := newAuthenticator(t, cfg)
			actor, err := a.Authenticate(testContext(t), tc.token)
			refused(t, err, tc.reason, tc.token)
			is.New(t).Equal(actor, ports.Actor{})
		})
	}
}

func TestClockSkew(t *testing.T) {
	p := oidctest.New(t)
	issued := time.Now()
	p.SetClock(func() time.Time { return issued })
	tok := p.Issue(t, "svc", nil) // expires at issued + 5 min
	expiry := issued.Add(5 * time.Minute)

	cases := []struct {
		name  string
		skew  time.Duration
		now   time.Time
		valid bool
	}{
		{name: "before expiry", now: expiry.Add(-time.Second), valid: true},
		{name: "within the default skew", now: expiry.Add(50 * time.Second), valid: true},
		{name: "beyond the default skew", now: expiry.Add(70 * time.Second)},
		{name: "within a longer skew", skew: 3 * time.Minute, now: expiry.Add(2 * time.Minute), valid: true},
		{name: "no skew", skew: -1, now: expiry.Add(time.Second)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthenticator(t, oidc.Config{
				Issuer: p.Issuer, Audience: oidctest.Audience, ClockSkew: tc.skew,
				Clock: fixedClock(tc.now),
			})
			_, err := a.Authenticate(testContext(t), tok)
			if tc.valid {
				is.New(t).NoErr(err)
				return
			}
			refused(t, err, "token expired", tok)
		})
	}
}

func TestActorClaim(t *testing.T) {
	is := is.New(t)
	p := oidctest.New(t)
	a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience, ActorClaim: "employee_id"})
	tok := p.Issue(t, "svc", map[string]any{"employee_id": "u-42", "roles": []string{"selfservice"}})
	actor, err := a.Authenticate(testContext(t), tok)
	is.NoErr(err)
	if d := cmp.Diff(ports.Actor{ID: "u-42", Roles: []ports.Role{ports.RoleSelfService}}, actor); d != "" {
		t.Fatal(d)
	}
}

func TestRolePresets(t *testing.T) {
	p := oidctest.New(t)
	cases := []struct {
		name    string
		pointer string
		roleMap map[string]ports.Role
		claims  map[string]any
		want    []ports.Role
	}{
		{
			name:    "keycloak realm roles",
			pointer: oidc.RolesKeycloak,
			claims:  map[string]any{"realm_access": map[string]any{"roles": []string{"offline_access", "operator", "uma_authorization"}}},
			want:    []ports.Role{ports.RoleOperator},
		},
		{
			name:    "zitadel project roles",
			pointer: oidc.RolesZitadel,
			claims: map[string]any{"urn:zitadel:iam:org:project:roles": map[string]any{
				"selfservice": map[string]any{"259242039378444290": "acme.example"},
				"admin":       map[string]any{"259242039378444290": "acme.example"},
			}},
			want: []ports.Role{ports.RoleAdmin, ports.RoleSelfService},
		},
		{
			name:   "plain roles, the default",
			claims: map[string]any{"roles": []string{"auditor", "approver"}},
			want:   []ports.Role{ports.RoleApprover},
		},
		{
			name:    "keycloak client roles with a role map",
			pointer: "/resource_access/extprod-api/roles",
			roleMap: map[string]ports.Role{"card-operator": ports.RoleOperator, "card-approver": ports.RoleApprover, "card-clerk": ports.RoleOperator},
			claims: map[string]any{"resource_access": map[string]any{"extprod-api": map[string]any{
				"roles": []string{"card-approver", "card-clerk", "card-operator", "operator"},
			}}},
			want: []ports.Role{ports.RoleOperator, ports.RoleApprover},
		},
		{
			name:    "a namespaced claim with an escaped slash",
			pointer: "/https:~1~1cards.example~1roles",
			claims:  map[string]any{"https://cards.example/roles": "admin"},
			want:    []ports.Role{ports.RoleAdmin},
		},
		{
			name:   "no roles claim",
			claims: map[string]any{},
		},
		{
			name:   "only unknown roles",
			claims: map[string]any{"roles": []any{"auditor", 3, "superuser"}},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience, RolesClaim: tc.pointer, RoleMap: tc.roleMap})
			id := "svc-" + string(rune('a'+i))
			actor, err := a.Authenticate(testContext(t), p.Issue(t, id, tc.claims))
			is.NoErr(err)
			if d := cmp.Diff(ports.Actor{ID: id, Roles: tc.want}, actor); d != "" {
				t.Fatal(d)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	is := is.New(t)
	p := oidctest.New(t)
	a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience})
	old := p.Issue(t, "svc-old", nil)
	_, err := a.Authenticate(testContext(t), old)
	is.NoErr(err)
	is.Equal(p.Faults.Keys.Requests.Load(), int64(1))

	// The provider rotates to an ES256 key and retires the RS256 one at once.
	p.Rotate(t, "key-2", jose.ES256, false)
	rotated := p.Issue(t, "svc-new", nil)
	actor, err := a.Authenticate(testContext(t), rotated)
	is.NoErr(err) // the unknown kid made go-oidc fetch the keys again
	is.Equal(actor.ID, "svc-new")
	is.Equal(p.Faults.Keys.Requests.Load(), int64(2))

	_, err = a.Authenticate(testContext(t), rotated)
	is.NoErr(err)
	is.Equal(p.Faults.Keys.Requests.Load(), int64(2)) // the new key is cached

	// A token signed with the retired key no longer verifies.
	_, err = a.Authenticate(testContext(t), old)
	refused(t, err, "signature", old)
}

func TestKeyRotationOverlap(t *testing.T) {
	is := is.New(t)
	p := oidctest.New(t)
	a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience})
	old := p.Issue(t, "svc-old", nil)
	_, err := a.Authenticate(testContext(t), old)
	is.NoErr(err)

	// The provider publishes the new key beside the old one: both verify.
	p.Rotate(t, "key-2", jose.RS256, true)
	_, err = a.Authenticate(testContext(t), p.Issue(t, "svc-new", nil))
	is.NoErr(err)
	_, err = a.Authenticate(testContext(t), old)
	is.NoErr(err)
}

func TestKeySetFailsDuringRotation(t *testing.T) {
	is := is.New(t)
	p := oidctest.New(t)
	a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience})
	_, err := a.Authenticate(testContext(t), p.Issue(t, "svc-old", nil))
	is.NoErr(err)

	p.Rotate(t, "key-2", jose.RS256, false)
	rotated := p.Issue(t, "svc-new", nil)
	p.Faults.Keys.Down.Store(true)
	_, err = a.Authenticate(testContext(t), rotated)
	unavailable(t, err, rotated) // the key might be good: no one can tell now

	p.Faults.Keys.Down.Store(false)
	actor, err := a.Authenticate(testContext(t), rotated)
	is.NoErr(err)
	is.Equal(actor.ID, "svc-new")
}

func TestDiscoveryDown(t *testing.T) {
	is := is.New(t)
	p := oidctest.New(t)
	tok := p.Issue(t, "svc", nil)
	p.Faults.Discovery.Down.Store(true)

	a, err := oidc.New(oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience})
	is.NoErr(err) // construction does not reach the provider: the host starts
	unavailable(t, a.Discover(testContext(t)), "")
	_, err = a.Authenticate(testContext(t), tok)
	unavailable(t, err, tok)

	p.Faults.Discovery.Down.Store(false)
	actor, err := a.Authenticate(testContext(t), tok)
	is.NoErr(err)
	is.Equal(actor.ID, "svc")
	is.NoErr(a.Discover(testContext(t)))
}

func TestProviderUnreachable(t *testing.T) {
	srv := httptest.NewServer(nil)
	issuer := srv.URL
	srv.Close() // nothing listens there now
	a := newAuthenticator(t, oidc.Config{Issuer: issuer, Audience: oidctest.Audience})
	const tok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
	_, err := a.Authenticate(testContext(t), tok)
	unavailable(t, err, tok)
}

func TestIssuerMismatchAtDiscovery(t *testing.T) {
	p := oidctest.New(t)
	a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer + "/", Audience: oidctest.Audience})
	err := a.Discover(testContext(t))
	unavailable(t, err, "")
	if !strings.Contains(err.Error(), "did not match") {
		t.Fatalf("error %q does not say the issuer differs", err)
	}
}

// The slow-provider tests each have their own deadline: Timeout is the limit under test, and
// the watchdog context, fifty times longer, only keeps a broken test from hanging.
func TestSlowDiscovery(t *testing.T) {
	p := oidctest.New(t)
	tok := p.Issue(t, "svc", nil)
	p.Faults.Discovery.Slow.Store(true)
	const limit = 100 * time.Millisecond
	a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience, Timeout: limit})

	watchdog, cancel := context.WithTimeout(t.Context(), 50*limit)
	defer cancel()
	_, err := a.Authenticate(watchdog, tok)
	unavailable(t, err, tok)
	if watchdog.Err() != nil {
		t.Fatal("Authenticate outlived the watchdog: the timeout did not apply")
	}
}

func TestSlowKeySet(t *testing.T) {
	is := is.New(t)
	p := oidctest.New(t)
	tok := p.Issue(t, "svc", nil)
	const limit = 100 * time.Millisecond
	a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience, Timeout: limit})
	is.NoErr(a.Discover(testContext(t)))
	p.Faults.Keys.Slow.Store(true)

	watchdog, cancel := context.WithTimeout(t.Context(), 50*limit)
	defer cancel()
	_, err := a.Authenticate(watchdog, tok)
	unavailable(t, err, tok)
	if watchdog.Err() != nil {
		t.Fatal("Authenticate outlived the watchdog: the timeout did not apply")
	}
}

func TestCallerGivesUp(t *testing.T) {
	p := oidctest.New(t)
	tok := p.Issue(t, "svc", nil)
	a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := a.Authenticate(ctx, tok)
	unavailable(t, err, tok)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled in %v", err)
	}
}

func TestConcurrentFirstCalls(t *testing.T) {
	p := oidctest.New(t)
	a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience})
	tokens := make([]string, 8)
	for i := range tokens {
		tokens[i] = p.Issue(t, "svc-"+string(rune('a'+i)), map[string]any{"roles": []string{"operator"}})
	}
	ctx := testContext(t)
	errs := make([]error, len(tokens))
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Go(func() {
			actor, err := a.Authenticate(ctx, tok)
			if err == nil && actor.ID != "svc-"+string(rune('a'+i)) {
				err = errors.New("wrong actor " + actor.ID)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	is := is.New(t)
	for _, err := range errs {
		is.NoErr(err)
	}
	is.Equal(p.Faults.Discovery.Requests.Load(), int64(1)) // one caller discovered, the others waited
	is.Equal(p.Faults.Keys.Requests.Load(), int64(1))      // and one fetch of the keys served all
}

func TestForgedTokenFetchesNoKeys(t *testing.T) {
	is := is.New(t)
	p := oidctest.New(t)
	a := newAuthenticator(t, oidc.Config{Issuer: p.Issuer, Audience: oidctest.Audience})
	valid := p.Issue(t, "svc", map[string]any{"roles": []string{"selfservice"}})
	_, err := a.Authenticate(testContext(t), valid)
	is.NoErr(err)

	// The kid names a cached key that does not verify: a forgery, and no reason to ask the
	// provider again.
	forged := rewrite(t, valid, nil, func(c map[string]any) { c["roles"] = []string{"admin"} }, strings.Split(valid, ".")[2])
	for range 3 {
		_, err = a.Authenticate(testContext(t), forged)
		refused(t, err, "signature", forged)
	}
	is.Equal(p.Faults.Keys.Requests.Load(), int64(1))
}

func TestConfig(t *testing.T) {
	ok := oidc.Config{Issuer: "https://id.example", Audience: "extprod-api"}
	cases := []struct {
		name string
		edit func(*oidc.Config)
		want string
	}{
		{name: "no issuer", edit: func(c *oidc.Config) { c.Issuer = "" }, want: "Issuer is required"},
		{name: "issuer not a URL", edit: func(c *oidc.Config) { c.Issuer = "id.example" }, want: "not an http(s) URL"},
		{name: "no audience", edit: func(c *oidc.Config) { c.Audience = "" }, want: "Audience is required"},
		{name: "alg none", edit: func(c *oidc.Config) { c.Algorithms = []string{"none"} }, want: `"none" is not an accepted algorithm`},
		{name: "symmetric alg", edit: func(c *oidc.Config) { c.Algorithms = []string{"RS256", "HS256"} }, want: `"HS256" is not an accepted algorithm`},
		{name: "roles claim not a pointer", edit: func(c *oidc.Config) { c.RolesClaim = "realm_access.roles" }, want: "not a JSON Pointer"},
		{name: "unknown role", edit: func(c *oidc.Config) { c.RoleMap = map[string]ports.Role{"boss": "superuser"} }, want: `"superuser" is not a role`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			_, err := oidc.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
	_, err := oidc.New(ok)
	is.New(t).NoErr(err)
}

func TestConfigDefaults(t *testing.T) {
	is := is.New(t)
	d := oidc.Config{}.WithDefaults()
	is.Equal(d.Algorithms, []string{"RS256", "ES256"})
	is.Equal(d.ClockSkew, time.Minute)
	is.Equal(d.ActorClaim, "sub")
	is.Equal(d.RolesClaim, oidc.RolesPlain)
	is.Equal(d.Timeout, oidc.DefaultTimeout)
	is.Equal(d.HTTPClient.Timeout, oidc.DefaultTimeout)
	if diff := cmp.Diff(oidc.DefaultRoleMap(), d.RoleMap); diff != "" {
		t.Fatal(diff)
	}
	is.True(d.Clock != nil)
	is.Equal(oidc.Config{ClockSkew: -time.Second}.WithDefaults().ClockSkew, time.Duration(0))
}
