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
