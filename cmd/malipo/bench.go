package main

import (
	"time"

	"github.com/malipo/malipo/bench"
)

type benchCmd struct {
	Postgres string        `envvar:"MALIPO_BENCH_POSTGRES_URL" default:"${bench_pg}" help:"Also measure PostgreSQL at this postgres:// URL; a fresh schema is made and dropped (env MALIPO_BENCH_POSTGRES_URL)."`
	Step     time.Duration `default:"3s" help:"How long each rate is held."`
	MaxRate  int           `name:"max-rate" default:"40000" help:"Stop raising the rate here."`
	CPU      string        `name:"cpuprofile" help:"Write a CPU profile of the run to this file."`
}

func (b benchCmd) Run(c *cli, e *env) error {
	return bench.Run(e.ctx, bench.Options{Postgres: b.Postgres, Step: b.Step, MaxRate: b.MaxRate, Out: e.stdout, CPUProfile: b.CPU})
}
