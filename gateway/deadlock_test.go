package gateway_test

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store/postgres"
	"github.com/malipo/malipo/store/postgres/pgtest"
	"github.com/malipo/malipo/store/sqlstore"
)

// Two nodes on one PostgreSQL database move money every way at once:
// payments succeeding, payouts (some failing), transfers between merchants
// and refunds, all touching the same hot balances. PostgreSQL must detect
// no deadlock, and the books must balance.
func TestNoDeadlocksOnPostgreSQL(t *testing.T) {
	url, dbName := pgtest.Database(t)
	ctx := context.Background()
	clk := clock.Real{}
	var stores []*sqlstore.DB
	var svcs []*gateway.Service
	for range 2 {
		st, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, st)
		sb := sandbox.New(st, clk, 0, nil) // every rail answers at once: the most writes per second
		svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: "http://pay.test",
			Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
		sb.Connect(svc)
		svcs = append(svcs, svc)
	}
	var integs []malipo.Integration
	var merchants []string
	for i := range 4 {
		m, err := svcs[0].CreateMerchant(ctx, fmt.Sprintf("Shop %d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		in, _, err := svcs[0].CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative,
			Mode: malipo.ModeTest, Fee: malipo.FeeRule{BasisPoints: 150}, Rules: malipo.Rules{PayoutsPerDestination: 100_000,
				Fees: map[string]malipo.FeeRule{"payout": {Fixed: 10}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svcs[0].Topup(ctx, in, 200_000, "XOF"); err != nil {
			t.Fatal(err)
		}
		integs, merchants = append(integs, in), append(merchants, m.ID)
	}

	var mu sync.Mutex
	var ops, unexpected int
	paid := map[string][]string{} // merchant → succeeded payments
	var wg sync.WaitGroup
	for worker := range 24 {
		svc := svcs[worker%2]
		rng := rand.New(rand.NewSource(int64(worker)))
		wg.Go(func() {
			for n := range 25 {
				k := rng.Intn(len(integs))
				in := integs[k]
				ref := fmt.Sprintf("w%d-%d", worker, n)
				var err error
				switch op := rng.Intn(10); {
				case op < 4: // a payment succeeds
					var p malipo.Payment
					p, _, err = svc.CreatePayment(ctx, in, gateway.PaymentInput{Amount: int64(1000 + rng.Intn(9000)), Currency: "XOF", Reference: ref}, gateway.Idempotency{})
					if err == nil {
						_, _, err = svc.ForceOutcome(ctx, in, p.ID, "succeeded", gateway.Idempotency{})
					}
					if err == nil {
						mu.Lock()
						paid[in.MerchantID] = append(paid[in.MerchantID], p.ID)
						mu.Unlock()
					}
				case op < 7: // a payout, a tenth of which the network turns back
					phone := fmt.Sprintf("+22507071%05d", rng.Intn(10)*10)
					if rng.Intn(10) == 0 {
						phone = "+2250707120001"
					}
					_, _, err = svc.CreatePayout(ctx, in, gateway.PayoutInput{Amount: int64(500 + rng.Intn(3000)), Currency: "XOF", Reference: ref,
						Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: phone}}, gateway.Idempotency{})
				case op < 8: // a transfer to another merchant
					to := merchants[(k+1+rng.Intn(len(merchants)-1))%len(merchants)]
					_, _, err = svc.CreatePayout(ctx, in, gateway.PayoutInput{Amount: int64(100 + rng.Intn(1000)), Currency: "XOF", Reference: ref,
						Destination: malipo.Destination{Type: malipo.DestinationMerchant, Account: to}}, gateway.Idempotency{})
				default: // a part of one of the merchant's payments goes back
					mu.Lock()
					list := paid[in.MerchantID]
					var id string
					if len(list) > 0 {
						id = list[rng.Intn(len(list))]
					}
					mu.Unlock()
					if id == "" {
						continue
					}
					_, _, err = svc.CreateRefund(ctx, in, gateway.RefundInput{PaymentID: id, Amount: 100}, gateway.Idempotency{})
				}
				mu.Lock()
				ops++
				switch code := malipo.AsError(err).Code; {
				case err == nil, code == "insufficient_funds", code == "payment_fully_refunded", code == "amount_too_large":
				default:
					unexpected++
					t.Errorf("unexpected error: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	r, err := svcs[1].Verify(ctx)
	if err != nil || !r.Clean() {
		t.Errorf("audit: %+v, %v", r, err)
	}
	var aborts int64
	for _, st := range stores {
		aborts += st.Aborts()
		st.Close() // the sessions end, and with them their statistics are flushed
	}
	time.Sleep(500 * time.Millisecond)
	deadlocks := pgtest.Deadlocks(t, dbName)
	t.Logf("%d operations on two nodes: %d unexpected errors, %d deadlocks detected by PostgreSQL, %d transactions aborted and run again; audit %d entries, %d payouts, %d refunds",
		ops, unexpected, deadlocks, aborts, r.Entries, r.Payouts, r.Refunds)
	if deadlocks != 0 || aborts != 0 {
		t.Errorf("PostgreSQL detected %d deadlocks; the stores ran %d aborted transactions again; want none", deadlocks, aborts)
	}
	if r.Payouts < 50 || r.Refunds < 20 || r.Payments < 100 {
		t.Errorf("the run exercised too little: %+v", r)
	}
}
