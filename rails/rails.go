// Package rails declares how the gateway talks to the networks that move
// money: mobile-money operators (a push to the customer's phone whose
// outcome arrives later) and card networks (an authorisation answered at
// once). The sandbox package implements both offline; real connectors
// implement the same interfaces.
//
// Every call carries a Key: the attempt's idempotency key. The same key
// sent twice is the same transaction, never a second one, and Status asks
// what became of it, given also the reference the rail answered the call
// with, if Malipo has it (Daraja's STK query needs its CheckoutRequestID;
// rails that find transactions by key ignore it). Errors say how far a
// call got: a *malipo.Error of kind unavailable means the request never
// reached the rail (nothing to ask about); any other *malipo.Error is the
// rail's refusal; anything else (a timeout, a broken connection) leaves
// the outcome unknown until Status tells it.
package rails

import (
	"context"
	"log/slog"
	"time"

	"github.com/malipo/malipo"
)

// Push asks a mobile-money operator to prompt a customer to pay.
type Push struct {
	Key         string
	PaymentID   string
	MSISDN      string // E.164
	Operator    string
	Amount      int64
	Currency    malipo.Currency
	Description string
}

// Outcome is what a rail says of a transaction: in a callback, or in
// answer to Status.
type Outcome struct {
	Key           string // the idempotency key Malipo gave the rail
	Verdict       malipo.Verdict
	FailureCode   string
	FailureReason string
	RailReference string // the rail's own transaction ID
	// Amount and Currency as the rail reports them; 0 when it does not.
	Amount   int64
	Currency malipo.Currency
	// Raw is the rail's own words (a callback's body, a status answer), kept
	// with the outcome.
	Raw []byte
}

// Sink takes the outcomes rails report on their own (callbacks): the
// gateway records each before applying it.
type Sink interface {
	Report(ctx context.Context, rail string, o Outcome) error
}

// MobileMoney pushes payment prompts to customers' phones.
type MobileMoney interface {
	// Name is the rail's name in ledger accounts ("sandbox", "mtn-rw").
	Name() string
	// Push sends the prompt. It returns the operator's reference once the
	// operator has accepted the request, or a *malipo.Error if it refused
	// it; the outcome arrives later through the Sink.
	Push(ctx context.Context, p Push) (reference string, err error)
	// Status asks what became of the push with key (and the reference Push
	// returned, "" if its answer was lost).
	Status(ctx context.Context, key, reference string) (Outcome, error)
	// Operator names the operator serving msisdn ("mtn-rw").
	Operator(msisdn string) string
	// Operators lists the operators of a country (ISO 3166, "CI") a
	// customer may choose from.
	Operators(country string) []string
}

// Debit asks a bank to move money from a customer's account: the customer
// authorises it with the bank, and the outcome arrives later, as a push's.
type Debit struct {
	Key         string
	PaymentID   string
	Bank        string // the bank as the merchant named it ("040", "BK")
	Account     string // the customer's account number
	Amount      int64
	Currency    malipo.Currency
	Description string
}

// Banks takes bank transfers.
type Banks interface {
	Name() string
	// Debit sends the request; like Push, it returns the bank's reference
	// once the bank accepted it, or a *malipo.Error if it refused it.
	Debit(ctx context.Context, d Debit) (reference string, err error)
	Status(ctx context.Context, key, reference string) (Outcome, error)
}

// Card is what a customer typed. It lives only in memory for the length of
// one authorisation: never stored, never logged.
type Card struct {
	Number string
	Month  int
	Year   int
	CVV    string
	Name   string
}

// String hides the card so that a stray log line cannot leak it.
func (c Card) String() string { return "card " + MaskPAN(c.Number) }

// LogValue keeps the card out of structured logs too.
func (c Card) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString keeps the card out of %#v too.
func (c Card) GoString() string { return c.String() }

// Charge asks a card network to authorise an amount.
type Charge struct {
	Key       string
	PaymentID string
	Card      Card
	Amount    int64
	Currency  malipo.Currency
	At        time.Time
}

// CardDecision is how the network answered.
type CardDecision string

// The possible decisions.
const (
	CardApproved  CardDecision = "approved"
	CardDeclined  CardDecision = "declined"
	CardChallenge CardDecision = "challenge" // 3-D Secure: the customer must confirm
)

// CardResult is the network's answer.
type CardResult struct {
	Decision      CardDecision
	Code          string // decline code: card_declined, insufficient_funds, expired_card …
	Reason        string
	RailReference string
	Scheme        string // VISA, MASTERCARD
	Masked        string // 555555xxxxxx4444
}

