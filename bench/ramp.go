package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// runner runs targets and writes their progress.
type runner struct {
	o        Options
	progress io.Writer
	// noop is the ceiling's server, kept running under Options.Overload
	// so that each target's 2× rate can be offered to it too (see
	// Overload.NoopP99); stopped by close. Its CPU profile (ProfileDir)
	// covers those steps too.
	noop       *server
	noopTarget httpTarget
}

// close stops what the runner kept running.
func (r *runner) close() {
	if r.noop != nil {
		r.noop.stop()
		r.noop = nil
	}
}

// httpTarget is a server process and the requests to drive it with.
type httpTarget struct {
	name string
	args []string // the malipo command line that serves it
	// next fills in request n (from 1, counted across the target's
	// steps) for the server s.
	next func(s *server, n int64, t *vegeta.Target) error
	seq  *atomic.Int64
	want int // the status of a success
	// prepare, if set, readies what the next count requests need; it runs
	// before the step, outside the measurement.
	prepare func(ctx context.Context, s *server, count int) error
	// ceiling marks the no-op ceiling: the yardstick, whose own 2× step
	// (Options.Overload) would measure nothing asked of it.
	ceiling bool
}

// step is one rate held for Options.Step.
type step struct {
	rate                 int
	throughput           float64 // successes per second
	ok, refused, failed  int
	p50, p99, refusedP99 time.Duration
	rssMB                float64
	// cpuPerOK is the machine's CPU time over the step (every process:
	// server, load generator, database) per success, never less than
	// the server's and the load generator's own (CPU.Used); 0 where the
	// machine's cannot be read.
	cpuPerOK time.Duration
	// serverPerOK and loadPerOK are the parts of it the server process
	// and this one (the load generator) used; the rest is the database's
	// and the kernel's work outside both. 0 where they cannot be read.
	serverPerOK, loadPerOK time.Duration
	// busy is the share of the machine's processors in use over the
	// step (CPU.Busy).
	busy                   float64
	sustained, clean, kept bool
	failures               tally // why the failed ones failed
}

// tally counts distinct reasons, keeping the first maxReasons seen.
type tally struct {
	reasons []string
	counts  map[string]int
	other   int
}

const maxReasons = 4

func (t *tally) add(reason string) {
	if _, ok := t.counts[reason]; !ok {
		if len(t.reasons) == maxReasons {
			t.other++
			return
		}
		if t.counts == nil {
			t.counts = map[string]int{}
		}
		t.reasons = append(t.reasons, reason)
	}
	t.counts[reason]++
}

// String lists each reason with its count, in the order first seen.
func (t tally) String() string {
	parts := make([]string, 0, len(t.reasons)+1)
	for _, r := range t.reasons {
		parts = append(parts, fmt.Sprintf("%d × %s", t.counts[r], r))
	}
	if t.other > 0 {
		parts = append(parts, fmt.Sprintf("%d other", t.other))
	}
	return strings.Join(parts, "; ")
}

