package gateway_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/bench"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/airtel"
	"github.com/malipo/malipo/rails/airtel/airtelsim"
	mtn "github.com/malipo/malipo/rails/momo"
	"github.com/malipo/malipo/rails/momo/momosim"
	"github.com/malipo/malipo/rails/mpesa"
	"github.com/malipo/malipo/rails/mpesa/mpesasim"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/postgres/pgtest"
	"github.com/malipo/malipo/store/sqlite"
)

// BenchmarkCreatePayment measures durable payment creation through the
// group committer with many concurrent callers.
func BenchmarkCreatePayment(b *testing.B) {
	onBothStores(b, func(b *testing.B, st store.Store) { benchCreate(b, newEnv(b, st), plainCreate) })
}

// BenchmarkCreatePaymentIdempotent is BenchmarkCreatePayment with an
// Idempotency-Key on every create, as careful merchants send: each looks
// its key up and writes it in the same transaction as the payment.
func BenchmarkCreatePaymentIdempotent(b *testing.B) {
	onBothStores(b, func(b *testing.B, st store.Store) { benchCreate(b, newEnv(b, st), idempotentCreate) })
}

// BenchmarkCreatePaymentPushed is BenchmarkCreatePayment with a
// mobile-money method, as most payments are made: each is created with
// its first rail attempt, pushed to the sandbox rail, and its push
// recorded (two transactions; BenchmarkPush compares the live rails').
func BenchmarkCreatePaymentPushed(b *testing.B) {
	onBothStores(b, func(b *testing.B, st store.Store) { benchCreate(b, newEnv(b, st), pushedCreate) })
}

// createKind is what a benchmarked create sends beyond a plain one.
type createKind int

const (
	plainCreate      createKind = iota
	idempotentCreate            // an Idempotency-Key
	pushedCreate                // a mobile-money method and phone
)

// onBothStores runs fn as the sub-benchmarks "sqlite", on a fresh file,
// and "postgres", on a fresh schema (skipped unless
// MALIPO_TEST_DATABASE_URL is set).
func onBothStores(b *testing.B, fn func(b *testing.B, st store.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		fn(b, st)
	})
	b.Run("postgres", func(b *testing.B) {
		st := pgtest.Open(b)
		defer st.Close()
		fn(b, st)
	})
}

func benchCreate(b *testing.B, e *env, kind createKind) {
	var seq atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	cpu := bench.ReadCPU()
	defer func() { cpu.Report(b, b.N) }()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: fmt.Sprintf("b-%d", seq.Add(1)),
				Description: "Load test", Metadata: map[string]string{"order": "1"}}
			var idem gateway.Idempotency
			switch kind {
			case idempotentCreate:
				idem = gateway.Idempotency{Key: "key-" + req.Reference, RequestHash: "hash"}
			case pushedCreate:
				req.Method, req.Phone = "mobile_money", "+2250505120000"
			}
			p, _, err := e.svc.CreatePayment(context.Background(), e.integ, req, idem)
			if err != nil || kind == pushedCreate && p.Status != malipo.PaymentProcessing {
				b.Errorf("create: %s %v", p.Status, err)
				return
			}
		}
	})
}

// BenchmarkSucceedPayment measures payments succeeding: each posts a
// ledger entry to the same three hot accounts (rail clearing, merchant,
// fees) and writes an event, from many concurrent callers.
func BenchmarkSucceedPayment(b *testing.B) {
	onBothStores(b, func(b *testing.B, st store.Store) { benchSucceed(b, newEnv(b, st)) })
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
	eachInParallel(b, func(i int) error {
		_, _, err := e.svc.ForceOutcome(context.Background(), e.integ, ids[i], "succeeded", gateway.Idempotency{})
		return err
	})
}

