package httpapi

import (
	"bytes"
	_ "embed" // the OpenAPI document
	"net/http"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the operator API (and of the bureau's events
// endpoint), which the handler serves at GET /v1/openapi.json without authentication: every
// endpoint, parameter, header, body and problem code. The module adapters/httpapi/openapicheck
// validates every request and answer of the httpapitest suite against it, so the document cannot
// drift from the handler. The result is a copy.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	writeRaw(w, http.StatusOK, "application/json", openAPI)
}
