package malipo

import (
	"net/mail"
	"strings"
	"time"
)

// Role is what a dashboard user may do.
type Role string

// The roles. A merchant's users are owners, developers, support or
// viewers; operators run the gateway and belong to no merchant.
const (
	RoleOwner     Role = "owner"     // everything of the merchant
	RoleDeveloper Role = "developer" // keys, webhooks, test mode
	RoleSupport   Role = "support"   // read payments, refund, cancel
	RoleViewer    Role = "viewer"    // read
	RoleOperator  Role = "operator"  // the gateway's operator: every merchant
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleOwner, RoleDeveloper, RoleSupport, RoleViewer, RoleOperator:
		return r, nil
	}
	return "", Invalid("role", "role_invalid", "unknown role %q: owner, developer, support, viewer or operator", s)
}

// Permission is one thing a dashboard user may be allowed to do.
type Permission string

// The permissions roles grant.
const (
	PermRead     Permission = "read"     // payments, payouts, refunds, balances, exports
	PermRefund   Permission = "refund"   // refund or cancel a payment
	PermPayout   Permission = "payout"   // send money out
	PermKeys     Permission = "keys"     // integrations and their credentials
	PermWebhooks Permission = "webhooks" // endpoints and deliveries
	PermLive     Permission = "live"     // see and act in live mode
	PermOperate  Permission = "operate"  // every merchant, the rails, the audit
	PermUsers    Permission = "users"    // the merchant's users and their roles
)

var grants = map[Role][]Permission{
	RoleOwner:     {PermRead, PermRefund, PermPayout, PermKeys, PermWebhooks, PermLive, PermUsers},
	RoleDeveloper: {PermRead, PermKeys, PermWebhooks},
	RoleSupport:   {PermRead, PermRefund, PermLive},
	RoleViewer:    {PermRead, PermLive},
	RoleOperator:  {PermRead, PermLive, PermOperate},
}

// Can reports whether the role grants p.
func (r Role) Can(p Permission) bool {
	for _, g := range grants[r] {
		if g == p {
			return true
		}
	}
	return false
}

// User is a person who signs in to the dashboard.
type User struct {
	ID           string
	MerchantID   string // "" for an operator
	Email        string // lower case, unique
	PasswordHash string // argon2id, PHC string form
	Role         Role
	CreatedAt    time.Time
	DisabledAt   time.Time // zero while the user may sign in
	// TOTPSecret is the user's authenticator secret (base32); a sign-in
	// needs its code once TOTPEnabled, after the user proved it works.
	TOTPSecret  string
	TOTPEnabled bool
}

// NormalizeEmail checks an email address and writes it in lower case.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", Invalid("email", "email_invalid", "%q is not an email address", s)
	}
	return s, nil
}

// Session is a signed-in browser. Only the hash of its token is kept.
type Session struct {
	Hash      string
	UserID    string
	Mode      Mode // the data the dashboard shows: test or live
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// Active reports whether the session may be used at now.
func (s Session) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}
