package httpapitest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

// contractCodes is docs/http-api.md's error table.
var contractCodes = map[string]int{
	"bad_request": 400, "unauthenticated": 401, "forbidden": 403, "use_case_disabled": 403,
	"not_found": 404, "user_not_found": 404, "user_not_active": 409, "order_exists": 409,
	"invalid_state": 409, "invalid_production_type": 422, "invalid_card_data": 422,
	"payload_too_large": 413, "invalid_amount": 422, "reason_required": 422, "invalid_script": 422,
	"idempotency_key_reused": 422, "version_conflict": 412, "script_failed": 500,
	"provider_error": 502, "provider_unavailable": 503,
}

// req is one request of a table.
type req struct {
	method, path, token, body string
	headers                   []string
}

func (e *env) send(r req) resp {
	e.t.Helper()
	return e.do(r.method, r.path, r.token, r.body, r.headers...)
}

// orderedCard orders a card for u1 and dispatches it, so it is ordered at the bureau.
func orderedCard(e *env) string {
	e.t.Helper()
	c := e.order("u1")
	if _, err := e.svc.DispatchQueued(context.Background(), 10); err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

func requestedCard(e *env, token string) string {
	e.t.Helper()
	e.opts.set(func(o *ports.Options) { o.ApprovalStep = true })
	r := e.do("POST", "/v1/users/u1/card-orders", token, "")
	if r.status != http.StatusCreated {
		e.t.Fatalf("order: %d %s", r.status, r.body)
	}
	return r.card(e.t).ID
}

// TestErrorCodes produces every code of docs/http-api.md's error table (and the handler's own 404 and
// 405) and checks status, problem members and the detail.
func testErrorCodes(t *testing.T, cfg Config) {
	tests := []struct {
		name      string
		setup     func(e *env) req
		code      string
		detailHas string
	}{
		{"malformed JSON", func(e *env) req {
			return req{"POST", "/v1/users/u1/card-orders", tokOp, `{"productionType": 5}`, nil}
		}, "bad_request", `"productionType"`},
		{"bad query parameter", func(e *env) req { return req{"GET", "/v1/cards?limit=0", tokOp, "", nil} }, "bad_request", "limit"},
		{"no token", func(e *env) req { return req{"GET", "/v1/cards", "", "", nil} }, "unauthenticated", "Bearer"},
		{"unknown token", func(e *env) req { return req{"GET", "/v1/cards", "nope", "", nil} }, "unauthenticated", "token"},
		{"approver orders", func(e *env) req {
			return req{"POST", "/v1/users/u1/card-orders", tokAp, "", nil}
		}, "forbidden", "operator"},
		{"selfservice orders for another user", func(e *env) req {
			return req{"POST", "/v1/users/u2/card-orders", tokSelf, "", nil}
		}, "forbidden", "itself"},
		{"four-eyes: approver is the requester", func(e *env) req {
			id := requestedCard(e, tokApOp)
			return req{"POST", "/v1/cards/" + id + "/approve", tokApOp, "", nil}
		}, "forbidden", "four-eyes"},
		{"use case disabled", func(e *env) req {
			e.opts.set(func(o *ports.Options) { o.Enabled = false })
			return req{"POST", "/v1/users/u1/card-orders", tokOp, "", nil}
		}, "use_case_disabled", "disabled"},
		{"no such card", func(e *env) req { return req{"GET", "/v1/cards/c999", tokOp, "", nil} }, "not_found", "c999"},
		{"no such endpoint", func(e *env) req { return req{"GET", "/v2/cards", tokOp, "", nil} }, "not_found", "endpoint"},
		{"no such user", func(e *env) req {
			return req{"POST", "/v1/users/ghost/card-orders", tokOp, "", nil}
		}, "user_not_found", "no such user"},
		{"user not active", func(e *env) req {
			return req{"POST", "/v1/users/u3/card-orders", tokOp, "", nil}
		}, "user_not_active", "not active"},
		{"open order exists", func(e *env) req {
			e.order("u1")
			return req{"POST", "/v1/users/u1/card-orders", tokOp2, "", nil}
		}, "order_exists", "open card order"},
		{"approve a processing card", func(e *env) req {
			id := e.order("u1").ID
			return req{"POST", "/v1/cards/" + id + "/approve", tokAp, "", nil}
		}, "invalid_state", "processing"},
		{"refresh a processing card", func(e *env) req {
			id := e.order("u1").ID
			return req{"POST", "/v1/cards/" + id + "/refresh", tokOp, "", nil}
		}, "invalid_state", "refresh"},
		{"unknown production type", func(e *env) req {
			return req{"POST", "/v1/users/u1/card-orders", tokOp, `{"productionType": "gold"}`, nil}
		}, "invalid_production_type", "gold"},
		{"invalid card data", func(e *env) req {
			return req{"POST", "/v1/users/u4/card-orders", tokOp, "", nil}
		}, "invalid_card_data", "givenName"},
		{"body over 1 MiB", func(e *env) req {
			big := `{"productionType": "` + strings.Repeat("x", 1<<20) + `"}`
			return req{"POST", "/v1/users/u1/card-orders", tokOp, big, nil}
		}, "payload_too_large", "1048576"},
		{"script over 256 KiB", func(e *env) req {
			return req{"PUT", "/v1/admin/options-script", tokAdmin, strings.Repeat("/", 256<<10+1), nil}
		}, "payload_too_large", "262144"},
		{"ten temporary cards", func(e *env) req {
			return req{"POST", "/v1/temporary-card-orders", tokOp, `{"amount": 10}`, nil}
		}, "invalid_amount", "10"},
		{"reject with a blank reason", func(e *env) req {
			id := requestedCard(e, tokOp)
			return req{"POST", "/v1/cards/" + id + "/reject", tokAp, `{"reason": "   "}`, nil}
		}, "reason_required", "reason"},
		{"script does not load", func(e *env) req {
			return req{"PUT", "/v1/admin/options-script", tokAdmin, "var options = ; // syntax error", nil}
		}, "invalid_script", "line 3"},
		{"dry-run script fails", func(e *env) req {
			return req{"POST", "/v1/admin/options-script/dry-run", tokAdmin,
				`{"script": "throw 1", "userId": "u1", "actorId": "op-1", "roles": ["operator"]}`, nil}
		}, "invalid_script", "line 4"},
		{"idempotency key reused", func(e *env) req {
			r := e.do("POST", "/v1/users/u1/card-orders", tokOp, "", "Idempotency-Key", "k1")
			e.is.Equal(r.status, http.StatusCreated)
			return req{"POST", "/v1/users/u1/card-orders", tokOp, `{"productionType": "standard"}`, []string{"Idempotency-Key", "k1"}}
		}, "idempotency_key_reused", "Idempotency-Key"},
		{"stale If-Match", func(e *env) req {
			return req{"PUT", "/v1/admin/options-script", tokAdmin, "var options = {};", []string{"If-Match", `"stale"`}}
		}, "version_conflict", "ETag"},
		{"script fails at order time", func(e *env) req {
			e.opts.fail.Store(true)
			return req{"POST", "/v1/users/u1/card-orders", tokOp, "", nil}
		}, "script_failed", "script"},
		{"bureau breaks its contract", func(e *env) req {
			id := orderedCard(e)
			err := error(ports.ErrProtocol)
			e.prov.statusErr.Store(&err)
			return req{"POST", "/v1/cards/" + id + "/refresh", tokOp, "", nil}
		}, "provider_error", "contract"},
		{"bureau unreachable on refresh", func(e *env) req {
			id := orderedCard(e)
			e.bureau.FailNext(1)
			return req{"POST", "/v1/cards/" + id + "/refresh", tokOp, "", nil}
		}, "provider_unavailable", "reached"},
		{"bureau unreachable on status sync", func(e *env) req {
			orderedCard(e)
			e.bureau.FailNext(1)
			return req{"POST", "/v1/status-sync", tokAdmin, "", nil}
		}, "provider_unavailable", "reached"},
		{"method not allowed", func(e *env) req { return req{"DELETE", "/v1/cards/c1", tokOp, "", nil} }, "method_not_allowed", "GET"},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			e := newEnv(t, cfg)
			r := e.send(tt.setup(e))
			p := r.problem(t)
			is.Equal(p.Code, tt.code)
			if want, ok := contractCodes[tt.code]; ok {
				is.Equal(r.status, want) // the contract's status
			}
			if !strings.Contains(p.Detail, tt.detailHas) {
				t.Errorf("detail %q does not contain %q", p.Detail, tt.detailHas)
			}
			for _, secret := range []string{"Lovelace", "ada@", "user.email", "TypeError"} {
				if strings.Contains(string(r.body), secret) {
					t.Errorf("problem %s leaks %q", r.body, secret)
				}
			}
			if r.status == http.StatusMethodNotAllowed {
				is.Equal(r.header.Get("Allow"), "GET, HEAD")
			}
			covered[tt.code] = true
		})
	}
	for code := range contractCodes {
		if !covered[code] {
			t.Errorf("no test produces %s", code)
		}
	}
}
