// Package oidctest runs a real OpenID provider for tests: zitadel/oidc's op package over its
// example storage, with a few methods replaced so that a test decides the clients, the claims
// their access tokens carry, the token-issuing clock and the signing keys (for rotation). The
// server in front of it can also fail or stall on purpose, for what a real provider will not do
// on request.
//
// It is for tests only, the oidc adapter's and a host's end-to-end tests: nothing in it is fit
// for production, and no production code should import it.
package oidctest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Audience is the audience of the access tokens [Provider.Issue] issues.
const Audience = "extprod-api"

// Provider is a running test provider.
type Provider struct {
	// Issuer is the provider's issuer URL, http on a loopback port.
	Issuer string
	// Faults make the server in front of the provider misbehave, and count what reached it.
	Faults *Faults

	store *testStorage
	srv   *httptest.Server
}

// Faults make the server in front of a provider misbehave; all are off at the start.
type Faults struct {
	// Discovery is the discovery document's endpoint; when down, it answers 503.
	Discovery Endpoint
	// Keys is the key set's endpoint; when down, it answers 500.
	Keys Endpoint

	release chan struct{} // closed when the test ends: stalled handlers return
}

// Endpoint makes one endpoint of the provider misbehave, and counts its requests.
type Endpoint struct {
	// Down has the endpoint answer an error status.
	Down atomic.Bool
	// Slow has the endpoint answer only when the client gives up (or the test ends).
	Slow atomic.Bool
	// Requests counts the requests that reached the endpoint.
	Requests atomic.Int64
}

// intercept counts r and, if e is down or slow, answers it (with status and why) or stalls it,
// reporting whether it did.
func (e *Endpoint) intercept(w http.ResponseWriter, r *http.Request, release <-chan struct{}, status int, why string) bool {
	e.Requests.Add(1)
	switch {
	case e.Down.Load():
		http.Error(w, why, status)
	case e.Slow.Load():
		select { // until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	default:
		return false
	}
	return true
}

// New starts a provider, with one RS256 key and no clients, that runs until the test ends.
func New(t testing.TB) *Provider {
	t.Helper()
	store := &testStorage{
		clients: map[string]*client{},
		now:     time.Now,
	}
	k := newSigningKey(t, "key-1", jose.RS256)
	store.signing, store.published = k, []*signingKey{k}
	return start(t, store)
}

// Another starts another provider, with an issuer and faults of its own, over p's clients,
// keys and clock.
func (p *Provider) Another(t testing.TB) *Provider {
	t.Helper()
	return start(t, p.store)
}

// Issue registers a client id whose access tokens carry claims (besides the standard ones) and
// have [Audience] and a lifetime of five minutes, and has the provider issue it an access token
// (client credentials, HTTP Basic). The token is a JWT; its subject is id.
func (p *Provider) Issue(t testing.TB, id string, claims map[string]any) string {
	t.Helper()
	c := &client{id: id, secret: "secret-" + id, audience: []string{Audience}, claims: claims}
	p.store.addClient(c)
	return p.token(t, c)
}

// SetClock sets the token-issuing clock: an access token expires at now() + five minutes.
func (p *Provider) SetClock(now func() time.Time) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.now = now
}

// Rotate makes a new key of alg, with the key id id, the signing key; the old keys stay
// published only if keepOld.
func (p *Provider) Rotate(t testing.TB, id string, alg jose.SignatureAlgorithm, keepOld bool) {
	t.Helper()
	k := newSigningKey(t, id, alg)
	s := p.store
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signing = k
	if keepOld {
		s.published = append([]*signingKey{k}, s.published...)
	} else {
		s.published = []*signingKey{k}
	}
}

// start starts a provider, with an issuer of its own, over store.
func start(t testing.TB, store *testStorage) *Provider {
	t.Helper()
	f := &Faults{release: make(chan struct{})}
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	if store.Storage == nil {
		store.Storage = storage.NewStorage(storage.NewUserStore(issuer))
	}
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		t.Fatal(err)
	}
	p, err := op.NewProvider(&op.Config{CryptoKey: cryptoKey}, store, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			if f.Discovery.intercept(w, r, f.release, http.StatusServiceUnavailable, "down for maintenance") {
				return
			}
		case "/keys":
			if f.Keys.intercept(w, r, f.release, http.StatusInternalServerError, "key store unavailable") {
				return
			}
		}
		p.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(f.release) }) // runs before srv.Close
	return &Provider{Issuer: issuer, Faults: f, store: store, srv: srv}
}

