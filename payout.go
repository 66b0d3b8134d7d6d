package malipo

import (
	"strings"
	"time"
)

// PayoutStatus is where a payout stands. A payout is queued (its money
// reserved) until the rail takes it, processing until the rail answers,
// then succeeded or failed (the reservation released).
type PayoutStatus string

// The payout states.
const (
	PayoutQueued     PayoutStatus = "queued"
	PayoutProcessing PayoutStatus = "processing"
	PayoutSucceeded  PayoutStatus = "succeeded"
	PayoutFailed     PayoutStatus = "failed"
)

// Final reports whether no further transition is possible.
func (s PayoutStatus) Final() bool { return s == PayoutSucceeded || s == PayoutFailed }

// DestinationType is where a payout goes.
type DestinationType string

// The destinations Malipo pays out to.
const (
	DestinationMobileMoney DestinationType = "mobile_money" // a wallet: an MSISDN and its operator
	DestinationPaybill     DestinationType = "paybill"      // an M-Pesa style business number, with an account reference
	DestinationTill        DestinationType = "till"         // a merchant till number
	DestinationMerchant    DestinationType = "merchant"     // another Malipo merchant: an internal transfer
)

// Destination is who receives a payout.
type Destination struct {
	Type     DestinationType `json:"type"`
	Account  string          `json:"account"` // E.164 number, business number, till or merchant ID
	Name     string          `json:"name,omitempty"`
	Operator string          `json:"operator,omitempty"`
	// AccountReference is the paybill's account narration (the account at
	// the business being paid).
	AccountReference string `json:"account_reference,omitempty"`
}

// Payout is money a merchant sends out of its available balance.
type Payout struct {
	ID            string
	MerchantID    string
	IntegrationID string
	Mode          Mode
	Amount        int64
	Fee           int64
	Currency      Currency
	Reference     string // unique per integration
	Destination   Destination
	Narration     string
	Status        PayoutStatus
	FailureCode   string
	FailureReason string
	RailReference string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	CompletedAt   time.Time
}

// Transition moves the payout to status to, or fails with a conflict.
func (p *Payout) Transition(to PayoutStatus, now time.Time) error {
	ok := (p.Status == PayoutQueued && (to == PayoutProcessing || to.Final())) || (p.Status == PayoutProcessing && to.Final())
	if !ok {
		return Errorf(KindConflict, "payout_state_invalid", "payout %s is %s and cannot become %s", p.ID, p.Status, to)
	}
	p.Status, p.UpdatedAt = to, now
	if to.Final() {
		p.CompletedAt = now
	}
	return nil
}

// RefundStatus is where a refund stands.
type RefundStatus string

// A refund is pending (its money reserved) until the rail answers.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// Refund gives a customer back some or all of a succeeded payment.
type Refund struct {
	ID            string
	PaymentID     string
	MerchantID    string
	IntegrationID string
	Mode          Mode
	Amount        int64
	Currency      Currency
	Reason        string
	Status        RefundStatus
	FailureCode   string
	FailureReason string
	RailReference string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	CompletedAt   time.Time
}

// Rules are an integration's money rules: fees per channel, when
// collections become available, and limits on payouts.
type Rules struct {
	// Fees by channel ("mobile_money", "card") and for "payout"; a
	// collection channel without a rule uses the integration's Fee.
	Fees map[string]FeeRule `json:"fees,omitempty"`
	// SettlementDelay is how long collections stay pending before they
	// become available; 0 makes them available at once.
	SettlementDelay time.Duration `json:"settlement_delay,omitempty"`
	// PayoutsPerDestination payouts to one destination account are
	// allowed per PayoutWindow (iPay: 3 per 24 h); 0 means the default.
	PayoutsPerDestination int           `json:"payouts_per_destination,omitempty"`
	PayoutWindow          time.Duration `json:"payout_window,omitempty"`
	// MaxPayout caps one payout, in minor units; 0 means no cap.
	MaxPayout int64 `json:"max_payout,omitempty"`
}

// Default payout velocity: iPay's 3 payouts to one phone per 24 hours.
const (
	DefaultPayoutsPerDestination = 3
	DefaultPayoutWindow          = 24 * time.Hour
)

// Velocity returns how many payouts to one destination are allowed per
// window.
func (r Rules) Velocity() (int, time.Duration) {
	n, w := r.PayoutsPerDestination, r.PayoutWindow
	if n <= 0 {
		n = DefaultPayoutsPerDestination
	}
	if w <= 0 {
		w = DefaultPayoutWindow
	}
	return n, w
}

// FeeFor returns the fee rule for a channel or "payout".
func (i Integration) FeeFor(channel string) FeeRule {
	if r, ok := i.Rules.Fees[channel]; ok {
		return r
	}
	if channel == "payout" {
		return FeeRule{}
	}
	return i.Fee
}

// ValidateNarration checks free text sent along with money.
func ValidateNarration(param, s string) error {
	if len(s) > 200 || strings.ContainsAny(s, "\x00\r\n") {
		return Invalid(param, "parameter_invalid", "%s must be one line of at most 200 characters", param)
	}
	return nil
}
