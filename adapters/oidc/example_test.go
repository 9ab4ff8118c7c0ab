package oidc_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardsaddon/extprod/adapters/oidc"
	"github.com/cardsaddon/extprod/ports"
)

// A Keycloak realm whose realm roles carry the library's roles under names of the realm's own.
// The host hands the Authenticator to the HTTP API; New does not reach the provider yet.
func ExampleNew() {
	auth, err := oidc.New(oidc.Config{
		Issuer:     "https://sso.example.com/realms/cards",
		Audience:   "extprod-api",
		RolesClaim: oidc.RolesKeycloak,
		RoleMap: map[string]ports.Role{
			"card-operator": ports.RoleOperator,
			"card-approver": ports.RoleApprover,
			"card-admin":    ports.RoleAdmin,
			"employee":      ports.RoleSelfService,
		},
		// Self-service actors must carry the directory's user id: here a user-attribute
		// mapper puts it into the "user_id" claim.
		ActorClaim: "user_id",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = auth.Authenticate(context.Background(), "")
	fmt.Println(errors.Is(err, ports.ErrUnauthenticated))
	// Output: true
}
