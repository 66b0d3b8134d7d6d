package gateway

import (
	"strings"
	"sync"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/ids"
)

// Flavor is what a face that speaks a provider's protocol tells the
// gateway about that provider's integrations. The face registers it once
// (RegisterFlavor); CreateIntegration follows it. The gateway knows the
// native flavor itself and nothing of any provider's credentials.
type Flavor struct {
	Name malipo.Flavor
	// Country is the provider's home country (ISO 3166): where a number
	// written without its country code is read for an integration that
	// names no country of its own. Empty: the service's default region.
	Country string
	// Payouts is whether a new integration may pay out unless its
	// creator says otherwise (PayDunya's "Payment And Redistribution"
	// must be enabled explicitly).
	Payouts bool
	// Mint checks the flavor's own settings in in and makes a new
	// integration's credentials: the secrets whose hashes find the
	// integration (at least one), and what its owner is shown once.
	// Secrets the face must keep in clear to sign, or hashes it compares,
	// go into integ.Config.
	Mint func(g *ids.Generator, in IntegrationInput, integ *malipo.Integration) (keys []string, shown Credentials, err error)
	// Roll, when set, gives an integration new secrets: the new keys
	// whose hashes find it (the old ones keep working for the roll's
	// overlap) and what its owner is shown once; it may change integ's
	// Config. Nil: the flavor's credentials do not roll.
	Roll func(g *ids.Generator, integ *malipo.Integration) (keys []string, shown Credentials, err error)
}

// flavors is the registry of flavors, written at start-up and read on
// every integration created.
type flavors struct {
	mu sync.RWMutex
	m  map[malipo.Flavor]Flavor
}

func (fs *flavors) get(name malipo.Flavor) (Flavor, bool) {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	f, ok := fs.m[name]
	return f, ok
}

// RegisterFlavor makes integrations of f.Name possible; registering a
// name again replaces it.
func (s *Service) RegisterFlavor(f Flavor) {
	s.flavors.mu.Lock()
	defer s.flavors.mu.Unlock()
	if s.flavors.m == nil {
		s.flavors.m = map[malipo.Flavor]Flavor{}
	}
	s.flavors.m[f.Name] = f
}

// nativeFlavor is Malipo's own: one secret key, sk_<mode>_….
func nativeFlavor() Flavor {
	return Flavor{Name: malipo.FlavorNative, Payouts: true, Mint: func(g *ids.Generator, _ IntegrationInput, in *malipo.Integration) ([]string, Credentials, error) {
		key := g.Secret("sk_"+string(in.Mode)+"_", 20)
		return []string{key}, Credentials{"integration_id": in.ID, "secret_key": key, "mode": string(in.Mode),
			"webhook_secret": in.Config["webhook_secret"]}, nil
	}, Roll: func(g *ids.Generator, in *malipo.Integration) ([]string, Credentials, error) {
		key := g.Secret("sk_"+string(in.Mode)+"_", 20)
		return []string{key}, Credentials{"secret_key": key}, nil
	}}
}

// Home is the integration's home country: where numbers written without
// their country code are read for it (its own, else its flavor's; empty
// when neither names one).
func (s *Service) Home(in malipo.Integration) string {
	if c := in.Config[configCountry]; c != "" {
		return c
	}
	f, _ := s.flavors.get(in.Flavor)
	return f.Country
}

// PayoutsEnabled reports whether the integration may send money out.
func (s *Service) PayoutsEnabled(in malipo.Integration) bool {
	switch in.Config[configPayouts] {
	case "on":
		return true
	case "off":
		return false
	}
	f, _ := s.flavors.get(in.Flavor)
	return f.Payouts
}

// The settings every integration has, kept in its Config.
const (
	configCountry = "country"
	configPayouts = "payouts"
)

func normalizeCountry(c string) string { return strings.ToUpper(strings.TrimSpace(c)) }

// ParsePhone reads a mobile number the integration's caller sent, the way
// every flow reads numbers: with its country code in any usual form, or
// national in the operator's country, else the integration's home.
func (s *Service) ParsePhone(in malipo.Integration, raw, operator string) (string, error) {
	return malipo.ParseMSISDN(raw, s.regionFor(strings.ToLower(operator), s.Home(in), ""))
}

// Rolls reports whether the integration's credentials can be rolled.
func (s *Service) Rolls(in malipo.Integration) bool {
	f, _ := s.flavors.get(in.Flavor)
	return f.Roll != nil
}
