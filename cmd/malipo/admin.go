package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/postgres"
	"github.com/malipo/malipo/store/sqlite"
)

// adminService opens the store and a service for one-shot commands.
func adminService(e *env, db string) (*gateway.Service, store.Store, error) {
	st, err := openStore(e.ctx, db)
	if err != nil {
		return nil, nil, err
	}
	clk := clock.Real{}
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil)})
	newFaces(svc, clk, nil)
	return svc, st, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type migrateCmd struct{}

func (migrateCmd) Run(c *cli, e *env) error {
	var err error
	if isPostgres(c.DB) {
		err = postgres.Migrate(e.ctx, c.DB)
	} else {
		err = sqlite.Migrate(e.ctx, c.DB)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "schema up to date (%s)\n", describeStore(c.DB))
	return nil
}

type merchantsCmd struct {
	Create merchantsCreateCmd `cmd:"" help:"Create a merchant; prints {\"id\":…}."`
	List   merchantsListCmd   `cmd:"" help:"List merchants, newest first; prints {\"data\":[{\"id\",\"name\",\"created_at\"}]}."`
}

type merchantsListCmd struct {
	Search        string `help:"A merchant ID, or part of a name."`
	Limit         int    `default:"100" help:"At most this many (1-100)."`
	StartingAfter string `name:"starting-after" help:"Only merchants older than this one (an ID): the last of the previous page."`
}

func (m merchantsListCmd) Run(c *cli, e *env) error {
	svc, st, err := adminService(e, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := svc.ListMerchants(e.ctx, store.MerchantFilter{Search: m.Search, StartingAfter: m.StartingAfter, Limit: m.Limit})
	if err != nil {
		return err
	}
	type merchant struct {
		ID        string    `json:"id"`
		Name      string    `json:"name"`
		LogoURL   string    `json:"logo_url,omitempty"`
		CreatedAt time.Time `json:"created_at"`
	}
	out := struct {
		Data []merchant `json:"data"`
	}{Data: []merchant{}}
	for _, mer := range list {
		out.Data = append(out.Data, merchant{mer.ID, mer.Name, mer.LogoURL, mer.CreatedAt})
	}
	return printJSON(e.stdout, out)
}

type merchantsCreateCmd struct {
	Name    string `required:"" help:"The merchant's name, as customers see it."`
	LogoURL string `name:"logo-url" help:"An https image shown on checkout pages."`
}

func (m merchantsCreateCmd) Run(c *cli, e *env) error {
	svc, st, err := adminService(e, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	mer, err := svc.CreateMerchant(e.ctx, m.Name, m.LogoURL)
	if err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]string{"id": mer.ID, "name": mer.Name})
}

type integrationsCmd struct {
	Create integrationsCreateCmd `cmd:"" help:"Create an integration; prints its credentials once, as JSON."`
	List   integrationsListCmd   `cmd:"" help:"List a merchant's integrations, without their credentials."`
	Roll   integrationsRollCmd   `cmd:"" help:"Give an integration new secrets (printed once); the old ones work for --overlap."`
	Revoke integrationsRevokeCmd `cmd:"" help:"Stop every key of an integration now."`
}

type integrationsRollCmd struct {
	ID      string        `arg:"" help:"Integration ID."`
	Overlap time.Duration `default:"24h" help:"How long the old key keeps working (0 to 168h)."`
}

func (i integrationsRollCmd) Run(c *cli, e *env) error {
	svc, st, err := adminService(e, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	creds, err := svc.RollKey(e.ctx, i.ID, i.Overlap)
	if err != nil {
		return err
	}
	out := map[string]string{"integration_id": i.ID, "old_keys_expire_at": time.Now().UTC().Add(i.Overlap).Format(time.RFC3339)}
	for k, v := range creds {
		out[k] = v
	}
	return printJSON(e.stdout, out)
}

type integrationsRevokeCmd struct {
	ID string `arg:"" help:"Integration ID."`
}

func (i integrationsRevokeCmd) Run(c *cli, e *env) error {
	svc, st, err := adminService(e, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := svc.RevokeIntegration(e.ctx, i.ID); err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]any{"integration_id": i.ID, "revoked": true})
}

type integrationsListCmd struct {
	Merchant string `required:"" help:"Merchant ID."`
}

func (i integrationsListCmd) Run(c *cli, e *env) error {
	svc, st, err := adminService(e, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := svc.ListIntegrations(e.ctx, i.Merchant)
	if err != nil {
		return err
	}
	type integration struct {
		ID        string    `json:"id"`
		Flavor    string    `json:"flavor"`
		Mode      string    `json:"mode"`
		Country   string    `json:"country,omitempty"`
		Payouts   bool      `json:"payouts"`
		NotifyURL string    `json:"notify_url,omitempty"`
		CreatedAt time.Time `json:"created_at"`
	}
	out := struct {
		Data []integration `json:"data"`
	}{Data: []integration{}}
	for _, in := range list {
		out.Data = append(out.Data, integration{in.ID, string(in.Flavor), string(in.Mode), svc.Home(in), svc.PayoutsEnabled(in), in.NotifyURL, in.CreatedAt})
	}
	return printJSON(e.stdout, out)
}

type usersCmd struct {
	Create usersCreateCmd `cmd:"" help:"Create a dashboard user; the password is read from standard input."`
}

type usersCreateCmd struct {
	Merchant string `help:"Merchant ID (none for an operator)."`
	Email    string `required:"" help:"The email the user signs in with."`
	Role     string `default:"owner" enum:"owner,developer,support,viewer,operator" help:"owner, developer, support, viewer or operator (the gateway's, no merchant)."`
}

func (u usersCreateCmd) Run(c *cli, e *env) error {
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return fmt.Errorf("type the password on standard input (echo \"$PASSWORD\" | malipo users create …)")
	}
	svc, st, err := adminService(e, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	user, err := svc.CreateUser(e.ctx, gateway.UserInput{MerchantID: u.Merchant, Email: u.Email, Password: password, Role: malipo.Role(u.Role)})
	if err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]string{"id": user.ID, "email": user.Email, "role": string(user.Role), "merchant_id": user.MerchantID})
}

