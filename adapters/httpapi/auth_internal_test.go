package httpapi

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// New keeps StaticTokens by the SHA-256 of each token and looks up the SHA-256 of the presented
// one: no token is kept, or compared, in clear.
func TestStaticTokensAreLookedUpByDigest(t *testing.T) {
	op := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}
	st := StaticTokens{"t-op": op, "t-anon": {}}
	hd, err := New(Config{Service: new(cardorder.Service), Auth: st})
	if err != nil {
		t.Fatal(err)
	}
	auth, ok := hd.(*handler).cfg.Auth.(tokenDigests)
	if !ok {
		t.Fatalf("the handler authenticates with %T, want the digests", hd.(*handler).cfg.Auth)
	}
	if len(auth) != 2 {
		t.Fatalf("%d digests, want 2", len(auth))
	}
	if a, ok := auth[sha256.Sum256([]byte("t-op"))]; !ok || a.ID != "op-1" {
		t.Errorf("t-op's digest maps to %+v, %v", a, ok)
	}

	for _, a := range []ports.Authenticator{st, auth} {
		if got, err := a.Authenticate(t.Context(), "t-op"); err != nil || got.ID != "op-1" {
			t.Errorf("%T: t-op → %+v, %v", a, got, err)
		}
		for _, tok := range []string{"", "t-o", "t-op ", "T-OP", "t-anon"} { // t-anon: no actor id
			if got, err := a.Authenticate(t.Context(), tok); !errors.Is(err, ports.ErrUnauthenticated) || got.ID != "" {
				t.Errorf("%T: %q → %+v, %v; want errors.Is(err, ports.ErrUnauthenticated)", a, tok, got, err)
			}
		}
	}
}
