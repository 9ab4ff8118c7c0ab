package oidc_test

// A hand-made provider for what a real one will not do on request: a key set with keys of
// types and uses this package must skip, tokens without a kid, a key set that is not JSON.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/oidc"
	"github.com/cardsaddon/extprod/adapters/oidc/oidctest"
)

type fakeProvider struct {
	issuer string
	key    *rsa.PrivateKey
	// keys is the key set document the provider serves.
	keys atomic.Pointer[[]byte]
}

func newFakeProvider(t *testing.T) *fakeProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeProvider{key: key}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": f.issuer, "jwks_uri": f.issuer + "/jwks"})
		case "/jwks":
			_, _ = w.Write(*f.keys.Load())
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	f.issuer = srv.URL
	return f
}

func (f *fakeProvider) serveKeys(t *testing.T, keys ...any) {
	t.Helper()
	doc, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	f.keys.Store(&doc)
}

// sign mints a token signed with the provider's RSA key under kid (none when empty).
func (f *fakeProvider) sign(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: f.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fakeProvider) claims(sub string) map[string]any {
	return map[string]any{"iss": f.issuer, "aud": oidctest.Audience, "sub": sub, "exp": time.Now().Add(time.Hour).Unix()}
}

func (f *fakeProvider) publicJWK(kid, use string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: &f.key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: use}
}

func TestKeySetSkipsKeysItCannotUse(t *testing.T) {
	is := is.New(t)
	f := newFakeProvider(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.NoErr(err)
	f.serveKeys(t,
		map[string]any{"kty": "OKP", "crv": "Ed448", "kid": "exotic", "x": "AAAA"},
		map[string]any{"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
		f.publicJWK("enc-key", "enc"),
		jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "ec", Algorithm: "ES256", Use: "sig"},
		f.publicJWK("sig-key", "sig"),
	)
	a := newAuthenticator(t, oidc.Config{Issuer: f.issuer, Audience: oidctest.Audience})

	actor, err := a.Authenticate(testContext(t), f.sign(t, "sig-key", f.claims("u-1")))
	is.NoErr(err)
	is.Equal(actor.ID, "u-1")

	// The same key under a kid the set publishes for encryption only does not verify.
	tok := f.sign(t, "enc-key", f.claims("u-1"))
	_, err = a.Authenticate(testContext(t), tok)
	refused(t, err, "signature", tok)
}

func TestTokenWithoutKid(t *testing.T) {
	is := is.New(t)
	f := newFakeProvider(t)
	f.serveKeys(t, f.publicJWK("only", "sig"))
	a := newAuthenticator(t, oidc.Config{Issuer: f.issuer, Audience: oidctest.Audience})
	actor, err := a.Authenticate(testContext(t), f.sign(t, "", f.claims("u-2")))
	is.NoErr(err)
	is.Equal(actor.ID, "u-2")
}

func TestKeySetNotJSON(t *testing.T) {
	f := newFakeProvider(t)
	doc := []byte("<html>maintenance</html>")
	f.keys.Store(&doc)
	a := newAuthenticator(t, oidc.Config{Issuer: f.issuer, Audience: oidctest.Audience})
	tok := f.sign(t, "k", f.claims("u-3"))
	_, err := a.Authenticate(testContext(t), tok)
	unavailable(t, err, tok)
}