type integrationsCreateCmd struct {
	Merchant  string `required:"" help:"Merchant ID."`
	Flavor    string `default:"native" help:"Wire protocol: native, paydunya, cinetpay, kpay, ipay or clickpay."`
	Mode      string `default:"test" enum:"test,live" help:"test (sandbox rails) or live."`
	NotifyURL string `name:"notify-url" help:"Where notifications go."`
	FeeBps    int64  `name:"fee-bps" help:"Collection fee in basis points (150 = 1.5%)."`
	FeeFixed  int64  `name:"fee-fixed" help:"Fixed collection fee in minor units."`

	CardFeeBps      *int64        `name:"card-fee-bps" help:"Card collection fee in basis points, if not --fee-bps."`
	CardFeeFixed    int64         `name:"card-fee-fixed" help:"Fixed card collection fee, with --card-fee-bps."`
	PayoutFeeBps    int64         `name:"payout-fee-bps" help:"Payout fee in basis points."`
	PayoutFeeFixed  int64         `name:"payout-fee-fixed" help:"Fixed payout fee in minor units."`
	SettlementDelay time.Duration `name:"settlement-delay" help:"How long collections stay pending before they are available (0: at once)."`
	PayoutsPerDest  int           `name:"payouts-per-destination" help:"Payouts allowed to one destination account per --payout-window (default 3)."`
	PayoutWindow    time.Duration `name:"payout-window" help:"The rolling window of --payouts-per-destination (default 24h)."`
	MaxPayout       int64         `name:"max-payout" help:"The largest payout, in minor units (0: no cap)."`
	Currency        string        `help:"CinetPay: the account's currency (XOF, XAF, CDF, GNF, USD; default XOF)."`
	CardCallbackURL string        `name:"card-callback-url" help:"ClickPay: where card payments' GET callbacks go (default: --notify-url)."`
	AllowIP         []string      `name:"allow-ip" help:"KPay, iPay: an address or CIDR range calls may come from (repeat it; none: any)."`
	Country         string        `help:"Home country (ISO 3166, e.g. SN): where numbers written without country code are read (default by flavor: paydunya SN, cinetpay CI, kpay RW, ipay KE, clickpay TZ; native: --default-region)."`
	Payouts         *bool         `negatable:"" help:"Allow (--payouts) or refuse (--no-payouts) sending money out (default: off for paydunya, whose Payment And Redistribution must be enabled; on for the others)."`
}

func (i integrationsCreateCmd) Run(c *cli, e *env) error {
	svc, st, err := adminService(e, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	_, creds, err := svc.CreateIntegration(e.ctx, gateway.IntegrationInput{
		MerchantID: i.Merchant, Flavor: malipo.Flavor(i.Flavor), Mode: malipo.Mode(i.Mode),
		NotifyURL: i.NotifyURL, Fee: malipo.FeeRule{BasisPoints: i.FeeBps, Fixed: i.FeeFixed}, Rules: i.rules(), Currency: i.Currency, AllowIPs: i.AllowIP, CardCallbackURL: i.CardCallbackURL,
		Country: i.Country, Payouts: i.Payouts,
	})
	if err != nil {
		return err
	}
	return printJSON(e.stdout, creds)
}

func (i integrationsCreateCmd) rules() malipo.Rules {
	r := malipo.Rules{Fees: map[string]malipo.FeeRule{}, SettlementDelay: i.SettlementDelay, PayoutsPerDestination: i.PayoutsPerDest,
		PayoutWindow: i.PayoutWindow, MaxPayout: i.MaxPayout}
	if i.CardFeeBps != nil {
		r.Fees[string(malipo.ChannelCard)] = malipo.FeeRule{BasisPoints: *i.CardFeeBps, Fixed: i.CardFeeFixed}
	}
	if i.PayoutFeeBps != 0 || i.PayoutFeeFixed != 0 {
		r.Fees["payout"] = malipo.FeeRule{BasisPoints: i.PayoutFeeBps, Fixed: i.PayoutFeeFixed}
	}
	if len(r.Fees) == 0 {
		r.Fees = nil
	}
	return r
}

type verifyCmd struct{}

func (verifyCmd) Run(c *cli, e *env) error {
	svc, st, err := adminService(e, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := svc.Verify(e.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "checked %d ledger entries, %d accounts, %d succeeded payments, %d payouts, %d refunds, %d rail outcomes\n",
		r.Entries, r.Accounts, r.Payments, r.Payouts, r.Refunds, r.Inbox)
	for _, problem := range r.Problems() {
		if len(problem.IDs) > 0 {
			fmt.Fprintf(e.stdout, "FAIL %s: %v\n", problem.What, problem.IDs)
		}
	}
	if len(r.InboxRetrying) > 0 {
		fmt.Fprintf(e.stdout, "retrying: %d rail outcomes whose application failed in the last minute wait for their retry: %v\n",
			len(r.InboxRetrying), r.InboxRetrying)
	}
	for _, line := range r.Suspense {
		fmt.Fprintf(e.stdout, "suspense: %s (money a rail reported that no payment could take; see the payment.unmatched events)\n", line)
	}
	if !r.Clean() {
		return fmt.Errorf("the ledger audit failed")
	}
	fmt.Fprintln(e.stdout, "ok: the ledger balances")
	return nil
}
