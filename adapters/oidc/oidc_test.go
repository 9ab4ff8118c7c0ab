package oidc_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/oidc"
	"github.com/cardsaddon/extprod/ports"
)

func newAuthenticator(t *testing.T, cfg oidc.Config) *oidc.Authenticator {
	t.Helper()
	a, err := oidc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestValidToken(t *testing.T) {
	is := is.New(t)
	p := newProvider(t)
	a := newAuthenticator(t, oidc.Config{Issuer: p.issuer, Audience: apiAudience})
	tok := p.issue(t, "svc-operator", map[string]any{"roles": []string{"operator", "approver"}})
	actor, err := a.Authenticate(testContext(t), tok)
	is.NoErr(err)
	if d := cmp.Diff(ports.Actor{ID: "svc-operator", Roles: []ports.Role{ports.RoleOperator, ports.RoleApprover}}, actor); d != "" {
		t.Fatal(d)
	}
}
