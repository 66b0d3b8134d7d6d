// Package route picks, among a mode's live rails, the one that takes each
// transaction: by the country and operator of the number (detected from its
// range, or chosen by the customer) and the currency, in the configured
// order, skipping for a while a rail whose calls keep failing (a circuit
// breaker). It gives the gateway rails.MobileMoneyRoutes and
// rails.PayoutRoutes.
package route

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
)

// Rail is one live rail as the router takes it: what it serves, and its
// mobile-money and payout sides (nil when it has none).
type Rail struct {
	Meta        malipo.Rail
	MobileMoney rails.MobileMoney
	Payouts     rails.Payouts
	// PaysBusinesses says Payouts also pays paybills and tills (M-Pesa's
	// B2B) in the rail's countries.
	PaysBusinesses bool
}

// countryOfCurrency is where a paybill or till in a currency is: business
// numbers carry no country code.
var countryOfCurrency = map[malipo.Currency]string{"KES": "KE", "TZS": "TZ", "UGX": "UG", "RWF": "RW"}

// Options shape a router; zero fields get the defaults in their comments.
type Options struct {
	Clock clock.Clock
	// FailuresToOpen calls in a row that fail (unknown outcome, or the
	// rail unreachable) open a rail's circuit (default 5); it stays open
	// OpenFor (default 30 s), then one call is let through to try it.
	FailuresToOpen int
	OpenFor        time.Duration
	// OnCall, if set, is told of every call (for metrics): the rail, the
	// operation, whether it failed, and whether the circuit is open after.
	OnCall func(rail, op string, failed, open bool)
}

// Router is a mode's live rails.
type Router struct {
	opt   Options
	rails []*entry
}

type entry struct {
	Rail
	mu       sync.Mutex
	failures int
	openTill time.Time
}

// New returns a router over list, tried in order of Meta.Position.
func New(list []Rail, opt Options) *Router {
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.FailuresToOpen <= 0 {
		opt.FailuresToOpen = 5
	}
	if opt.OpenFor <= 0 {
		opt.OpenFor = 30 * time.Second
	}
	r := &Router{opt: opt}
	for _, x := range list {
		r.rails = append(r.rails, &entry{Rail: x})
	}
	slices.SortStableFunc(r.rails, func(a, b *entry) int { return a.Meta.Position - b.Meta.Position })
	return r
}

// Health is a rail's circuit as the router sees it.
type Health struct {
	Rail     string
	Open     bool // skipped until OpenTill
	OpenTill time.Time
	Failures int // calls in a row that failed
}

// Health lists every rail's circuit.
func (r *Router) Health() []Health {
	now := r.opt.Clock.Now()
	var out []Health
	for _, e := range r.rails {
		e.mu.Lock()
		out = append(out, Health{Rail: e.Meta.Name, Open: now.Before(e.openTill), OpenTill: e.openTill, Failures: e.failures})
		e.mu.Unlock()
	}
	return out
}

// usable reports whether the rail's circuit lets a call through now.
func (e *entry) usable(now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !now.Before(e.openTill)
}

// observe counts a call's result against the rail's circuit. Only failures
// that say nothing of the transaction (the rail unreachable, its outcome
// unknown) count; a refusal is the rail working.
func (r *Router) observe(e *entry, op string, err error) {
	failed := err != nil && (malipo.KindOf(err) == malipo.KindInternal || malipo.KindOf(err) == malipo.KindUnavailable)
	e.mu.Lock()
	if failed {
		e.failures++
		if e.failures >= r.opt.FailuresToOpen {
			e.openTill = r.opt.Clock.Now().Add(r.opt.OpenFor)
			e.failures = r.opt.FailuresToOpen - 1 // after the pause, one more failure opens it again
		}
	} else {
		e.failures, e.openTill = 0, time.Time{}
	}
	open := r.opt.Clock.Now().Before(e.openTill)
	e.mu.Unlock()
	if r.opt.OnCall != nil {
		r.opt.OnCall(e.Meta.Name, op, failed, open)
	}
}

func unavailable(format string, args ...any) error {
	return malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", format, args...)
}

// MobileMoney is the router as rails.MobileMoneyRoutes.
func (r *Router) MobileMoney() rails.MobileMoneyRoutes { return mobileMoney{r} }

type mobileMoney struct{ r *Router }

