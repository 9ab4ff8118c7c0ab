package options

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cardsaddon/extprod/ports"
)

// Sentinel errors. Every error of this package that concerns a script is a [*ScriptError]; test
// it with errors.Is against these sentinels, or errors.As to read its position and option.
var (
	// ErrInvalidScript matches every error of [Load], [Engine.Install] and the load-time sample
	// runs: a syntax error, a runtime error of the top level, a missing, unknown or invalid
	// option, a forbidden regular expression, a resolve or mapUserToCard that fails for a sample
	// context. An invalid script is never installed.
	ErrInvalidScript = errors.New("invalid option script")

	// ErrScriptFailed matches every failure of the script while resolving the options of one
	// order: a throw, the time or call-depth limit, a size limit of a built-in, an invalid result.
	// The order is refused (script_failed) and nothing is created.
	ErrScriptFailed = errors.New("option script failed")

	// ErrTimeLimit is wrapped by a [*ScriptError] when a run exceeded [Limits.TimeLimit]. A run
	// stopped because the caller's context ended wraps the context's error instead, so
	// errors.Is(err, context.DeadlineExceeded) or errors.Is(err, context.Canceled) holds.
	ErrTimeLimit = errors.New("time limit exceeded")

	// ErrCallDepth is wrapped by a [*ScriptError] when a run exceeded [Limits.MaxCallDepth].
	ErrCallDepth = errors.New("call depth limit exceeded")

	// ErrSizeLimit is wrapped by a [*ScriptError] when a built-in would have produced a string or
	// array larger than [Limits.MaxLength] (or nested deeper than MaxCallDepth), or an iterator
	// went past MaxLength steps.
	ErrSizeLimit = errors.New("size limit exceeded")
)

// ScriptError describes why a script was rejected or failed. Its Error text names the line,
// column and option when known, and never contains values from the order's context (user data):
// a message that may contain such values is kept apart in Detail.
type ScriptError struct {
	// Kind is [ErrInvalidScript] (load, install, sample runs) or [ErrScriptFailed] (a run for an
	// order); errors.Is(err, Kind) holds.
	Kind error
	// Line and Column locate the problem in the script, 1-based; 0 when unknown. For an invalid
	// option value they point at the first occurrence of the option's name in the source.
	Line, Column int
	// Option is the option or field concerned, as a path in the script's names, such as
	// "queueCards", "productionTypes[1].id" or "mapUserToCard().elements"; empty when the
	// problem is not about one option.
	Option string
	// Function is where the script was running: "top level", "resolve" or "mapUserToCard"
	// (empty for a syntax error).
	Function string
	// Channel is the sample channel a load-time run of resolve used (empty otherwise).
	Channel string
	// Message says what is wrong, in words for the administrator.
	Message string
	// Detail is the message of an exception the script threw at order time. It may contain
	// personal data from the context (a script can throw ctx.user.email): it is not part of
	// Error(); show it only to someone allowed to see the order's user (a dry run), never log it.
	// At load time the context is a synthetic sample and the exception's message is in Message.
	Detail string
	// Err is the underlying cause, if any: [ErrTimeLimit], [ErrCallDepth], [ErrSizeLimit] or a
	// context error.
	Err error
}

// Error formats the error as "option script: line L, column C: option O: message".
func (e *ScriptError) Error() string {
	var b strings.Builder
	if e.Kind == ErrInvalidScript {
		b.WriteString("invalid option script")
	} else {
		b.WriteString("option script failed")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ", column %d", e.Column)
		}
	}
	if e.Function != "" {
		fmt.Fprintf(&b, ": in %s", e.Function)
		if e.Channel != "" {
			fmt.Fprintf(&b, " (sample %s context)", e.Channel)
		}
	}
	if e.Option != "" {
		fmt.Fprintf(&b, ": option %s", e.Option)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is reports whether target is the error's Kind, so errors.Is(err, ErrInvalidScript) and
// errors.Is(err, ErrScriptFailed) work.
func (e *ScriptError) Is(target error) bool { return target != nil && target == e.Kind }

// Unwrap returns the underlying cause (see Err).
func (e *ScriptError) Unwrap() error { return e.Err }

// ScriptLimit names the limit that stopped the run ([ports.LimitTime], [ports.LimitDepth] or
// [ports.LimitSize]), or "" when no limit did. It makes a *ScriptError a [ports.ScriptLimitError],
// so the domain's observer can count limit hits without importing this package.
func (e *ScriptError) ScriptLimit() string {
	switch {
	case errors.Is(e.Err, ErrTimeLimit):
		return ports.LimitTime
	case errors.Is(e.Err, ErrCallDepth):
		return ports.LimitDepth
	case errors.Is(e.Err, ErrSizeLimit):
		return ports.LimitSize
	}
	return ""
}

// limitError is the Go cause of the RangeError a capped built-in throws into the script (a
// script may catch it; the allocation never happened); see sandbox.causes.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }
func (e *limitError) Unwrap() error { return ErrSizeLimit }
