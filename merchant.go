package malipo

import "time"

// Flavor names the wire protocol an integration speaks: how its requests are
// authenticated and how its notifications look and are signed.
type Flavor string

// The flavors Malipo speaks.
const (
	FlavorNative   Flavor = "native"
	FlavorClickPay Flavor = "clickpay"
	FlavorIPay     Flavor = "ipay"
	FlavorCinetPay Flavor = "cinetpay"
	FlavorKPay     Flavor = "kpay"
	FlavorPayDunya Flavor = "paydunya"
)

// Mode says whether an integration moves real money (live) or uses the
// sandbox rails (test).
type Mode string

// The two modes.
const (
	ModeTest Mode = "test"
	ModeLive Mode = "live"
)

// ParseMode validates a mode name.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case ModeTest, ModeLive:
		return Mode(s), nil
	}
	return "", Invalid("mode", "mode_invalid", "mode must be test or live, not %q", s)
}

// Merchant is a business that collects and pays out through Malipo.
type Merchant struct {
	ID   string
	Name string
	// LogoURL is an https image shown on checkout pages; empty shows the
	// merchant's initial instead.
	LogoURL   string
	CreatedAt time.Time
	// SuspendedAt, once set, is when the gateway's operator suspended the
	// merchant: its keys stop working and its users cannot sign in.
	SuspendedAt time.Time
}

// Integration is one set of credentials of one flavor in one mode, with the
// merchant's notification settings and fee rule.
type Integration struct {
	ID         string
	MerchantID string
	Flavor     Flavor
	Mode       Mode
	// Config holds the flavor's public settings and the secrets the flavor
	// must keep in clear to sign or verify (HMAC keys). Native API keys are
	// never here: only their hash is stored, as an APIKey.
	Config    map[string]string
	NotifyURL string
	Fee       FeeRule
	Rules     Rules
	CreatedAt time.Time
}

// APIKey is the stored form of a secret key: its SHA-256 hash, never the key.
type APIKey struct {
	Hash          string // hex SHA-256 of the full key
	IntegrationID string
	Hint          string // e.g. "sk_test_…a1b2", safe to show
	CreatedAt     time.Time
	// ExpiresAt, once set, is when the key stops working: a rolled key's
	// overlap ends, or a revoked one's at once.
	ExpiresAt time.Time
}

// Works reports whether the key may be used at now.
func (k APIKey) Works(now time.Time) bool { return k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt) }

// FeeRule is what Malipo keeps from each successful collection: a share in
// basis points (1/100 of a percent) plus a fixed amount in minor units.
type FeeRule struct {
	BasisPoints int64 `json:"basis_points"`
	Fixed       int64 `json:"fixed"`
}

// Fee computes the fee on amount, rounded half up, never more than amount.
func (r FeeRule) Fee(amount int64) int64 {
	fee := (amount*r.BasisPoints+5000)/10000 + r.Fixed
	if fee > amount {
		fee = amount
	}
	if fee < 0 {
		fee = 0
	}
	return fee
}
