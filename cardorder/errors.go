package cardorder

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cardsaddon/extprod/ports"
)

// Code is the stable, machine-readable reason of a refusal. The HTTP adapter sends it as the
// problem's "code" (docs/http-api.md's error table).
type Code string

// The codes of docs/http-api.md's error table that the domain produces.
const (
	CodeUnauthenticated       Code = "unauthenticated"
	CodeForbidden             Code = "forbidden"
	CodeUseCaseDisabled       Code = "use_case_disabled"
	CodeNotFound              Code = "not_found"
	CodeUserNotFound          Code = "user_not_found"
	CodeUserNotActive         Code = "user_not_active"
	CodeOrderExists           Code = "order_exists"
	CodeInvalidState          Code = "invalid_state"
	CodeInvalidProductionType Code = "invalid_production_type"
	CodeInvalidCardData       Code = "invalid_card_data"
	CodeInvalidAmount         Code = "invalid_amount"
	CodeReasonRequired        Code = "reason_required"
	CodeScriptFailed          Code = "script_failed"
	CodeProviderError         Code = "provider_error"
	CodeProviderUnavailable   Code = "provider_unavailable"
	// CodeDirectoryUnavailable: the user directory could not give the cardholder's photo (it
	// could not be reached, or broke its protocol); nothing was ordered. Try again later.
	CodeDirectoryUnavailable Code = "directory_unavailable"
	// CodeJobRunning: another instance holds the lease of the job asked for (a status sync);
	// try again when it is done.
	CodeJobRunning Code = "job_running"
	CodeInternal   Code = "internal"
)

// Error is a refusal by the domain. Test for a kind with errors.Is against the sentinels below
// (they match by Code) or read the details with errors.As. Detail never holds personal data.
type Error struct {
	Code   Code
	Detail string
	// Fields names the offending fields and why, for invalid_card_data.
	Fields map[string]string
	// Err is the cause, if any.
	Err error
}

// Error renders the code, the detail, the offending fields and the cause.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		fmt.Fprintf(&b, "; %s: %s", k, e.Fields[k])
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Code, so errors.Is(err, ErrForbidden)
// holds for every forbidden refusal whatever its detail.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels, one per code, for errors.Is.
var (
	ErrUnauthenticated       = &Error{Code: CodeUnauthenticated}
	ErrForbidden             = &Error{Code: CodeForbidden}
	ErrUseCaseDisabled       = &Error{Code: CodeUseCaseDisabled}
	ErrNotFound              = &Error{Code: CodeNotFound}
	ErrUserNotFound          = &Error{Code: CodeUserNotFound}
	ErrUserNotActive         = &Error{Code: CodeUserNotActive}
	ErrOrderExists           = &Error{Code: CodeOrderExists}
	ErrInvalidState          = &Error{Code: CodeInvalidState}
	ErrInvalidProductionType = &Error{Code: CodeInvalidProductionType}
	ErrInvalidCardData       = &Error{Code: CodeInvalidCardData}
	ErrInvalidAmount         = &Error{Code: CodeInvalidAmount}
	ErrReasonRequired        = &Error{Code: CodeReasonRequired}
	ErrScriptFailed          = &Error{Code: CodeScriptFailed}
	ErrProviderError         = &Error{Code: CodeProviderError}
	ErrProviderUnavailable   = &Error{Code: CodeProviderUnavailable}
	ErrJobRunning            = &Error{Code: CodeJobRunning}
	ErrDirectoryUnavailable  = &Error{Code: CodeDirectoryUnavailable}
)

// CodeOf returns the code of err: "" for nil, the Code of the first *Error in its chain, or
// CodeInternal for anything else, so internals never reach an end user as a reason.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Refusals about a user name no user: the caller knows which one it asked for, and a user id may
// be personal data (an email address) that must not reach an error body or a log.
func userNotFound() *Error { return refuse(CodeUserNotFound, "no such user") }

func orderExists() *Error { return refuse(CodeOrderExists, "the user has an open card order") }

func notActive(state ports.UserState) *Error {
	return refuse(CodeUserNotActive, "the user is %q, not active", state)
}

func refuse(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

func wrapErr(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...), Err: err}
}