// offer holds rate against the server s for one step.
func (r *runner) offer(ctx context.Context, s0 *server, t httpTarget, rate int) (step, error) {
	if t.prepare != nil {
		if err := t.prepare(ctx, s0, int(float64(rate)*r.o.Step.Seconds()*1.2)+100); err != nil {
			return step{}, err
		}
		// The preparation is not the step: what it leaves the server
		// (and PostgreSQL) to finish, its last commits and the writing
		// out of what they dirtied, is let be before the step starts.
		select {
		case <-time.After(settle):
		case <-ctx.Done():
			return step{}, ctx.Err()
		}
	}
	targeter := func(tgt *vegeta.Target) error { return t.next(s0, t.seq.Add(1), tgt) }
	peak := sampleRSS(s0.cmd.Process.Pid)
	// Each step's clients are its own: their connections close when the
	// step ends, so a step's RSS is not the idle connections of the steps
	// before it (the server keeps an idle connection two minutes).
	clients := &http.Transport{MaxIdleConnsPerHost: vegeta.DefaultConnections}
	defer clients.CloseIdleConnections()
	attacker := vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: clients}),
		vegeta.Workers(64), vegeta.MaxWorkers(1024), vegeta.KeepAlive(true), vegeta.Timeout(5*time.Second))
	s := step{rate: rate}
	cpu, began := ReadCPU(), time.Now()
	serverCPU, serverOK := ProcessCPU(s0.cmd.Process.Pid)
	var okLat, refusedLat []time.Duration
	var first, last time.Time
	for res := range attacker.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, r.o.Step, t.name) {
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if end := res.Timestamp.Add(res.Latency); end.After(last) {
			last = end
		}
		switch {
		case int(res.Code) == t.want:
			okLat = append(okLat, res.Latency)
		case res.Code == http.StatusServiceUnavailable:
			refusedLat = append(refusedLat, res.Latency)
		default:
			s.failed++
			s.noteFailure(res)
		}
	}
	s.rssMB = peak()
	s.ok, s.refused = len(okLat), len(refusedLat)
	end, wall := ReadCPU(), time.Since(began)
	var serverUsed time.Duration
	if serverEnd, ok := ProcessCPU(s0.cmd.Process.Pid); ok && serverOK {
		serverUsed = serverEnd - serverCPU
	}
	if cpu.PerOp(end, s.ok) > 0 {
		s.cpuPerOK = cpu.Used(end, serverUsed) / time.Duration(s.ok)
		if serverUsed > 0 {
			s.serverPerOK = serverUsed / time.Duration(s.ok)
			s.loadPerOK = (end.Process - cpu.Process) / time.Duration(s.ok)
		}
	}
	s.busy = cpu.Busy(end, serverUsed, wall)
	if d := last.Sub(first).Seconds(); d > 0 {
		s.throughput = float64(s.ok) / d
	}
	s.p50, s.p99 = quantile(okLat, 0.50), quantile(okLat, 0.99)
	s.refusedP99 = quantile(refusedLat, 0.99)
	s.clean = s.refused == 0 && s.failed == 0 && s.ok > 0 && s.p99 < time.Second
	s.kept = s.throughput >= 0.9*float64(rate)
	s.sustained = s.clean && s.kept && s.p99 <= r.o.Bound
	mark := ""
	if s.sustained {
		mark = "  sustained"
	}
	fmt.Fprintf(r.progress, "  %-18s rate %6d  ok/s %8.0f  ok %6d  busy %5d  failed %5d  p50 %-9s p99 %-9s RSS %4.0f MB  CPU %4.0f µs/ok (server %3.0f, load %3.0f), machine %3.0f %%%s\n", t.name, rate,
		s.throughput, s.ok, s.refused, s.failed, s.p50.Round(10*time.Microsecond), s.p99.Round(10*time.Microsecond), s.rssMB, us(s.cpuPerOK),
		us(s.serverPerOK), us(s.loadPerOK), 100*s.busy, mark)
	if s.failed > 0 {
		fmt.Fprintf(r.progress, "      failed: %s\n", s.failures)
	}
	return s, ctx.Err()
}

// noteFailure counts a failed request by what failed it: its status, or
// the load generator's error (a timeout, a reset).
func (s *step) noteFailure(res *vegeta.Result) {
	reason := "status " + strconv.Itoa(int(res.Code))
	if res.Error != "" {
		reason = res.Error
		if _, after, ok := strings.Cut(reason, "\": "); ok {
			reason = after // the method and URL before it are every request's
		}
	}
	s.failures.add(reason)
}

// settle is how long a step waits after its preparation. At 2,530
// successes a second on PostgreSQL, a step started at once had most of
// its slow requests in its first moments, right after preparing about
// 9,000 payments at full speed.
const settle = time.Second

