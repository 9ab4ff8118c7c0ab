package ports

import (
	"context"
	"errors"
)

// ErrUnauthenticated: the credentials name no one (no token, an unknown, expired or forged
// token). An identity provider that cannot be reached is ErrUnavailable instead, so the caller
// can tell "who are you?" (401) from "try again" (503).
var ErrUnauthenticated = errors.New("unauthenticated")

// Authenticator turns a caller's bearer token into an actor. It returns ErrUnauthenticated
// (possibly wrapped) for a token that names no one and ErrUnavailable when it cannot decide now.
// It must never log the token.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Actor, error)
}
