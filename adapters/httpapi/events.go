package httpapi

import (
	"net/http"

	"github.com/cardsaddon/extprod/cardorder"
)

// eventsProblems wraps the bureau's events handler so that its error answers, written with
// http.Error as text, reach the client as problems like every other error of the API. The
// status (and headers such as Retry-After) are kept; the code follows the status:
//
//	400, and any 4xx not named here  bad_request (keeping its status)
//	401                               unauthenticated
//	405                               method_not_allowed
//	413                               payload_too_large
//	503                               unavailable (deliver the event again after Retry-After)
//	any other 5xx                     internal
func eventsProblems(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &problemWriter{ResponseWriter: w}
		next.ServeHTTP(pw, r)
		if pw.status >= 400 {
			code, detail := eventCode(pw.status)
			p := Problem{Type: ProblemTypePrefix + code, Title: codes[code].title, Status: pw.status, Detail: detail, Code: code}
			if p.Status != codes[code].status {
				p.Title = http.StatusText(p.Status) // the status is the handler's; the title says it
			}
			writeProblem(w, p)
		}
	})
}

// eventCode is the code and detail of an error status of the events handler.
func eventCode(status int) (code, detail string) {
	switch {
	case status == http.StatusUnauthorized:
		return string(cardorder.CodeUnauthenticated), "the event's signature is missing or wrong"
	case status == http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed, "use POST"
	case status == http.StatusRequestEntityTooLarge:
		return CodePayloadTooLarge, "the event is too large"
	case status == http.StatusServiceUnavailable:
		return CodeUnavailable, "the event could not be applied now; deliver it again later"
	case status == http.StatusBadRequest:
		return CodeBadRequest, "the event is not a well-formed status event"
	case status < 500:
		return CodeBadRequest, "the events handler refused the request"
	}
	return CodeInternal, "the event could not be applied now; deliver it again later"
}

// problemWriter holds back an error status and its body; the wrapper answers a problem instead.
type problemWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader passes a success status on and holds an error status back.
func (p *problemWriter) WriteHeader(code int) {
	if p.status != 0 {
		return
	}
	p.status = code
	if code < 400 {
		p.ResponseWriter.WriteHeader(code)
	}
}

// Write passes a success body on and drops an error body.
func (p *problemWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.WriteHeader(http.StatusOK)
	}
	if p.status >= 400 {
		return len(b), nil // replaced by the problem
	}
	return p.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (p *problemWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
