// Package gateway is where Malipo decides. Each use case runs as one store
// transaction that changes state and posts to the ledger together, or does
// nothing at all. Faces call it; it calls the store and the rails through
// their interfaces and never speaks a wire format.
package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// Config wires a Service.
type Config struct {
	Store  store.Store
	Clock  clock.Clock
	IDs    *ids.Generator
	Logger *slog.Logger
	// Rails per mode; a mode without rails cannot take payments itself
	// (live mode has none until real connectors are configured).
	Rails map[malipo.Mode]rails.Set
	// BaseURL is where customers reach Malipo, for checkout links.
	BaseURL string
	// PaymentTTL is how long a payment stays payable (default 30 minutes).
	PaymentTTL time.Duration
	// IdempotencyTTL is how long idempotency keys are remembered (24 h).
	IdempotencyTTL time.Duration
	// RailTimeout bounds one call to a rail (default 30 s); a claimed
	// attempt stays in flight that long and a little more.
	RailTimeout time.Duration
	// ReconcileAfter is how long an attempt may go without the rail's
	// verdict before the reconciler asks the rail about it, and the first
	// step of its backoff (default 1 minute).
	ReconcileAfter time.Duration
	// AuthFailures is how many failed authentications a client address
	// may make before it is refused with 429 (default 20); one more is
	// allowed every AuthFailureRefill (default 6 s).
	AuthFailures      int
	AuthFailureRefill time.Duration
	// DefaultRegion lets national phone numbers ("0788…") be read; empty
	// means numbers must carry their country code.
	DefaultRegion string
	// Wake, if set, is called once a change that wrote deliveries due now
	// commits, so that this node's dispatcher claims them at once instead
	// of at its next poll.
	Wake func()
	// Courier, if set, takes the deliveries a change writes once it
	// commits, leased to this node as they are written, so that they are
	// attempted without a claim (see Courier).
	Courier Courier
}

// Courier attempts deliveries the moment the change that wrote them
// commits: notify's Dispatcher. Lease says whether it would take one to
// url, and until when the delivery is to be leased to this node; Carry
// hands it over, written and committed, with what rendering it needs.
//
// Why: otherwise a delivery is written due now, and this node's
// dispatcher claims it in a transaction of its own, which leases it and
// reads back the rows the change has just written: a write and a round
// trip per handful of deliveries, and a wait, for what this node had at
// hand.
type Courier interface {
	Lease(url string) (until time.Time, ok bool)
	Carry(d malipo.Delivery, ev malipo.Event, ep *malipo.Endpoint, in malipo.Integration)
}

// Service runs Malipo's use cases.
type Service struct {
	cfg      Config
	keys     sync.Map // key hash → cachedKey
	throttle throttle
	flavors  flavors
	// ended wakes AwaitPayout's callers when an outcome is applied on this
	// node; poll is how often they look anyway (see AwaitPayout).
	ended ended
	poll  backoff
}

type cachedKey struct {
	integration malipo.Integration
	until       time.Time
}

// New returns a service; zero durations get their defaults.
func New(cfg Config) *Service {
	if cfg.PaymentTTL == 0 {
		cfg.PaymentTTL = 30 * time.Minute
	}
	if cfg.IdempotencyTTL == 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	if cfg.RailTimeout <= 0 {
		cfg.RailTimeout = DefaultRailTimeout
	}
	if cfg.ReconcileAfter <= 0 {
		cfg.ReconcileAfter = DefaultReconcileAfter
	}
	if cfg.AuthFailures <= 0 {
		cfg.AuthFailures = DefaultAuthFailures
	}
	if cfg.AuthFailureRefill <= 0 {
		cfg.AuthFailureRefill = DefaultAuthFailureRefill
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, poll: backoff{first: 20 * time.Millisecond, max: 500 * time.Millisecond}}
	s.RegisterFlavor(nativeFlavor())
	return s
}

// now is the service's time, at the microsecond precision the stores keep,
// so an answer given before a write and one read back after it agree.
func (s *Service) now() time.Time { return s.cfg.Clock.Now().Truncate(time.Microsecond) }

// Now is the service's time, for faces that show or compare times: a key
// still working, the date in an export's name.
func (s *Service) Now() time.Time { return s.now() }

// BaseURL is where customers reach Malipo.
func (s *Service) BaseURL() string { return s.cfg.BaseURL }

// HashKey is how secret keys are stored: hex SHA-256. Keys carry 160 random
// bits, so a fast hash is enough; no salt or stretching is needed.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Token returns a random token of n bytes, base32, after prefix: for
// faces whose providers name objects by random tokens.
func (s *Service) Token(prefix string, n int) string { return s.cfg.IDs.Secret(prefix, n) }
