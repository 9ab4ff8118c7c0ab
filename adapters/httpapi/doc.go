// Package httpapi is the driving HTTP adapter of extprod: a net/http handler that speaks the
// operator HTTP API (docs/http-api.md) and calls the domain, [cardorder.Service], for every
// use case.
//
// # Mounting it
//
// [New] returns an [http.Handler] built on the standard library's [http.ServeMux] with method
// patterns. The host supplies the domain service, a [ports.Authenticator] that maps bearer tokens to
// actors (the simple [StaticTokens] map will do for examples and tests), and optionally the option
// script engine behind [ports.ScriptAdmin] and the bureau's signed status-events handler:
//
//	h, err := httpapi.New(httpapi.Config{
//		Service: svc,
//		Auth:    httpapi.StaticTokens{"t-op": {ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}},
//	})
//	http.ListenAndServe("127.0.0.1:8080", h)
//
// # Routes
//
// Every route but GET /healthz, GET /v1/openapi.json and POST /v1/gocards/events needs
// "Authorization: Bearer <token>". The roles are docs/use-case.md's; "selfservice (own)" is a
// self-service user acting on itself or its own card.
//
//	method and path                               roles                       body (JSON unless noted)                success
//	POST /v1/users/{userId}/card-orders           operator, selfservice (own) orderRequest, optional; Idempotency-Key 201 card, Location: /v1/cards/{id}; 200 the same card on a replay
//	POST /v1/users/{userId}/card-orders/preview   operator, selfservice (own) orderRequest, optional                 200 preview
//	GET  /v1/cards/{cardId}                       any role                                                            200 card
//	GET  /v1/cards?userId=&state=&limit=&cursor=  any role                                                            200 {"cards": [card…], "nextCursor": "…"}
//	POST /v1/cards/{cardId}/approve               approver                    none, or {}                             200 card
//	POST /v1/cards/{cardId}/reject                approver                    {"reason": "…"}                         200 card
//	POST /v1/cards/{cardId}/abort                 operator, selfservice (own) none, or {}                             200 card
//	POST /v1/cards/{cardId}/repeat                operator                    none, or {}                             200 card
//	POST /v1/cards/{cardId}/refresh               operator                    none, or {}                             200 card
//	POST /v1/batch-orders                         operator                    batchRequest                            200 {"results": [{"userId", "card" | "error"}…]}
//	POST /v1/temporary-card-orders                operator                    temporaryRequest; Idempotency-Key       201 {"cards": [card…]}; 200 on a replay
//	POST /v1/dispatch                             admin                       {"max": 1..100000}, optional            200 {"ordered", "failed", "retried", "remaining"}
//	POST /v1/status-sync                          admin                       none, or {}                             200 {"updated": n}
//	GET  /v1/admin/options-script                 admin                                                               200 text/javascript, ETag
//	PUT  /v1/admin/options-script                 admin                       the script (text/javascript); If-Match  204, ETag
//	POST /v1/admin/options-script/dry-run         admin                       dryRunRequest                           200 preview
//	POST /v1/gocards/events                       the bureau (signed)         a status event; X-GoCards-Signature     204
//	GET  /healthz                                 anyone                                                              200 {"status": "ok"}
//	GET  /v1/openapi.json                         anyone                                                              200 the OpenAPI document ([OpenAPI])
//
// The request bodies (every member optional unless marked; any other member is refused):
//
//	orderRequest      {"productionType": string ≤ 256 bytes; absent or "": the default}
//	batchRequest      {"userIds": [1 to 1000 ids] (required), "productionType": string}
//	temporaryRequest  {"amount": 1..9 (else 422 invalid_amount), "productionType": string}
//	reject            {"reason": string ≤ 2000 bytes; empty or absent: 422 reason_required}
//	dispatch          {"max": integer 1..100000; default 1000}
//	dryRunRequest     {"script": string ≤ 256 KiB (absent: the installed script),
//	                   "userId": id (required), "actorId": id (required),
//	                   "roles": ["operator" | "approver" | "admin" | "selfservice"…],
//	                   "channel": "operator" | "selfservice" | "batch" (absent: from the actor),
//	                   "productionType": string}
//
// An id (path, query or body) is 1 to 128 letters, digits or - _ . ~ : @ +. A preview answers
// {"card": card, "options": options} or {"refusal": problem, "options": options} ("options"
// absent when the refusal came before they were resolved). A card is [Card]; a problem is
// [Problem]. The dispatch answer's "retried" counts the cards whose outcome was unknown: they
// stay queued for a later attempt and are counted in "remaining" too.
//
// [OpenAPI] returns the OpenAPI 3.1 document of all of this, with every problem code; the
// adapters/httpapi/openapicheck module checks it against the handler on every test run by
// running the scenario suite (package httpapitest) through a validating transport.
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
// The events endpoint answers the refusals of an [EventServer] (gocards.EventHandler is one)
// through the API's own problem writer, the code chosen by the refusal's cause (see
// [EventServer]). A plain [http.Handler] mounted there instead has its error statuses mapped:
// 400 and any other 4xx it does not name to bad_request (with that status), 401 to
// unauthenticated, 405 to method_not_allowed, 413 to payload_too_large, 503 to unavailable and
// any other 5xx to internal.
package httpapi
