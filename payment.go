package malipo

import (
	"net/url"
	"strings"
	"time"
)

// PaymentStatus is where a payment stands in its life.
type PaymentStatus string

// A payment starts pending, becomes processing once a rail has taken it, and
// ends in exactly one of the four final states.
const (
	PaymentPending    PaymentStatus = "pending"
	PaymentProcessing PaymentStatus = "processing"
	PaymentSucceeded  PaymentStatus = "succeeded"
	PaymentFailed     PaymentStatus = "failed"
	PaymentCancelled  PaymentStatus = "cancelled"
	PaymentExpired    PaymentStatus = "expired"
)

// ParsePaymentStatus validates a status name.
func ParsePaymentStatus(s string) (PaymentStatus, error) {
	switch st := PaymentStatus(s); st {
	case PaymentPending, PaymentProcessing, PaymentSucceeded, PaymentFailed, PaymentCancelled, PaymentExpired:
		return st, nil
	}
	return "", Invalid("status", "status_invalid", "unknown payment status %q", s)
}

// Final reports whether no further transition is possible.
func (s PaymentStatus) Final() bool {
	return s == PaymentSucceeded || s == PaymentFailed || s == PaymentCancelled || s == PaymentExpired
}

// CanBecome reports whether the state machine allows s → to.
func (s PaymentStatus) CanBecome(to PaymentStatus) bool {
	switch s {
	case PaymentPending:
		return to == PaymentProcessing || to.Final()
	case PaymentProcessing:
		return to.Final()
	}
	return false
}

// Channel is a way to pay.
type Channel string

// The channels a payment can offer.
const (
	ChannelMobileMoney Channel = "mobile_money"
	ChannelCard        Channel = "card"
	// ChannelBank is a transfer the customer authorises from a bank
	// account (KPay's "bank"): its outcome arrives later, as a push's does.
	ChannelBank Channel = "bank_transfer"
)

// ParseChannel validates a channel name.
func ParseChannel(s string) (Channel, error) {
	switch c := Channel(s); c {
	case ChannelMobileMoney, ChannelCard, ChannelBank:
		return c, nil
	}
	return "", Invalid("channels", "channel_invalid", "unknown channel %q: use mobile_money, card or bank_transfer", s)
}

// Customer is who pays, as the merchant describes them.
type Customer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Payment is a collection: money a customer pays a merchant.
type Payment struct {
	ID            string
	MerchantID    string
	IntegrationID string
	Mode          Mode
	Amount        int64
	Currency      Currency
	Fee           int64 // fixed when the payment succeeds
	Reference     string
	Description   string
	Customer      Customer
	Channels      []Channel
	Method        Channel // the channel actually used, once known
	Phone         string  // E.164 number pushed to, for mobile money
	Account       string  // the bank account a bank transfer came from
	Operator      string
	ReturnURL     string
	CancelURL     string
	NotifyURL     string
	Metadata      map[string]string
	Lang          string
	Status        PaymentStatus
	FailureCode   string
	FailureReason string
	RailReference string
	CheckoutToken string
	// Items and Taxes are shown on the checkout page; they do not change
	// what is charged, which is always Amount.
	Items []Item
	Taxes []Tax
	// Store, when set, is who the checkout page says is paid, instead of
	// the merchant (PayDunya's store).
	Store Store
	// Details are labelled values shown on the checkout page (CinetPay's
	// invoice_data).
	Details []Detail
	// LockPhone stops the customer from changing Customer.Phone at checkout.
	LockPhone bool
	// FrameOrigin, when set, is the one origin whose page may show the
	// checkout page in a frame (the merchant's page that opened it over
	// itself).
	FrameOrigin string
	// Region is the country (ISO 3166) where numbers written without
	// their country code are read for this payment: its integration's home.
	Region string
	// FaceData is what the face that created the payment keeps to answer
	// about it in its own wire format (PayDunya's store and custom_data,
	// say). The gateway never reads it.
	FaceData []byte
	// NextAction is what the customer must do before the payment can go
	// on: NextActionThreeDSecure while a card awaits authentication.
	NextAction string
	// AmountRefunded is the sum of the payment's refunds that have not
	// failed.
	AmountRefunded int64
	// AvailableAt is when a succeeded payment's money becomes available;
	// SettledAt is when it did (zero while it is pending).
	AvailableAt time.Time
	SettledAt   time.Time
	// Attempt is the number of the latest rail attempt (0: none yet);
	// InFlightUntil, while set, is how long that attempt's rail call may
	// still be under way: no second call starts before it is recorded.
	Attempt       int
	InFlightUntil time.Time
	// Late is set on a payment whose success arrived after it had expired:
	// the customer approved after Malipo stopped waiting.
	Late        bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ExpiresAt   time.Time
	CompletedAt time.Time // zero until final
}