func (m mobileMoney) For(msisdn, operator string, c malipo.Currency) (rails.MobileMoney, error) {
	country := malipo.CountryOfMSISDN(msisdn)
	if operator == "" {
		operator = rails.OperatorOf(msisdn)
	}
	now := m.r.opt.Clock.Now()
	served := false
	for _, e := range m.r.rails {
		if e.MobileMoney == nil || !e.Meta.Serves(country, operator, c) {
			continue
		}
		served = true
		if e.usable(now) {
			return &watchedMobileMoney{MobileMoney: e.MobileMoney, r: m.r, e: e}, nil
		}
	}
	if served {
		return nil, unavailable("every rail serving %s %s is failing: try again shortly", operator, country)
	}
	return nil, unavailable("no live rail takes %s payments from %s numbers (operator %s)", c, country, operator)
}

func (m mobileMoney) Named(name string) (rails.MobileMoney, bool) {
	for _, e := range m.r.rails {
		if e.Meta.Name == name && e.MobileMoney != nil {
			return &watchedMobileMoney{MobileMoney: e.MobileMoney, r: m.r, e: e}, true
		}
	}
	return nil, false
}

func (m mobileMoney) Operator(msisdn string) string {
	op := rails.OperatorOf(msisdn)
	for _, o := range m.Operators(malipo.CountryOfMSISDN(msisdn)) {
		if o == op {
			return op
		}
	}
	return ""
}

func (m mobileMoney) Operators(country string) []string {
	var out []string
	for _, e := range m.r.rails {
		if e.MobileMoney == nil || !slices.Contains(e.Meta.Countries, country) {
			continue
		}
		for _, o := range e.Meta.Operators {
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out
}

// watchedMobileMoney counts a rail's calls against its circuit.
type watchedMobileMoney struct {
	rails.MobileMoney
	r *Router
	e *entry
}

func (w *watchedMobileMoney) Push(ctx context.Context, p rails.Push) (string, error) {
	ref, err := w.MobileMoney.Push(ctx, p)
	w.r.observe(w.e, "push", err)
	return ref, err
}

func (w *watchedMobileMoney) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	o, err := w.MobileMoney.Status(ctx, key, reference)
	w.r.observe(w.e, "status", err)
	return o, err
}

// Payouts is the router as rails.PayoutRoutes.
func (r *Router) Payouts() rails.PayoutRoutes { return payouts{r} }

type payouts struct{ r *Router }

func (p payouts) For(d malipo.Destination, c malipo.Currency) (rails.Payouts, error) {
	business := d.Type == malipo.DestinationPaybill || d.Type == malipo.DestinationTill
	if d.Type != malipo.DestinationMobileMoney && !business {
		return nil, unavailable("no live rail pays %s destinations yet", d.Type)
	}
	country, operator := malipo.CountryOfMSISDN(d.Account), d.Operator
	if business {
		country, operator = countryOfCurrency[c], ""
	} else if operator == "" {
		operator = rails.OperatorOf(d.Account)
	}
	now := p.r.opt.Clock.Now()
	served := false
	for _, e := range p.r.rails {
		if e.Payouts == nil || !e.Meta.Serves(country, operator, c) || (business && !e.PaysBusinesses) {
			continue
		}
		served = true
		if e.usable(now) {
			return &watchedPayouts{Payouts: e.Payouts, r: p.r, e: e}, nil
		}
	}
	if served {
		return nil, unavailable("every rail paying %s %s is failing: try again shortly", operator, country)
	}
	if business {
		return nil, unavailable("no live rail pays %s to %s %ss", c, country, d.Type)
	}
	return nil, unavailable("no live rail pays %s to %s numbers (operator %s)", c, country, operator)
}

func (p payouts) Named(name string) (rails.Payouts, bool) {
	for _, e := range p.r.rails {
		if e.Meta.Name == name && e.Payouts != nil {
			return &watchedPayouts{Payouts: e.Payouts, r: p.r, e: e}, true
		}
	}
	return nil, false
}

type watchedPayouts struct {
	rails.Payouts
	r *Router
	e *entry
}

func (w *watchedPayouts) Send(ctx context.Context, req rails.PayoutRequest) (string, error) {
	ref, err := w.Payouts.Send(ctx, req)
	w.r.observe(w.e, "send", err)
	return ref, err
}

func (w *watchedPayouts) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	o, err := w.Payouts.Status(ctx, key, reference)
	w.r.observe(w.e, "status", err)
	return o, err
}
