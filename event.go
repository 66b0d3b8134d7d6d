package malipo

import (
	"net/netip"
	"strings"
	"time"
)

// Event types: one per state change a merchant may act on.
const (
	EventPaymentSucceeded = "payment.succeeded"
	EventPaymentFailed    = "payment.failed"
	EventPaymentCancelled = "payment.cancelled"
	EventPaymentExpired   = "payment.expired"
	// EventPaymentUnmatched: a rail reported money for a payment that could
	// no longer take it (cancelled, failed, or paid already); the money
	// waits in suspense.
	EventPaymentUnmatched = "payment.unmatched"
	EventPayoutSucceeded  = "payout.succeeded"
	EventPayoutFailed     = "payout.failed"
	EventRefundSucceeded  = "refund.succeeded"
	EventRefundFailed     = "refund.failed"
	// EventTransferReceived tells a merchant that another merchant sent it
	// money (a payout to a merchant destination).
	EventTransferReceived = "transfer.received"
)

// EventTypes lists every event type endpoints may subscribe to.
var EventTypes = []string{EventPaymentSucceeded, EventPaymentFailed, EventPaymentCancelled, EventPaymentExpired, EventPaymentUnmatched,
	EventPayoutSucceeded, EventPayoutFailed, EventRefundSucceeded, EventRefundFailed, EventTransferReceived}

// Event records a state change, in the same transaction as the change.
// Data is the changed object as it was then (JSON of the domain type); each
// notification flavor renders it in its own wire format.
type Event struct {
	ID         string
	MerchantID string
	Mode       Mode
	Type       string
	ObjectType string // "payment"
	ObjectID   string
	Data       []byte
	CreatedAt  time.Time
}

// Unmatched is money a rail reported for a payment that could no longer
// take it, posted to suspense: what a payment.unmatched event carries.
type Unmatched struct {
	ID            string // the inbox item that reported it
	PaymentID     string
	Rail          string
	RailReference string
	Amount        int64
	Currency      Currency
	PaymentStatus PaymentStatus // what the payment was when the money came
	At            time.Time
}

// Endpoint is a URL where a merchant receives native notifications.
type Endpoint struct {
	ID             string
	MerchantID     string
	Mode           Mode
	URL            string
	Events         []string // empty means every event
	Secrets        []EndpointSecret
	Disabled       bool
	DisabledReason string
	CreatedAt      time.Time
}

// EndpointSecret signs deliveries until ExpiresAt (zero: the current
// secret). During a rotation the old and new secrets both sign.
type EndpointSecret struct {
	Secret    string    `json:"secret"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Wants reports whether the endpoint subscribes to an event type.
func (e Endpoint) Wants(eventType string) bool {
	if e.Disabled {
		return false
	}
	if len(e.Events) == 0 {
		return true
	}
	for _, t := range e.Events {
		if t == "*" || t == eventType || (strings.HasSuffix(t, ".*") && strings.HasPrefix(eventType, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}

// ActiveSecrets are the secrets that sign at time now.
func (e Endpoint) ActiveSecrets(now time.Time) []string {
	var out []string
	for _, s := range e.Secrets {
		if s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt) {
			out = append(out, s.Secret)
		}
	}
	return out
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// A delivery is pending until acknowledged (succeeded) or out of attempts (failed).
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Delivery is one event on its way to one URL, in the flavor of the
// integration or endpoint that asked for it.
type Delivery struct {
	ID            string
	EventID       string
	MerchantID    string
	Mode          Mode
	EndpointID    string // set for native endpoints
	IntegrationID string // the integration whose flavor and secrets apply
	Flavor        Flavor
	URL           string
	Status        DeliveryStatus
	Attempts      int
	NextAttemptAt time.Time
	// Lease counts the claims of the delivery: a node records its attempt
	// as the delivery's only if no other node has claimed it since.
	Lease     int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Attempt is one try at a delivery, kept for the merchant to read.
type Attempt struct {
	DeliveryID string
	Number     int
	At         time.Time
	StatusCode int // 0 when no answer came
	Latency    time.Duration
	Response   string // the first bytes of the answer
	Error      string
}

// CallerAllowed reports whether a call from addr passes an integration's
// allow-list (comma-separated addresses and CIDR ranges; empty allows
// any).
func CallerAllowed(allowList string, addr netip.Addr) bool {
	if strings.TrimSpace(allowList) == "" {
		return true
	}
	addr = addr.Unmap()
	for _, a := range strings.Split(allowList, ",") {
		a = strings.TrimSpace(a)
		if p, err := netip.ParsePrefix(a); err == nil && p.Contains(addr) {
			return true
		}
		if ip, err := netip.ParseAddr(a); err == nil && ip.Unmap() == addr {
			return true
		}
	}
	return false
}

// NotifyAddressAllowed reports whether notifications in mode may be sent to
// ip. Live notifications never reach loopback, private, shared (CGNAT),
// link-local (where cloud metadata services live), multicast or unspecified
// addresses: a merchant's URL must not become a way into the network
// Malipo runs in. Test mode allows loopback and private addresses so that
// local development works, but never link-local.
func NotifyAddressAllowed(mode Mode, ip netip.Addr) bool {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(),
		ip.IsInterfaceLocalMulticast():
		return false
	case mode == ModeTest:
		return true
	case ip.IsLoopback(), ip.IsPrivate():
		return false
	}
	for _, p := range reservedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// reservedPrefixes are ranges that are neither public nor covered by the
// netip predicates.
var reservedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64, which can reach IPv4 private space
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2002::/16"),      // 6to4, which embeds IPv4 addresses
}
