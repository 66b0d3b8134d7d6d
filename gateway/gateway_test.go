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
	"github.com/malipo/malipo/store/storetest"
)

type env struct {
	svc   *gateway.Service
	clock *clock.Fake
	integ malipo.Integration
	key   string
}

// forEachStore runs fn against a real SQLite file and, when
// MALIPO_TEST_DATABASE_URL is set, a real PostgreSQL schema.
func forEachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.Each(t, func(t *testing.T, st store.Store) { fn(t, newEnv(t, st)) })
}

func newEnv(t testing.TB, st store.Store) *env {
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	sb := sandbox.New(st, clk, 5*time.Second, nil)
	svc := gateway.New(gateway.Config{
		Store: lockOrder(t, st), Clock: clk, IDs: ids.New(clk.Now, rand.New(rand.NewSource(1))),
		Rails:   map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()},
		BaseURL: "http://pay.test",
	})
	sb.Connect(svc)
	ctx := context.Background()
	m, err := svc.CreateMerchant(ctx, "Duka", "")
	if err != nil {
		t.Fatal(err)
	}
	integ, creds, err := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest, Fee: malipo.FeeRule{BasisPoints: 200}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, clock: clk, integ: integ, key: creds["secret_key"]}
}

func (e *env) create(t *testing.T, req gateway.PaymentInput) malipo.Payment {
	t.Helper()
	p, _, err := e.svc.CreatePayment(context.Background(), e.integ, req, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) get(t *testing.T, id string) malipo.Payment {
	t.Helper()
	p, err := e.svc.GetPayment(context.Background(), e.integ, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) verify(t *testing.T) {
	t.Helper()
	r, err := e.svc.Verify(context.Background())
	if err != nil || !r.Clean() {
		t.Fatalf("ledger audit: %+v, %v", r, err)
	}
}

func momo(ref, phone string) gateway.PaymentInput {
	return gateway.PaymentInput{Amount: 10000, Currency: "RWF", Reference: ref, Method: "mobile_money", Phone: phone}
}

func TestMobileMoneyOutcomes(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		cases := []struct {
			phone string
			want  malipo.PaymentStatus
			code  string
		}{
			{"+250788120000", malipo.PaymentSucceeded, ""},
			{"250788120001", malipo.PaymentFailed, "insufficient_funds"},
			{"+250788120002", malipo.PaymentFailed, "customer_declined"},
			{"+250788120003", malipo.PaymentExpired, "expired"},
			{"+250788120004", malipo.PaymentFailed, "invalid_account"},
		}
		var ids []string
		for i, c := range cases {
			p := e.create(t, momo(fmt.Sprintf("order-%d", i), c.phone))
			if c.code == "invalid_account" {
				if p.Status != malipo.PaymentFailed {
					t.Errorf("refused push: status %s, want failed at once", p.Status)
				}
			} else if p.Status != malipo.PaymentProcessing || p.Operator != "mtn-rw" {
				t.Errorf("after push: status %s operator %q", p.Status, p.Operator)
			}
			ids = append(ids, p.ID)
		}
		e.clock.Advance(5 * time.Second)
		e.clock.Advance(31 * time.Minute)
		if _, err := e.svc.ExpireDue(context.Background(), 100); err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			p := e.get(t, ids[i])
			if p.Status != c.want || p.FailureCode != c.code {
				t.Errorf("%s: status %s (%s), want %s (%s)", c.phone, p.Status, p.FailureCode, c.want, c.code)
			}
		}
		bs, err := e.svc.Balances(context.Background(), e.integ)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) != 1 || bs[0].Available != 9800 || bs[0].Currency != "RWF" {
			t.Errorf("balances = %+v, want 9800 RWF available (10000 less 2%%)", bs)
		}
		if p := e.get(t, ids[0]); p.Fee != 200 {
			t.Errorf("fee = %d, want 200", p.Fee)
		}
		e.verify(t)
	})
}

