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
	"github.com/malipo/malipo/store"
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
	stores, svcs := twoNodes(t, url, 0) // every rail answers at once: the most writes per second
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

// twoNodes opens two nodes on the PostgreSQL database at url, each with
// its own store and a sandbox rail that answers after answerAfter.
func twoNodes(t *testing.T, url string, answerAfter time.Duration) ([]*sqlstore.DB, []*gateway.Service) {
	clk := clock.Real{}
	var stores []*sqlstore.DB
	var svcs []*gateway.Service
	for range 2 {
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores = append(stores, st)
		sb := sandbox.New(st, clk, answerAfter, nil)
		svc := gateway.New(gateway.Config{Store: lockOrder(t, st), Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: "http://pay.test",
			Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
		sb.Connect(svc)
		svcs = append(svcs, svc)
	}
	return stores, svcs
}

// aMerchant is a new merchant's test integration, made through svc.
func aMerchant(t *testing.T, svc *gateway.Service) malipo.Integration {
	t.Helper()
	ctx := context.Background()
	m, err := svc.CreateMerchant(ctx, "Duka", "")
	if err != nil {
		t.Fatal(err)
	}
	in, _, err := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// Requests sent with one Idempotency-Key to two nodes at once, each a
// payment pushed to a phone as it is created, make one payment and one
// push: every caller gets that payment, and all but one as a replay.
func TestIdempotencyKeysAcrossNodes(t *testing.T) {
	url, _ := pgtest.Database(t)
	ctx := context.Background()
	stores, svcs := twoNodes(t, url, time.Hour) // nobody answers during the test
	in := aMerchant(t, svcs[0])
	const keys, callers = 8, 8
	type answer struct {
		id     string
		replay bool
	}
	answers := make([][]answer, keys)
	var wg sync.WaitGroup
	for k := range keys {
		answers[k] = make([]answer, callers)
		for c := range callers {
			wg.Go(func() {
				req := gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: fmt.Sprintf("order-%d", k),
					Method: "mobile_money", Phone: "+2250505120000"}
				p, replay, err := svcs[c%2].CreatePayment(ctx, in, req, gateway.Idempotency{Key: fmt.Sprintf("key-%d", k), RequestHash: "h"})
				if err != nil {
					t.Errorf("key %d, caller %d: %v", k, c, err)
				}
				answers[k][c] = answer{p.ID, replay}
			})
		}
	}
	wg.Wait()
	for k, as := range answers {
		fresh := 0
		for _, a := range as {
			if a.id != as[0].id {
				t.Errorf("key %d: the callers got different payments: %v", k, as)
				break
			}
			if !a.replay {
				fresh++
			}
		}
		if fresh != 1 {
			t.Errorf("key %d: %d callers were answered as the first, want 1: %v", k, fresh, as)
		}
		err := stores[1].Read(ctx, func(tx store.Tx) error {
			p, err := tx.PaymentByReference(in.ID, fmt.Sprintf("order-%d", k))
			if err != nil {
				return err
			}
			attempts, err := tx.ListRailAttempts(p.ID)
			if err != nil {
				return err
			}
			if p.ID != as[0].id || len(attempts) != 1 {
				t.Errorf("key %d: the store holds payment %s with %d attempts, want %s with 1", k, p.ID, len(attempts), as[0].id)
				return nil
			}
			_, err = tx.GetSandboxTransaction(attempts[0].ID)
			return err
		})
		if err != nil {
			t.Errorf("key %d: %v", k, err)
		}
	}
}

// Payouts of one merchant sent to two nodes at once never spend more than
// its balance: each batch takes the merchant's spending lock in its first
// round trip, so a node whose batch finds the lock taken runs its payouts
// again alone, and reads the balance under the lock.
func TestPayoutsAcrossNodesNeverOverspend(t *testing.T) {
	url, _ := pgtest.Database(t)
	ctx := context.Background()
	_, svcs := twoNodes(t, url, time.Hour) // nobody answers during the test
	in := aMerchant(t, svcs[0])
	if _, err := svcs[0].Topup(ctx, in, 50_000, "XOF"); err != nil { // five payouts of 10,000
		t.Fatal(err)
	}
	var mu sync.Mutex
	sent, refused := 0, 0
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			_, _, err := svcs[i%2].CreatePayout(ctx, in, gateway.PayoutInput{Amount: 10_000, Currency: "XOF", Reference: fmt.Sprintf("po-%d", i),
				Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: fmt.Sprintf("+22507071%04d9", i)}}, gateway.Idempotency{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				sent++
			case malipo.AsError(err).Code == "insufficient_funds":
				refused++
			default:
				t.Errorf("payout %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if sent != 5 || refused != 55 {
		t.Errorf("%d payouts sent and %d refused for funds, want 5 and 55", sent, refused)
	}
	bs, err := svcs[1].Balances(ctx, in)
	if err != nil || len(bs) != 1 || bs[0].Available != 0 || bs[0].Reserved != 50_000 {
		t.Errorf("balances: %+v, %v; want nothing available and 50,000 reserved", bs, err)
	}
	if r, err := svcs[1].Verify(ctx); err != nil || !r.Clean() {
		t.Errorf("audit: %+v, %v", r, err)
	}
}
