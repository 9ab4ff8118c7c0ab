// Package openapicheck holds the test that keeps the operator API's OpenAPI document
// (httpapi.OpenAPI, served at GET /v1/openapi.json) true to the handler: it runs the httpapitest
// suite through a transport that validates every request and every answer against the document
// with kin-openapi, and fails on any mismatch. It is a module of its own so that the core module
// does not depend on the validator.
package openapicheck
