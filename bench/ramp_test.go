package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TestMain serves as a target's server when the bench's tests start this
// test binary as one (see coldServer and busyServer).
func TestMain(m *testing.M) {
	switch os.Getenv("MALIPO_BENCH_TEST_SERVER") {
	case "cold":
		coldServer()
		return
	case "busy":
		busyServer()
		return
	case "limited":
		limitedServer()
		return
	}
	os.Exit(m.Run())
}

// coldServer answers 503 to every request in the first 100 ms after its
// first, and 200 after that: a server whose first moments are slow.
func coldServer() {
	var first atomic.Int64
	serveTest(func(w http.ResponseWriter, r *http.Request) {
		first.CompareAndSwap(0, time.Now().UnixNano())
		if time.Since(time.Unix(0, first.Load())) < 100*time.Millisecond {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// serveTest serves h on loopback as a target's server, saying where as
// malipo serve does.
func serveTest(h http.HandlerFunc) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	http.Serve(ln, h)
}

// getRoot is the test servers' request: GET /.
func getRoot(s *server, n int64, tgt *vegeta.Target) error {
	tgt.Method, tgt.URL = http.MethodGet, s.base+"/"
	return nil
}

// limitedServer answers 200 to its first 30 requests and 503 to every
// one after: a server that stops keeping up at a known point.
func limitedServer() {
	var served atomic.Int64
	serveTest(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) > 30 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// A ramp's last step is MaxRate itself, not the last ×1.5 step under
// it, and a target still served there is reported as capped: its best
// is the cap's, not its own. One that stops keeping up before is not.
// With Overload, each target but the ceiling is then offered twice its
// sustained rate.
func TestRampEndsAtMaxRateAndSaysSoWhenStillServing(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, server string
		ceiling      bool
		capped       bool
		steps        []string // the rates offered, in order
	}{
		// cold: after its first 100 ms it serves every request. 40, 60,
		// then 70 (not 90), nothing to bisect, and 2× 70.
		{"still served", "cold", false, true, []string{"40", "60", "70", "140"}},
		{"the ceiling, still served", "cold", true, true, []string{"40", "60", "70"}},
		// limited: the 70 step is refused all but its first few
		// requests, so it is not capped (and 60 to 70 is too narrow a gap
		// to bisect); 2× is of 60.
		{"no longer served", "limited", false, false, []string{"40", "60", "70", "120"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("MALIPO_BENCH_TEST_SERVER", c.server)
			var progress strings.Builder
			r := &runner{o: Options{Exe: exe, Step: 250 * time.Millisecond, StartRate: 40, MaxRate: 70, Bound: time.Second, Overload: true},
				progress: &progress}
			defer r.close()
			res, err := r.ramp(context.Background(), httpTarget{name: "t", want: http.StatusOK, ceiling: c.ceiling, next: getRoot})
			if err != nil {
				t.Fatal(err)
			}
			var steps []string
			for _, m := range regexp.MustCompile(`rate +(\d+)`).FindAllStringSubmatch(progress.String(), -1) {
				steps = append(steps, m[1])
			}
			if c.server == "cold" && len(steps) > 1 && steps[0] == steps[1] {
				steps = steps[1:] // its first step may be offered again
			}
			if !slices.Equal(steps, c.steps) || res.Capped != c.capped || (res.Overload != nil) == c.ceiling {
				t.Errorf("steps %v, capped %v, overload %+v; want %v, %v\n%s", steps, res.Capped, res.Overload, c.steps, c.capped, progress.String())
			}
		})
	}
}

// Under Overload the ceiling's server is kept, and each target's 2×
// rate is offered to it too, right after the target's own 2× step: what
// the machine answers at that rate when the server does nothing.
func TestOverloadOffersTheNoOpServerTheSameRate(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	r := &runner{o: Options{Exe: exe, Step: 250 * time.Millisecond, StartRate: 40, MaxRate: 70, Bound: time.Second, Overload: true},
		progress: &progress}
	defer r.close()
	t.Setenv("MALIPO_BENCH_TEST_SERVER", "cold")
	if _, err := r.ramp(context.Background(), httpTarget{name: "ceiling", want: http.StatusOK, ceiling: true, next: getRoot}); err != nil {
		t.Fatal(err)
	}
	noop := r.noop
	if noop == nil || noop.cmd.Process.Signal(syscall.Signal(0)) != nil {
		t.Fatalf("the ceiling's server was not kept running: %+v", noop)
	}
	// limited refuses all but its first 30 requests, so its 2× step (of
	// 60) is mostly refused; the no-op (cold, long warm) serves all of it.
	t.Setenv("MALIPO_BENCH_TEST_SERVER", "limited")
	res, err := r.ramp(context.Background(), httpTarget{name: "limited", want: http.StatusOK, next: getRoot})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	last := lines[len(lines)-1]
	o := res.Overload
	if o == nil || !strings.Contains(last, "no-op, same rate") || !strings.Contains(last, "rate    120") ||
		o.NoopRPS < 0.9*120 || o.NoopP99 <= 0 || o.AcceptedRPS > 60 {
		t.Fatalf("the no-op server was not offered the 2× rate of 120 after the target: %+v\n%s", o, progress.String())
	}
	if o.Busy <= 0 || o.NoopBusy <= 0 || o.Busy > 1 || o.NoopBusy > 1 {
		t.Errorf("the machine's busy share at the 2× step and the no-op's not measured: %+v", o)
	}
	r.close()
	if noop.cmd.ProcessState == nil {
		t.Error("close left the ceiling's server running")
	}
}

// A step's CPU is shared out between the server, the load generator and
// the rest: a server that spends 2 ms on each request is charged about
// that per success, and the generator (this process) much less.
func TestStepChargesTheServerItsCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	t.Setenv("MALIPO_BENCH_TEST_SERVER", "busy")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{o: Options{Exe: exe, Step: time.Second, StartRate: 100, MaxRate: 100, Bound: time.Second}, progress: io.Discard}
	res, err := r.ramp(context.Background(), httpTarget{name: "busy", want: http.StatusOK, next: getRoot})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a request: server %.0f µs, load generator %.0f, machine %.0f", res.ServerCPUus, res.LoadCPUus, res.MachineCPUus)
	// At least the 2 ms it spins, and not much more than that and HTTP.
	if res.ServerCPUus < 1_900 || res.ServerCPUus > 4_000 {
		t.Errorf("server charged %.0f µs a request, want 2,000 and a little for HTTP: %+v", res.ServerCPUus, res)
	}
	if res.LoadCPUus <= 0 || res.LoadCPUus >= res.ServerCPUus/2 {
		t.Errorf("load generator charged %.0f µs a request against the server's %.0f", res.LoadCPUus, res.ServerCPUus)
	}
	// It spins 200 ms a second, and the step's share of the machine says
	// at least that.
	if cores := float64(runtime.NumCPU()); res.Busy < 0.15/cores || res.Busy > 1 {
		t.Errorf("machine %.2f busy at the sustained step, want at least the server's 0.2 s a second over %v cores", res.Busy, cores)
	}
	// The machine's figure is never less than its parts (CPU.Used): on
	// this VM /proc/stat's ticks fell 300–800 µs a request short of the
	// two processes' own counts in about 2 runs of 10.
	if res.ServerCPUus+res.LoadCPUus > res.MachineCPUus+1 {
		t.Errorf("server %.0f µs and load generator %.0f µs a request, more than the machine's %.0f", res.ServerCPUus, res.LoadCPUus, res.MachineCPUus)
	}
}

// A first step that is not clean is offered again before the target is
// called unable to serve: a server just started may refuse in its first
// moments, and that is not what it sustains.
func TestFirstBadStepIsOfferedAgain(t *testing.T) {
	t.Setenv("MALIPO_BENCH_TEST_SERVER", "cold")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{o: Options{Exe: exe, Step: 300 * time.Millisecond, StartRate: 50, MaxRate: 60, Bound: time.Second}, progress: io.Discard}
	target := httpTarget{name: "cold", want: http.StatusOK, next: getRoot}
	res, err := r.ramp(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if res.SustainedRPS == 0 {
		t.Errorf("nothing sustained: %+v", res)
	}
}

// A step's failures are told by reason, in the order first seen: the
// status, or the load generator's error without the request's method and
// URL; past four reasons the rest are counted together.
func TestStepTellsWhyRequestsFailed(t *testing.T) {
	var s step
	for _, res := range []vegeta.Result{
		{Code: 500},
		{Error: `Post "http://127.0.0.1:1/v1/payments": context deadline exceeded`},
		{Code: 500},
		{Code: 502},
		{Code: 404},
		{Code: 400},
		{Code: 401},
	} {
		s.noteFailure(&res)
	}
	want := "2 × status 500; 1 × context deadline exceeded; 1 × status 502; 1 × status 404; 2 other"
	if got := s.failures.String(); got != want {
		t.Errorf("failures %q, want %q", got, want)
	}
}
