package gateway_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
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
	"github.com/malipo/malipo/store/storetest"
)

// money is a gateway with every sandbox rail, on a fake clock.
type money struct {
	svc   *gateway.Service
	clock *clock.Fake
	integ malipo.Integration
	other malipo.Merchant
}

func newMoney(t testing.TB, st store.Store, rules malipo.Rules) *money {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	sb := sandbox.New(st, clk, 5*time.Second, nil)
	sb.Payouts.Delay = 10 * time.Second
	svc := gateway.New(gateway.Config{Store: lockOrder(t, st), Clock: clk, IDs: ids.New(clk.Now, rand.New(rand.NewSource(9))), BaseURL: "http://pay.test",
		Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
	sb.Connect(svc)
	ctx := context.Background()
	m, _ := svc.CreateMerchant(ctx, "Duka", "")
	other, _ := svc.CreateMerchant(ctx, "Jirani", "")
	integ, _, err := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest,
		Fee: malipo.FeeRule{BasisPoints: 100}, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	return &money{svc: svc, clock: clk, integ: integ, other: other}
}

func (m *money) balance(t *testing.T, merchant string, cur malipo.Currency) malipo.Balance {
	t.Helper()
	bs, err := m.svc.Balances(context.Background(), malipo.Integration{MerchantID: merchant, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Currency == cur {
			return b
		}
	}
	return malipo.Balance{Currency: cur}
}

func (m *money) topup(t *testing.T, amount int64, cur string) {
	t.Helper()
	if _, err := m.svc.Topup(context.Background(), m.integ, amount, cur); err != nil {
		t.Fatal(err)
	}
}

func (m *money) verify(t *testing.T) {
	t.Helper()
	r, err := m.svc.Verify(context.Background())
	if err != nil || !r.Clean() {
		t.Fatalf("ledger audit: %+v, %v", r, err)
	}
}

func toPhone(phone string) malipo.Destination {
	return malipo.Destination{Type: malipo.DestinationMobileMoney, Account: phone}
}

func TestConcurrentPayoutsNeverOverspend(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		m := newMoney(t, st, malipo.Rules{})
		m.topup(t, 50_000, "KES") // covers five payouts of 10,000
		var wg sync.WaitGroup
		var mu sync.Mutex
		succeeded, insufficient := 0, 0
		for i := range 50 {
			wg.Go(func() {
				_, _, err := m.svc.CreatePayout(context.Background(), m.integ, gateway.PayoutInput{Amount: 10_000, Currency: "KES",
					Reference: fmt.Sprintf("po-%d", i), Destination: toPhone(fmt.Sprintf("+2547123%05d", i+10))}, gateway.Idempotency{})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					succeeded++
				case malipo.KindOf(err) == malipo.KindInsufficientFunds:
					insufficient++
				default:
					t.Errorf("payout %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if succeeded != 5 || insufficient != 45 {
			t.Errorf("%d payouts accepted and %d refused for funds, want 5 and 45", succeeded, insufficient)
		}
		if b := m.balance(t, m.integ.MerchantID, "KES"); b.Available != 0 || b.Reserved != 50_000 {
			t.Errorf("balance while the payouts are under way: %+v", b)
		}
		m.clock.Advance(10 * time.Second)
		if b := m.balance(t, m.integ.MerchantID, "KES"); b.Available != 0 || b.Reserved != 0 {
			t.Errorf("balance after the payouts: %+v", b)
		}
		m.verify(t)
	})
}

func TestPayoutOutcomesAndFees(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		m := newMoney(t, st, malipo.Rules{Fees: map[string]malipo.FeeRule{"payout": {Fixed: 50}}})
		ctx := context.Background()
		m.topup(t, 100_000, "KES")
		ok, _, err := m.svc.CreatePayout(ctx, m.integ, gateway.PayoutInput{Amount: 10_000, Currency: "KES", Reference: "ok",
			Destination: malipo.Destination{Type: malipo.DestinationPaybill, Account: "888880", AccountReference: "ACC-77", Name: "KPLC"}}, gateway.Idempotency{})
		if err != nil || ok.Status != malipo.PayoutProcessing || ok.Fee != 50 || ok.RailReference == "" {
			t.Fatalf("paybill payout: %+v, %v", ok, err)
		}
		limit, _, err := m.svc.CreatePayout(ctx, m.integ, gateway.PayoutInput{Amount: 20_000, Currency: "KES", Reference: "limit",
			Destination: toPhone("+254712340001")}, gateway.Idempotency{})
		if err != nil || limit.Status != malipo.PayoutProcessing {
			t.Fatalf("payout to a full wallet: %+v, %v", limit, err)
		}
		refused, _, err := m.svc.CreatePayout(ctx, m.integ, gateway.PayoutInput{Amount: 5_000, Currency: "KES", Reference: "refused",
			Destination: toPhone("+254712340004")}, gateway.Idempotency{})
		if err != nil || refused.Status != malipo.PayoutFailed || refused.FailureCode != "invalid_account" {
			t.Fatalf("refused payout: %+v, %v", refused, err)
		}
		if b := m.balance(t, m.integ.MerchantID, "KES"); b.Available != 100_000-10_050-20_050 || b.Reserved != 30_100 {
			t.Errorf("balance in flight: %+v", b)
		}
		m.clock.Advance(10 * time.Second)
		got, _ := m.svc.GetPayout(ctx, m.integ, limit.ID)
		if got.Status != malipo.PayoutFailed || got.FailureCode != "recipient_limit_exceeded" {
			t.Errorf("full wallet: %+v", got)
		}
		if got, _ := m.svc.GetPayout(ctx, m.integ, ok.ID); got.Status != malipo.PayoutSucceeded {
			t.Errorf("paybill: %+v", got)
		}
		if b := m.balance(t, m.integ.MerchantID, "KES"); b.Available != 100_000-10_050 || b.Reserved != 0 {
			t.Errorf("balance after: %+v, want only the successful payout and its fee gone", b)
		}
		// Insufficient funds says how much there is, as iPay does.
		_, _, err = m.svc.CreatePayout(ctx, m.integ, gateway.PayoutInput{Amount: 100_000, Currency: "KES", Reference: "big",
			Destination: toPhone("+254712349999")}, gateway.Idempotency{})
		if e := malipo.AsError(err); e.Kind != malipo.KindInsufficientFunds || e.Message != "amount available is not enough 899.50" {
			t.Errorf("insufficient funds: %v", err)
		}
		for _, bad := range []gateway.PayoutInput{
			{Amount: 1, Currency: "KES", Reference: "b1", Destination: malipo.Destination{Type: "bank", Account: "1"}},
			{Amount: 1, Currency: "KES", Reference: "b2", Destination: malipo.Destination{Type: malipo.DestinationPaybill, Account: "888880"}},
			{Amount: 1, Currency: "KES", Reference: "b3", Destination: malipo.Destination{Type: malipo.DestinationTill, Account: "12a45"}},
			{Amount: 1, Currency: "KES", Reference: "b4", Destination: toPhone("12")},
			{Amount: 0, Currency: "KES", Reference: "b5", Destination: toPhone("+254712340000")},
			{Amount: 1, Currency: "KES", Reference: "b6", Destination: malipo.Destination{Type: malipo.DestinationMerchant, Account: m.integ.MerchantID}},
		} {
			if _, _, err := m.svc.CreatePayout(ctx, m.integ, bad, gateway.Idempotency{}); malipo.KindOf(err) != malipo.KindInvalid {
				t.Errorf("%+v: %v, want invalid", bad, err)
			}
		}
		m.verify(t)
	})
}

func TestPayoutVelocity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		m := newMoney(t, st, malipo.Rules{})
		ctx := context.Background()
		m.topup(t, 100_000, "RWF")
		pay := func(ref string) error {
			_, _, err := m.svc.CreatePayout(ctx, m.integ, gateway.PayoutInput{Amount: 1_000, Currency: "RWF", Reference: ref,
				Destination: toPhone("250788120000")}, gateway.Idempotency{})
			return err
		}
		for i := range 3 {
			if err := pay(fmt.Sprintf("v-%d", i)); err != nil {
				t.Fatal(err)
			}
			m.clock.Advance(time.Hour)
		}
		err := pay("v-3")
		if e := malipo.AsError(err); e.Kind != malipo.KindRateLimited || !strings.Contains(e.Message, "too many requests to the same phone") {
			t.Fatalf("4th payout in 24 h: %v", err)
		}
		m.clock.Advance(21*time.Hour + time.Second) // the first payout leaves the window
		if err := pay("v-4"); err != nil {
			t.Errorf("after the window: %v", err)
		}
		if err := pay("v-5"); malipo.KindOf(err) != malipo.KindRateLimited {
			t.Errorf("the window rolls: %v", err)
		}
		m.verify(t)
	})
}