// NextActionThreeDSecure: the card's issuer wants the customer to
// authenticate (3-D Secure) before it authorises the payment.
const NextActionThreeDSecure = "three_d_secure"

// Item is one line of an invoice, amounts in the payment's minor units.
type Item struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Quantity    int64  `json:"quantity"`
	UnitPrice   int64  `json:"unit_price"`
	Total       int64  `json:"total"`
}

// Store is a merchant's shop as a payment names it (PayDunya's store),
// shown on the checkout page and the receipt.
type Store struct {
	Name          string `json:"name,omitempty"`
	LogoURL       string `json:"logo_url,omitempty"`
	Tagline       string `json:"tagline,omitempty"`
	PostalAddress string `json:"postal_address,omitempty"`
	Phone         string `json:"phone,omitempty"`
	WebsiteURL    string `json:"website_url,omitempty"`
}

// Detail is a labelled value shown on the checkout page.
type Detail struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Tax is a tax line shown under the items.
type Tax struct {
	Name   string `json:"name"`
	Amount int64  `json:"amount"`
}

// MaxItems bounds invoice lines and tax lines.
const MaxItems = 100

// ValidateInvoice checks items and taxes and fills in each item's total.
func ValidateInvoice(items []Item, taxes []Tax) error {
	if len(items) > MaxItems || len(taxes) > MaxItems {
		return Invalid("items", "parameter_invalid", "at most %d items and %d taxes", MaxItems, MaxItems)
	}
	for i := range items {
		it := &items[i]
		if it.Name == "" || len(it.Name) > 200 || len(it.Description) > 500 {
			return Invalid("items", "parameter_invalid", "each item needs a name (at most 200 characters)")
		}
		if it.Quantity == 0 {
			it.Quantity = 1
		}
		if it.Quantity < 0 || it.Quantity > 1_000_000 || it.UnitPrice < 0 || it.UnitPrice > MaxAmount {
			return Invalid("items", "parameter_invalid", "item quantities and prices must be positive")
		}
		if it.Total == 0 {
			if it.UnitPrice > MaxAmount/it.Quantity {
				return Invalid("items", "parameter_invalid", "item %q: quantity × unit price is larger than %d", it.Name, MaxAmount)
			}
			it.Total = it.Quantity * it.UnitPrice
		}
		if it.Total < 0 || it.Total > MaxAmount {
			return Invalid("items", "parameter_invalid", "item totals must be positive")
		}
	}
	for _, t := range taxes {
		if t.Name == "" || len(t.Name) > 200 || t.Amount < 0 || t.Amount > MaxAmount {
			return Invalid("taxes", "parameter_invalid", "each tax needs a name and a positive amount")
		}
	}
	return nil
}

// Transition moves the payment to status to at time now, or fails with a
// conflict if the state machine forbids it.
func (p *Payment) Transition(to PaymentStatus, now time.Time) error {
	if !p.Status.CanBecome(to) {
		return Errorf(KindConflict, "payment_state_invalid", "payment %s is %s and cannot become %s", p.ID, p.Status, to)
	}
	p.Status = to
	p.UpdatedAt = now
	if to.Final() {
		p.CompletedAt = now
	}
	return nil
}

