// Command malipo runs the Malipo payment gateway and its administration
// commands. All wiring lives here; main only calls run.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "malipo:", err)
		os.Exit(1)
	}
}

// cli is the command line. Every flag also reads a MALIPO_* variable; flags
// win over the environment, which wins over the defaults.
type cli struct {
	DB string `name:"db" help:"SQLite file path or postgres:// URL (env MALIPO_DATABASE_URL)." default:"${db}"`

	Serve        serveCmd        `cmd:"" help:"Start the gateway (the default command's job)."`
	Migrate      migrateCmd      `cmd:"" help:"Bring the database schema up to date, then exit."`
	Merchants    merchantsCmd    `cmd:"" help:"Manage merchants."`
	Integrations integrationsCmd `cmd:"" help:"Manage integrations and their credentials."`
	Verify       verifyCmd       `cmd:"" help:"Audit the ledger: every entry balances, balances match postings, every succeeded payment is posted once."`
	Bench        benchCmd        `cmd:"" help:"Load-test POST /v1/payments against a no-op ceiling."`
}

// env is what a command needs from the process around it.
type env struct {
	ctx    context.Context
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	or := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var c cli
	parser, err := kong.New(&c,
		kong.Name("malipo"),
		kong.Description("Malipo: a self-hostable payment gateway for African mobile money and cards."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(int) {}),
		kong.Vars{
			"db":              or("MALIPO_DATABASE_URL", "malipo.db"),
			"addr":            or("MALIPO_ADDR", ":8080"),
			"base_url":        or("MALIPO_BASE_URL", ""),
			"payment_ttl":     or("MALIPO_PAYMENT_TTL", (30 * time.Minute).String()),
			"sandbox_delay":   or("MALIPO_SANDBOX_DELAY", (3 * time.Second).String()),
			"region":          or("MALIPO_DEFAULT_REGION", ""),
			"log_level":       or("MALIPO_LOG_LEVEL", "info"),
			"webhook_timeout": or("MALIPO_WEBHOOK_TIMEOUT", (15 * time.Second).String()),
			"webhook_workers": or("MALIPO_WEBHOOK_WORKERS", "16"),
			"paydunya_addr":   or("MALIPO_PAYDUNYA_ADDR", ""),
			"cinetpay_addr":   or("MALIPO_CINETPAY_ADDR", ""),
			"kpay_addr":       or("MALIPO_KPAY_ADDR", ""),
			"ipay_addr":       or("MALIPO_IPAY_ADDR", ""),
			"clickpay_addr":   or("MALIPO_CLICKPAY_ADDR", ""),
			"bench_pg":        or("MALIPO_BENCH_POSTGRES_URL", ""),
		},
	)
	if err != nil {
		return err
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
			return nil
		}
		return err
	}
	if kctx.Command() == "" {
		return nil
	}
	return kctx.Run(&c, &env{ctx: ctx, getenv: getenv, stdout: stdout, stderr: stderr})
}