func TestPayoutIdempotencyAndReference(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		m := newMoney(t, st, malipo.Rules{MaxPayout: 50_000})
		ctx := context.Background()
		m.topup(t, 100_000, "XOF")
		in := gateway.PayoutInput{Amount: 10_000, Currency: "XOF", Reference: "salaire-mars", Destination: toPhone("+2250707120000")}
		idem := gateway.Idempotency{Key: "k1", RequestHash: "h1"}
		first, _, err := m.svc.CreatePayout(ctx, m.integ, in, idem)
		if err != nil {
			t.Fatal(err)
		}
		again, replay, err := m.svc.CreatePayout(ctx, m.integ, in, idem)
		if err != nil || !replay || again.ID != first.ID {
			t.Errorf("retry with the key: %+v %v %v", again, replay, err)
		}
		_, _, err = m.svc.CreatePayout(ctx, m.integ, in, gateway.Idempotency{Key: "k2", RequestHash: "h1"})
		if e := malipo.AsError(err); e.Kind != malipo.KindConflict || e.Code != "reference_in_use" {
			t.Errorf("same reference, new key: %v", err)
		}
		if b := m.balance(t, m.integ.MerchantID, "XOF"); b.Available != 90_000 || b.Reserved != 10_000 {
			t.Errorf("money moved more than once: %+v", b)
		}
		big := gateway.PayoutInput{Amount: 50_001, Currency: "XOF", Reference: "big", Destination: toPhone("+2250707120001")}
		if _, _, err := m.svc.CreatePayout(ctx, m.integ, big, gateway.Idempotency{}); malipo.AsError(err).Code != "amount_too_large" {
			t.Errorf("over the maximum payout: %v", err)
		}
		m.verify(t)
	})
}

