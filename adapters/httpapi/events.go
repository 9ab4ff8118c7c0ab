package httpapi

import (
	"errors"
	"net/http"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// EventServer is an events handler that leaves the answer to a refusal to the API it is
// mounted in: ServeEvent answers a delivery it accepts itself (204) and returns a refusal as an
// error, having set at most headers such as Retry-After. gocards.EventHandler is one. Mounted as
// [Config].Events, its refusals are answered by the API's own problem writer, the code chosen by
// what the error wraps:
//
//	ports.ErrUnauthenticated  401 unauthenticated (a missing or wrong signature)
//	*http.MaxBytesError       413 payload_too_large
//	ports.ErrProtocol         400 bad_request (not a well-formed event)
//	ports.ErrUnavailable      503 unavailable (deliver it again after Retry-After)
//	anything else             500 internal (the cause is logged)
type EventServer interface {
	ServeEvent(w http.ResponseWriter, r *http.Request) error
}

// events mounts the bureau's events handler: an [EventServer] reports its refusals to the
// API's problem writer; any other handler's error statuses are turned into problems by
// [eventsProblems].
func (h *handler) events(next http.Handler) http.Handler {
	es, ok := next.(EventServer)
	if !ok {
		return eventsProblems(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := es.ServeEvent(w, r); err != nil {
			h.fail(w, r, eventError(err))
		}
	})
}

// eventError is the API's refusal of an event the events handler refused with err.
func eventError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ports.ErrUnauthenticated):
		return errorf(cardorder.CodeUnauthenticated, "the event's signature is missing or wrong")
	case errors.As(err, &mbe):
		return errorf(CodePayloadTooLarge, "the event is larger than %d bytes", mbe.Limit)
	case errors.Is(err, ports.ErrUnavailable):
		return errorf(CodeUnavailable, "the event could not be applied now; deliver it again later")
	case errors.Is(err, ports.ErrProtocol):
		return errorf(CodeBadRequest, "the event is not a well-formed status event")
	}
	return err
}

// eventsProblems wraps an events handler that is not an [EventServer] (a host's own) so that its
// error answers, written as text, reach the client as problems like every other error of the
// API. The status (and headers such as Retry-After) are kept; the code follows the status:
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
			p := Problem{Type: ProblemTypePrefix + string(code), Title: codes[code].title, Status: pw.status, Detail: detail, Code: string(code)}
			if p.Status != codes[code].status {
				p.Title = http.StatusText(p.Status) // the status is the handler's; the title says it
			}
			writeProblem(w, p)
		}
	})
}

// eventCode is the code and detail of an error status of the events handler.
func eventCode(status int) (code cardorder.Code, detail string) {
	switch {
	case status == http.StatusUnauthorized:
		return cardorder.CodeUnauthenticated, "the event's signature is missing or wrong"
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
