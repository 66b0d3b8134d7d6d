// Command malipo runs the Malipo payment gateway and its administration
// commands. All wiring lives here; main only calls run.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/notify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runWith(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "malipo:", err)
		os.Exit(1)
	}
}

// cli is the command line. Every flag also reads a MALIPO_* variable; flags
// win over the environment, which wins over the defaults.
type cli struct {
	DB            string `name:"db" help:"SQLite file path or postgres:// URL (env MALIPO_DATABASE_URL)." envvar:"MALIPO_DATABASE_URL" default:"${db}"`
	MasterKeyFile string `name:"master-key-file" type:"path" envvar:"MALIPO_MASTER_KEY_FILE" help:"File holding the master key(s) that seal live rails' credentials: 32 bytes in base64 (openssl rand -base64 32), the current one first when several are comma-separated. Or set MALIPO_MASTER_KEY to the same text (env MALIPO_MASTER_KEY_FILE)."`

	Serve        serveCmd        `cmd:"" help:"Start the gateway (the default command's job)."`
	Migrate      migrateCmd      `cmd:"" help:"Bring the database schema up to date, then exit."`
	Merchants    merchantsCmd    `cmd:"" help:"Manage merchants."`
	Integrations integrationsCmd `cmd:"" help:"Manage integrations and their credentials."`
	Users        usersCmd        `cmd:"" help:"Manage dashboard users."`
	Verify       verifyCmd       `cmd:"" help:"Audit the ledger: every entry balances, balances match postings, every succeeded payment is posted once."`
	Backup       backupCmd       `cmd:"" help:"Copy a running SQLite store to a new file, consistently and without stopping it."`
	Rails        railsCmd        `cmd:"" help:"Manage live rails: the operator accounts live payments go through."`
	Simulate     simulateCmd     `cmd:"" help:"Run an operator's simulator (its own API, with callbacks) for connectors and development; prints a ready rail configuration."`
	Bench        benchCmd        `cmd:"" help:"Load-test Malipo against a no-op ceiling: creating payments, making them succeed, notifying (see BENCHMARKS.md)."`
	BenchCeiling benchCeilingCmd `cmd:"" name:"bench-ceiling" hidden:"" help:"Serve the bench's no-op ceiling (used by malipo bench)."`
}

// env is what a command needs from the process around it.
type env struct {
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader // secrets typed or piped in (a new user's password)
	stdout io.Writer
	stderr io.Writer
}

// exit is how kong's help and usage errors stop run: kong calls its exit
// function and would go on to run the command if that returned.
type exit int

// run runs the command line with nothing on standard input.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runWith(ctx, args, getenv, strings.NewReader(""), stdout, stderr)
}

func runWith(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			code, ok := r.(exit)
			if !ok {
				panic(r)
			}
			if err = nil; code != 0 {
				err = fmt.Errorf("exit status %d", code)
			}
		}
	}()
	var c cli
	parser, err := kong.New(&c,
		kong.Name("malipo"),
		kong.Description("Malipo: a self-hostable payment gateway for African mobile money and cards."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exit(code)) }),
		// Flags the command line leaves unset come from their MALIPO_*
		// variable (the envvar tag), through getenv. Defaults are
		// constants, so help never shows what a variable holds (a
		// database URL carries its password).
		kong.Resolvers(kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
			if name := flag.Tag.Get("envvar"); name != "" {
				if v := getenv(name); v != "" {
					return v, nil
				}
			}
			return nil, nil
		})),
		kong.Vars{
			"db":                  "malipo.db",
			"addr":                ":8080",
			"base_url":            "",
			"payment_ttl":         (30 * time.Minute).String(),
			"sandbox_delay":       (3 * time.Second).String(),
			"rail_timeout":        gateway.DefaultRailTimeout.String(),
			"read_timeout":        (30 * time.Second).String(),
			"reconcile_after":     gateway.DefaultReconcileAfter.String(),
			"region":              "",
			"log_level":           "info",
			"webhook_timeout":     (15 * time.Second).String(),
			"webhook_workers":     strconv.Itoa(notify.DefaultWorkers),
			"webhook_pause_after": strconv.Itoa(notify.DefaultFailuresToPause),
			"webhook_pause":       notify.DefaultPauseFor.String(),
			"webhook_max_pause":   notify.DefaultMaxPause.String(),
			"paydunya_addr":       "",
			"cinetpay_addr":       "",
			"kpay_addr":           "",
			"ipay_addr":           "",
			"clickpay_addr":       "",
			"bench_pg":            "",
			"gc_percent":          strconv.Itoa(defaultGCPercent),
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
	return kctx.Run(&c, &env{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr})
}
