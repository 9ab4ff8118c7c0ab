package otel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"

	"github.com/cardsaddon/extprod/ports"
)

// AuthFailed counts one request whose credentials were not accepted in extprod.auth.failures:
// error.type "unauthenticated" for [ports.ErrUnauthenticated], "unavailable" for
// [ports.ErrUnavailable], else "error". A nil err counts nothing.
//
// The HTTP API already reports every authentication to the Observer ([ports.OpAuthenticate]:
// error.type "unauthenticated" or "auth_unavailable"), which counts its failures; AuthFailed
// and [Observer.Authenticator] are for a host's own driving adapters, which do not. Do not wrap
// the HTTP API's authenticator too: each failure would count twice.
func (o *Observer) AuthFailed(ctx context.Context, err error) {
	var code string
	switch {
	case err == nil:
		return
	case errors.Is(err, ports.ErrUnauthenticated):
		code = "unauthenticated"
	case errors.Is(err, ports.ErrUnavailable):
		code = "unavailable"
	default:
		code = "error"
	}
	o.count(attrKey{inst: instAuth, b: code}, func() []attribute.KeyValue {
		return withError(nil, code)
	})
}

// Authenticator returns a to the letter, counting each failure with [Observer.AuthFailed]. It
// records nothing about the token or the actor.
func (o *Observer) Authenticator(a ports.Authenticator) ports.Authenticator {
	return countingAuth{a: a, o: o}
}

type countingAuth struct {
	a ports.Authenticator
	o *Observer
}

func (c countingAuth) Authenticate(ctx context.Context, token string) (ports.Actor, error) {
	act, err := c.a.Authenticate(ctx, token)
	c.o.AuthFailed(ctx, err)
	return act, err
}
