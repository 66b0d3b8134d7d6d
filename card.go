package malipo

import "time"

// CardToken is a card a customer saved with a merchant: the rail's token
// for it, its scheme, masked number and expiry. Never its number or
// security code.
type CardToken struct {
	ID            string
	MerchantID    string
	Mode          Mode
	CustomerPhone string // E.164: the customer's identity, as in KPay
	Customer      Customer
	Scheme        string // VISA, MASTERCARD
	Masked        string // 555555xxxxxx4444
	ExpMonth      int
	ExpYear       int
	Rail          string
	NetworkToken  string // the rail's reference to the card it keeps
	CreatedAt     time.Time
}

// Expired reports whether the card's expiry month has passed at now.
func (c CardToken) Expired(now time.Time) bool {
	return c.ExpYear < now.Year() || (c.ExpYear == now.Year() && c.ExpMonth < int(now.Month()))
}

// CardSetupStatus is where a card-saving session stands.
type CardSetupStatus string

// A card setup is pending until the customer saves a card, or expires.
const (
	CardSetupPending   CardSetupStatus = "pending"
	CardSetupSucceeded CardSetupStatus = "succeeded"
	CardSetupExpired   CardSetupStatus = "expired"
)

// CardSetup is a page where a customer saves a card for later payments
// (KPay's addtoken).
type CardSetup struct {
	ID            string
	MerchantID    string
	IntegrationID string
	Mode          Mode
	Customer      Customer // Phone, in E.164, is required
	Reference     string   // the merchant's, optional
	ReturnURL     string
	Lang          string
	Token         string // the secret in the page's URL
	Status        CardSetupStatus
	CardTokenID   string // once saved
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// StatusAt is the setup's status at now: a pending setup past its expiry
// is expired.
func (s CardSetup) StatusAt(now time.Time) CardSetupStatus {
	if s.Status == CardSetupPending && !now.Before(s.ExpiresAt) {
		return CardSetupExpired
	}
	return s.Status
}
