package malipo

import (
	"strconv"
	"strings"
	"time"
)

// AttemptStatus is where one rail call stands.
type AttemptStatus string

// An attempt is claimed (sending) before the rail is called, pending once
// the rail has taken it without a verdict (a push awaiting the customer,
// a card awaiting 3-D Secure, a payout on its way), and ends succeeded or
// failed. A sending attempt whose call was cut short (a timeout, a node
// that stopped) is asked about by the reconciler, never sent blindly again.
const (
	AttemptSending   AttemptStatus = "sending"
	AttemptPending   AttemptStatus = "pending"
	AttemptSucceeded AttemptStatus = "succeeded"
	AttemptFailed    AttemptStatus = "failed"
)

// Final reports whether the rail has given its verdict.
func (s AttemptStatus) Final() bool { return s == AttemptSucceeded || s == AttemptFailed }

// RailAttempt is one try at moving money through a rail for a payment, a
// payout or a refund. Its ID is the idempotency key the rail is given, so
// a call repeated after a timeout asks about the same transaction instead
// of starting a second one.
type RailAttempt struct {
	ID            string // AttemptID(ObjectID, Number)
	ObjectType    string // "payment", "payout" or "refund"
	ObjectID      string
	Number        int
	MerchantID    string
	Mode          Mode
	Rail          string
	Method        string // mobile_money, card, payout, refund
	Status        AttemptStatus
	RailReference string
	FailureCode   string
	FailureReason string
	// Checks counts the reconciler's status queries; NextCheckAt is when it
	// asks next, if the attempt is not final by then.
	Checks      int
	NextCheckAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	CompletedAt time.Time
}

// AttemptID is the idempotency key of attempt number n of an object.
func AttemptID(objectID string, n int) string { return objectID + "-" + strconv.Itoa(n) }

// AttemptObject is the ID of the object whose attempt key is: the key up
// to its number (AttemptID); "" if it is not an attempt's.
func AttemptObject(key string) string {
	if i := strings.LastIndexByte(key, '-'); i > 0 {
		return key[:i]
	}
	return ""
}

// Attempt methods for money going out.
const (
	MethodPayout = "payout"
	MethodRefund = "refund"
)

// Finish records the rail's verdict on the attempt at now.
func (a *RailAttempt) Finish(to AttemptStatus, code, reason string, now time.Time) {
	a.Status, a.FailureCode, a.FailureReason, a.UpdatedAt = to, code, reason, now
	if to.Final() {
		a.CompletedAt = now
	}
}

// Verdict is what a rail says of a transaction it was given.
type Verdict string

// The verdicts: the three final ones, pending (the rail has it, no answer
// yet) and unknown (the rail never received it).
const (
	VerdictSucceeded Verdict = "succeeded"
	VerdictFailed    Verdict = "failed"
	VerdictExpired   Verdict = "expired" // the operator stopped waiting for the customer
	VerdictPending   Verdict = "pending"
	VerdictUnknown   Verdict = "unknown"
)

// Final reports whether the verdict ends the transaction.
func (v Verdict) Final() bool {
	return v == VerdictSucceeded || v == VerdictFailed || v == VerdictExpired
}

// InboxItem is one outcome a rail reported (by callback or in answer to a
// status query), stored before anything is done with it, so that no
// outcome is ever lost; it is then applied once.
type InboxItem struct {
	ID            string
	Rail          string
	Mode          Mode
	AttemptID     string // the key Malipo gave the rail
	Source        string // "callback" or "status"
	Verdict       Verdict
	RailReference string
	FailureCode   string
	FailureReason string
	Amount        int64 // as the rail reported it; 0 if it did not
	Currency      Currency
	Body          []byte // the rail's own words, as received
	ReceivedAt    time.Time
	AppliedAt     time.Time // zero until applied
	Result        InboxResult
	Error         string    // why applying it failed, while it has
	Tries         int       // how many times applying it has failed
	RetryAt       time.Time // while unapplied: when applying it is tried again
}

// InboxResult says what applying an outcome did.
type InboxResult string

// What an applied outcome did.
const (
	ResultApplied     InboxResult = "applied"     // it moved its attempt and object on
	ResultLate        InboxResult = "late"        // a success after the payment had expired: applied, flagged late
	ResultDuplicate   InboxResult = "duplicate"   // the rail said it before: nothing changed
	ResultUnmatched   InboxResult = "unmatched"   // money no object could take: posted to suspense
	ResultConflicting InboxResult = "conflicting" // a final verdict contradicting an earlier one: left for a person
	ResultIgnored     InboxResult = "ignored"     // a failure for a transaction Malipo never sent: nothing to do
	// ResultHint: a callback from a rail whose callbacks are not trusted
	// alone (unsigned, or easy to forge). It changed nothing itself: it
	// made Malipo ask the rail at once, and the answer is an item of its own.
	ResultHint InboxResult = "hint"
)