// ramp raises the rate by half each step until the target stops keeping
// up, then bisects twice between the highest sustained rate and the next
// rate tried. With Options.Overload it then offers twice the sustained
// rate.
func (r *runner) ramp(ctx context.Context, t httpTarget) (Result, error) {
	args := t.args
	if r.o.ProfileDir != "" {
		args = append(args[:len(args):len(args)], "--cpuprofile", filepath.Join(r.o.ProfileDir, t.name+".pprof"))
	}
	srv, err := startServer(ctx, r.o.Exe, args...)
	if err != nil {
		return Result{}, err
	}
	t.seq = new(atomic.Int64)
	if t.ceiling && r.o.Overload {
		r.close()
		r.noop, r.noopTarget = srv, t
		r.noopTarget.name = "no-op, same rate"
	} else {
		defer srv.stop()
	}
	res := Result{Name: t.name}
	var steps []step
	try := func(rate int) (step, error) {
		s, err := r.offer(ctx, srv, t, rate)
		steps = append(steps, s)
		return s, err
	}
	// The last step is MaxRate itself, so that a ramp that never stumbles
	// ends at the cap it was given, and says so (Result.Capped).
	for rate := min(r.o.StartRate, r.o.MaxRate); ; rate = min(rate*3/2, r.o.MaxRate) {
		s, err := try(rate)
		if err == nil && !s.clean && len(steps) == 1 {
			// The first step meets a server just started (its
			// connections, caches and prepared statements cold) and a
			// database perhaps still writing out what ran before it: one
			// bad first step is offered again before the target is
			// called unable to serve even the starting rate.
			s, err = try(rate)
		}
		if err != nil {
			return res, err
		}
		if !s.clean || !s.kept {
			break
		}
		if rate == r.o.MaxRate {
			res.Capped = true
			break
		}
	}
	// Bisect where sustained ends: between the highest sustained rate and
	// the lowest rate above it that was not.
	for range 2 {
		low, high := 0, 0
		for _, s := range steps {
			if s.sustained && s.rate > low {
				low = s.rate
			}
		}
		for _, s := range steps {
			if !s.sustained && s.rate > low && (high == 0 || s.rate < high) {
				high = s.rate
			}
		}
		if low == 0 || high == 0 || high-low < max(low/20, 50) {
			break
		}
		if _, err := try((low + high) / 2); err != nil {
			return res, err
		}
	}
	var sustained step
	for _, s := range steps {
		if s.clean && s.throughput > res.BestRPS {
			res.BestRPS, res.MachineCPUus = s.throughput, us(s.cpuPerOK)
			res.ServerCPUus, res.LoadCPUus = us(s.serverPerOK), us(s.loadPerOK)
		}
		if s.sustained && s.throughput > res.SustainedRPS {
			res.SustainedRPS, sustained = s.throughput, s
		}
		res.RSSMB = max(res.RSSMB, s.rssMB)
	}
	res.P50ms, res.P99ms, res.Busy = ms(sustained.p50), ms(sustained.p99), sustained.busy
	if res.BestRPS == 0 {
		return res, fmt.Errorf("did not serve even %d req/s cleanly", r.o.StartRate)
	}
	if r.o.Overload && sustained.rate > 0 && !t.ceiling {
		rate := 2 * sustained.rate
		s, err := r.offer(ctx, srv, t, rate)
		if err != nil {
			return res, err
		}
		res.Overload = &Overload{OfferedRPS: float64(rate), AcceptedRPS: s.throughput, AcceptedP99: ms(s.p99),
			Refused: s.refused, RefusedP99: ms(s.refusedP99), Failed: s.failed, RSSMB: s.rssMB, Busy: s.busy}
		if r.noop != nil {
			// The same rate offered to the no-op server, right after:
			// what this machine's cores, shared with the load generator,
			// answer at that rate when the server does nothing. No
			// refusal can be answered faster.
			ref, err := r.offer(ctx, r.noop, r.noopTarget, rate)
			if err != nil {
				return res, err
			}
			res.Overload.NoopRPS, res.Overload.NoopP99, res.Overload.NoopBusy = ref.throughput, ms(ref.p99), ref.busy
		}
	}
	return res, nil
}

// ceiling measures the no-op handler: the most this machine serves of
// the same requests when the target does no work.
func (r *runner) ceiling(ctx context.Context) (Result, error) {
	res, err := r.ramp(ctx, httpTarget{name: "ceiling", args: []string{"bench-ceiling", "--addr", "127.0.0.1:0"},
		next: createRequest, want: http.StatusCreated, ceiling: true})
	if err == nil && res.SustainedRPS == 0 {
		err = fmt.Errorf("the no-op ceiling sustained nothing: the machine is too busy to measure")
	}
	return res, err
}

// createRequest is POST /v1/payments with a new reference each time, a
// customer and metadata in the body.
func createRequest(s *server, n int64, t *vegeta.Target) error {
	t.Method, t.URL = "POST", s.base+"/v1/payments"
	t.Header = http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + s.key}}
	ref := strconv.FormatInt(n, 10)
	t.Body = []byte(`{"amount":5000,"currency":"XOF","reference":"bench-` + ref +
		`","description":"Load test","customer":{"name":"Awa Diallo","email":"awa@example.com"},"metadata":{"order":"` + ref + `"}}`)
	return nil
}

// serve serves h on a loopback port until stop.
func serve(h http.Handler) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[int(q*float64(len(d)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
