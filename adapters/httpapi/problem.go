package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cardsaddon/extprod/cardorder"
)

// The codes the handler adds to the domain's (docs/http-api.md's error table); the domain's are the
// [cardorder.Code] constants. CodeMethodNotAllowed, CodeInternal and CodeUnavailable are not in
// that table (see the package doc, "Codes beyond docs/http-api.md").
const (
	// CodeBadRequest refuses a malformed request: body, path id, query or header (400).
	CodeBadRequest cardorder.Code = "bad_request"
	// CodePayloadTooLarge refuses a body over its limit (413).
	CodePayloadTooLarge cardorder.Code = "payload_too_large"
	// CodeInvalidScript refuses an option script that does not load or fails (422).
	CodeInvalidScript cardorder.Code = "invalid_script"
	// CodeIdempotencyKeyReused refuses an Idempotency-Key sent before with another request (422).
	CodeIdempotencyKeyReused cardorder.Code = "idempotency_key_reused"
	// CodeVersionConflict refuses a script install whose If-Match is stale or weak (412).
	CodeVersionConflict cardorder.Code = "version_conflict"
	// CodeMethodNotAllowed answers a known path with a method it does not serve (405).
	CodeMethodNotAllowed cardorder.Code = "method_not_allowed"
	// CodeInternal answers anything unexpected (500), with a generic detail.
	CodeInternal = cardorder.CodeInternal
	// CodeUnavailable answers a bureau status event that could not be applied now (503, with
	// the events handler's Retry-After): the bureau delivers it again later. Only
	// POST /v1/gocards/events answers it.
	CodeUnavailable cardorder.Code = "unavailable"
	// CodeAuthUnavailable answers a request whose token could not be checked now: the
	// [ports.Authenticator] failed with something other than [ports.ErrUnauthenticated] (the
	// identity provider is down or slow). 503 with Retry-After; the client tries again.
	CodeAuthUnavailable cardorder.Code = "auth_unavailable"
)

// ProblemTypePrefix starts the type URI of every problem; the code completes it.
const ProblemTypePrefix = "https://github.com/cardsaddon/extprod/blob/main/docs/http-api.md#"

// ProblemContentType is the media type of every error body (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem detail, the body of every error answer and of a refusal in a
// preview, dry run or batch result.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Code is one of the codes of docs/http-api.md's error table (a [cardorder.Code] or one
	// of this package's Code constants).
	Code string `json:"code"`
}

type codeInfo struct {
	status int
	title  string
}

// codes is docs/http-api.md's error table and the handler's codes beyond it.
var codes = map[cardorder.Code]codeInfo{
	CodeBadRequest:                      {http.StatusBadRequest, "Bad request"},
	cardorder.CodeUnauthenticated:       {http.StatusUnauthorized, "Unauthenticated"},
	cardorder.CodeForbidden:             {http.StatusForbidden, "Forbidden"},
	cardorder.CodeUseCaseDisabled:       {http.StatusForbidden, "Use case disabled"},
	cardorder.CodeNotFound:              {http.StatusNotFound, "Not found"},
	cardorder.CodeUserNotFound:          {http.StatusNotFound, "User not found"},
	cardorder.CodeUserNotActive:         {http.StatusConflict, "User not active"},
	cardorder.CodeOrderExists:           {http.StatusConflict, "Order exists"},
	cardorder.CodeInvalidState:          {http.StatusConflict, "Invalid state"},
	cardorder.CodeInvalidProductionType: {http.StatusUnprocessableEntity, "Invalid production type"},
	cardorder.CodeInvalidCardData:       {http.StatusUnprocessableEntity, "Invalid card data"},
	CodePayloadTooLarge:                 {http.StatusRequestEntityTooLarge, "Payload too large"},
	cardorder.CodeInvalidAmount:         {http.StatusUnprocessableEntity, "Invalid amount"},
	cardorder.CodeReasonRequired:        {http.StatusUnprocessableEntity, "Reason required"},
	CodeInvalidScript:                   {http.StatusUnprocessableEntity, "Invalid script"},
	CodeIdempotencyKeyReused:            {http.StatusUnprocessableEntity, "Idempotency key reused"},
	CodeVersionConflict:                 {http.StatusPreconditionFailed, "Version conflict"},
	cardorder.CodeScriptFailed:          {http.StatusInternalServerError, "Script failed"},
	cardorder.CodeProviderError:         {http.StatusBadGateway, "Provider error"},
	cardorder.CodeProviderUnavailable:   {http.StatusServiceUnavailable, "Provider unavailable"},
	cardorder.CodeDirectoryUnavailable:  {http.StatusServiceUnavailable, "Directory unavailable"},
	CodeMethodNotAllowed:                {http.StatusMethodNotAllowed, "Method not allowed"},
	CodeInternal:                        {http.StatusInternalServerError, "Internal error"},
	CodeUnavailable:                     {http.StatusServiceUnavailable, "Unavailable"},
	CodeAuthUnavailable:                 {http.StatusServiceUnavailable, "Authentication unavailable"},
	cardorder.CodeJobRunning:            {http.StatusConflict, "Job running"},
}