func TestTransferBetweenMerchants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		m := newMoney(t, st, malipo.Rules{Fees: map[string]malipo.FeeRule{"payout": {BasisPoints: 100}}})
		ctx := context.Background()
		m.topup(t, 10_000, "RWF")
		p, _, err := m.svc.CreatePayout(ctx, m.integ, gateway.PayoutInput{Amount: 5_000, Currency: "RWF", Reference: "t-1",
			Destination: malipo.Destination{Type: malipo.DestinationMerchant, Account: m.other.ID}}, gateway.Idempotency{})
		if err != nil || p.Status != malipo.PayoutSucceeded || p.Fee != 50 || p.Destination.Name != "Jirani" {
			t.Fatalf("transfer: %+v, %v", p, err)
		}
		if b := m.balance(t, m.integ.MerchantID, "RWF"); b.Available != 4_950 {
			t.Errorf("sender: %+v", b)
		}
		if b := m.balance(t, m.other.ID, "RWF"); b.Available != 5_000 {
			t.Errorf("receiver: %+v", b)
		}
		_, _, err = m.svc.CreatePayout(ctx, m.integ, gateway.PayoutInput{Amount: 1, Currency: "RWF", Reference: "t-2",
			Destination: malipo.Destination{Type: malipo.DestinationMerchant, Account: "mer_nope"}}, gateway.Idempotency{})
		if malipo.AsError(err).Code != "account_invalid" {
			t.Errorf("transfer to nobody: %v", err)
		}
		m.verify(t)
	})
}

