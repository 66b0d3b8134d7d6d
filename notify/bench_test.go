package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/postgres/pgtest"
	"github.com/malipo/malipo/store/storetest"
)

// BenchmarkDeliveries measures the dispatcher (32 workers) sending
// payment.succeeded events to a receiver on loopback, in two ways:
//
//   - drain: 10,000 payments have succeeded before the dispatcher starts;
//     it reports how many deliveries per second it acknowledges.
//   - paced-250, paced-500: payments succeed through the gateway at 250 or
//     500 a second for 10 s while the dispatcher runs; it reports the
//     time from each state change to its first attempt reaching the
//     receiver (p50, p99).
func BenchmarkDeliveries(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store { return storetest.SQLite(b) }},
		{"postgres", func(b *testing.B) store.Store { return pgtest.Open(b) }},
	}
	for _, e := range engines {
		for _, run := range []struct {
			name   string
			events int
			rate   int // state changes per second while the dispatcher runs; 0: all before
		}{{"drain", 10_000, 0}, {"paced-250", 2_500, 250}, {"paced-500", 5_000, 500}} {
			b.Run(e.name+"/"+run.name, func(b *testing.B) {
				for range b.N {
					st := e.open(b)
					deliverMany(b, st, run.events, run.rate)
					st.Close()
				}
			})
		}
	}
}

// benchReceiver acknowledges everything and notes, for the first arrival
// of each event, how long after the event it came.
type benchReceiver struct {
	mu      sync.Mutex
	first   map[string]time.Duration
	last    time.Time
	all     chan struct{}
	want    int
	badBody int
}

func (rc *benchReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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

func deliverMany(b *testing.B, st store.Store, events, rate int) {
	b.StopTimer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clock.Real{}
	flavors := map[malipo.Flavor]notify.Flavor{}
	disp := notify.New(notify.Config{Store: st, Clock: clk, Flavors: flavors, Workers: 64})
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: "http://pay.test",
		Wake: disp.Wake, PaymentTTL: time.Hour})
	flavors[malipo.FlavorNative] = native.New(svc, nil).Flavor()
	m, err := svc.CreateMerchant(ctx, "Bench", "")
	if err != nil {
		b.Fatal(err)
	}
	integ, _, err := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		b.Fatal(err)
	}
	rc := &benchReceiver{first: map[string]time.Duration{}, all: make(chan struct{}), want: events}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	url := srv.URL
	if _, _, _, err := svc.CreateEndpoint(ctx, integ, gateway.EndpointInput{URL: &url}, gateway.Idempotency{}); err != nil {
		b.Fatal(err)
	}
	payments := make([]string, events)
	parallel(b, 64, events, nil, func(i int) error {
		p, _, err := svc.CreatePayment(ctx, integ, gateway.PaymentInput{Amount: 1000, Currency: "XOF", Reference: fmt.Sprintf("bench-%d", i)}, gateway.Idempotency{})
		payments[i] = p.ID
		return err
	})
	succeed := func(i int) error {
		_, _, err := svc.ForceOutcome(ctx, integ, payments[i], "succeeded", gateway.Idempotency{})
		return err
	}

	var start time.Time
	if rate == 0 {
		parallel(b, 64, events, nil, succeed)
		b.StartTimer()
		start = time.Now()
		go disp.Run(ctx)
	} else {
		go disp.Run(ctx)
		ticker := time.NewTicker(time.Second / time.Duration(rate))
		defer ticker.Stop()
		b.StartTimer()
		start = time.Now()
		go parallel(b, 64, events, ticker.C, succeed)
	}
	select {
	case <-rc.all:
	case <-time.After(5 * time.Minute):
		rc.mu.Lock()
		b.Fatalf("only %d of %d notifications arrived in 5 minutes", len(rc.first), events)
	}
	b.StopTimer()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.badBody > 0 {
		b.Fatalf("%d notifications had unreadable bodies", rc.badBody)
	}
	if rate == 0 {
		b.ReportMetric(float64(events)/rc.last.Sub(start).Seconds(), "deliveries/s")
		return
	}
	lat := make([]time.Duration, 0, len(rc.first))
	for _, d := range rc.first {
		lat = append(lat, d)
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// parallel runs fn(0..n-1) on workers goroutines; with tick, each call
// waits for a tick first.
func parallel(b *testing.B, workers, n int, tick <-chan time.Time, fn func(i int) error) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range n {
		if tick != nil {
			<-tick
		}
		next <- i
	}
	close(next)
	wg.Wait()
}