// StatusOf returns the HTTP status of a code of the error table; 500 for an unknown one.
func StatusOf(code cardorder.Code) int {
	if ci, ok := codes[code]; ok {
		return ci.status
	}
	return http.StatusInternalServerError
}

// apiError is a refusal by the handler itself (before or around the domain).
type apiError struct {
	code   cardorder.Code
	detail string
}

// Error implements error.
func (e *apiError) Error() string { return string(e.code) + ": " + e.detail }

func errorf(code cardorder.Code, format string, args ...any) *apiError {
	return &apiError{code: code, detail: fmt.Sprintf(format, args...)}
}

const genericDetail = "an internal error occurred; it has been logged"

// internalProblem answers an unexpected failure.
var internalProblem = Problem{Type: ProblemTypePrefix + string(CodeInternal), Title: "Internal error",
	Status: http.StatusInternalServerError, Detail: genericDetail, Code: string(CodeInternal)}

// problemOf turns any error into the problem the client sees. internal reports whether err is
// an unexpected failure whose cause must be logged, not sent.
func problemOf(err error) (p Problem, internal bool) {
	code, detail := CodeInternal, genericDetail
	var ae *apiError
	var de *cardorder.Error
	switch {
	case errors.As(err, &ae) && ae.code != CodeInternal:
		code, detail = ae.code, ae.detail
	case errors.As(err, &de) && de.Code != cardorder.CodeInternal:
		if _, known := codes[de.Code]; known {
			code, detail = de.Code, domainDetail(de)
		}
	}
	ci := codes[code]
	return Problem{
		Type:   ProblemTypePrefix + string(code),
		Title:  ci.title,
		Status: ci.status,
		Detail: detail,
		Code:   string(code),
	}, code == CodeInternal
}

// domainDetail is a domain refusal's detail with the offending fields, never its cause (which
// may carry internals or personal data). The domain guarantees Detail and Fields carry none.
func domainDetail(e *cardorder.Error) string {
	d := e.Detail
	if d == "" {
		d = strings.ReplaceAll(string(e.Code), "_", " ")
	}
	if len(e.Fields) == 0 {
		return d
	}
	var b strings.Builder
	b.WriteString(d)
	for i, k := range slices.Sorted(maps.Keys(e.Fields)) {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(k)
		b.WriteString(" ")
		b.WriteString(e.Fields[k])
	}
	return b.String()
}

// fail answers err as a problem and logs what the client is not told.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	p, internal := problemOf(err)
	if p.Status >= 500 {
		lvl := slog.LevelError
		if r.Context().Err() != nil {
			lvl = slog.LevelWarn // the client went away; the cause is its cancellation
		}
		attrs := []slog.Attr{slog.String("route", r.Pattern), slog.Int("status", p.Status), slog.String("code", p.Code)}
		if internal {
			// Only unexpected failures carry their cause: a script's or the bureau's words may
			// quote card data.
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		h.log.LogAttrs(r.Context(), lvl, "httpapi: request failed", attrs...)
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p Problem) {
	b, err := json.Marshal(p)
	if err != nil { // cannot happen: Problem has only strings and an int
		b = []byte(`{"type":"` + ProblemTypePrefix + `internal","title":"Internal error","status":500,"detail":"` + genericDetail + `","code":"internal"}`)
		p.Status = http.StatusInternalServerError
	}
	hd := w.Header()
	hd.Set("Content-Type", ProblemContentType)
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(b)
}
