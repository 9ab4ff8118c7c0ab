package httpapitest

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/cardsaddon/extprod/ports"
)

// fuzzEndpoint is an endpoint the fuzz target sends bodies to, with a token allowed to call it.
type fuzzEndpoint struct {
	method, path, token string
}

// FuzzRequestBodies sends arbitrary bodies to every endpoint that reads one (and to those that
// take none) and checks the handler never answers 5xx and answers every error as a problem. Its
// seed corpus runs with the ordinary tests.
func FuzzRequestBodies(f *testing.F) {
	// Every input gets a fresh service, so inputs are independent and the store stays small.
	setup := func(t testing.TB) *env {
		e := newEnvNoServer(t, Config{})
		e.opts.set(func(o *ports.Options) { o.ApprovalStep = true; o.AllowMultipleCardOrders = true })
		if r := record(e.handler, "POST", "/v1/users/u1/card-orders", tokOp, ""); r.status != http.StatusCreated {
			t.Fatalf("setup order: %d %s", r.status, r.body)
		}
		return e
	}
	const requested = "c1"
	endpoints := []fuzzEndpoint{
		{"POST", "/v1/users/u1/card-orders", tokOp},
		{"POST", "/v1/users/u2/card-orders/preview", tokOp},
		{"POST", "/v1/cards/" + requested + "/approve", tokAp},
		{"POST", "/v1/cards/" + requested + "/reject", tokAp},
		{"POST", "/v1/cards/" + requested + "/abort", tokOp},
		{"POST", "/v1/cards/" + requested + "/repeat", tokOp},
		{"POST", "/v1/cards/" + requested + "/refresh", tokOp},
		{"POST", "/v1/batch-orders", tokOp},
		{"POST", "/v1/temporary-card-orders", tokOp},
		{"POST", "/v1/dispatch", tokAdmin},
		{"POST", "/v1/status-sync", tokAdmin},
		{"PUT", "/v1/admin/options-script", tokAdmin},
		{"POST", "/v1/admin/options-script/dry-run", tokAdmin},
		{"GET", "/v1/cards/" + requested, tokSelf},
	}
	seeds := map[int][]string{
		0:  {``, `{}`, `{"productionType":"standard"}`, `{"productionType":"gold"}`, `{"productionType":1}`, `{"x":1}`},
		1:  {``, `{"productionType":"standard"}`, `[1,2]`, `{"productionType":null}`},
		2:  {``, `{}`, `{"a":1}`, `null`},
		3:  {`{"reason":"no"}`, `{"reason":""}`, `{"reason":5}`, `{"reason":"x","reason":"y"}`},
		4:  {``, `{}`},
		5:  {``, `{} {}`},
		6:  {``, `"`},
		7:  {`{"userIds":["u1","u2","ghost"],"productionType":"standard"}`, `{"userIds":[]}`, `{"userIds":[1]}`, `{"userIds":["` + "\x00" + `"]}`},
		8:  {`{"amount":2}`, `{"amount":0}`, `{"amount":-1}`, `{"amount":1e3}`, `{"amount":9,"productionType":"standard"}`, `{"amount":99999999999999999999}`},
		9:  {``, `{"max":1}`, `{"max":0}`, `{"max":null}`, `{"max":2147483648}`},
		10: {``, `{}`, `{"x":true}`},
		11: {`var options = { enabled: true };`, `syntax error`, `throw 1`, "\xff\xfe", ``},
		12: {`{"userId":"u1","actorId":"op-1","roles":["operator"]}`, `{"script":"throw 1","userId":"u1","actorId":"a"}`,
			`{"script":"syntax error","userId":"u1","actorId":"a"}`, `{"script":null,"userId":"u2","actorId":"a","roles":["selfservice"],"channel":"batch"}`},
		13: {``, `{}`},
	}
	for i := range endpoints {
		for _, s := range seeds[i] {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		e := setup(t)
		ep := endpoints[int(which)%len(endpoints)]
		r := record(e.handler, ep.method, ep.path, ep.token, string(body))
		if r.status >= 500 {
			t.Fatalf("%s %s %q: status %d %s", ep.method, ep.path, body, r.status, r.body)
		}
		if r.status >= 400 {
			r.problem(t)
			return
		}
		if r.status != http.StatusNoContent && r.header.Get("Content-Type") == "application/json" && !json.Valid(r.body) {
			t.Fatalf("%s %s: invalid JSON answer %s", ep.method, ep.path, r.body)
		}
	})
}
