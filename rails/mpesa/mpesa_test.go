package mpesa_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/mpesa"
	"github.com/malipo/malipo/rails/mpesa/mpesasim"
)

// stack is the connector against the simulator on a fake clock, with the
// rail's callback URL served by a loopback server that hands what arrives
// to the connector, as the live callback handler does.
type stack struct {
	sim    *mpesasim.Server
	rail   *mpesa.Rail
	clock  *clock.Fake
	mu     sync.Mutex
	hints  []rails.Outcome
	paths  []string
	posted chan struct{}
}

func newStack(t *testing.T, edit func(c *mpesa.Config)) *stack {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	s := &stack{clock: clk, sim: mpesasim.New(mpesasim.Options{Clock: clk, CallbackDelay: 10 * time.Second}), posted: make(chan struct{}, 100)}
	api := httptest.NewServer(s.sim.Handler())
	t.Cleanup(api.Close)
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sub := strings.TrimPrefix(r.URL.Path, "/rails/mpesa-ke/secret/")
		o, err := s.rail.Callback(sub, body)
		s.mu.Lock()
		s.paths = append(s.paths, sub)
		if err == nil {
			s.hints = append(s.hints, o)
		}
		s.mu.Unlock()
		mpesa.Acknowledge(w, err)
		s.posted <- struct{}{}
	}))
	t.Cleanup(hooks.Close)
	var cfg mpesa.Config
	b, _ := json.Marshal(s.sim.Config(api.URL))
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&cfg)
	}
	r, err := mpesa.New(cfg, mpesa.Options{CallbackURL: hooks.URL + "/rails/mpesa-ke/secret", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	s.rail = r
	return s
}

func (s *stack) waitPost(t *testing.T) {
	t.Helper()
	select {
	case <-s.posted:
	case <-time.After(5 * time.Second):
		t.Fatal("Daraja never called back")
	}
}

func TestExpressEveryOutcome(t *testing.T) {
	s := newStack(t, nil)
	e := s.rail.Express()
	ctx := context.Background()
	refs := map[string]string{}
	for _, phone := range []string{"+254712120000", "+254712120001", "+254712120002"} {
		key := "pay_" + phone[len(phone)-4:] + "-1"
		ref, err := e.Push(ctx, rails.Push{Key: key, PaymentID: "pay_01jz" + phone[len(phone)-4:], MSISDN: phone, Amount: 10000, Currency: "KES"})
		if err != nil || !strings.HasPrefix(ref, "ws_CO_") {
			t.Fatalf("push %s: %q %v", phone, ref, err)
		}
		refs[key] = ref
		if o, err := e.Status(ctx, key, ref); err != nil || o.Verdict != malipo.VerdictPending {
			t.Errorf("%s before the customer answers: %+v %v", phone, o, err)
		}
	}
	if o, _ := e.Status(ctx, "pay_lost-1", ""); o.Verdict != malipo.VerdictPending {
		t.Errorf("a push whose answer was lost: %s, want pending (Daraja cannot be asked by key)", o.Verdict)
	}
	s.clock.Advance(10 * time.Second)
	for range 3 {
		s.waitPost(t)
	}
	for key, want := range map[string]string{"pay_0000-1": "succeeded ", "pay_0001-1": "failed insufficient_funds", "pay_0002-1": "failed customer_declined"} {
		o, err := e.Status(ctx, key, refs[key])
		if got := string(o.Verdict) + " " + o.FailureCode; err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", key, got, err, want)
		}
	}
	s.mu.Lock()
	for _, h := range s.hints {
		if h.Key == "pay_0000-1" && (h.Verdict != malipo.VerdictSucceeded || h.RailReference != refs["pay_0000-1"]) {
			t.Errorf("STK callback read as %+v", h)
		}
	}
	s.mu.Unlock()
	// Cents, a non-customer, another currency: refused before or by Daraja.
	if _, err := e.Push(ctx, rails.Push{Key: "pay_c-1", MSISDN: "+254712120000", Amount: 10050, Currency: "KES"}); malipo.AsError(err).Code != "amount_invalid" {
		t.Errorf("cents: %v", err)
	}
	if _, err := e.Push(ctx, rails.Push{Key: "pay_n-1", MSISDN: "+254712120004", Amount: 10000, Currency: "KES"}); malipo.AsError(err).Code != "invalid_account" {
		t.Errorf("not an M-Pesa customer: %v", err)
	}
	if _, err := e.Push(ctx, rails.Push{Key: "pay_u-1", MSISDN: "+254712120000", Amount: 10000, Currency: "UGX"}); malipo.KindOf(err) != malipo.KindUnavailable {
		t.Errorf("UGX: %v", err)
	}
}