func TestRefunds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		m := newMoney(t, st, malipo.Rules{})
		ctx := context.Background()
		p, _, err := m.svc.CreatePayment(ctx, m.integ, gateway.PaymentInput{Amount: 10_000, Currency: "RWF", Reference: "r-1",
			Method: "mobile_money", Phone: "+250788120000"}, gateway.Idempotency{})
		if err != nil {
			t.Fatal(err)
		}
		refund := func(amount int64) (malipo.Refund, error) {
			r, _, err := m.svc.CreateRefund(ctx, m.integ, gateway.RefundInput{PaymentID: p.ID, Amount: amount, Reason: "damaged"}, gateway.Idempotency{})
			return r, err
		}
		if _, err := refund(100); malipo.AsError(err).Code != "payment_not_refundable" {
			t.Errorf("refund of a processing payment: %v", err)
		}
		m.clock.Advance(5 * time.Second) // paid: 9,900 available after the 1 % fee
		r, err := refund(4_000)
		if err != nil || r.Status != malipo.RefundSucceeded || r.Amount != 4_000 {
			t.Fatalf("partial refund: %+v, %v", r, err)
		}
		if _, err := refund(6_001); malipo.AsError(err).Code != "amount_too_large" {
			t.Errorf("refund beyond what is left: %v", err)
		}
		// 6,000 is left of the payment, but only 5,900 is available.
		if _, err := refund(0); malipo.KindOf(err) != malipo.KindInsufficientFunds {
			t.Errorf("refund beyond the balance: %v", err)
		}
		m.topup(t, 100, "RWF")
		r, err = refund(0)
		if err != nil || r.Amount != 6_000 {
			t.Fatalf("refund of the rest: %+v, %v", r, err)
		}
		if _, err := refund(1); malipo.AsError(err).Code != "payment_fully_refunded" {
			t.Errorf("refund of a refunded payment: %v", err)
		}
		if got, _ := m.svc.GetPayment(ctx, m.integ, p.ID); got.AmountRefunded != 10_000 {
			t.Errorf("amount_refunded = %d", got.AmountRefunded)
		}
		if b := m.balance(t, m.integ.MerchantID, "RWF"); b.Available != 0 || b.Reserved != 0 {
			t.Errorf("balance after refunds: %+v", b)
		}
		m.verify(t)
	})
}

func TestSettlementDelay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		m := newMoney(t, st, malipo.Rules{SettlementDelay: 24 * time.Hour})
		ctx := context.Background()
		if _, _, err := m.svc.CreatePayment(ctx, m.integ, gateway.PaymentInput{Amount: 10_000, Currency: "RWF", Reference: "s-1",
			Method: "mobile_money", Phone: "+250788120000"}, gateway.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		m.clock.Advance(5 * time.Second)
		if b := m.balance(t, m.integ.MerchantID, "RWF"); b.Pending != 9_900 || b.Available != 0 {
			t.Errorf("before settlement: %+v", b)
		}
		_, _, err := m.svc.CreatePayout(ctx, m.integ, gateway.PayoutInput{Amount: 1_000, Currency: "RWF", Reference: "early",
			Destination: toPhone("+250788120000")}, gateway.Idempotency{})
		if malipo.KindOf(err) != malipo.KindInsufficientFunds {
			t.Errorf("pending money was paid out: %v", err)
		}
		if n, err := m.svc.SettleDue(ctx, 100); err != nil || n != 0 {
			t.Errorf("settled early: %d, %v", n, err)
		}
		m.clock.Advance(24 * time.Hour)
		if n, err := m.svc.SettleDue(ctx, 100); err != nil || n != 1 {
			t.Errorf("SettleDue = %d, %v", n, err)
		}
		if b := m.balance(t, m.integ.MerchantID, "RWF"); b.Pending != 0 || b.Available != 9_900 {
			t.Errorf("after settlement: %+v", b)
		}
		m.verify(t)
	})
}

