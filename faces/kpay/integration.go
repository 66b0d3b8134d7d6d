package kpay

import (
	"fmt"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
)

// integration is what a KPay integration keeps: the Basic username and
// only the hash of its password, the retailer ID, and the addresses
// calls may come from (empty: any).
type integration struct {
	Username, PasswordHash, RetailerID, AllowIPs string
}

func settings(in malipo.Integration) integration {
	return integration{Username: in.Config["username"], PasswordHash: in.Config["password_hash"],
		RetailerID: in.Config["retailer_id"], AllowIPs: in.Config["allow_ips"]}
}

// basicSecret is the secret a Basic username and password make together:
// its hash finds the integration, so that Basic alone authenticates, as
// KPay's document says.
func basicSecret(user, password string) string { return "kpay-basic:" + user + ":" + password }

// integrations is KPay's say over its integrations: at home in Rwanda, a
// Basic username and password, a retailer ID, and a Kpay-Key that clients
// may send too (it is checked when sent).
func integrations() gateway.Flavor {
	return gateway.Flavor{Name: malipo.FlavorKPay, Country: "RW", Payouts: true, Mint: mint, Roll: roll}
}

// roll gives a new Basic password and a new Kpay-Key; the username and
// the retailer stay. The old password keeps working for the overlap.
func roll(g *ids.Generator, in *malipo.Integration) ([]string, gateway.Credentials, error) {
	password, key := g.Secret("", 15), g.Hex(16)
	user := settings(*in).Username
	in.Config["password_hash"] = gateway.HashKey(password)
	return []string{basicSecret(user, password), key}, gateway.Credentials{"password": password, "kpay_key": key}, nil
}

func mint(g *ids.Generator, _ gateway.IntegrationInput, in *malipo.Integration) ([]string, gateway.Credentials, error) {
	user := g.Secret("retailer_", 5)
	password := g.Secret("", 15)
	key := g.Hex(16)
	retailer := fmt.Sprintf("%02d", int(g.Bytes(1)[0])%99+1)
	in.Config["username"], in.Config["password_hash"], in.Config["retailer_id"] = user, gateway.HashKey(password), retailer
	return []string{basicSecret(user, password), key},
		gateway.Credentials{"username": user, "password": password, "kpay_key": key, "retailer_id": retailer}, nil
}