// A B2C payment's status comes back by way of a Transaction Status query
// answered at the callback URL: Status asks (pending), the answer arrives,
// Status reports it.
func TestB2CStatusComesThroughItsResult(t *testing.T) {
	s := newStack(t, nil)
	p := s.rail.Payouts()
	ctx := context.Background()
	send := func(key, phone string) {
		t.Helper()
		ref, err := p.Send(ctx, rails.PayoutRequest{Key: key, PayoutID: "po_1", Amount: 50000, Currency: "KES",
			Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: phone}})
		if err != nil || !strings.HasPrefix(ref, "AG_") {
			t.Fatalf("send: %q %v", ref, err)
		}
	}
	send("po_1-1", "+254712120000")
	send("po_2-1", "+254712120004")
	s.clock.Advance(10 * time.Second)
	s.waitPost(t) // the two B2C results, hints only
	s.waitPost(t)
	for key, want := range map[string]string{"po_1-1": "succeeded ", "po_2-1": "failed invalid_account", "po_never-1": "unknown "} {
		if o, err := p.Status(ctx, key, ""); err != nil || o.Verdict != malipo.VerdictPending {
			t.Fatalf("%s first Status: %+v %v, want pending while Daraja answers", key, o, err)
		}
		s.waitPost(t) // the transaction-status result
		o, err := p.Status(ctx, key, "")
		if got := string(o.Verdict) + " " + o.FailureCode; err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", key, got, err, want)
		}
	}
	if n := s.sim.Transactions()["b2c 0"]; n != 1 {
		t.Errorf("%d B2C payments made, want 1", n)
	}
}

// The initiator's password really is encrypted under the certificate: a
// wrong one is refused by Daraja (the simulator decrypts it).
func TestB2CSecurityCredentialIsChecked(t *testing.T) {
	s := newStack(t, func(c *mpesa.Config) { c.B2C.InitiatorPassword = "wrong" })
	p := s.rail.Payouts()
	ctx := context.Background()
	if _, err := p.Send(ctx, rails.PayoutRequest{Key: "po_1-1", Amount: 50000, Currency: "KES",
		Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: "+254712120000"}}); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(10 * time.Second)
	s.waitPost(t)
	if n := s.sim.Transactions()["b2c 2001"]; n != 1 {
		t.Errorf("the simulator took a wrong SecurityCredential: %v", s.sim.Transactions())
	}
}

// Paybills and tills are paid by B2B (BusinessPayBill with the account at
// that business, BusinessBuyGoods), learnt the same way as B2C.
func TestB2BPaysPaybillsAndTills(t *testing.T) {
	s := newStack(t, nil)
	p := s.rail.Payouts()
	ctx := context.Background()
	for key, d := range map[string]malipo.Destination{
		"po_pb-1": {Type: malipo.DestinationPaybill, Account: "888880", AccountReference: "ACC-77"},
		"po_tl-1": {Type: malipo.DestinationTill, Account: "5123456"},
	} {
		if ref, err := p.Send(ctx, rails.PayoutRequest{Key: key, PayoutID: "po_1", Amount: 100000, Currency: "KES", Destination: d}); err != nil || ref == "" {
			t.Fatalf("%s: %q %v", d.Type, ref, err)
		}
	}
	if _, err := p.Send(ctx, rails.PayoutRequest{Key: "po_x-1", Amount: 100000, Currency: "KES",
		Destination: malipo.Destination{Type: malipo.DestinationPaybill, Account: "88"}}); malipo.KindOf(err) != malipo.KindInvalid {
		t.Errorf("a paybill number Daraja refuses: %v", err)
	}
	s.clock.Advance(10 * time.Second)
	s.waitPost(t)
	s.waitPost(t)
	for _, key := range []string{"po_pb-1", "po_tl-1"} {
		p.Status(ctx, key, "")
		s.waitPost(t)
		if o, err := p.Status(ctx, key, ""); err != nil || o.Verdict != malipo.VerdictSucceeded {
			t.Errorf("%s: %+v %v", key, o, err)
		}
	}
	if n := s.sim.Transactions()["b2c 0"]; n != 2 {
		t.Errorf("%d business payments made, want 2", n)
	}
}
