package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/rails"
	mtn "github.com/malipo/malipo/rails/momo"
	"github.com/malipo/malipo/rails/momo/momosim"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store/postgres/pgtest"
	"github.com/malipo/malipo/store/sqlite"
)

// BenchmarkCreatePayment measures durable payment creation through the
// group committer with many concurrent callers.
func BenchmarkCreatePayment(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchCreate(b, newEnv(&testing.T{}, st))
	})
	b.Run("postgres", func(b *testing.B) {
		st := pgtest.Open(b)
		defer st.Close()
		benchCreate(b, newEnv(&testing.T{}, st))
	})
}

func benchCreate(b *testing.B, e *env) {
	var seq atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: fmt.Sprintf("b-%d", seq.Add(1)),
				Description: "Load test", Metadata: map[string]string{"order": "1"}}
			if _, _, err := e.svc.CreatePayment(context.Background(), e.integ, req, gateway.Idempotency{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSucceedPayment measures payments succeeding: each posts a
// ledger entry to the same three hot accounts (rail clearing, merchant,
// fees) and writes an event, from many concurrent callers.
func BenchmarkSucceedPayment(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchSucceed(b, newEnv(&testing.T{}, st))
	})
	b.Run("postgres", func(b *testing.B) {
		st := pgtest.Open(b)
		defer st.Close()
		benchSucceed(b, newEnv(&testing.T{}, st))
	})
}

func benchSucceed(b *testing.B, e *env) {
	ids := make([]string, b.N)
	for i := range ids {
		p, _, err := e.svc.CreatePayment(context.Background(), e.integ, gateway.PaymentInput{Amount: 5000, Currency: "XOF",
			Reference: fmt.Sprintf("s-%d", i)}, gateway.Idempotency{})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = p.ID
	}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[next.Add(1)-1]
			if _, _, err := e.svc.ForceOutcome(context.Background(), e.integ, id, "succeeded", gateway.Idempotency{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPush measures payments pushed to a phone as they are created
// (claim, rail call, record), through the sandbox rail and through the MTN
// MoMo connector talking HTTP to the MTN simulator on loopback, on SQLite:
// the connector's overhead is the difference.
func BenchmarkPush(b *testing.B) {
	for _, rail := range []string{"sandbox", "mtn-momo"} {
		b.Run(rail, func(b *testing.B) {
			st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			clk := clock.Real{}
			mode, set := malipo.ModeTest, rails.Set{}
			sb := sandbox.New(st, clk, time.Hour, nil) // nobody answers during the run
			if rail == "sandbox" {
				set = sb.Set()
			} else {
				sim := momosim.New(momosim.Options{Country: "CI", CallbackDelay: time.Hour, DropCallbacks: true})
				srv := httptest.NewServer(sim.Handler())
				defer srv.Close()
				var cfg mtn.Config
				raw, _ := json.Marshal(sim.Config(srv.URL))
				json.Unmarshal(raw, &cfg)
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
				r := mtn.New(cfg, mtn.Options{Client: client, Clock: clk})
				mode, set = malipo.ModeLive, rails.Set{MobileMoney: rails.OneMobileMoney(r.Collections()), Payouts: rails.OnePayouts(r.Disbursements())}
			}
			svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: "http://pay.test",
				Rails: map[malipo.Mode]rails.Set{mode: set}})
			ctx := context.Background()
			m, _ := svc.CreateMerchant(ctx, "Duka", "")
			integ, _, err := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: mode})
			if err != nil {
				b.Fatal(err)
			}
			var seq atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: fmt.Sprintf("p-%d", seq.Add(1)),
						Method: "mobile_money", Phone: "+2250505120000"}
					p, _, err := svc.CreatePayment(ctx, integ, req, gateway.Idempotency{})
					if err != nil || p.Status != malipo.PaymentProcessing {
						b.Errorf("push: %s %v", p.Status, err)
						return
					}
				}
			})
		})
	}
}
