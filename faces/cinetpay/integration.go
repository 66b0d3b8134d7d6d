package cinetpay

import (
	"fmt"
	"slices"
	"strings"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
)

// integration is what a CinetPay integration keeps: its site ID, the
// secret key its notifications' x-token is made with, and the account's
// currency, the only one its payments may use.
type integration struct {
	SiteID, SecretKey, Currency string
}

func settings(in malipo.Integration) integration {
	return integration{SiteID: in.Config["site_id"], SecretKey: in.Config["secret_key"], Currency: in.Config["currency"]}
}

// currencies are those a CinetPay account may be in.
var currencies = []string{"XOF", "XAF", "CDF", "GNF", "USD"}

// integrations is CinetPay's say over its integrations: at home in Côte
// d'Ivoire, an account currency (XOF unless told), an apikey that finds
// the integration, a numeric site ID and a secret key.
func integrations() gateway.Flavor {
	return gateway.Flavor{Name: malipo.FlavorCinetPay, Country: "CI", Payouts: true, Mint: mint, Roll: roll}
}

// roll gives a new apikey; the site ID and the secret key stay.
func roll(g *ids.Generator, _ *malipo.Integration) ([]string, gateway.Credentials, error) {
	apikey := g.Hex(16)
	return []string{apikey}, gateway.Credentials{"apikey": apikey}, nil
}

func mint(g *ids.Generator, req gateway.IntegrationInput, in *malipo.Integration) ([]string, gateway.Credentials, error) {
	currency := strings.ToUpper(req.Currency)
	if currency == "" {
		currency = "XOF"
	}
	if !slices.Contains(currencies, currency) {
		return nil, nil, malipo.Invalid("currency", "currency_unsupported", "a CinetPay account is in XOF, XAF, CDF, GNF or USD")
	}
	apikey := g.Hex(16)
	b := g.Bytes(4)
	site := fmt.Sprintf("%d", 100000+(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))%900000)
	secret := g.Hex(16)
	in.Config["site_id"], in.Config["secret_key"], in.Config["currency"] = site, secret, currency
	return []string{apikey}, gateway.Credentials{"apikey": apikey, "site_id": site, "secret_key": secret}, nil
}