// token has the provider issue an access token to c (client credentials, HTTP Basic).
func (p *Provider) token(t testing.TB, c *client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	resp, err := p.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("token endpoint: %s: %s %s", resp.Status, body.Error, body.Description)
	}
	if strings.Count(body.AccessToken, ".") != 2 {
		t.Fatalf("the provider issued no JWT access token")
	}
	return body.AccessToken
}

// signingKey is a private key the provider signs with.
type signingKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is a signing key as the key set endpoint publishes it.
type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.k.key.Public() }

func newSigningKey(t testing.TB, id string, alg jose.SignatureAlgorithm) *signingKey {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	switch alg {
	case jose.RS256:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &signingKey{id: id, alg: alg, key: key}
}

// client is a client-credentials client of the test provider; its access tokens are JWTs.
type client struct {
	id       string
	secret   string
	audience []string
	// claims are added to every access token issued to the client.
	claims map[string]any
}

func (c *client) GetID() string                        { return c.id }
func (c *client) RedirectURIs() []string               { return nil }
func (c *client) PostLogoutRedirectURIs() []string     { return nil }
func (c *client) ApplicationType() op.ApplicationType  { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() zoidc.AuthMethod         { return zoidc.AuthMethodBasic }
func (c *client) ResponseTypes() []zoidc.ResponseType  { return nil }
func (c *client) LoginURL(string) string               { return "" }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration       { return time.Hour }
func (c *client) DevMode() bool                        { return false }
func (c *client) IsScopeAllowed(string) bool           { return true }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) GrantTypes() []zoidc.GrantType {
	return []zoidc.GrantType{zoidc.GrantTypeClientCredentials}
}
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string     { return keepScopes }
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string { return keepScopes }

func keepScopes(s []string) []string { return s }

// tokenRequest is a client-credentials request: the client is its own subject.
type tokenRequest struct {
	client *client
	scopes []string
}

func (r *tokenRequest) GetSubject() string    { return r.client.id }
func (r *tokenRequest) GetAudience() []string { return r.client.audience }
func (r *tokenRequest) GetScopes() []string   { return r.scopes }

// tokenLifetime is the lifetime of every access token the provider issues.
const tokenLifetime = 5 * time.Minute

// testStorage is the example storage with clients, claims, clock and keys of the test's own.
type testStorage struct {
	*storage.Storage

	mu        sync.Mutex
	clients   map[string]*client
	signing   *signingKey
	published []*signingKey
	// now is the token-issuing clock: an access token expires at now() + tokenLifetime.
	now func() time.Time
	ids int
}

var (
	_ op.Storage                  = (*testStorage)(nil)
	_ op.ClientCredentialsStorage = (*testStorage)(nil)
)

func (s *testStorage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signing, nil
}

func (s *testStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var algs []jose.SignatureAlgorithm
	for _, k := range s.published {
		algs = append(algs, k.alg)
	}
	return algs, nil
}

func (s *testStorage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []op.Key
	for _, k := range s.published {
		keys = append(keys, publicKey{k})
	}
	return keys, nil
}

func (s *testStorage) ClientCredentials(_ context.Context, id, secret string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || c.secret != secret {
		return nil, errors.New("wrong client or secret")
	}
	return c, nil
}

func (s *testStorage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("wrong client")
	}
	return &tokenRequest{client: c, scopes: scopes}, nil
}

func (s *testStorage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	if _, ok := req.(*tokenRequest); !ok {
		return "", time.Time{}, errors.New("only client credentials here")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids++
	return "at-" + strconv.Itoa(s.ids), s.now().Add(tokenLifetime), nil
}

func (s *testStorage) GetPrivateClaimsFromScopes(_ context.Context, _, clientID string, _ []string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok {
		return nil, nil
	}
	return c.claims, nil
}

func (s *testStorage) addClient(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.id] = c
}