// TestRandomMoneyMovements runs a seeded random mix of payments, payouts,
// transfers and refunds, then checks that every figure adds up and no
// merchant balance ever went below zero.
func TestRandomMoneyMovements(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		m := newMoney(t, st, malipo.Rules{PayoutsPerDestination: 1000, Fees: map[string]malipo.FeeRule{"payout": {BasisPoints: 50, Fixed: 10}}})
		ctx := context.Background()
		rnd := rand.New(rand.NewSource(42))
		var paid []string
		for i := range 300 {
			switch op := rnd.Intn(10); {
			case op < 4:
				phone := fmt.Sprintf("+25078812%04d", []int{0, 0, 0, 1, 2, 3}[rnd.Intn(6)])
				p, _, err := m.svc.CreatePayment(ctx, m.integ, gateway.PaymentInput{Amount: int64(500 + rnd.Intn(20_000)), Currency: "RWF",
					Reference: fmt.Sprintf("p-%d", i), Method: "mobile_money", Phone: phone}, gateway.Idempotency{})
				if err != nil {
					t.Fatal(err)
				}
				paid = append(paid, p.ID)
			case op < 7:
				account := fmt.Sprintf("+25078834%04d", rnd.Intn(3)) // some fail, some are refused
				_, _, err := m.svc.CreatePayout(ctx, m.integ, gateway.PayoutInput{Amount: int64(100 + rnd.Intn(15_000)), Currency: "RWF",
					Reference: fmt.Sprintf("o-%d", i), Destination: toPhone(account)}, gateway.Idempotency{})
				if err != nil && malipo.KindOf(err) != malipo.KindInsufficientFunds {
					t.Fatal(err)
				}
			case op < 8:
				_, _, err := m.svc.CreatePayout(ctx, m.integ, gateway.PayoutInput{Amount: int64(100 + rnd.Intn(5_000)), Currency: "RWF",
					Reference: fmt.Sprintf("t-%d", i), Destination: malipo.Destination{Type: malipo.DestinationMerchant, Account: m.other.ID}}, gateway.Idempotency{})
				if err != nil && malipo.KindOf(err) != malipo.KindInsufficientFunds {
					t.Fatal(err)
				}
			default:
				if len(paid) == 0 {
					continue
				}
				_, _, err := m.svc.CreateRefund(ctx, m.integ, gateway.RefundInput{PaymentID: paid[rnd.Intn(len(paid))], Amount: int64(1 + rnd.Intn(3_000))}, gateway.Idempotency{})
				switch malipo.KindOf(err) {
				case malipo.KindInsufficientFunds, malipo.KindConflict, malipo.KindInvalid:
				default:
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			m.clock.Advance(time.Duration(rnd.Intn(4000)) * time.Millisecond)
			if i%50 == 0 {
				m.verify(t)
			}
		}
		m.clock.Advance(time.Hour)
		r, err := m.svc.Verify(ctx)
		if err != nil || !r.Clean() {
			t.Fatalf("ledger audit: %+v, %v", r, err)
		}
		if r.Payouts < 50 || r.Refunds < 10 || r.Payments < 30 {
			t.Errorf("the run exercised too little: %+v", r)
		}
		t.Logf("audit: %d entries, %d payments, %d payouts, %d refunds", r.Entries, r.Payments, r.Payouts, r.Refunds)
	})
}

// flaky is the sandbox's payout and refund rails behind a link that is
// down until up is set: Send and Refund fail as an unreachable rail does.
type flaky struct {
	*sandbox.Payouts
	refunds *sandbox.Refunds
	mu      sync.Mutex
	up      bool
}

func (f *flaky) Send(ctx context.Context, p rails.PayoutRequest) (string, error) {
	f.mu.Lock()
	up := f.up
	f.mu.Unlock()
	if !up {
		return "", malipo.Errorf(malipo.KindInternal, "unreachable", "connection refused")
	}
	return f.Payouts.Send(ctx, p)
}

func (f *flaky) down() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.up {
		return malipo.Errorf(malipo.KindInternal, "unreachable", "connection refused")
	}
	return nil
}

func (f *flaky) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	if err := f.down(); err != nil {
		return rails.Outcome{}, err
	}
	return f.Payouts.Status(ctx, key, "")
}

type flakyRefunds struct{ *flaky }

func (f flakyRefunds) Name() string { return f.refunds.Name() }

func (f flakyRefunds) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	if err := f.down(); err != nil {
		return rails.Outcome{}, err
	}
	return f.refunds.Status(ctx, key, "")
}

func (f flakyRefunds) Refund(ctx context.Context, r rails.RefundRequest) (string, error) {
	f.mu.Lock()
	up := f.up
	f.mu.Unlock()
	if !up {
		return "", malipo.Errorf(malipo.KindInternal, "unreachable", "connection refused")
	}
	return f.refunds.Refund(ctx, r)
}

