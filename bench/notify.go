package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/malipo/malipo/gateway"
)

// Receiver acknowledges every notification and notes, for the first
// arrival of each event, when it came and how long after the event (its
// created_at). The notify targets and notify's BenchmarkDeliveries use it.
type Receiver struct {
	mu      sync.Mutex
	first   map[string]time.Duration
	last    time.Time
	want    int
	all     chan struct{}
	badBody int
}

// NewReceiver returns a Receiver waiting for want distinct events.
func NewReceiver(want int) *Receiver {
	return &Receiver{first: map[string]time.Duration{}, want: want, all: make(chan struct{})}
}

// ServeHTTP acknowledges a notification with 204.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var ev struct {
		ID        string    `json:"id"`
		CreatedAt time.Time `json:"created_at"`
	}
	body, _ := io.ReadAll(r.Body)
	err := json.Unmarshal(body, &ev)
	w.WriteHeader(http.StatusNoContent)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil || ev.ID == "" {
		rc.badBody++
		return
	}
	if _, seen := rc.first[ev.ID]; !seen {
		rc.first[ev.ID] = now.Sub(ev.CreatedAt)
		rc.last = now
		if len(rc.first) == rc.want {
			close(rc.all)
		}
	}
}

// Wait waits for every notification, at most limit; a body that was not
// an event is an error too.
func (rc *Receiver) Wait(limit time.Duration) error {
	select {
	case <-rc.all:
	case <-time.After(limit):
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return fmt.Errorf("only %d of %d notifications arrived in %s", len(rc.first), rc.want, limit)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.badBody > 0 {
		return fmt.Errorf("%d notifications had unreadable bodies", rc.badBody)
	}
	return nil
}

// Last is when the latest first arrival came.
func (rc *Receiver) Last() time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.last
}

// Latencies are, for each event, how long after it its first arrival
// came.
func (rc *Receiver) Latencies() []time.Duration {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	lat := make([]time.Duration, 0, len(rc.first))
	for _, d := range rc.first {
		lat = append(lat, d)
	}
	return lat
}

// notify measures the dispatcher sending payment.succeeded events, signed,
// to a receiver on loopback, each attempt recorded durably:
//   - drain: NotifyEvents payments have succeeded before the dispatcher
//     starts; notifications acknowledged per second until the last;
//   - paced: payments succeed at NotifyRate a second while it runs; the
//     time from each state change to its notification's first arrival.
func (r *runner) notify(ctx context.Context, name string, e *env) (res Result, err error) {
	res = Result{Name: name}
	if r.o.GCPercent != 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(r.o.GCPercent))
	}
	peak := sampleRSS(0)
	defer func() { res.RSSMB = peak() }()
	var target *Receiver
	var mu sync.Mutex
	base, stop, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		rc := target
		mu.Unlock()
		rc.ServeHTTP(w, r)
	}))
	if err != nil {
		return res, err
	}
	defer stop()
	if _, _, _, err := e.svc.CreateEndpoint(ctx, e.integ, gateway.EndpointInput{URL: &base}, gateway.Idempotency{}); err != nil {
		return res, err
	}
	succeed := func(ids []string) func(int) error {
		return func(i int) error {
			_, _, err := e.svc.ForceOutcome(ctx, e.integ, ids[i], "succeeded", gateway.Idempotency{})
			return err
		}
	}
	run := func() func() {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); e.disp.Run(ctx) }()
		return func() { cancel(); <-done }
	}

	// Drain.
	n := r.o.NotifyEvents
	ids, err := e.pending(ctx, 0, n)
	if err != nil {
		return res, err
	}
	if err := Parallel(64, n, nil, succeed(ids)); err != nil {
		return res, err
	}
	rc := NewReceiver(n)
	mu.Lock()
	target = rc
	mu.Unlock()
	// The profile is the drain's alone, not the payments' made for it.
	stopProfile := func() {}
	if r.o.ProfileDir != "" {
		f, err := os.Create(filepath.Join(r.o.ProfileDir, name+".pprof"))
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
		stopProfile = pprof.StopCPUProfile
	}
	start, cpu := time.Now(), ReadCPU()
	halt := run()
	err = rc.Wait(5 * time.Minute)
	used := cpu.PerOp(ReadCPU(), n)
	halt()
	stopProfile()
	if err != nil {
		return res, err
	}
	res.BestRPS = float64(n) / rc.Last().Sub(start).Seconds()
	res.SustainedRPS, res.MachineCPUus = res.BestRPS, us(used)
	fmt.Fprintf(r.progress, "  %-18s drained %d notifications at %.0f/s, %.0f µs of machine CPU each\n", name, n, res.BestRPS, res.MachineCPUus)

	// Paced.
	m := int(float64(r.o.NotifyRate) * max(2*r.o.Step, 2*time.Second).Seconds())
	if ids, err = e.pending(ctx, n, m); err != nil {
		return res, err
	}
	rc = NewReceiver(m)
	mu.Lock()
	target = rc
	mu.Unlock()
	halt = run()
	defer halt()
	start = time.Now()
	if err := Parallel(64, m, Pace(start, r.o.NotifyRate, m), succeed(ids)); err != nil {
		return res, err
	}
	res.PacedRate = float64(m) / time.Since(start).Seconds()
	if err := rc.Wait(5 * time.Minute); err != nil {
		return res, err
	}
	lat := rc.Latencies()
	res.P50ms, res.P99ms = ms(quantile(lat, 0.50)), ms(quantile(lat, 0.99))
	fmt.Fprintf(r.progress, "  %-18s at %.0f changes/s: change → first attempt p50 %.1f ms, p99 %.1f ms\n", name, res.PacedRate, res.P50ms, res.P99ms)
	return res, nil
}
