package clickpay

import (
	"encoding/base64"
	"fmt"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
)

// integration is what a ClickPay integration keeps: its account ID, the
// AES key its IPNs' verifysign is made with, and where card payments'
// GET callbacks go when not to the notify URL.
type integration struct {
	AccountID, IPNKey, CardCallbackURL string
}

func settings(in malipo.Integration) integration {
	return integration{AccountID: in.Config["account_id"], IPNKey: in.Config["ipn_key"], CardCallbackURL: in.Config["card_callback_url"]}
}

// integrations is ClickPay's say over its integrations: at home in
// Tanzania, an API key (cpa…) that finds the integration, a numeric
// account ID and a pre-shared IPN key.
func integrations() gateway.Flavor {
	return gateway.Flavor{Name: malipo.FlavorClickPay, Country: "TZ", Payouts: true, Mint: mint, Roll: roll}
}

// roll gives a new API key; the account ID and the IPN key stay.
func roll(g *ids.Generator, _ *malipo.Integration) ([]string, gateway.Credentials, error) {
	key := g.Secret("cpa", 16)
	return []string{key}, gateway.Credentials{"api_key": key}, nil
}

func mint(g *ids.Generator, req gateway.IntegrationInput, in *malipo.Integration) ([]string, gateway.Credentials, error) {
	if req.CardCallbackURL != "" {
		if err := malipo.ValidateURL("card_callback_url", req.CardCallbackURL); err != nil {
			return nil, nil, err
		}
		in.Config["card_callback_url"] = req.CardCallbackURL
	}
	key := g.Secret("cpa", 16)
	b := g.Bytes(2)
	account := fmt.Sprintf("%d", 1000+(int(b[0])<<8|int(b[1]))%9000)
	ipnKey := base64.StdEncoding.EncodeToString(g.Bytes(16))
	in.Config["account_id"], in.Config["ipn_key"] = account, ipnKey
	return []string{key}, gateway.Credentials{"api_key": key, "account_id": account, "ipn_key": ipnKey}, nil
}