// StoredCard is a card the network keeps for later charges: its token and
// what may be shown of it.
type StoredCard struct {
	NetworkToken string
	Scheme       string
	Masked       string
	ExpMonth     int
	ExpYear      int
}

// TokenCharge charges a stored card; the customer gives the security code
// again.
type TokenCharge struct {
	Key          string
	PaymentID    string
	NetworkToken string
	CVV          string
	ExpMonth     int
	ExpYear      int
	Amount       int64
	Currency     malipo.Currency
	At           time.Time
}

// Cards authorises card payments. Errors of kind invalid mean the card
// details are malformed; a decline is a CardResult, not an error.
type Cards interface {
	Name() string
	Authorize(ctx context.Context, c Charge) (CardResult, error)
	// Authenticate ends the challenged authorisation with key once the
	// customer has passed or failed 3-D Secure.
	Authenticate(ctx context.Context, key string, passed bool) (CardResult, error)
	// Tokenize keeps the card for later charges.
	Tokenize(ctx context.Context, c Card, at time.Time) (StoredCard, error)
	// AuthorizeToken charges a stored card at once: no challenge, no redirect.
	AuthorizeToken(ctx context.Context, c TokenCharge) (CardResult, error)
	// Void cancels the authorisation with key, which must not stand: the
	// customer is not charged. Voiding what was never approved is no error.
	Void(ctx context.Context, key string) error
	// Status asks what became of the authorisation with key: succeeded
	// (approved and standing), failed (declined or voided), pending (a
	// challenge outstanding) or unknown.
	Status(ctx context.Context, key, reference string) (Outcome, error)
}

// PayoutRequest asks a rail to send money to a destination.
type PayoutRequest struct {
	Key         string
	PayoutID    string
	Destination malipo.Destination
	Amount      int64
	Currency    malipo.Currency
	Narration   string
}

// Payouts sends money out: to wallets, paybills and tills.
type Payouts interface {
	Name() string
	// Send hands the payout to the rail. It returns the rail's reference
	// once accepted, or a *malipo.Error if the rail refused it; the
	// outcome arrives later through the Sink. Sending the same Key again
	// must not pay twice: the gateway sends again a payout the rail says
	// it never received.
	Send(ctx context.Context, p PayoutRequest) (reference string, err error)
	// Status asks what became of the payout with key.
	Status(ctx context.Context, key, reference string) (Outcome, error)
}

// RefundRequest asks a rail to pay a customer back.
type RefundRequest struct {
	Key                  string
	RefundID             string
	PaymentID            string
	PaymentRailReference string
	Method               malipo.Channel
	Amount               int64
	Currency             malipo.Currency
}

// Refunds pays customers back, answering at once.
type Refunds interface {
	Name() string
	// Refund returns the rail's reference, or a *malipo.Error if the rail
	// refused. The same Key sent again must not pay twice.
	Refund(ctx context.Context, r RefundRequest) (reference string, err error)
	// Status asks what became of the refund with key.
	Status(ctx context.Context, key, reference string) (Outcome, error)
}

// Set is the rails one mode uses; a nil field means none of that kind.
type Set struct {
	MobileMoney MobileMoneyRoutes
	Cards       Cards
	Payouts     PayoutRoutes
	Refunds     Refunds
	Banks       Banks // nil: no bank transfers
}

// Unknown is the answer of Status for a key the rail never received.
func Unknown(key string) Outcome { return Outcome{Key: key, Verdict: malipo.VerdictUnknown} }

// MaskPAN shows the first six and last four digits ("555555xxxxxx4444"),
// the form KPay's token list uses.
func MaskPAN(pan string) string {
	if len(pan) < 10 {
		return "xxxx"
	}
	mid := make([]byte, len(pan)-10)
	for i := range mid {
		mid[i] = 'x'
	}
	return pan[:6] + string(mid) + pan[len(pan)-4:]
}

// Scheme guesses the card scheme from the number.
func Scheme(pan string) string {
	switch {
	case len(pan) > 0 && pan[0] == '4':
		return "VISA"
	case len(pan) > 1 && (pan[:2] >= "51" && pan[:2] <= "55"),
		len(pan) > 3 && (pan[:4] >= "2221" && pan[:4] <= "2720"):
		return "MASTERCARD"
	case len(pan) > 1 && pan[0] == '6':
		return "MAESTRO"
	}
	return "CARD"
}

// Luhn reports whether the digits pass the Luhn check.
func Luhn(pan string) bool {
	if len(pan) < 12 || len(pan) > 19 {
		return false
	}
	sum := 0
	for i := 0; i < len(pan); i++ {
		d := int(pan[len(pan)-1-i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
