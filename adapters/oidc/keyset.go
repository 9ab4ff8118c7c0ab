package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keySet is the provider's signing keys (its jwks_uri), cached, and fetched again when a token
// names a key the cache lacks: the provider rotated its keys (OpenID Connect Core §10.1.1).
// It implements go-oidc's KeySet, which the verifier calls after checking the algorithm.
//
// It replaces go-oidc's RemoteKeySet for two reasons. RemoteKeySet hands a caller that asks
// for fresh keys just after a fetch the result of that finished fetch (the old keys), so a
// token signed with a just-rotated key is refused as forged; here a caller learns whether the
// keys changed since it looked (a generation count) before it joins or starts a fetch. And
// RemoteKeySet reports a failed fetch and a bad signature alike to the verifier; here a
// failed fetch is recorded for the caller, so it answers ErrUnavailable, not ErrUnauthenticated.
type keySet struct {
	url     string
	client  *http.Client
	timeout time.Duration
	algs    []jose.SignatureAlgorithm

	mu       sync.Mutex
	keys     []jose.JSONWebKey
	gen      uint64 // counts successful fetches
	inflight *keyFetch
}

// keyFetch is one fetch of the key set that several callers may wait for.
type keyFetch struct {
	done chan struct{}
	err  error // written before done is closed
}

// maxKeySetBytes bounds the key set document read from the provider.
const maxKeySetBytes = 1 << 20

// fetchFailureKey is the context key under which Authenticate passes a *fetchFailure down
// through go-oidc's verifier to the key set.
type fetchFailureKey struct{}

// fetchFailure records why the key set could not be fetched during one Authenticate call.
type fetchFailure struct{ err atomic.Pointer[error] }

func (f *fetchFailure) set(err error) { f.err.Store(&err) }

func (f *fetchFailure) get() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// VerifySignature implements go-oidc's KeySet: it returns the payload of jwt if a key of the
// provider verifies its signature.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, k.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("not exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID

	keys, gen := k.snapshot()
	payload, known := verifyWith(jws, keys, kid)
	if payload != nil {
		return payload, nil
	}
	if known {
		// A key the cache holds under this kid does not verify it: a forgery, not a rotation
		// (a provider gives a new key a new kid, RFC 7517 §4.5). Fetching again would only
		// let forged tokens drive traffic to the provider.
		return nil, errors.New("the signature does not verify")
	}
	if err := k.refresh(ctx, gen); err != nil {
		if f, ok := ctx.Value(fetchFailureKey{}).(*fetchFailure); ok {
			f.set(err)
		}
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	keys, _ = k.snapshot()
	if payload, _ := verifyWith(jws, keys, kid); payload != nil {
		return payload, nil
	}
	return nil, errors.New("no key of the provider verifies the signature")
}

// verifyWith verifies jws with the key named kid (every key when kid is empty). known reports
// whether kid named a key.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) (payload []byte, known bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		known = kid != ""
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, known
		}
	}
	return nil, known
}

func (k *keySet) snapshot() ([]jose.JSONWebKey, uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, k.gen
}

// refresh returns once the keys are newer than generation seen: at once when another caller
// fetched them meanwhile, else after joining or starting a fetch. The fetch runs on its own,
// bounded by the timeout, so its result is cached even if this caller gives up.
func (k *keySet) refresh(ctx context.Context, seen uint64) error {
	k.mu.Lock()
	if k.gen != seen {
		k.mu.Unlock()
		return nil
	}
	f := k.inflight
	if f == nil {
		f = &keyFetch{done: make(chan struct{})}
		k.inflight = f
		go k.fetch(f)
	}
	k.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (k *keySet) fetch(f *keyFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	keys, err := k.get(ctx)
	k.mu.Lock()
	if err == nil {
		k.keys = keys
		k.gen++
	}
	f.err = err
	k.inflight = nil
	k.mu.Unlock()
	close(f.done)
}

// get reads the key set document. Keys of a type or for a use it cannot verify with are
// skipped, as RFC 7517 §5 asks, rather than failing the whole set.
func (k *keySet) get(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes))
	if err != nil {
		return nil, fmt.Errorf("read the key set: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the key set answered %s", resp.Status)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode the key set: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range doc.Keys {
		var key jose.JSONWebKey
		if err := json.Unmarshal(raw, &key); err != nil || !key.Valid() || !key.IsPublic() || key.Use == "enc" {
			continue
		}
		keys = append(keys, key)
	}
	return keys, nil
}
