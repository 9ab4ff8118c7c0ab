// Package httpapi is the driving HTTP adapter of extprod: a net/http handler that speaks the
// operator HTTP API (docs/http-api.md) and calls the domain, [cardorder.Service], for every
// use case.
//
// # Mounting it
//
// [New] returns an [http.Handler] built on the standard library's [http.ServeMux] with method
// patterns. The host supplies the domain service, a [ports.Authenticator] that maps bearer tokens to
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
//     and code; the code is one of docs/http-api.md's error table or one of the few below. Internal
//     failures answer 500 with a generic detail; causes are logged, never sent, and no detail
//     carries personal data.
//   - Checks run in the contract's order: authentication, role, body, then the domain's checks.
//   - Input is strict: bodies are size-limited (1 MiB, a script 256 KiB), unknown or
//     differently-cased fields, trailing data and wrong types are refused with 400 bad_request
//     naming the field; path ids and query parameters are validated.
//   - An Idempotency-Key on order creation is scoped to the actor and bound to the path and the
//     parsed body; the first successful creation is replayed (200, the same card) for at least
//     24 hours, also to a request that raced it: that one waits, polling the key with a short
//     backoff, until the first completes or gives the key up (or its own context ends).
//     Refusals are not remembered. The store is a [ports.IdempotencyStore] (reserve, then
//     complete or release; no lock is held while the request runs); a [memory.Idempotency] is
//     the in-process default.
//   - The card listing pages with an opaque cursor that stays correct while cards are added.
//     Its query parameters are checked in a fixed order (userId, state, limit, cursor, then
//     unknown names in sorted order), so a query with several bad parameters always names the
//     same one.
//   - A preview or dry run answers 200 with "options" only when the options were resolved: a
//     refusal that came before (an unknown user, a script that failed while deciding) has a
//     "refusal" and no "options" member.
//
// # Codes beyond docs/http-api.md
//
// docs/http-api.md's error table does not name these; the handler answers them as problems too:
//
//   - method_not_allowed (405, [CodeMethodNotAllowed]): a known path with a method it does not
//     serve; the Allow header lists those it does.
//   - internal (500, [CodeInternal]): an unexpected failure (the cause is logged, not sent).
//   - unavailable (503, [CodeUnavailable]): from POST /v1/gocards/events only, when the bureau's
//     status event could not be applied now; the bureau delivers it again after Retry-After.
//   - auth_unavailable (503, [CodeAuthUnavailable]): the token could not be checked now (the
//     Authenticator failed with something other than ports.ErrUnauthenticated); Retry-After
//     says when to try again.
//   - job_running (409, [cardorder.CodeJobRunning]): a status sync asked for while another
//     instance runs one.
//
// The events endpoint maps the statuses of the mounted events handler: 400 and any other 4xx
// it does not name to bad_request (with that status), 401 to unauthenticated, 405 to
// method_not_allowed, 413 to payload_too_large, 503 to unavailable and any other 5xx to internal.
package httpapi
