package notify_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/bench"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/postgres/pgtest"
	"github.com/malipo/malipo/store/storetest"
)

// BenchmarkDeliveries measures the dispatcher (its default workers)
// sending payment.succeeded events to a receiver on loopback, in
// two ways:
//
//   - drain: 10,000 payments have succeeded before the dispatcher starts;
//     it reports how many deliveries per second it acknowledges, and the
//     CPU each took (this process's, and the machine's with the database).
//   - paced-250, paced-500: payments succeed through the gateway at 250 or
//     500 a second for 10 s while the dispatcher runs; it reports the
//     time from each state change to its first attempt reaching the
//     receiver (p50, p99).
//   - live: 10,000 payments succeed as fast as 64 callers make them while
//     the dispatcher runs; it reports events notified per second and the
//     CPU of each success and its notification together.
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
			rate   int // state changes per second while the dispatcher runs; 0: all before; -1: unpaced
		}{{"drain", 10_000, 0}, {"paced-250", 2_500, 250}, {"paced-500", 5_000, 500}, {"live", 10_000, -1}} {
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

func deliverMany(b *testing.B, st store.Store, events, rate int) {
	b.StopTimer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clock.Real{}
	flavors := map[malipo.Flavor]notify.Flavor{}
	disp := notify.New(notify.Config{Store: st, Clock: clk, Flavors: flavors})
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: "http://pay.test",
		Wake: disp.Wake, Courier: disp, PaymentTTL: time.Hour})
	flavors[malipo.FlavorNative] = native.New(svc, nil).Flavor()
	m, err := svc.CreateMerchant(ctx, "Bench", "")
	if err != nil {
		b.Fatal(err)
	}
	integ, _, err := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		b.Fatal(err)
	}
	rc := bench.NewReceiver(events)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	url := srv.URL
	if _, _, _, err := svc.CreateEndpoint(ctx, integ, gateway.EndpointInput{URL: &url}, gateway.Idempotency{}); err != nil {
		b.Fatal(err)
	}
	payments := make([]string, events)
	if err := bench.Parallel(64, events, nil, func(i int) error {
		p, _, err := svc.CreatePayment(ctx, integ, gateway.PaymentInput{Amount: 1000, Currency: "XOF", Reference: fmt.Sprintf("bench-%d", i)}, gateway.Idempotency{})
		payments[i] = p.ID
		return err
	}); err != nil {
		b.Fatal(err)
	}
	succeed := func(i int) error {
		_, _, err := svc.ForceOutcome(ctx, integ, payments[i], "succeeded", gateway.Idempotency{})
		return err
	}

	var start time.Time
	var cpu bench.CPU
	if rate == 0 {
		if err := bench.Parallel(64, events, nil, succeed); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start = time.Now()
		cpu = bench.ReadCPU()
		go disp.Run(ctx)
	} else {
		go disp.Run(ctx)
		b.StartTimer()
		start = time.Now()
		cpu = bench.ReadCPU()
		var pace <-chan struct{}
		if rate > 0 {
			pace = bench.Pace(start, rate, events)
		}
		go func() {
			if err := bench.Parallel(64, events, pace, succeed); err != nil {
				b.Error(err)
			}
		}()
	}
	err = rc.Wait(5 * time.Minute)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if rate <= 0 {
		b.ReportMetric(float64(events)/rc.Last().Sub(start).Seconds(), "deliveries/s")
		cpu.Report(b, events)
		return
	}
	lat := rc.Latencies()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