// BenchmarkLedgerReads measures what a merchant reads of a ledger of
// 10,000 successes: a payment's entries (its story) and the first page of
// its balance statement, whose running balance sums what was posted since
// the page's first movement. Each should cost the same whatever the
// ledger's size: they are lookups by reference and by account.
func BenchmarkLedgerReads(b *testing.B) {
	onBothStores(b, func(b *testing.B, st store.Store) {
		e := newEnv(b, st)
		ctx := context.Background()
		const payments = 10_000
		ids := make([]string, payments)
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < payments; i = int(next.Add(1) - 1) {
					p, _, err := e.svc.CreatePayment(ctx, e.integ, gateway.PaymentInput{Amount: 5000, Currency: "XOF",
						Reference: fmt.Sprintf("l-%d", i)}, gateway.Idempotency{})
					if err == nil {
						_, _, err = e.svc.ForceOutcome(ctx, e.integ, p.ID, "succeeded", gateway.Idempotency{})
					}
					if err != nil {
						b.Error(err)
						return
					}
					ids[i] = p.ID
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			return
		}
		if strings.HasSuffix(b.Name(), "/postgres") {
			analyze(b) // as autovacuum does once a table has grown
		}
		for i := 0; b.Loop(); i++ {
			entries, err := e.svc.Entries(ctx, e.integ, ids[i*7919%payments])
			if err != nil || len(entries) != 1 {
				b.Fatalf("entries: %d, %v", len(entries), err)
			}
			page, err := e.svc.Statement(ctx, e.integ, "XOF", "", store.MovementFilter{Limit: 50})
			if err != nil || len(page) != 50 {
				b.Fatalf("statement: %d movements, %v", len(page), err)
			}
		}
	})
}

