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

// The codes faces and the gateway tell apart, beyond an error's kind.
const (
	CodeReferenceInUse       = "reference_in_use"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeTooManyAuthFailures  = "too_many_auth_failures"
	CodePayoutsDisabled      = "payouts_disabled"
	CodeMerchantSuspended    = "merchant_suspended"
	// CodeBusy is the code of a request refused because the gateway has
	// more work queued than it can do promptly: nothing was done, and the
	// same request may be sent again shortly.
	CodeBusy = "busy"
	// CodeCustomerCancelled is the failure code of a payment the customer
	// cancelled on the checkout page.
	CodeCustomerCancelled = "customer_cancelled"
)

// Errors to match with errors.Is: they match any *Error of their code.
var (
	ErrReferenceInUse       = &Error{Kind: KindConflict, Code: CodeReferenceInUse, Message: "the reference is already used"}
	ErrIdempotencyKeyReused = &Error{Kind: KindConflict, Code: CodeIdempotencyKeyReused, Message: "the idempotency key was used for another request"}
	ErrTooManyAuthFailures  = &Error{Kind: KindRateLimited, Code: CodeTooManyAuthFailures, Message: "too many failed authentications"}
	ErrPayoutsDisabled      = &Error{Kind: KindForbidden, Code: CodePayoutsDisabled, Message: "sending money out is not enabled"}
	ErrBusy                 = &Error{Kind: KindUnavailable, Code: CodeBusy, Message: "the gateway is busy and did nothing: send the same request again in a moment"}
	ErrMerchantSuspended    = &Error{Kind: KindForbidden, Code: CodeMerchantSuspended,
		Message: "this merchant is suspended: its keys do not work; contact the gateway's operator"}
)

// Is reports whether target is an *Error of e's code (and of its kind,
// when target names one): errors.Is(err, malipo.ErrReferenceInUse) holds
// for every reference_in_use error, whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code != "" && t.Code == e.Code && (t.Kind == "" || t.Kind == e.Kind)
}

// WithParam returns a copy of e that names param as the offending
// parameter; e itself, which others may hold, is left as it is.
func (e *Error) WithParam(param string) *Error {
	c := *e
	c.Param = param
	return &c
}

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
