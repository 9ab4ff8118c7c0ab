package oidc_test

// A real OpenID provider for the tests: zitadel's op package over its example storage, with
// a few methods replaced so that a test decides the clients, the claims their access tokens
// carry, the token-issuing clock and the signing keys (for rotation). The server in front of
// it can also fail or stall on purpose, for what a real provider will not do on request.

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

func newSigningKey(t *testing.T, id string, alg jose.SignatureAlgorithm) *signingKey {
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
	// lifetime of its access tokens; zero means five minutes.
	lifetime time.Duration
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

// testStorage is the example storage with clients, claims, clock and keys of the test's own.
type testStorage struct {
	*storage.Storage

	mu        sync.Mutex
	clients   map[string]*client
	signing   *signingKey
	published []*signingKey
	// now is the token-issuing clock: an access token expires at now() + its client's lifetime.
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
	r, ok := req.(*tokenRequest)
	if !ok {
		return "", time.Time{}, errors.New("only client credentials here")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids++
	lifetime := r.client.lifetime
	if lifetime == 0 {
		lifetime = 5 * time.Minute
	}
	return "at-" + strconv.Itoa(s.ids), s.now().Add(lifetime), nil
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

// rotate makes a new key of alg the signing key; the old keys stay published only if keepOld.
func (s *testStorage) rotate(t *testing.T, id string, alg jose.SignatureAlgorithm, keepOld bool) {
	t.Helper()
	k := newSigningKey(t, id, alg)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signing = k
	if keepOld {
		s.published = append([]*signingKey{k}, s.published...)
	} else {
		s.published = []*signingKey{k}
	}
}

func (s *testStorage) addClient(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.id] = c
}

func (s *testStorage) setClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// faults make the server in front of the provider misbehave.
type faults struct {
	discoveryDown atomic.Bool // discovery answers 503
	keysDown      atomic.Bool // the key set answers 500
	slowDiscovery atomic.Bool // discovery answers only when the client gives up
	slowKeys      atomic.Bool // the key set answers only when the client gives up
	keyFetches    atomic.Int64
	discoveries   atomic.Int64
	release       chan struct{} // closed when the test ends: stalled handlers return
}

// provider is a running test provider.
type provider struct {
	issuer string
	store  *testStorage
	faults *faults
	srv    *httptest.Server
}

// apiAudience is the audience the tests' access tokens are issued for.
const apiAudience = "extprod-api"

// newProvider starts a provider with one RS256 key and no clients.
func newProvider(t *testing.T) *provider {
	t.Helper()
	store := &testStorage{
		clients: map[string]*client{},
		now:     time.Now,
	}
	k := newSigningKey(t, "key-1", jose.RS256)
	store.signing, store.published = k, []*signingKey{k}
	return startProvider(t, store)
}

// startProvider starts another provider, with an issuer of its own, over store.
func startProvider(t *testing.T, store *testStorage) *provider {
	t.Helper()
	f := &faults{release: make(chan struct{})}
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
			f.discoveries.Add(1)
			if f.discoveryDown.Load() {
				http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
				return
			}
			if f.slowDiscovery.Load() {
				stall(r, f.release)
				return
			}
		case "/keys":
			f.keyFetches.Add(1)
			if f.keysDown.Load() {
				http.Error(w, "key store unavailable", http.StatusInternalServerError)
				return
			}
			if f.slowKeys.Load() {
				stall(r, f.release)
				return
			}
		}
		p.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(f.release) }) // runs before srv.Close
	return &provider{issuer: issuer, store: store, faults: f, srv: srv}
}

// stall holds a request until its client gives up or the test ends.
func stall(r *http.Request, release <-chan struct{}) {
	select {
	case <-r.Context().Done():
	case <-release:
	}
}

// token has the provider issue an access token to c (client credentials, HTTP Basic).
func (p *provider) token(t *testing.T, c *client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.issuer+"/oauth/token", strings.NewReader(form.Encode()))
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

// issue registers a client with the given claims and has the provider issue it a token.
func (p *provider) issue(t *testing.T, id string, claims map[string]any) string {
	t.Helper()
	c := &client{id: id, secret: "secret-" + id, audience: []string{apiAudience}, claims: claims}
	p.store.addClient(c)
	return p.token(t, c)
}
