package main

import (
	"time"

	"github.com/malipo/malipo/bench"
)

type benchCmd struct {
	Postgres     string        `envvar:"MALIPO_BENCH_POSTGRES_URL" default:"${bench_pg}" help:"PostgreSQL for the postgres-* targets; a fresh schema is made and dropped for each (env MALIPO_BENCH_POSTGRES_URL)."`
	Targets      []string      `name:"targets" sep:"," help:"Targets to measure, comma-separated: sqlite-create, postgres-create, sqlite-succeed, postgres-succeed, sqlite-notify, postgres-notify (default: all, the postgres ones with --postgres)."`
	Step         time.Duration `default:"3s" help:"How long each rate is held."`
	MaxRate      int           `name:"max-rate" default:"40000" help:"Stop raising the rate here."`
	Bound        time.Duration `name:"p99" default:"50ms" help:"The p99 a step must stay within to count as sustained."`
	Overload     bool          `name:"overload" help:"Also offer each HTTP target twice its sustained rate."`
	NotifyEvents int           `name:"notify-events" default:"10000" help:"How many notifications the notify targets drain."`
	NotifyRate   int           `name:"notify-rate" default:"1000" help:"State changes per second while the notify targets measure latency."`
	JSON         bool          `name:"json" help:"Print the report as JSON."`
	CPU          string        `name:"cpuprofile" help:"Write a CPU profile of the run to this file."`
}

func (b benchCmd) Run(c *cli, e *env) error {
	return bench.Run(e.ctx, bench.Options{Postgres: b.Postgres, Targets: b.Targets, Step: b.Step, MaxRate: b.MaxRate, Bound: b.Bound,
		Overload: b.Overload, NotifyEvents: b.NotifyEvents, NotifyRate: b.NotifyRate, JSON: b.JSON, Out: e.stdout, CPUProfile: b.CPU})
}
