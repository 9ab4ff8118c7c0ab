package smtp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"syscall"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// kind is a sentinel error that also matches a ports sentinel, so a caller that knows only
// ports can still tell a retryable failure from a permanent one.
type kind struct {
	msg  string
	also error
}

func (k *kind) Error() string { return k.msg }
func (k *kind) Unwrap() error { return k.also }

// The kinds of failure Send reports. Every error Send returns is an [*Error] whose Kind is one of
// these (or [ports.ErrUnavailable]); test them with errors.Is.
var (
	// ErrNoAddress: no usable address was found for the recipient (not in the user store, no
	// entry in Config.Addresses, no approvers configured, or only addresses that were refused as
	// unsafe). The mail is dropped with a log line; retrying does not help until the directory or
	// the configuration changes. It matches ports.ErrNotFound too.
	ErrNoAddress error = &kind{"no usable address for the recipient", ports.ErrNotFound}
	// ErrTLS: TLS is required but the relay does not offer STARTTLS, or the TLS handshake
	// failed (an untrusted certificate). Nothing was sent.
	ErrTLS error = &kind{"TLS required but not established", nil}
	// ErrAuth: the relay refused the configured credentials, or offers no mechanism the
	// mailer may use. It matches ports.ErrUnauthorized too. Nothing was sent.
	ErrAuth error = &kind{"relay refused authentication", ports.ErrUnauthorized}
	// ErrRefused: the relay refused the mail for good (a 5xx reply to the sender, a recipient
	// or the content). Nothing was sent.
	ErrRefused error = &kind{"relay refused the mail", nil}
	// ErrInvalid: the notification cannot be sent as given (an unknown kind, no recipient) or a
	// template failed on it. It matches ports.ErrProtocol too.
	ErrInvalid error = &kind{"notification cannot be rendered", ports.ErrProtocol}
)

// Error is what Send returns when a mail was not sent. Its message names the notification, the
// step and the relay's reply code, never an address, a name or the relay's reply text (which
// may echo an address): callers store it (the outbox keeps it as the notification's last
// error) and log it. The underlying cause is still reachable through errors.Is and errors.As.
type Error struct {
	// Kind is ErrNoAddress, ErrTLS, ErrAuth, ErrRefused, ErrInvalid or ports.ErrUnavailable
	// (the relay could not be reached, timed out, or answered with a temporary 4xx: retry).
	Kind error
	// Notification is the notification's id.
	Notification string
	// Step is where it failed: resolve, render, dial, greeting, hello, starttls, auth, mail,
	// rcpt, data.
	Step string
	// Code is the relay's SMTP reply code, when it gave one.
	Code int

	detail string // a fixed description of the cause, free of personal data
	cause  error
}

// Error describes the failure without personal data.
func (e *Error) Error() string {
	s := fmt.Sprintf("smtp: notification %s: %s: %s", e.Notification, e.Step, e.Kind)
	if e.Code != 0 {
		s += fmt.Sprintf(" (reply %d)", e.Code)
	}
	if e.detail != "" {
		s += ": " + e.detail
	}
	return s
}

// Unwrap gives the kind and the underlying cause.
func (e *Error) Unwrap() []error {
	if e.cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.cause}
}

// classify turns a failure of one SMTP step into an *Error. ctx is the caller's context: when it
// is done, the failure is its cancellation, whatever the connection reported.
func classify(ctx context.Context, id, step string, err error) *Error {
	e := &Error{Notification: id, Step: step, cause: err, Kind: ports.ErrUnavailable}
	ctxErr := ctx.Err()
	if cd, ok := ctx.Deadline(); ok && ctxErr == nil && !time.Now().Before(cd) {
		// The connection's deadline was the context's, and it fired first.
		ctxErr = context.DeadlineExceeded
	}
	if ctxErr != nil {
		e.cause = errors.Join(ctxErr, err)
		e.detail = ctxErr.Error()
		return e
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		e.Code = tp.Code
		switch {
		case tp.Code >= 400 && tp.Code < 500:
			e.detail = "temporary refusal"
		case step == "auth" || tp.Code == 530 || tp.Code == 535 || tp.Code == 534 || tp.Code == 538:
			e.Kind = ErrAuth
		case step == "starttls":
			e.Kind = ErrTLS
		default:
			e.Kind = ErrRefused
		}
		return e
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		e.detail = "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		e.detail = "connection refused"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE):
		e.detail = "connection closed"
	case step == "starttls" || step == "tls":
		// Not a network error nor a reply: the handshake itself failed (certificate, version).
		e.Kind, e.detail = ErrTLS, "handshake failed"
	case step == "auth":
		// The client refused to authenticate (PLAIN over a connection without TLS).
		e.Kind, e.detail = ErrAuth, "not attempted without TLS"
	default:
		e.detail = "connection failed"
	}
	return e
}
