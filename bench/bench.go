// Package bench is Malipo's load command. It starts real servers on fresh
// stores, drives them over loopback with vegeta at rising rates, and
// reports each target beside the no-op ceiling measured in the same run
// (a handler that decodes the same JSON and writes nothing): the highest
// rate it sustained with every request answered and p99 within the bound
// (50 ms), the best it reached at all, and what happened at twice the
// sustained rate. Every success it counts was committed durably first
// (SQLite synchronous=FULL, PostgreSQL synchronous_commit=on).
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Options configure a run.
type Options struct {
	// Exe is the malipo binary that serves each HTTP target (and the
	// ceiling) in a process of its own.
	Exe                string
	Postgres           string        // optional postgres:// URL; postgres-* targets need it
	Targets            []string      // which targets; default all that can run
	Step               time.Duration // how long each rate is held
	StartRate, MaxRate int
	// Bound is the p99 a step must stay within to count as sustained.
	Bound time.Duration
	// NotifyEvents is how many notifications the notify targets drain.
	NotifyEvents int
	// NotifyRate is the pace of state changes for the notify targets'
	// latency figure.
	NotifyRate int
	Out        io.Writer
	JSON       bool // print the report as JSON instead of a table
	// ProfileDir, if set, gets a CPU profile of each target:
	// DIR/<target>.pprof (of a notify target, its drain's).
	ProfileDir string
	// Overload also offers each HTTP target twice its sustained rate.
	Overload bool
	// GCPercent, if not 0, is the collector's setting (as GOGC) while the
	// notify targets run their dispatcher in this process: a node's, as
	// malipo serve sets it.
	GCPercent int
}

// DefaultMaxRate is where a ramp stops raising the rate unless told
// otherwise: well above what two cores serve of the no-op ceiling, so
// that the ceiling's ramp finds its edge. At 40,000 the ramp's steps
// (×1.5 from 500) stopped at 28,815; a quiet machine sustained that, so
// the ceiling's best was the cap, not the machine's, and every ratio ran
// high (the same machine answered 34,510 a second of the ceiling's
// overload step, BENCHMARKS.md).
const DefaultMaxRate = 100_000

// Targets are every target's name, in the order they run.
var Targets = []string{"sqlite-create", "postgres-create", "sqlite-succeed", "postgres-succeed", "sqlite-notify", "postgres-notify"}

// Report is a run's result.
type Report struct {
	CeilingRPS float64 `json:"ceiling_rps"`
	// CeilingCPUus is the machine's CPU per no-op request at the
	// ceiling's best step, in µs (see Result.CPURatio).
	CeilingCPUus float64 `json:"ceiling_machine_cpu_us,omitempty"`
	// CeilingServerCPUus and CeilingLoadCPUus are its parts (see
	// Result.ServerCPUus).
	CeilingServerCPUus float64 `json:"ceiling_server_cpu_us,omitempty"`
	CeilingLoadCPUus   float64 `json:"ceiling_load_cpu_us,omitempty"`
	// CeilingCapped: the ceiling reached Options.MaxRate still serving
	// (see Result.Capped), so every ratio is an upper bound.
	CeilingCapped bool     `json:"ceiling_capped,omitempty"`
	Targets       []Result `json:"targets"`
}

