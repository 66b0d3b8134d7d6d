package sandbox

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/sqlite"
)

type recorder struct {
	mu   sync.Mutex
	got  []rails.Outcome
	fail bool // refuse what is reported, as a gateway that cannot take it
}

func (r *recorder) Report(_ context.Context, rail string, o rails.Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return malipo.Errorf(malipo.KindInternal, "down", "the gateway is down")
	}
	r.got = append(r.got, o)
	return nil
}

func (r *recorder) outcomes() map[string]malipo.Verdict {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]malipo.Verdict{}
	for _, o := range r.got {
		out[o.Key] = o.Verdict
	}
	return out
}

func openStore(t *testing.T, path string) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newRails(t *testing.T, delay time.Duration) (*Rails, *clock.Fake, *recorder) {
	t.Helper()
	clk := clock.NewFake(start)
	r := New(openStore(t, filepath.Join(t.TempDir(), "sb.db")), clk, delay, nil)
	rec := &recorder{}
	r.Connect(rec)
	return r, clk, rec
}

func TestMobileMoneyOutcomes(t *testing.T) {
	sb, clk, rec := newRails(t, 3*time.Second)
	ctx := context.Background()
	for _, suffix := range []string{"0000", "0001", "0002", "0003", "5555"} {
		if _, err := sb.MobileMoney.Push(ctx, rails.Push{Key: "pay_" + suffix + "-1", MSISDN: "+25078812" + suffix, Amount: 100, Currency: "RWF"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := sb.MobileMoney.Push(ctx, rails.Push{Key: "pay_0004-1", MSISDN: "+250788120004"})
	if e := malipo.AsError(err); err == nil || e.Code != "invalid_account" || malipo.KindOf(err) != malipo.KindInvalid {
		t.Errorf("push to ...0004: %v, want invalid_account", err)
	}
	clk.Advance(2 * time.Second)
	if got := rec.outcomes(); len(got) != 0 {
		t.Fatalf("outcomes before the delay: %v", got)
	}
	if o, _ := sb.MobileMoney.Status(ctx, "pay_0000-1", ""); o.Verdict != malipo.VerdictPending {
		t.Errorf("status before the customer answers: %+v", o)
	}
	clk.Advance(time.Second)
	want := map[string]malipo.Verdict{"pay_0000-1": "succeeded", "pay_0001-1": "failed", "pay_0002-1": "failed", "pay_5555-1": "succeeded"}
	if got := rec.outcomes(); len(got) != len(want) {
		t.Fatalf("got outcomes %v, want %v", got, want)
	}
	for key, v := range want {
		o, err := sb.MobileMoney.Status(ctx, key, "")
		if err != nil || o.Verdict != v || o.RailReference == "" || o.Amount == 0 {
			t.Errorf("status of %s: %+v, %v; want %s", key, o, err, v)
		}
		if rec.outcomes()[key] != v {
			t.Errorf("reported %s for %s, want %s", rec.outcomes()[key], key, v)
		}
	}
	if o, _ := sb.MobileMoney.Status(ctx, "pay_0004-1", ""); o.Verdict != malipo.VerdictFailed || o.FailureCode != "invalid_account" {
		t.Errorf("status of a refused push: %+v", o)
	}
	if o, _ := sb.MobileMoney.Status(ctx, "pay_never-1", ""); o.Verdict != malipo.VerdictUnknown {
		t.Errorf("status of a push never sent: %+v", o)
	}
	// The customer who never answers is given up on by the operator.
	clk.Advance(OperatorTimeout)
	if o, _ := sb.MobileMoney.Status(ctx, "pay_0003-1", ""); o.Verdict != malipo.VerdictExpired {
		t.Errorf("status after the operator gave up: %+v", o)
	}
	if rec.outcomes()["pay_0003-1"] != malipo.VerdictExpired {
		t.Errorf("the operator's giving up was not reported: %v", rec.outcomes())
	}
	if got := sb.MobileMoney.Operator("+250788120000"); got != "mtn-rw" {
		t.Errorf("Operator = %q", got)
	}
}

// The same key twice is one push: one prompt, one reference, one outcome.
func TestPushIsIdempotentByKey(t *testing.T) {
	sb, clk, rec := newRails(t, time.Second)
	ctx := context.Background()
	a, err1 := sb.MobileMoney.Push(ctx, rails.Push{Key: "pay_1-1", MSISDN: "+250788120000", Amount: 100, Currency: "RWF"})
	b, err2 := sb.MobileMoney.Push(ctx, rails.Push{Key: "pay_1-1", MSISDN: "+250788120000", Amount: 100, Currency: "RWF"})
	c, _ := sb.MobileMoney.Push(ctx, rails.Push{Key: "pay_1-2", MSISDN: "+250788120000", Amount: 100, Currency: "RWF"})
	clk.Advance(time.Second)
	if err1 != nil || err2 != nil || a != b || a == c {
		t.Errorf("references %s %s %s (%v %v)", a, b, c, err1, err2)
	}
	if n := len(rec.got); n != 2 {
		t.Errorf("%d outcomes reported, want 2", n)
	}
}

// What the sandbox was given survives a restart: answers not yet delivered
// are delivered by the next process, as an operator sends its callbacks
// after an outage.
func TestAnswersSurviveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sb.db")
	clk := clock.NewFake(start)
	ctx := context.Background()
	first := openStore(t, path)
	sb := New(first, clk, 5*time.Second, nil)
	sb.Connect(&recorder{})
	if _, err := sb.MobileMoney.Push(ctx, rails.Push{Key: "pay_1-1", MSISDN: "+250788120000", Amount: 100, Currency: "RWF"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Payouts.Send(ctx, rails.PayoutRequest{Key: "po_1-1", Destination: malipo.Destination{Account: "+250788120001"}, Amount: 50, Currency: "RWF"}); err != nil {
		t.Fatal(err)
	}
	first.Close() // the node stops before the answers are due

	later := clock.NewFake(start.Add(time.Minute))
	again := New(openStore(t, path), later, 5*time.Second, nil)
	rec := &recorder{}
	again.Connect(rec)
	n, err := again.Deliver(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Deliver = %d, %v; want both answers", n, err)
	}
	got := rec.outcomes()
	if got["pay_1-1"] != malipo.VerdictSucceeded || got["po_1-1"] != malipo.VerdictFailed {
		t.Errorf("delivered after the restart: %v", got)
	}
	if n, _ := again.Deliver(ctx); n != 0 {
		t.Errorf("delivered %d answers twice", n)
	}
	// A resent payout with the key it had is the same payout.
	ref, _ := again.Payouts.Send(ctx, rails.PayoutRequest{Key: "po_1-1", Destination: malipo.Destination{Account: "+250788120001"}, Amount: 50, Currency: "RWF"})
	if o, _ := again.Payouts.Status(ctx, "po_1-1", ""); o.RailReference != ref || o.Verdict != malipo.VerdictFailed {
		t.Errorf("resent payout: %s, status %+v", ref, o)
	}
}

// An answer the gateway could not take is sent again later.
func TestAnswersNotTakenAreSentAgain(t *testing.T) {
	sb, clk, rec := newRails(t, time.Second)
	ctx := context.Background()
	rec.fail = true
	sb.MobileMoney.Push(ctx, rails.Push{Key: "pay_1-1", MSISDN: "+250788120000", Amount: 100, Currency: "RWF"})
	clk.Advance(time.Second)
	rec.mu.Lock()
	rec.fail = false
	rec.mu.Unlock()
	if n, _ := sb.Deliver(ctx); n != 0 {
		t.Errorf("sent again before its lease ran out: %d", n)
	}
	clk.Advance(redeliverAfter)
	if n, err := sb.Deliver(ctx); n != 1 || err != nil || rec.outcomes()["pay_1-1"] != malipo.VerdictSucceeded {
		t.Errorf("Deliver = %d, %v; outcomes %v", n, err, rec.outcomes())
	}
}

func TestCards(t *testing.T) {
	sb, _, _ := newRails(t, 0)
	c := sb.Cards
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	charge := func(pan string, month, year int, cvv string) (rails.CardResult, error) {
		n++
		return c.Authorize(context.Background(), rails.Charge{Key: "pay_" + strings.Repeat("x", n) + "-1",
			Card: rails.Card{Number: pan, Month: month, Year: year, CVV: cvv}, Amount: 100, Currency: "USD", At: at})
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

// An authorisation is remembered by its key: asked again, the network
// gives the first answer; its status follows 3-D Secure and voids.
func TestAuthorisationsByKey(t *testing.T) {
	sb, _, _ := newRails(t, 0)
	c, ctx := sb.Cards, context.Background()
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	card := rails.Card{Number: "4000000000003220", Month: 12, Year: 2030, CVV: "123"}
	r, err := c.Authorize(ctx, rails.Charge{Key: "pay_1-1", Card: card, Amount: 500, Currency: "RWF", At: at})
	if err != nil || r.Decision != rails.CardChallenge {
		t.Fatalf("3-D Secure card: %+v, %v", r, err)
	}
	if o, _ := c.Status(ctx, "pay_1-1", ""); o.Verdict != malipo.VerdictPending {
		t.Errorf("status while challenged: %+v", o)
	}
	if r, _ := c.Authenticate(ctx, "pay_1-1", true); r.Decision != rails.CardApproved {
		t.Errorf("passed 3-D Secure: %+v", r)
	}
	if r, _ := c.Authenticate(ctx, "pay_1-1", false); r.Decision != rails.CardApproved {
		t.Errorf("a second answer changed the first: %+v", r)
	}
	if o, _ := c.Status(ctx, "pay_1-1", ""); o.Verdict != malipo.VerdictSucceeded || o.Amount != 500 {
		t.Errorf("status once approved: %+v", o)
	}
	again, _ := c.Authorize(ctx, rails.Charge{Key: "pay_1-1", Card: rails.Card{Number: "4000000000000002", Month: 12, Year: 2030, CVV: "123"}, At: at})
	if again.Decision != rails.CardApproved || again.RailReference != r.RailReference {
		t.Errorf("the same key authorised twice: %+v", again)
	}
	if err := c.Void(ctx, "pay_1-1"); err != nil {
		t.Fatal(err)
	}
	if o, _ := c.Status(ctx, "pay_1-1", ""); o.Verdict != malipo.VerdictFailed || o.FailureCode != "voided" {
		t.Errorf("status once voided: %+v", o)
	}
	if err := c.Void(ctx, "pay_never-1"); err != nil {
		t.Errorf("voiding what was never authorised: %v", err)
	}
	c.Authorize(ctx, rails.Charge{Key: "pay_2-1", Card: card, At: at})
	if r, _ := c.Authenticate(ctx, "pay_2-1", false); r.Decision != rails.CardDeclined || r.Code != "authentication_failed" {
		t.Errorf("failed 3-D Secure: %+v", r)
	}
}

func TestStoredCardsKeepTheirBehaviourButNotTheirNumber(t *testing.T) {
	sb, _, _ := newRails(t, 0)
	c := sb.Cards
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
	for i, tc := range cases {
		sc, err := c.Tokenize(ctx, rails.Card{Number: tc.pan, Month: 12, Year: 2030, CVV: "123"}, at)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sc.NetworkToken, tc.pan[6:12]) || sc.Masked != rails.MaskPAN(tc.pan) || sc.ExpYear != 2030 {
			t.Errorf("stored card %+v", sc)
		}
		r, err := c.AuthorizeToken(ctx, rails.TokenCharge{Key: "pay_t" + strings.Repeat("x", i) + "-1", NetworkToken: sc.NetworkToken, CVV: "321",
			ExpMonth: 12, ExpYear: 2030, Amount: 100, Currency: "RWF", At: at})
		if err != nil || r.Decision != tc.decision || r.Code != tc.code {
			t.Errorf("%s by token: %+v, %v; want %s %s", tc.pan, r, err, tc.decision, tc.code)
		}
	}
	if _, err := c.Tokenize(ctx, rails.Card{Number: "4111111111111111", Month: 1, Year: 2026, CVV: "123"}, at); malipo.AsError(err).Code != "expired_card" {
		t.Errorf("saving an expired card: %v", err)
	}
	if _, err := c.AuthorizeToken(ctx, rails.TokenCharge{Key: "k1", NetworkToken: "sbxnt_ok_1", CVV: "1", ExpMonth: 12, ExpYear: 2030, At: at}); malipo.KindOf(err) != malipo.KindInvalid {
		t.Errorf("bad cvv by token: %v", err)
	}
	if r, _ := c.AuthorizeToken(ctx, rails.TokenCharge{Key: "k2", NetworkToken: "sbxnt_ok_1", CVV: "123", ExpMonth: 5, ExpYear: 2026, At: at}); r.Code != "expired_card" {
		t.Errorf("expired stored card: %+v", r)
	}
}

func TestResentPayoutsAndRefundsPayOnce(t *testing.T) {
	sb, clk, rec := newRails(t, time.Second)
	ctx := context.Background()
	req := rails.PayoutRequest{Key: "po_1-1", Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: "+250788120000"}, Amount: 100, Currency: "RWF"}
	a, _ := sb.Payouts.Send(ctx, req)
	b, _ := sb.Payouts.Send(ctx, req)
	clk.Advance(time.Second)
	if a != b || len(rec.got) != 1 {
		t.Errorf("a payout sent twice: references %s and %s, %d outcomes", a, b, len(rec.got))
	}
	if _, err := sb.Payouts.Send(ctx, rails.PayoutRequest{Key: "po_2-1", Destination: malipo.Destination{Account: "+250788120004"}}); malipo.AsError(err).Code != "invalid_account" {
		t.Errorf("payout to a missing account: %v", err)
	}
	x, _ := sb.Refunds.Refund(ctx, rails.RefundRequest{Key: "re_1-1", Amount: 5, Currency: "RWF"})
	y, _ := sb.Refunds.Refund(ctx, rails.RefundRequest{Key: "re_1-1", Amount: 5, Currency: "RWF"})
	z, _ := sb.Refunds.Refund(ctx, rails.RefundRequest{Key: "re_2-1", Amount: 5, Currency: "RWF"})
	if x != y || x == z {
		t.Errorf("refund references %s %s %s", x, y, z)
	}
	if o, _ := sb.Refunds.Status(ctx, "re_1-1", ""); o.Verdict != malipo.VerdictSucceeded {
		t.Errorf("refund status: %+v", o)
	}
}