// analyze gathers PostgreSQL's statistics on the test database, which a
// fresh schema has none of: without them the planner takes a lookup by a
// column it knows nothing of to match 0.5 % of the rows.
func analyze(b *testing.B) {
	db, err := sql.Open("pgx", os.Getenv("MALIPO_TEST_DATABASE_URL"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCreatePayout measures payouts of one merchant to many phones:
// each locks the merchant's spending, checks its balance, its reference
// and the phone's velocity, reserves the money and records its rail
// attempt, then is sent to the sandbox rail and its answer recorded
// (the phones end in 9, which the sandbox pays).
func BenchmarkCreatePayout(b *testing.B) {
	onBothStores(b, func(b *testing.B, st store.Store) {
		m := newMoney(b, st, malipo.Rules{})
		if _, err := m.svc.Topup(context.Background(), m.integ, int64(b.N+1)*10_100, "KES"); err != nil {
			b.Fatal(err)
		}
		eachInParallel(b, func(i int) error {
			p, _, err := m.svc.CreatePayout(context.Background(), m.integ, gateway.PayoutInput{Amount: 10_000, Currency: "KES",
				Reference: fmt.Sprintf("po-%d", i), Destination: toPhone(fmt.Sprintf("+25471%06d9", i))}, gateway.Idempotency{})
			if err == nil && p.Status != malipo.PayoutProcessing {
				err = fmt.Errorf("payout %d is %s", i, p.Status)
			}
			return err
		})
	})
}

// BenchmarkCreateRefund measures refunds of one merchant's payments, each
// of a payment of its own: each locks the merchant's spending, locks and
// reads the payment, checks the balance, reserves the money and creates
// its rail attempt (one transaction), is sent to the sandbox rail (the
// sandbox's own transaction) and has the rail's answer recorded (a
// third).
func BenchmarkCreateRefund(b *testing.B) {
	onBothStores(b, func(b *testing.B, st store.Store) {
		e := newEnv(b, st)
		ctx := context.Background()
		if _, err := e.svc.Topup(ctx, e.integ, int64(b.N+1)*5_000, "XOF"); err != nil {
			b.Fatal(err)
		}
		ids := make([]string, b.N)
		err := bench.Parallel(32, b.N, nil, func(i int) error {
			p, _, err := e.svc.CreatePayment(ctx, e.integ, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: fmt.Sprintf("rf-%d", i)},
				gateway.Idempotency{})
			if err == nil {
				_, _, err = e.svc.ForceOutcome(ctx, e.integ, p.ID, "succeeded", gateway.Idempotency{})
			}
			ids[i] = p.ID
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		eachInParallel(b, func(i int) error {
			r, _, err := e.svc.CreateRefund(ctx, e.integ, gateway.RefundInput{PaymentID: ids[i], Amount: 1000}, gateway.Idempotency{})
			if err == nil && r.Status == malipo.RefundFailed {
				err = fmt.Errorf("refund %d failed: %s", i, r.FailureCode)
			}
			return err
		})
	})
}

// eachInParallel times do(i) for every i of b.N from 32 goroutines and
// reports the CPU each took.
func eachInParallel(b *testing.B, do func(i int) error) {
	var next atomic.Int64
	b.SetParallelism(32)
	cpu := bench.ReadCPU()
	defer func() { cpu.Report(b, b.N) }()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := do(int(next.Add(1) - 1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
}

// BenchmarkReportOutcome measures rails' callbacks: pushes made earlier
// (nobody answered them) are reported succeeded, as a connector reports
// the callback it was sent, from many concurrent callers. Each records
// the outcome in the inbox, finishes the attempt and makes its payment
// succeed.
func BenchmarkReportOutcome(b *testing.B) { onBothStores(b, benchReport) }

func benchReport(b *testing.B, st store.Store) {
	clk := clock.Real{}
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: "http://pay.test",
		Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sandbox.New(st, clk, time.Hour, nil).Set()}}) // nobody answers
	ctx := context.Background()
	m, _ := svc.CreateMerchant(ctx, "Duka", "")
	integ, _, err := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, b.N)
	err = bench.Parallel(32, b.N, nil, func(i int) error {
		p, _, err := svc.CreatePayment(ctx, integ, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: fmt.Sprintf("r-%d", i),
			Method: "mobile_money", Phone: "+2250505120000"}, gateway.Idempotency{})
		keys[i] = p.ID + "-1"
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	eachInParallel(b, func(i int) error {
		return svc.Report(ctx, sandbox.Name, rails.Outcome{Key: keys[i], Verdict: malipo.VerdictSucceeded, RailReference: "MP-1",
			Amount: 5000, Currency: "XOF"})
	})
	p, err := svc.GetPayment(ctx, integ, keys[0][:len(keys[0])-2])
	if err != nil || p.Status != malipo.PaymentSucceeded {
		b.Fatalf("a reported payment is %s (%v)", p.Status, err)
	}
}

// BenchmarkPush measures payments pushed to a phone as they are created
// (claim, rail call, record), through the sandbox rail and through each
// live connector talking HTTP to its simulator on loopback (MTN MoMo,
// M-Pesa Daraja, Airtel Money), on SQLite: a connector's overhead is the
// difference.
func BenchmarkPush(b *testing.B) {
	for _, rail := range []string{"sandbox", "mtn-momo", "mpesa", "airtel"} {
		b.Run(rail, func(b *testing.B) {
			st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			clk := clock.Real{}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
			mode, set := malipo.ModeLive, rails.Set{}
			currency, phone, amount := malipo.Currency("XOF"), "+2250505120000", int64(5000)
			serve := func(h http.Handler) string {
				srv := httptest.NewServer(h)
				b.Cleanup(srv.Close)
				return srv.URL
			}
			config := func(m map[string]any, into any) {
				raw, _ := json.Marshal(m)
				json.Unmarshal(raw, into)
			}
			switch rail {
			case "sandbox":
				mode, set = malipo.ModeTest, sandbox.New(st, clk, time.Hour, nil).Set() // nobody answers during the run
			case "mtn-momo":
				sim := momosim.New(momosim.Options{Country: "CI", CallbackDelay: time.Hour, DropCallbacks: true})
				var cfg mtn.Config
				config(sim.Config(serve(sim.Handler())), &cfg)
				set.MobileMoney = rails.OneMobileMoney(mtn.New(cfg, mtn.Options{Client: client, Clock: clk}).Collections())
			case "mpesa":
				sim := mpesasim.New(mpesasim.Options{CallbackDelay: time.Hour, DropCallbacks: true})
				var cfg mpesa.Config
				config(sim.Config(serve(sim.Handler())), &cfg)
				r, err := mpesa.New(cfg, mpesa.Options{CallbackURL: "http://127.0.0.1:1/rails/mpesa-ke/x", Client: client, Clock: clk})
				if err != nil {
					b.Fatal(err)
				}
				set.MobileMoney, currency, phone, amount = rails.OneMobileMoney(r.Express()), "KES", "+254712120000", 10000
			case "airtel":
				sim := airtelsim.New(airtelsim.Options{Country: "UG", CallbackDelay: time.Hour, DropCallbacks: true})
				var cfg airtel.Config
				config(sim.Config(serve(sim.Handler())), &cfg)
				r, err := airtel.New(cfg, airtel.Options{Client: client, Clock: clk})
				if err != nil {
					b.Fatal(err)
				}
				set.MobileMoney, currency, phone = rails.OneMobileMoney(r.Collections()), "UGX", "+256701120000"
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
					req := gateway.PaymentInput{Amount: amount, Currency: string(currency), Reference: fmt.Sprintf("p-%d", seq.Add(1)),
						Method: "mobile_money", Phone: phone}
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
