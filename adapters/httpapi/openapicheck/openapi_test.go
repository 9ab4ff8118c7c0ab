package openapicheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/httpapi/httpapitest"
)

func init() {
	// The option script travels as text/javascript.
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.PlainBodyDecoder)
}

// checker validates exchanges against the document and records which operations and answers
// the suite exercised.
type checker struct {
	doc    *openapi3.T
	router routers.Router

	mu      sync.Mutex
	covered map[string]map[int]bool // operationId → statuses answered
}

// load parses and validates the document.
func load(t *testing.T, raw []byte) *checker {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("the document is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("route the OpenAPI document: %v", err)
	}
	return &checker{doc: doc, router: router, covered: map[string]map[int]bool{}}
}

// validating is an http.RoundTripper that validates each request and its answer.
type validating struct {
	t    testing.TB
	c    *checker
	next http.RoundTripper
}

// bearerOnly authenticates the bearer scheme by the header's presence: whether the token is
// good is the handler's business (and a 401 is in the document).
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" || in.SecurityScheme.Scheme != "bearer" {
		return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
	}
	scheme, tok, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return errors.New("no bearer token")
	}
	return nil
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	withBody := func(r *http.Request) *http.Request {
		r = r.Clone(r.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		return r
	}
	what := req.Method + " " + req.URL.RequestURI()

	route, params, routeErr := v.c.router.FindRoute(req)
	var in *openapi3filter.RequestValidationInput
	var reqErr error
	if routeErr == nil {
		in = &openapi3filter.RequestValidationInput{
			Request: withBody(req), PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: bearerOnly, MultiError: true},
		}
		reqErr = openapi3filter.ValidateRequest(req.Context(), in)
	}

	res, err := v.next.RoundTrip(withBody(req))
	if err != nil {
		return nil, err
	}
	resBody, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	if req.Method == http.MethodHead {
		return res, nil
	}

	switch {
	case routeErr != nil:
		// A path or method the document does not have: the handler must refuse it with a problem.
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed && res.StatusCode != http.StatusBadRequest {
			v.t.Errorf("openapi: %s is not in the document (%v), but the handler answered %d", what, routeErr, res.StatusCode)
		}
		if err := v.c.problem(res, resBody); err != nil {
			v.t.Errorf("openapi: %s answered %d: %v", what, res.StatusCode, err)
		}
		return res, nil
	case reqErr != nil && (res.StatusCode < 400 || res.StatusCode >= 500):
		v.t.Errorf("openapi: the document refuses %s (%s), but the handler answered %d %s", what, brief(reqErr), res.StatusCode, trim(resBody))
	}
	// The bureau's events are checked by the events handler against docs/gocards-wire.md (the
	// order status inside one), which the document only outlines.
	if reqErr == nil && res.StatusCode == http.StatusBadRequest && route.Operation.OperationID != "bureauEvent" && !inexpressible(resBody) {
		v.t.Errorf("openapi: the document accepts %s %q, but the handler refused it: %s", what, trim(body), trim(resBody))
	}
	v.c.cover(route.Operation.OperationID, res.StatusCode)
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	rin.SetBodyBytes(resBody)
	if err := openapi3filter.ValidateResponse(req.Context(), rin); err != nil {
		v.t.Errorf("openapi: the answer to %s does not match the document: %d %s\n%s", what, res.StatusCode, trim(resBody), brief(err))
	}
	if ct := res.Header.Get("Content-Type"); res.StatusCode >= 400 {
		if mt, _, _ := mime.ParseMediaType(ct); mt != httpapi.ProblemContentType {
			v.t.Errorf("openapi: %s answered %d as %q, not a problem", what, res.StatusCode, ct)
		}
	}
	return res, nil
}

// inexpressibleRefusals are the handler's 400 refusals of requests an OpenAPI document cannot
// tell from good ones, by a phrase of their detail. Any other 400 to a request the document
// accepts means the document is looser than the handler, and fails the test.
var inexpressibleRefusals = []string{
	"appears more than once",          // a duplicate JSON member
	"must be given once",              // a repeated query parameter
	"unexpected data after the JSON",  // trailing data after the body
	"is not valid UTF-8",              // JSON Schema sees decoded strings
	"unknown query parameter",         // a query has no additionalProperties
	"the query string is malformed",   // a bad percent-escape
	"limit must be an integer",        // "05": an integer, but not written canonically
	"cursor is not a cursor this API", // a well-formed cursor the API never returned
	"If-Match must name one version",  // several entity tags
	"Idempotency-Key must be one",     // the header sent twice
}

func inexpressible(problem []byte) bool {
	var p struct{ Detail string }
	if json.Unmarshal(problem, &p) != nil {
		return false
	}
	return slices.ContainsFunc(inexpressibleRefusals, func(s string) bool { return strings.Contains(p.Detail, s) })
}

// problem checks that an answer outside the document's routes is a problem.
func (c *checker) problem(res *http.Response, body []byte) error {
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != httpapi.ProblemContentType {
		return fmt.Errorf("Content-Type %q is not %s", res.Header.Get("Content-Type"), httpapi.ProblemContentType)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return c.doc.Components.Schemas["Problem"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors())
}

func (c *checker) cover(op string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.covered[op] == nil {
		c.covered[op] = map[int]bool{}
	}
	c.covered[op][status] = true
}

// brief is a validation error without the schema and value dumps of its JSON Schema errors.
func brief(err error) string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(l, "  ") || strings.HasPrefix(t, "Schema:") || strings.HasPrefix(t, "Value:") {
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

func trim(b []byte) string {
	if len(b) > 512 {
		return string(b[:512]) + "…"
	}
	return string(b)
}

// TestDocumentMatchesHandler runs the handler's HTTP suite with every request and answer
// validated against the OpenAPI document, then checks that the suite exercised every operation
// of the document and each operation's success.
func TestDocumentMatchesHandler(t *testing.T) {
	c := load(t, httpapi.OpenAPI())
	httpapitest.Run(t, httpapitest.Config{
		Transport: func(t testing.TB, next http.RoundTripper) http.RoundTripper {
			return &validating{t: t, c: c, next: next}
		},
	})
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			statuses := c.covered[op.OperationID]
			if len(statuses) == 0 {
				t.Errorf("the suite never calls %s %s (%s)", method, path, op.OperationID)
				continue
			}
			if !slices.ContainsFunc(slices.Collect(maps.Keys(statuses)), func(s int) bool { return s < 300 }) {
				t.Errorf("the suite never gets a success from %s %s (%s)", method, path, op.OperationID)
			}
		}
	}
}
