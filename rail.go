package malipo

import (
	"slices"
	"time"
)

// Rail is one operator account the gateway holds for a mode (an MTN MoMo
// subscription in Uganda, a Daraja shortcode in Kenya): its kind of
// connector, the countries, operators and currencies it serves, and its
// configuration, credentials included, sealed under the master key. Rails
// are the gateway's, not a merchant's.
type Rail struct {
	ID         string
	Kind       string // mtn-momo, mpesa, airtel
	Name       string // unique: named in ledger accounts and logs
	Mode       Mode
	Countries  []string // ISO 3166 alpha-2
	Operators  []string // e.g. mtn-ug
	Currencies []Currency
	// Position orders rails serving the same operator: the lowest
	// healthy one is used.
	Position  int
	Sealed    string // the connector's configuration (secrets package)
	CreatedAt time.Time
}

// Serves reports whether the rail takes a transaction in country by
// operator in currency; an empty operator matches any of the country's.
func (r Rail) Serves(country, operator string, c Currency) bool {
	return slices.Contains(r.Countries, country) && slices.Contains(r.Currencies, c) &&
		(operator == "" || slices.Contains(r.Operators, operator))
}