func TestCheckoutPaymentAndForcedOutcome(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := e.create(t, gateway.PaymentInput{Amount: 2500, Currency: "xof", Reference: "inv-1", Channels: []string{"card"}})
		if p.Status != malipo.PaymentPending || e.svc.CheckoutURL(p) != "http://pay.test/pay/"+p.CheckoutToken || len(p.CheckoutToken) < 32 {
			t.Errorf("new payment %+v, url %s", p, e.svc.CheckoutURL(p))
		}
		byToken, err := e.svc.PaymentByCheckoutToken(ctx, p.CheckoutToken)
		if err != nil || byToken.ID != p.ID {
			t.Errorf("PaymentByCheckoutToken = %v, %v", byToken.ID, err)
		}
		for _, bad := range []string{"", p.CheckoutToken[:26], p.CheckoutToken[:len(p.CheckoutToken)-1] + "x", "x" + p.CheckoutToken[1:]} {
			if _, err := e.svc.PaymentByCheckoutToken(ctx, bad); malipo.KindOf(err) != malipo.KindNotFound {
				t.Errorf("PaymentByCheckoutToken(%q) = %v, want not found", bad, err)
			}
		}
		got, _, err := e.svc.ForceOutcome(ctx, e.integ, p.ID, "succeeded", gateway.Idempotency{})
		if err != nil || got.Status != malipo.PaymentSucceeded {
			t.Fatalf("force: %+v, %v", got, err)
		}
		// Final payments cannot change again, and nothing is posted twice.
		for _, o := range []string{"succeeded", "failed"} {
			if _, _, err := e.svc.ForceOutcome(ctx, e.integ, p.ID, o, gateway.Idempotency{}); malipo.KindOf(err) != malipo.KindConflict {
				t.Errorf("second outcome %s: %v, want conflict", o, err)
			}
		}
		if _, _, err := e.svc.CancelPayment(ctx, e.integ, p.ID, gateway.Idempotency{}); malipo.KindOf(err) != malipo.KindConflict {
			t.Errorf("cancel of a succeeded payment: %v, want conflict", err)
		}
		if _, _, err := e.svc.ForceOutcome(ctx, e.integ, p.ID, "processing", gateway.Idempotency{}); malipo.KindOf(err) != malipo.KindInvalid {
			t.Errorf("outcome processing: %v, want invalid", err)
		}
		live := e.integ
		live.Mode = malipo.ModeLive
		if _, _, err := e.svc.ForceOutcome(ctx, live, p.ID, "failed", gateway.Idempotency{}); malipo.KindOf(err) != malipo.KindForbidden {
			t.Errorf("live outcome: %v, want forbidden", err)
		}
		e.verify(t)
	})
}

func TestIdempotency(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		req := momo("idem-1", "+250788120000")
		idem := gateway.Idempotency{Key: "k-1", RequestHash: "h-1"}
		first, replay, err := e.svc.CreatePayment(ctx, e.integ, req, idem)
		if err != nil || replay {
			t.Fatalf("first: %v, replay=%v", err, replay)
		}
		e.clock.Advance(time.Minute) // the payment succeeds meanwhile
		again, replay, err := e.svc.CreatePayment(ctx, e.integ, req, idem)
		if err != nil || !replay || again.ID != first.ID || again.Status != first.Status {
			t.Errorf("replay: %+v (replay=%v), %v; want the first answer %s %s", again, replay, err, first.ID, first.Status)
		}
		_, _, err = e.svc.CreatePayment(ctx, e.integ, req, gateway.Idempotency{Key: "k-1", RequestHash: "other"})
		if e := malipo.AsError(err); e.Kind != malipo.KindConflict || e.Code != "idempotency_key_reused" {
			t.Errorf("reuse with another body: %v", err)
		}
		// Racing twins with one key create one payment.
		var wg sync.WaitGroup
		got := make([]string, 10)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, _, err := e.svc.CreatePayment(ctx, e.integ, gateway.PaymentInput{Amount: 100, Currency: "RWF", Reference: "twin"}, gateway.Idempotency{Key: "twin", RequestHash: "h"})
				if err != nil {
					t.Errorf("twin: %v", err)
				}
				got[i] = p.ID
			}()
		}
		wg.Wait()
		for _, id := range got {
			if id != got[0] {
				t.Fatalf("twins got different payments: %v", got)
			}
		}
		// After 24 hours the key is forgotten.
		e.clock.Advance(25 * time.Hour)
		if _, _, err := e.svc.CreatePayment(ctx, e.integ, momo("idem-2", "+250788120000"), idem); err != nil {
			t.Errorf("key reuse after 24 h: %v", err)
		}
	})
}

func TestBadInputChangesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ok := gateway.PaymentInput{Amount: 100, Currency: "XOF", Reference: "r"}
		bad := map[string]func(p *gateway.PaymentInput){
			"zero amount":     func(p *gateway.PaymentInput) { p.Amount = 0 },
			"negative amount": func(p *gateway.PaymentInput) { p.Amount = -5 },
			"huge amount":     func(p *gateway.PaymentInput) { p.Amount = malipo.MaxAmount + 1 },
			"no currency":     func(p *gateway.PaymentInput) { p.Currency = "" },
			"bad currency":    func(p *gateway.PaymentInput) { p.Currency = "XXX" },
			"no reference":    func(p *gateway.PaymentInput) { p.Reference = "" },
			"bad channel":     func(p *gateway.PaymentInput) { p.Channels = []string{"bitcoin"} },
			"bad url":         func(p *gateway.PaymentInput) { p.ReturnURL = "javascript:alert(1)" },
			"method no phone": func(p *gateway.PaymentInput) { p.Method = "mobile_money" },
			"bad phone":       func(p *gateway.PaymentInput) { p.Method, p.Phone = "mobile_money", "12345" },
			"card at create":  func(p *gateway.PaymentInput) { p.Method = "card" },
			"method not offered": func(p *gateway.PaymentInput) {
				p.Method, p.Phone, p.Channels = "mobile_money", "+250788120000", []string{"card"}
			},
			"phone without method": func(p *gateway.PaymentInput) { p.Phone = "+250788120000" },
		}
		for name, mutate := range bad {
			req := ok
			mutate(&req)
			if _, _, err := e.svc.CreatePayment(context.Background(), e.integ, req, gateway.Idempotency{}); malipo.KindOf(err) != malipo.KindInvalid {
				t.Errorf("%s: err %v, want invalid", name, err)
			}
		}
		ps, err := e.svc.ListPayments(context.Background(), e.integ, store.PaymentFilter{Limit: 100})
		if err != nil || len(ps) != 0 {
			t.Errorf("bad input created %d payments (%v)", len(ps), err)
		}
		e.create(t, ok)
		if _, _, err := e.svc.CreatePayment(context.Background(), e.integ, ok, gateway.Idempotency{}); malipo.AsError(err).Code != "reference_in_use" {
			t.Errorf("reused reference: %v", err)
		}
	})
}

func TestMerchantsSeeOnlyTheirPayments(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := e.create(t, gateway.PaymentInput{Amount: 100, Currency: "XOF", Reference: "r"})
		m2, _ := e.svc.CreateMerchant(ctx, "Other", "")
		other, _, err := e.svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m2.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GetPayment(ctx, other, p.ID); malipo.KindOf(err) != malipo.KindNotFound {
			t.Errorf("other merchant read: %v", err)
		}
		if _, _, err := e.svc.CancelPayment(ctx, other, p.ID, gateway.Idempotency{}); malipo.KindOf(err) != malipo.KindNotFound {
			t.Errorf("other merchant cancel: %v", err)
		}
		live, creds, err := e.svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: e.integ.MerchantID, Flavor: malipo.FlavorNative, Mode: malipo.ModeLive})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GetPayment(ctx, live, p.ID); malipo.KindOf(err) != malipo.KindNotFound {
			t.Errorf("live key read a test payment: %v", err)
		}
		if _, _, err := e.svc.CreatePayment(ctx, live, momo("l1", "+250788120000"), gateway.Idempotency{}); malipo.KindOf(err) != malipo.KindUnavailable {
			t.Errorf("live push without live rails: %v, want unavailable", err)
		}
		got, err := e.svc.Authenticate(ctx, creds["secret_key"])
		if err != nil || got.ID != live.ID {
			t.Errorf("Authenticate(live key) = %v, %v", got.ID, err)
		}
		for _, k := range []string{"", "sk_test_nope", "pk_test_x", "sk_live_" + creds["secret_key"][8:] + "x"} {
			if _, err := e.svc.Authenticate(ctx, k); malipo.KindOf(err) != malipo.KindUnauthorized {
				t.Errorf("Authenticate(%q): %v", k, err)
			}
		}
		if _, err := e.svc.Authenticate(ctx, "sk_test_"+creds["secret_key"][8:]); malipo.KindOf(err) != malipo.KindUnauthorized {
			t.Errorf("a live key relabelled as test was accepted: %v", err)
		}
	})
}

