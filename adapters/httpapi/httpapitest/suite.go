// Package httpapitest is the HTTP scenario suite of the operator API (docs/http-api.md): every
// endpoint, its successes and its refusals, driven over a loopback server the way a client
// drives it. httpapi's own tests run it; a module that validates every request and answer
// against the API's OpenAPI document runs it through its validating transport (Config.Transport),
// so the document cannot drift from the handler.
//
// Each scenario builds its own handler over the in-memory adapters (adapters/memory), so the
// scenarios are independent.
package httpapitest

import (
	"net/http"
	"testing"
)

// Config configures a run of the suite.
type Config struct {
	// Transport, when set, wraps the transport of the HTTP client every scenario sends its
	// requests with (next is the loopback server's own). It is called once per server a
	// scenario starts, with that scenario's t, so a failure it reports fails the scenario.
	Transport func(t testing.TB, next http.RoundTripper) http.RoundTripper
}

// scenario is one named test of the suite.
type scenario struct {
	name string
	run  func(t *testing.T, cfg Config)
}

// scenarios lists the suite in the order it runs.
var scenarios = []scenario{
	{"CardJSON", testCardJSON},
	{"ConcurrentOrdersOneUser", testConcurrentOrdersOneUser},
	{"Idempotency", testIdempotency},
	{"IdempotencyRace", testIdempotencyRace},
	{"IdempotencyWaiterTakesOverAReleasedKey", testIdempotencyWaiterTakesOverAReleasedKey},
	{"IdempotencyWaiterGivesUp", testIdempotencyWaiterGivesUp},
	{"ListingCursor", testListingCursor},
	{"ListingBadQuery", testListingBadQuery},
	{"ListingBadQueryOrder", testListingBadQueryOrder},
	{"Preview", testPreview},
	{"ScriptEndpoints", testScriptEndpoints},
	{"DryRun", testDryRun},
	{"ApprovalFlow", testApprovalFlow},
	{"FourEyesBeforeState", testFourEyesBeforeState},
	{"SelfService", testSelfService},
	{"DispatchSyncRepeat", testDispatchSyncRepeat},
	{"BatchAndTemporary", testBatchAndTemporary},
	{"StrictInput", testStrictInput},
	{"HealthAndEvents", testHealthAndEvents},
	{"BureauEvents", testBureauEvents},
	{"OpenAPIDocument", testOpenAPIDocument},
	{"NoScriptEngine", testNoScriptEngine},
	{"ChunkedBodies", testChunkedBodies},
	{"AuthenticatorErrors", testAuthenticatorErrors},
	{"ErrorCodes", testErrorCodes},
}

// Run runs every scenario of the suite as a subtest of t.
func Run(t *testing.T, cfg Config) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { s.run(t, cfg) })
	}
}
