package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/malipo/malipo/bench"
	"github.com/malipo/malipo/faces/native"
)

type benchCmd struct {
	Postgres     string        `envvar:"MALIPO_BENCH_POSTGRES_URL" default:"${bench_pg}" help:"PostgreSQL for the postgres-* targets; a fresh schema is made and dropped for each (env MALIPO_BENCH_POSTGRES_URL)."`
	Targets      []string      `name:"targets" sep:"," help:"Targets to measure, comma-separated: sqlite-create, postgres-create, sqlite-succeed, postgres-succeed, sqlite-notify, postgres-notify (default: all, the postgres ones with --postgres)."`
	Step         time.Duration `default:"3s" help:"How long each rate is held."`
	MaxRate      int           `name:"max-rate" default:"100000" help:"Stop raising the rate here; the last step is this rate itself. A target still served there is reported as capped (for the ceiling: every ratio is then an upper bound)."`
	Bound        time.Duration `name:"p99" default:"50ms" help:"The p99 a step must stay within to count as sustained."`
	Overload     bool          `name:"overload" help:"Also offer each HTTP target twice its sustained rate."`
	NotifyEvents int           `name:"notify-events" default:"10000" help:"How many notifications the notify targets drain."`
	NotifyRate   int           `name:"notify-rate" default:"1000" help:"State changes per second while the notify targets measure latency."`
	JSON         bool          `name:"json" help:"Print the report as JSON."`
	Profile      string        `name:"profile" type:"path" help:"Write a CPU profile of each target to DIR/<target>.pprof (its server process's; for notify targets, the bench's own over the drain)."`
}

func (b benchCmd) Run(c *cli, e *env) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return bench.Run(e.ctx, bench.Options{Exe: exe, Postgres: b.Postgres, Targets: b.Targets, Step: b.Step, MaxRate: b.MaxRate, Bound: b.Bound,
		Overload: b.Overload, NotifyEvents: b.NotifyEvents, NotifyRate: b.NotifyRate, JSON: b.JSON, Out: e.stdout, ProfileDir: b.Profile,
		GCPercent: defaultGCPercent})
}

// benchCeilingCmd serves the no-op ceiling in a process of its own, as
// malipo serve serves the targets: the handler decodes and checks the same
// JSON as POST /v1/payments and answers a fixed body.
type benchCeilingCmd struct {
	Addr       string `default:"127.0.0.1:0" help:"Listen address."`
	CPUProfile string `name:"cpuprofile" help:"Write a CPU profile of this run to the file."`
	collector
}

func (b benchCeilingCmd) Run(c *cli, e *env) error {
	restore, err := b.collector.set()
	if err != nil {
		return err
	}
	defer restore()
	if b.CPUProfile != "" {
		stop, err := startCPUProfile(b.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	ln, err := net.Listen("tcp", b.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: native.NoopHandler()}
	fmt.Fprintf(e.stdout, "Malipo's no-op ceiling is listening on http://%s\n", ln.Addr())
	return serveUntil(e.ctx, srv, ln)
}
