package malipo

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that each face can map it to its own wire code
// in one table.
type Kind string

// The error kinds every face knows how to render.
const (
	KindInvalid           Kind = "invalid"
	KindUnauthorized      Kind = "unauthorized"
	KindForbidden         Kind = "forbidden"
	KindNotFound          Kind = "not_found"
	KindConflict          Kind = "conflict"
	KindInsufficientFunds Kind = "insufficient_funds"
	KindRateLimited       Kind = "rate_limited"
	KindUnavailable       Kind = "unavailable"
	KindInternal          Kind = "internal"
)

// Error is a domain error: a kind, a stable machine code, a message safe to
// show to the API caller and, for input errors, the offending parameter.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Param   string
	Err     error // the cause, never shown to callers
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an input error naming the offending parameter.
func Invalid(param, code, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// ErrNotFound is returned by lookups that find nothing.
var ErrNotFound = &Error{Kind: KindNotFound, Code: "resource_missing", Message: "not found"}

// KindOf returns the kind of err: the kind of the first *Error in its chain,
// KindInternal otherwise.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// AsError returns the first *Error in err's chain, or an internal error that
// hides err's text.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindInternal, Code: "internal_error", Message: "an internal error occurred", Err: err}
}
