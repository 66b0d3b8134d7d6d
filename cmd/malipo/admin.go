package main

import (
	"encoding/json"
	"fmt"
	"io"

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
	return gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil)}), st, nil
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
}

type integrationsCreateCmd struct {
	Merchant  string `required:"" help:"Merchant ID."`
	Flavor    string `default:"native" help:"Wire protocol: native."`
	Mode      string `default:"test" enum:"test,live" help:"test (sandbox rails) or live."`
	NotifyURL string `name:"notify-url" help:"Where notifications go."`
	FeeBps    int64  `name:"fee-bps" help:"Fee in basis points (150 = 1.5%)."`
	FeeFixed  int64  `name:"fee-fixed" help:"Fixed fee in minor units."`
}

func (i integrationsCreateCmd) Run(c *cli, e *env) error {
	svc, st, err := adminService(e, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	_, creds, err := svc.CreateIntegration(e.ctx, gateway.IntegrationInput{
		MerchantID: i.Merchant, Flavor: malipo.Flavor(i.Flavor), Mode: malipo.Mode(i.Mode),
		NotifyURL: i.NotifyURL, Fee: malipo.FeeRule{BasisPoints: i.FeeBps, Fixed: i.FeeFixed},
	})
	if err != nil {
		return err
	}
	return printJSON(e.stdout, creds)
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
	fmt.Fprintf(e.stdout, "checked %d ledger entries, %d accounts, %d succeeded payments\n", r.Entries, r.Accounts, r.Payments)
	for _, problem := range []struct {
		what string
		ids  []string
	}{
		{"entries that do not balance", r.UnbalancedEntry},
		{"accounts whose balance differs from their postings", r.BalanceMismatch},
		{"succeeded payments not posted exactly once", r.PaymentNotPosted},
		{"payment entries without a succeeded payment of that amount", r.PostedNotPaid},
	} {
		if len(problem.ids) > 0 {
			fmt.Fprintf(e.stdout, "FAIL %s: %v\n", problem.what, problem.ids)
		}
	}
	if !r.Clean() {
		return fmt.Errorf("the ledger audit failed")
	}
	fmt.Fprintln(e.stdout, "ok: the ledger balances")
	return nil
}