// InFlight reports whether a rail attempt is under way at now: a push the
// operator took and has not answered, or a rail call not yet recorded.
// A payment in flight cannot be cancelled or tried again.
func (p *Payment) InFlight(now time.Time) bool {
	return p.Status == PaymentProcessing || now.Before(p.InFlightUntil)
}

// SucceedLate turns an expired payment into a succeeded one, flagged
// late: expiry meant Malipo stopped waiting, not that the customer could
// no longer pay.
func (p *Payment) SucceedLate(now time.Time) error {
	if p.Status != PaymentExpired {
		return Errorf(KindConflict, "payment_state_invalid", "payment %s is %s, not expired", p.ID, p.Status)
	}
	p.Status, p.Late, p.UpdatedAt, p.CompletedAt = PaymentSucceeded, true, now, now
	return nil
}

// Offers reports whether the payment may be paid through channel c.
func (p *Payment) Offers(c Channel) bool {
	for _, x := range p.Channels {
		if x == c {
			return true
		}
	}
	return false
}

// Limits on free-text fields, so that no caller can store megabytes in a row.
const (
	MaxReferenceLen   = 64
	MaxDescriptionLen = 500
	MaxMetadataKeys   = 20
	MaxMetadataLen    = 500
	MaxURLLen         = 2048
)

// ValidateReference checks a merchant reference.
func ValidateReference(ref string) error {
	if ref == "" {
		return Invalid("reference", "parameter_missing", "reference is required")
	}
	if len(ref) > MaxReferenceLen {
		return Invalid("reference", "parameter_invalid", "reference must be at most %d characters", MaxReferenceLen)
	}
	for _, r := range ref {
		if r < 0x20 || r == 0x7f {
			return Invalid("reference", "parameter_invalid", "reference must not contain control characters")
		}
	}
	return nil
}

// ValidateURL checks an optional absolute http(s) URL.
func ValidateURL(param, raw string) error {
	if raw == "" {
		return nil
	}
	if len(raw) > MaxURLLen {
		return Invalid(param, "url_invalid", "%s must be at most %d characters", param, MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Invalid(param, "url_invalid", "%s must be an absolute http or https URL", param)
	}
	return nil
}

// ValidateMetadata checks the merchant's free key/value pairs.
func ValidateMetadata(m map[string]string) error {
	if len(m) > MaxMetadataKeys {
		return Invalid("metadata", "parameter_invalid", "metadata may have at most %d keys", MaxMetadataKeys)
	}
	for k, v := range m {
		if k == "" || len(k) > 40 || len(v) > MaxMetadataLen {
			return Invalid("metadata", "parameter_invalid", "metadata keys must be 1-40 characters and values at most %d", MaxMetadataLen)
		}
	}
	return nil
}

// ValidateLang checks an optional language: a tag for French or English
// ("fr", "en", "fr-CI", "en_KE").
func ValidateLang(param, s string) error {
	if strings.TrimSpace(s) != "" && NormalizeLang(s) == "" || len(s) > 35 {
		return Invalid(param, "lang_invalid", "%s must be fr or en", param)
	}
	return nil
}

// NormalizeLang reduces a language tag to "fr" or "en" ("" if neither).
func NormalizeLang(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(s, "fr"):
		return "fr"
	case strings.HasPrefix(s, "en"):
		return "en"
	}
	return ""
}

// DayStats are one day's payments in one currency: how many were made,
// how many succeeded, and the money they brought.
type DayStats struct {
	Day       time.Time // midnight UTC
	Payments  int
	Succeeded int
	Volume    int64 // succeeded amounts, minor units
	Fees      int64 // the fees kept on them
}

// FailureStats counts failed payments by failure code and operator.
type FailureStats struct {
	Code     string
	Operator string
	Count    int
}
