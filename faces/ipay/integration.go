package ipay

import (
	"strings"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
)

// integration is what an iPay integration keeps: its vendor ID, the
// security key requests and callbacks are signed with, and the addresses
// calls may come from (empty: any).
type integration struct {
	VID, SecurityKey, AllowIPs string
}

func settings(in malipo.Integration) integration {
	return integration{VID: in.Config["vid"], SecurityKey: in.Config["security_key"], AllowIPs: in.Config["allow_ips"]}
}

// integrations is iPay's say over its integrations: at home in Kenya, a
// vendor ID (which finds the integration: every request names it) and a
// security key.
func integrations() gateway.Flavor {
	return gateway.Flavor{Name: malipo.FlavorIPay, Country: "KE", Payouts: true, Mint: mint}
}

func mint(g *ids.Generator, _ gateway.IntegrationInput, in *malipo.Integration) ([]string, gateway.Credentials, error) {
	vid := strings.ToUpper(g.Secret("", 6))[:10]
	key := g.Hex(16)
	in.Config["vid"], in.Config["security_key"] = vid, key
	return []string{vid}, gateway.Credentials{"vid": vid, "security_key": key}, nil
}
