package httpapi_test

import (
	"testing"

	"github.com/cardsaddon/extprod/adapters/httpapi/httpapitest"
)

// TestSuite runs the HTTP scenario suite against the handler over loopback. The module
// adapters/httpapi/openapicheck runs the same suite through a transport that validates every
// request and answer against the OpenAPI document.
func TestSuite(t *testing.T) {
	httpapitest.Run(t, httpapitest.Config{})
}
