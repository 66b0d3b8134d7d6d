// Package bench is Malipo's load command: it starts a real server on a
// fresh store, drives POST /v1/payments over loopback with vegeta at rising
// rates, does the same to a no-op handler that decodes the same JSON (the
// ceiling), and reports both and their ratio. Every 201 it counts was
// committed durably first (SQLite synchronous=FULL, PostgreSQL
// synchronous_commit=on).
package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"text/tabwriter"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the pgx driver
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/postgres"
	"github.com/malipo/malipo/store/sqlite"
)

// Options configure a run.
type Options struct {
	Postgres           string        // optional postgres:// URL
	Step               time.Duration // how long each rate is held
	StartRate, MaxRate int
	Out                io.Writer
	CPUProfile         string // write a CPU profile of the whole run here
}

// Result is the best rate a target sustained.
type Result struct {
	Target     string
	Throughput float64 // successful requests per second
	P50, P99   time.Duration
	Requests   uint64
}

// Run measures the ceiling, SQLite and (with a URL) PostgreSQL, and prints
// a table.
func Run(ctx context.Context, o Options) error {
	if o.Step == 0 {
		o.Step = 3 * time.Second
	}
	if o.StartRate == 0 {
		o.StartRate = 500
	}
	if o.MaxRate == 0 {
		o.MaxRate = 40000
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(o.Out, "Ramping each target from %d req/s by ×1.5 per %s step until it stops keeping up.\n", o.StartRate, o.Step)

	var results []Result
	ceiling, err := measure(ctx, o, "no-op ceiling (decode only)", func() (http.Handler, string, func(), error) {
		return native.NoopHandler(), "", func() {}, nil
	})
	if err != nil {
		return err
	}
	results = append(results, ceiling)

	dir, err := os.MkdirTemp("", "malipo-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r, err := measure(ctx, o, "create payment, SQLite (synchronous=FULL)", func() (http.Handler, string, func(), error) {
		st, err := sqlite.Open(ctx, filepath.Join(dir, "bench.db"))
		if err != nil {
			return nil, "", nil, err
		}
		return gatewayHandler(ctx, st)
	})
	if err != nil {
		return err
	}
	results = append(results, r)

	if o.Postgres != "" {
		r, err := measure(ctx, o, "create payment, PostgreSQL (synchronous_commit=on)", func() (http.Handler, string, func(), error) {
			u, drop, err := freshSchema(o.Postgres)
			if err != nil {
				return nil, "", nil, err
			}
			st, err := postgres.Open(ctx, u)
			if err != nil {
				drop()
				return nil, "", nil, err
			}
			h, key, closeFn, err := gatewayHandler(ctx, st)
			return h, key, func() { closeFn(); drop() }, err
		})
		if err != nil {
			return err
		}
		results = append(results, r)
	}

	tw := tabwriter.NewWriter(o.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\ntarget\tbest req/s, all 201\tp50\tp99\tratio to ceiling")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%.2f\n", r.Target, r.Throughput, r.P50.Round(10*time.Microsecond),
			r.P99.Round(10*time.Microsecond), r.Throughput/ceiling.Throughput)
	}
	return tw.Flush()
}

// gatewayHandler wires a real service and native API over st, with a
// fresh merchant and test key.
func gatewayHandler(ctx context.Context, st store.Store) (http.Handler, string, func(), error) {
	clk := clock.Real{}
	sb := sandbox.New(st, clk, time.Second, nil)
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: "http://bench",
		Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
	sb.Connect(svc)
	demo, err := svc.EnsureDemo(ctx)
	if err != nil || demo == nil {
		st.Close()
		return nil, "", nil, fmt.Errorf("bench merchant: %v", err)
	}
	mux := http.NewServeMux()
	native.New(svc, slog.New(slog.DiscardHandler)).Register(mux)
	return mux, demo.SecretKey, func() { st.Close() }, nil
}

// freshSchema makes a schema for one run on the server at base.
func freshSchema(base string) (string, func(), error) {
	b := make([]byte, 4)
	rand.Read(b)
	schema := "bench_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE"); admin.Close() }, nil
}

// measure serves the handler on loopback and ramps the rate until the
// target fails to keep up; it returns the best step it sustained.
func measure(ctx context.Context, o Options, name string, setup func() (http.Handler, string, func(), error)) (Result, error) {
	h, key, teardown, err := setup()
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", name, err)
	}
	defer teardown()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()

	target := "http://" + ln.Addr().String() + "/v1/payments"
	header := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + key}}
	var seq atomic.Int64
	targeter := func(t *vegeta.Target) error {
		n := seq.Add(1)
		t.Method, t.URL, t.Header = "POST", target, header
		t.Body = []byte(`{"amount":5000,"currency":"XOF","reference":"bench-` + strconv.FormatInt(n, 10) +
			`","description":"Load test","customer":{"name":"Awa Diallo","email":"awa@example.com"},"metadata":{"order":"` +
			strconv.FormatInt(n, 10) + `"}}`)
		return nil
	}
	best := Result{Target: name}
	// step offers rate for o.Step and reports whether the target kept up:
	// every request got its 201, p99 under a second, and throughput within
	// 10% of the offer. A clean step's throughput counts even when the
	// target fell behind: that is its capacity.
	step := func(rate int) bool {
		var m vegeta.Metrics
		attacker := vegeta.NewAttacker(vegeta.Workers(64), vegeta.MaxWorkers(1024), vegeta.KeepAlive(true), vegeta.Timeout(5*time.Second))
		for res := range attacker.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, o.Step, name) {
			m.Add(res)
		}
		m.Close()
		created := m.StatusCodes["201"]
		fmt.Fprintf(o.Out, "  %-48s rate %6d  throughput %8.0f  201s %6d/%-6d p50 %-9s p99 %s\n", name, rate, m.Throughput,
			created, m.Requests, m.Latencies.P50.Round(10*time.Microsecond), m.Latencies.P99.Round(10*time.Microsecond))
		clean := uint64(created) == m.Requests && m.Latencies.P99 < time.Second
		if clean && m.Throughput > best.Throughput {
			best.Throughput, best.P50, best.P99, best.Requests = m.Throughput, m.Latencies.P50, m.Latencies.P99, m.Requests
		}
		return clean && m.Throughput >= 0.9*float64(rate)
	}
	// Ramp by half again each step; once the target falls behind, bisect
	// twice between the last rate it kept up with and the first it did not.
	low, high := 0, 0
	for rate := o.StartRate; rate <= o.MaxRate && ctx.Err() == nil; rate = rate * 3 / 2 {
		if !step(rate) {
			high = rate
			break
		}
		low = rate
	}
	for i := 0; i < 2 && low > 0 && high > 0 && ctx.Err() == nil; i++ {
		mid := (low + high) / 2
		if step(mid) {
			low = mid
		} else {
			high = mid
		}
	}
	if best.Throughput == 0 {
		return best, fmt.Errorf("%s did not sustain even %d req/s", name, o.StartRate)
	}
	return best, nil
}
