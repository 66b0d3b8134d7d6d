package sandbox

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
)

type recorder struct {
	mu  sync.Mutex
	got []rails.Outcome
}

func (r *recorder) Settle(_ context.Context, o rails.Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, o)
	return nil
}

func TestMobileMoneyOutcomes(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rec := &recorder{}
	mm := &MobileMoney{Clock: clk, Delay: 3 * time.Second, Sink: rec}
	for _, suffix := range []string{"0000", "0001", "0002", "0003", "5555"} {
		if _, err := mm.Push(context.Background(), rails.Push{PaymentID: "pay_" + suffix, MSISDN: "+25078812" + suffix}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := mm.Push(context.Background(), rails.Push{PaymentID: "pay_0004", MSISDN: "+250788120004"})
	if e := malipo.AsError(err); err == nil || e.Code != "invalid_account" {
		t.Errorf("push to ...0004: %v, want invalid_account", err)
	}
	clk.Advance(2 * time.Second)
	if len(rec.got) != 0 {
		t.Fatalf("outcomes before the delay: %v", rec.got)
	}
	clk.Advance(time.Second)
	want := map[string]malipo.PaymentStatus{"pay_0000": "succeeded", "pay_0001": "failed", "pay_0002": "failed", "pay_5555": "succeeded"}
	if len(rec.got) != len(want) {
		t.Fatalf("got %d outcomes, want %d: %v", len(rec.got), len(want), rec.got)
	}
	for _, o := range rec.got {
		if want[o.PaymentID] != o.Status || o.RailReference == "" {
			t.Errorf("outcome %+v", o)
		}
	}
	if got := mm.Operator("+250788120000"); got != "mtn-rw" {
		t.Errorf("Operator = %q", got)
	}
}

func TestCards(t *testing.T) {
	c := &Cards{}
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	charge := func(pan string, month, year int, cvv string) (rails.CardResult, error) {
		return c.Authorize(context.Background(), rails.Charge{Card: rails.Card{Number: pan, Month: month, Year: year, CVV: cvv}, Amount: 100, Currency: "USD", At: at})
	}
	seedCards := []string{"5101180000000007", "5555555555554444", "4111111111111111", "2222400070000005", "6771798025000004", "4988438843884305"}
	for _, pan := range seedCards {
		r, err := charge(pan, 12, 2030, "123")
		if err != nil || r.Decision != rails.CardApproved {
			t.Errorf("seed card %s: %+v, %v", pan, r, err)
		}
	}
	r, _ := charge("5555555555554444", 12, 2030, "123")
	if r.Masked != "555555xxxxxx4444" || r.Scheme != "MASTERCARD" {
		t.Errorf("masked %q scheme %q", r.Masked, r.Scheme)
	}
	for _, d := range DeclinedCards {
		r, err := charge(d.Number, 12, 2030, "123")
		if err != nil || r.Decision != d.Decision || r.Code != d.Code {
			t.Errorf("card %s: %+v, %v; want %s %s", d.Number, r, err, d.Decision, d.Code)
		}
	}
	if r, _ := charge("4111111111111111", 5, 2026, "123"); r.Decision != rails.CardDeclined || r.Code != "expired_card" {
		t.Errorf("expired card: %+v", r)
	}
	for _, bad := range []struct{ pan, cvv string }{{"4111111111111112", "123"}, {"4111111111111111", "12"}, {"4111111111111111", "12a"}} {
		if _, err := charge(bad.pan, 12, 2030, bad.cvv); malipo.KindOf(err) != malipo.KindInvalid {
			t.Errorf("card %s cvv %s: err %v, want invalid", bad.pan, bad.cvv, err)
		}
	}
	if s := (rails.Card{Number: "4111111111111111", CVV: "123"}).String(); strings.Contains(s, "4111111111111111") || strings.Contains(s, "123") {
		t.Errorf("Card.String leaks: %q", s)
	}
}

func TestStoredCardsKeepTheirBehaviourButNotTheirNumber(t *testing.T) {
	c := &Cards{}
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	cases := []struct {
		pan      string
		decision rails.CardDecision
		code     string
	}{
		{"5555555555554444", rails.CardApproved, ""},
		{"4000000000009995", rails.CardDeclined, "insufficient_funds"},
		{"4000000000003220", rails.CardApproved, ""}, // stored cards are charged without a challenge
	}
	for _, tc := range cases {
		sc, err := c.Tokenize(ctx, rails.Card{Number: tc.pan, Month: 12, Year: 2030, CVV: "123"}, at)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sc.NetworkToken, tc.pan[6:12]) || sc.Masked != rails.MaskPAN(tc.pan) || sc.ExpYear != 2030 {
			t.Errorf("stored card %+v", sc)
		}
		r, err := c.AuthorizeToken(ctx, rails.TokenCharge{NetworkToken: sc.NetworkToken, CVV: "321", ExpMonth: 12, ExpYear: 2030, Amount: 100, Currency: "RWF", At: at})
		if err != nil || r.Decision != tc.decision || r.Code != tc.code {
			t.Errorf("%s by token: %+v, %v; want %s %s", tc.pan, r, err, tc.decision, tc.code)
		}
	}
	if _, err := c.Tokenize(ctx, rails.Card{Number: "4111111111111111", Month: 1, Year: 2026, CVV: "123"}, at); malipo.AsError(err).Code != "expired_card" {
		t.Errorf("saving an expired card: %v", err)
	}
	if _, err := c.AuthorizeToken(ctx, rails.TokenCharge{NetworkToken: "sbxnt_ok_1", CVV: "1", ExpMonth: 12, ExpYear: 2030, At: at}); malipo.KindOf(err) != malipo.KindInvalid {
		t.Errorf("bad cvv by token: %v", err)
	}
	if r, _ := c.AuthorizeToken(ctx, rails.TokenCharge{NetworkToken: "sbxnt_ok_1", CVV: "123", ExpMonth: 5, ExpYear: 2026, At: at}); r.Code != "expired_card" {
		t.Errorf("expired stored card: %+v", r)
	}
	if r, _ := c.Authenticate(ctx, "SBXC000001", true); r.Decision != rails.CardApproved {
		t.Errorf("passed 3-D Secure: %+v", r)
	}
	if r, _ := c.Authenticate(ctx, "SBXC000001", false); r.Decision != rails.CardDeclined || r.Code != "authentication_failed" {
		t.Errorf("failed 3-D Secure: %+v", r)
	}
}

type countingSink struct{ n int }

func (c *countingSink) SettlePayout(context.Context, rails.PayoutOutcome) error { c.n++; return nil }

func TestResentPayoutsAndRefundsPayOnce(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	sink := &countingSink{}
	p := &Payouts{Clock: clk, Delay: time.Second, Sink: sink}
	req := rails.PayoutRequest{PayoutID: "po_1", Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: "+250788120000"}, Amount: 100, Currency: "RWF"}
	a, _ := p.Send(context.Background(), req)
	b, _ := p.Send(context.Background(), req)
	clk.Advance(time.Second)
	if a != b || sink.n != 1 {
		t.Errorf("a payout sent twice: references %s and %s, %d outcomes", a, b, sink.n)
	}
	r := &Refunds{}
	x, _ := r.Refund(context.Background(), rails.RefundRequest{RefundID: "re_1"})
	y, _ := r.Refund(context.Background(), rails.RefundRequest{RefundID: "re_1"})
	z, _ := r.Refund(context.Background(), rails.RefundRequest{RefundID: "re_2"})
	if x != y || x == z {
		t.Errorf("refund references %s %s %s", x, y, z)
	}
}
