// Package httpapi is the driving HTTP adapter of extprod: a net/http handler that speaks the
// operator HTTP API (shared/HTTP-API.md) and calls the domain, [cardorder.Service], for every
// use case.
//
// # Mounting it
//
// [New] returns an [http.Handler] built on the standard library's [http.ServeMux] with method
// patterns. The host supplies the domain service, an [Authenticator] that maps bearer tokens to
// actors (the simple [StaticTokens] map will do for examples and tests), and optionally the option
// script engine behind [Scripts] and the bureau's signed status-events handler:
//
//	h, err := httpapi.New(httpapi.Config{
//		Service: svc,
//		Auth:    httpapi.StaticTokens{"t-op": {ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}},
//	})
//	http.ListenAndServe("127.0.0.1:8080", h)
//
// # What it guarantees
//
//   - Every error is an RFC 9457 application/problem+json body with type, title, status, detail
//     and code; the code is one of HTTP-API.md's error table. Internal failures answer 500 with a
//     generic detail; causes are logged, never sent, and no detail carries personal data.
//   - Checks run in the contract's order: authentication, role, body, then the domain's checks.
//   - Input is strict: bodies are size-limited (1 MiB, a script 256 KiB), unknown or
//     differently-cased fields, trailing data and wrong types are refused with 400 bad_request
//     naming the field; path ids and query parameters are validated.
//   - An Idempotency-Key on order creation is scoped to the actor and bound to the path and the
//     parsed body; the first successful creation is replayed (200, the same card) for at least
//     24 hours, also to a request that raced it. Refusals are not remembered. The store is an
//     [IdempotencyStore]; [NewMemoryIdempotency] is the in-process default.
//   - The card listing pages with an opaque cursor that stays correct while cards are added.
package httpapi
