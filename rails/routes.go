package rails

import "github.com/malipo/malipo"

// MobileMoneyRoutes is how a mode reaches its mobile-money rails: the rail
// that takes each push, and a rail found again by its name (to ask about
// an attempt it was given).
type MobileMoneyRoutes interface {
	// For is the rail for a push to msisdn by operator (the number's own
	// when empty) in currency c; an error of kind unavailable when no
	// rail serves it now.
	For(msisdn, operator string, c malipo.Currency) (MobileMoney, error)
	// Named is the rail called name.
	Named(name string) (MobileMoney, bool)
	// Operator names the operator serving msisdn ("mtn-ug"), or "".
	Operator(msisdn string) string
	// Operators lists the operators of a country (ISO 3166) a customer may
	// choose from.
	Operators(country string) []string
}

// PayoutRoutes is how a mode reaches its payout rails.
type PayoutRoutes interface {
	// For is the rail for a payout to d in currency c; an error of kind
	// unavailable when no rail serves it now.
	For(d malipo.Destination, c malipo.Currency) (Payouts, error)
	// Named is the rail called name.
	Named(name string) (Payouts, bool)
}

// OneMobileMoney routes every push to m.
func OneMobileMoney(m MobileMoney) MobileMoneyRoutes { return oneMobileMoney{m} }

type oneMobileMoney struct{ m MobileMoney }

func (o oneMobileMoney) For(string, string, malipo.Currency) (MobileMoney, error) { return o.m, nil }
func (o oneMobileMoney) Named(name string) (MobileMoney, bool)                    { return o.m, name == o.m.Name() }
func (o oneMobileMoney) Operator(msisdn string) string                            { return o.m.Operator(msisdn) }
func (o oneMobileMoney) Operators(country string) []string                        { return o.m.Operators(country) }

// OnePayouts routes every payout to p.
func OnePayouts(p Payouts) PayoutRoutes { return onePayouts{p} }

type onePayouts struct{ p Payouts }

func (o onePayouts) For(malipo.Destination, malipo.Currency) (Payouts, error) { return o.p, nil }
func (o onePayouts) Named(name string) (Payouts, bool)                        { return o.p, name == o.p.Name() }
