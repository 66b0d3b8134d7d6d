package paydunya

import (
	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
)

// integration is what a PayDunya integration keeps: the master key in
// clear (callbacks carry its SHA-512 and disbursements are signed with
// it), the public key, and only the hash of the token.
type integration struct {
	MasterKey, PublicKey, TokenHash string
}

func settings(in malipo.Integration) integration {
	return integration{MasterKey: in.Config["master_key"], PublicKey: in.Config["public_key"], TokenHash: in.Config["token_hash"]}
}

// integrations is PayDunya's say over its integrations: at home in Senegal,
// "Payment And Redistribution" off until enabled, and keys in PayDunya's
// shapes (a dashed master key, test_/live_ private and public keys, a
// token). The private key finds the integration.
func integrations() gateway.Flavor {
	return gateway.Flavor{Name: malipo.FlavorPayDunya, Country: "SN", Payouts: false, Mint: mint, Roll: roll}
}

// roll gives a new private key, the secret that finds the integration;
// the master key and the token stay (the master key signs callbacks).
func roll(g *ids.Generator, in *malipo.Integration) ([]string, gateway.Credentials, error) {
	prefix := "test_"
	if in.Mode == malipo.ModeLive {
		prefix = "live_"
	}
	private := g.Secret(prefix+"private_", 17)
	return []string{private}, gateway.Credentials{"private_key": private}, nil
}

func mint(g *ids.Generator, _ gateway.IntegrationInput, in *malipo.Integration) ([]string, gateway.Credentials, error) {
	prefix := "test_"
	if in.Mode == malipo.ModeLive {
		prefix = "live_"
	}
	h := g.Hex(16)
	master := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	private := g.Secret(prefix+"private_", 17)
	public := g.Secret(prefix+"public_", 17)
	token := g.Secret("", 12)
	in.Config["master_key"], in.Config["public_key"], in.Config["token_hash"] = master, public, gateway.HashKey(token)
	return []string{private}, gateway.Credentials{"master_key": master, "private_key": private, "public_key": public, "token": token}, nil
}