// Result is one target's figures. For the HTTP targets the rates are
// successful requests per second; for the notify targets, notifications
// acknowledged per second while draining a backlog, and the latencies are
// from a state change to its notification's first attempt arriving, at
// NotifyRate changes a second.
type Result struct {
	Name           string  `json:"name"`
	SustainedRPS   float64 `json:"sustained_rps"`
	SustainedRatio float64 `json:"sustained_ratio"`
	BestRPS        float64 `json:"best_rps"`
	BestRatio      float64 `json:"best_ratio"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
	// Busy is the share of the machine's processors in use at the
	// sustained step (every process: server, load generator, database),
	// for the HTTP targets.
	Busy float64 `json:"busy,omitempty"`
	// PacedRate is the notify targets' pace of state changes (achieved).
	PacedRate float64 `json:"paced_rate,omitempty"`
	// RSSMB is the peak resident memory of the server process during the
	// target's steps; for the notify targets, which run in the bench's
	// own process, of the whole bench (dispatcher, store and receiver).
	RSSMB float64 `json:"rss_mb"`
	// MachineCPUus is the machine's CPU time (every process on it: the
	// server, the load generator, the database) per success at the best
	// step, in µs; for the notify targets, per notification drained.
	MachineCPUus float64 `json:"machine_cpu_us,omitempty"`
	// ServerCPUus and LoadCPUus are the parts of MachineCPUus the
	// server process and the load generator (the bench's own process)
	// used, for the HTTP targets; what is left is the database's and the
	// kernel's work outside both (PostgreSQL's backends, loopback
	// interrupts).
	ServerCPUus float64 `json:"server_cpu_us,omitempty"`
	LoadCPUus   float64 `json:"load_cpu_us,omitempty"`
	// CPURatio is the ceiling's machine CPU per request over this
	// target's per success: the share of the ceiling the target would
	// reach if the machine's CPU were all that limited both. A
	// sustained ratio near it says only spending less CPU per success
	// can raise it; one well below it says something else (waiting,
	// queueing, the tail) holds it back. Both figures come from the
	// best step, where the machine is busiest (at low rates fixed costs
	// weigh more), and move with this shared machine too: a round trip
	// to PostgreSQL costs more CPU while the host is busy.
	CPURatio float64 `json:"cpu_ratio,omitempty"`
	// Capped says the ramp reached Options.MaxRate with every request
	// still answered: the target may serve more, so its best is a lower
	// bound. For the ceiling that makes every ratio an upper bound.
	Capped   bool      `json:"capped,omitempty"`
	Overload *Overload `json:"overload,omitempty"`
}

// Overload is what a target did at twice its sustained rate.
type Overload struct {
	OfferedRPS  float64 `json:"offered_rps"`
	AcceptedRPS float64 `json:"accepted_rps"`
	AcceptedP99 float64 `json:"accepted_p99_ms"`
	Refused     int     `json:"refused"` // answered 503 (busy)
	RefusedP99  float64 `json:"refused_p99_ms"`
	Failed      int     `json:"failed"` // timeouts, resets, other statuses
	RSSMB       float64 `json:"rss_mb"`
	// NoopRPS and NoopP99 are what the no-op ceiling's server answered
	// of the same rate, offered right after: the p99 this machine gives
	// at that rate to requests that cost a server nothing, which no
	// answer of the target's, accepted or refused, can beat.
	NoopRPS float64 `json:"noop_rps"`
	NoopP99 float64 `json:"noop_p99_ms"`
	// Busy and NoopBusy are the shares of the machine's processors in
	// use at the 2× step and at the no-op's step of the same rate. A
	// no-op that keeps the machine busier than the target's sustained
	// step did (Result.Busy) says that answering the 2× rate at all,
	// even refusing every request (which costs a server about what a
	// no-op does), leaves the machine no room for the accepted ones' work
	// at the latency the target sustained.
	Busy     float64 `json:"busy"`
	NoopBusy float64 `json:"noop_busy"`
}

func (o *Options) defaults() error {
	if o.Step == 0 {
		o.Step = 3 * time.Second
	}
	if o.StartRate == 0 {
		o.StartRate = 500
	}
	if o.MaxRate == 0 {
		o.MaxRate = DefaultMaxRate
	}
	if o.Bound == 0 {
		o.Bound = 50 * time.Millisecond
	}
	if o.NotifyEvents == 0 {
		o.NotifyEvents = 10_000
	}
	if o.NotifyRate == 0 {
		o.NotifyRate = 1000
	}
	if len(o.Targets) == 0 {
		for _, t := range Targets {
			if o.Postgres != "" || !strings.HasPrefix(t, "postgres-") {
				o.Targets = append(o.Targets, t)
			}
		}
	}
	for _, t := range o.Targets {
		if !slices.Contains(Targets, t) {
			return fmt.Errorf("no target %q; the targets are %s", t, strings.Join(Targets, ", "))
		}
		if strings.HasPrefix(t, "postgres-") && o.Postgres == "" {
			return fmt.Errorf("target %s needs --postgres URL", t)
		}
	}
	return nil
}

// Run measures the ceiling and the chosen targets and prints the report.
func Run(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	if o.ProfileDir != "" {
		if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
			return err
		}
	}
	progress := o.Out
	if o.JSON {
		progress = io.Discard
	}
	fmt.Fprintf(progress, "Ramping each target from %d req/s by ×1.5 per %s step; sustained means every request answered and p99 ≤ %s.\n",
		o.StartRate, o.Step, o.Bound)

	r := &runner{o: o, progress: progress}
	defer r.close()
	ceiling, err := r.ceiling(ctx)
	if err != nil {
		return err
	}
	rep := Report{CeilingRPS: ceiling.BestRPS, CeilingCPUus: ceiling.MachineCPUus,
		CeilingServerCPUus: ceiling.ServerCPUus, CeilingLoadCPUus: ceiling.LoadCPUus, CeilingCapped: ceiling.Capped}
	for _, name := range o.Targets {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		res, err := r.target(ctx, name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res.SustainedRatio = res.SustainedRPS / ceiling.BestRPS
		res.BestRatio = res.BestRPS / ceiling.BestRPS
		if res.MachineCPUus > 0 {
			res.CPURatio = ceiling.MachineCPUus / res.MachineCPUus
		}
		rep.Targets = append(rep.Targets, res)
	}
	if o.JSON {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.print(o.Out, ceiling)
}

// part prints a share of the CPU per success, or "–" where the target
// has none (the notify targets run in one process).
func part(us float64) string {
	if us == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", us)
}

func (rep Report) print(w io.Writer, ceiling Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\ntarget\tsustained/s\tratio\tp50\tp99\tbest/s\tratio\tpeak RSS\tCPU/op\tserver\tload\tCPU ratio")
	fmt.Fprintf(tw, "no-op ceiling\t%.0f\t1.00\t%.2fms\t%.2fms\t%.0f\t1.00\t%.0f MB\t%.0f µs\t%s\t%s\t1.00\n", ceiling.SustainedRPS, ceiling.P50ms, ceiling.P99ms,
		ceiling.BestRPS, ceiling.RSSMB, ceiling.MachineCPUus, part(ceiling.ServerCPUus), part(ceiling.LoadCPUus))
	for _, r := range rep.Targets {
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2fms\t%.2fms\t%.0f\t%.2f\t%.0f MB\t%.0f µs\t%s\t%s\t%.2f\n", r.Name, r.SustainedRPS, r.SustainedRatio, r.P50ms, r.P99ms,
			r.BestRPS, r.BestRatio, r.RSSMB, r.MachineCPUus, part(r.ServerCPUus), part(r.LoadCPUus), r.CPURatio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if ceiling.Capped {
		fmt.Fprintf(w, "The no-op ceiling reached --max-rate still serving: the machine may serve more, so every ratio above is an upper bound.\n")
	}
	for _, r := range rep.Targets {
		if r.Capped {
			fmt.Fprintf(w, "%s reached --max-rate still serving: it may serve more than its best.\n", r.Name)
		}
		if r.PacedRate > 0 {
			fmt.Fprintf(w, "%s: drained %.0f notifications/s; at %.0f changes/s, change → first attempt p50 %.1f ms, p99 %.1f ms\n",
				r.Name, r.BestRPS, r.PacedRate, r.P50ms, r.P99ms)
		}
		if o := r.Overload; o != nil {
			fmt.Fprintf(w, "%s at 2× sustained (%.0f/s offered): %.0f/s accepted at p99 %.1f ms, %d refused (p99 %.1f ms), %d failed, peak RSS %.0f MB; the no-op server at that rate: %.0f/s at p99 %.1f ms; machine busy %.0f %% (the no-op at that rate %.0f %%, the sustained step %.0f %%)\n",
				r.Name, o.OfferedRPS, o.AcceptedRPS, o.AcceptedP99, o.Refused, o.RefusedP99, o.Failed, o.RSSMB, o.NoopRPS, o.NoopP99,
				100*o.Busy, 100*o.NoopBusy, 100*r.Busy)
		}
	}
	return nil
}