// A payout or refund committed while its rail was unreachable keeps its
// money reserved; the reconciler asks the rail about it, learns the rail
// never received it, and sends it again under the same key; the ledger
// balances throughout.
func TestPayoutsAndRefundsTheRailNeverGotAreSentAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
		sb := sandbox.New(st, clk, 10*time.Second, nil)
		link := &flaky{Payouts: sb.Payouts, refunds: sb.Refunds}
		set := sb.Set()
		set.Payouts, set.Refunds = rails.OnePayouts(link), flakyRefunds{link}
		svc := gateway.New(gateway.Config{Store: lockOrder(t, st), Clock: clk, IDs: ids.New(clk.Now, rand.New(rand.NewSource(11))),
			Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: set}})
		sb.Connect(svc)
		ctx := context.Background()
		m, _ := svc.CreateMerchant(ctx, "Duka", "")
		in, _, _ := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
		svc.Topup(ctx, in, 50_000, "RWF")
		pay, _, _ := svc.CreatePayment(ctx, in, gateway.PaymentInput{Amount: 10_000, Currency: "RWF", Reference: "p", Method: "mobile_money", Phone: "+250788120000"}, gateway.Idempotency{})
		clk.Advance(10 * time.Second)

		po, _, err := svc.CreatePayout(ctx, in, gateway.PayoutInput{Amount: 5_000, Currency: "RWF", Reference: "out", Destination: toPhone("+250788990000")}, gateway.Idempotency{})
		if err != nil || po.Status != malipo.PayoutQueued {
			t.Fatalf("payout with the rail down: %+v, %v", po, err)
		}
		re, _, err := svc.CreateRefund(ctx, in, gateway.RefundInput{PaymentID: pay.ID, Amount: 1_000}, gateway.Idempotency{})
		if err != nil || re.Status != malipo.RefundPending {
			t.Fatalf("refund with the rail down: %+v, %v", re, err)
		}
		bs, _ := svc.Balances(ctx, in)
		if bs[0].Reserved != 6_000 {
			t.Errorf("reserved while the rail is down: %+v", bs)
		}
		clk.Advance(30 * time.Second)
		if n, err := svc.Reconcile(ctx, 10); err != nil || n != 0 {
			t.Errorf("asked too early: %d, %v", n, err)
		}
		clk.Advance(time.Minute)
		if n, err := svc.Reconcile(ctx, 10); err != nil || n != 2 {
			t.Fatalf("Reconcile = %d, %v; want the payout and the refund", n, err)
		}
		if got, _ := svc.GetPayout(ctx, in, po.ID); got.Status != malipo.PayoutQueued {
			t.Errorf("payout while its rail is still down: %+v", got)
		}
		link.mu.Lock()
		link.up = true
		link.mu.Unlock()
		clk.Advance(30 * time.Second) // the backoff: asked again a minute after the first question
		if n, _ := svc.Reconcile(ctx, 10); n != 0 {
			t.Errorf("asked again before the backoff: %d", n)
		}
		clk.Advance(30 * time.Second)
		if n, err := svc.Reconcile(ctx, 10); err != nil || n != 2 {
			t.Fatalf("Reconcile = %d, %v; want the payout and the refund again", n, err)
		}
		if n, _ := svc.Reconcile(ctx, 10); n != 0 {
			t.Errorf("asked twice: %d", n)
		}
		clk.Advance(10 * time.Second)
		if got, _ := svc.GetPayout(ctx, in, po.ID); got.Status != malipo.PayoutSucceeded {
			t.Errorf("payout after the resend: %+v", got)
		}
		if got, _ := svc.GetRefund(ctx, in, re.ID); got.Status != malipo.RefundSucceeded {
			t.Errorf("refund after the resend: %+v", got)
		}
		bs, _ = svc.Balances(ctx, in)
		if bs[0].Reserved != 0 || bs[0].Available != 50_000+10_000-5_000-1_000 {
			t.Errorf("balance at the end: %+v", bs)
		}
		r, err := svc.Verify(ctx)
		if err != nil || !r.Clean() {
			t.Errorf("ledger: %+v %v", r, err)
		}
	})
}
