package httpapi

import (
	"net/http"

	"github.com/cardsaddon/extprod/cardorder"
)

// eventsProblems wraps the bureau's events handler so that its error answers, written with
// http.Error as text, reach the client as problems like every other error of the API. The
// status (and headers such as Retry-After) are kept; the code follows the status.
func eventsProblems(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &problemWriter{ResponseWriter: w}
		next.ServeHTTP(pw, r)
		if pw.status >= 400 {
			code, detail := CodeInternal, "the event could not be applied now; deliver it again later"
			switch pw.status {
			case http.StatusBadRequest:
				code, detail = CodeBadRequest, "the event is not a well-formed status event"
			case http.StatusUnauthorized:
				code, detail = string(cardorder.CodeUnauthenticated), "the event's signature is missing or wrong"
			case http.StatusMethodNotAllowed:
				code, detail = CodeMethodNotAllowed, "use POST"
			case http.StatusRequestEntityTooLarge:
				code, detail = CodePayloadTooLarge, "the event is too large"
			}
			p := Problem{Type: ProblemTypePrefix + code, Title: codes[code].title, Status: pw.status, Detail: detail, Code: code}
			if p.Status >= 500 {
				p.Title = http.StatusText(p.Status)
			}
			writeProblem(w, p)
		}
	})
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