// TestManyPaymentsAuditClean runs payments of every outcome concurrently
// and proves the ledger afterwards.
func TestManyPaymentsAuditClean(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		suffixes := []string{"0000", "0001", "0002", "0003", "0004", "7777"}
		var wg sync.WaitGroup
		for i := 0; i < 120; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ref := fmt.Sprintf("bulk-%03d", i)
				switch i % 4 {
				case 0, 1:
					if _, _, err := e.svc.CreatePayment(ctx, e.integ, momo(ref, "+25078812"+suffixes[i%len(suffixes)]), gateway.Idempotency{}); err != nil {
						t.Error(err)
					}
				case 2:
					p, _, err := e.svc.CreatePayment(ctx, e.integ, gateway.PaymentInput{Amount: int64(100 + i), Currency: "XOF", Reference: ref}, gateway.Idempotency{})
					if err == nil {
						_, _, err = e.svc.ForceOutcome(ctx, e.integ, p.ID, []string{"succeeded", "failed", "cancelled", "expired"}[i%4/2+i%3], gateway.Idempotency{})
					}
					if err != nil {
						t.Error(err)
					}
				case 3:
					p, _, err := e.svc.CreatePayment(ctx, e.integ, gateway.PaymentInput{Amount: 999, Currency: "KES", Reference: ref}, gateway.Idempotency{})
					if err == nil && i%2 == 1 {
						_, _, err = e.svc.CancelPayment(ctx, e.integ, p.ID, gateway.Idempotency{})
					}
					if err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		e.clock.Advance(10 * time.Second)
		e.clock.Advance(time.Hour)
		for {
			n, err := e.svc.ExpireDue(ctx, 7)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		ps, err := e.svc.ListPayments(ctx, e.integ, store.PaymentFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		count := map[malipo.PaymentStatus]int{}
		for after := ""; ; {
			ps, err = e.svc.ListPayments(ctx, e.integ, store.PaymentFilter{Limit: 100, StartingAfter: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				count[p.Status]++
			}
			if len(ps) < 100 {
				break
			}
			after = ps[len(ps)-1].ID
		}
		for _, st := range []malipo.PaymentStatus{"succeeded", "failed", "cancelled", "expired"} {
			if count[st] == 0 {
				t.Errorf("no %s payment in the mix: %v", st, count)
			}
		}
		if count["pending"]+count["processing"] != 0 {
			t.Errorf("unfinished payments remain: %v", count)
		}
		e.verify(t)
		r, _ := e.svc.Verify(ctx)
		if r.Payments != count["succeeded"] {
			t.Errorf("audit saw %d succeeded payments, want %d", r.Payments, count["succeeded"])
		}
	})
}

// A number written without its country code is dialled in the chosen
// operator's country, or the currency's when one country uses it, for a
// push at creation and for a payout as for the checkout page; where
// neither says (XOF spans eight countries), it is refused.
func TestNationalNumbersAreReadInTheirCountry(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, c := range []struct{ currency, phone, operator, want string }{
			{"RWF", "0788 12 00 00", "", "+250788120000"},
			{"XOF", "07 07 12 00 00", "orange-ci", "+2250707120000"},
			{"XOF", "07 07 12 00 00", "", ""},
		} {
			p, _, err := e.svc.CreatePayment(ctx, e.integ, gateway.PaymentInput{Amount: 10000, Currency: c.currency, Reference: "n-" + c.currency + c.operator,
				Method: "mobile_money", Phone: c.phone, Operator: c.operator}, gateway.Idempotency{})
			if c.want == "" {
				wantCode(t, err, "phone_invalid")
				continue
			}
			if err != nil || p.Phone != c.want {
				t.Errorf("%s %s %s: %q %v, want %s", c.currency, c.phone, c.operator, p.Phone, err, c.want)
			}
		}
		if _, err := e.svc.Topup(ctx, e.integ, 50_000, "RWF"); err != nil {
			t.Fatal(err)
		}
		po, _, err := e.svc.CreatePayout(ctx, e.integ, gateway.PayoutInput{Amount: 1000, Currency: "RWF", Reference: "po-n",
			Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: "0788120000"}}, gateway.Idempotency{})
		if err != nil || po.Destination.Account != "+250788120000" {
			t.Errorf("payout to a national number: %+v %v", po.Destination, err)
		}
	})
}
