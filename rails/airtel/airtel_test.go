package airtel_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/airtel"
	"github.com/malipo/malipo/rails/airtel/airtelsim"
)

// stack is the connector against the simulator, on a fake clock.
type stack struct {
	sim   *airtelsim.Server
	rail  *airtel.Rail
	clock *clock.Fake
	srv   *httptest.Server
	seen  []string // what reached the simulator: method and path
	mu    sync.Mutex
}

func newStack(t *testing.T, opt airtelsim.Options, edit func(c *airtel.Config)) *stack {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	opt.Clock = clk
	s := &stack{clock: clk, sim: airtelsim.New(opt)}
	h := s.sim.Handler()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	var cfg airtel.Config
	b, _ := json.Marshal(s.sim.Config(s.srv.URL))
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&cfg)
	}
	r, err := airtel.New(cfg, airtel.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	s.rail = r
	return s
}

func TestCollectionsEveryOutcome(t *testing.T) {
	s := newStack(t, airtelsim.Options{Country: "UG", CallbackDelay: 5 * time.Second}, nil)
	c := s.rail.Collections()
	ctx := context.Background()
	for _, tc := range []struct {
		msisdn, verdict, code string
	}{
		{"+256701120000", "succeeded", ""},
		{"+256701120001", "failed", "insufficient_funds"},
		{"+256701120002", "failed", "customer_declined"},
	} {
		key := "pay_" + tc.msisdn[len(tc.msisdn)-4:] + "-1"
		ref, err := c.Push(ctx, rails.Push{Key: key, PaymentID: "pay_1", MSISDN: tc.msisdn, Amount: 5000, Currency: "UGX", Description: "order 1"})
		if err != nil || ref != key {
			t.Fatalf("push %s: %q %v", tc.msisdn, ref, err)
		}
		if o, _ := c.Status(ctx, key, ""); o.Verdict != malipo.VerdictPending {
			t.Errorf("%s before the customer answers: %s", tc.msisdn, o.Verdict)
		}
	}
	s.clock.Advance(5 * time.Second)
	for _, tc := range []struct{ key, verdict, code string }{
		{"pay_0000-1", "succeeded", ""}, {"pay_0001-1", "failed", "insufficient_funds"}, {"pay_0002-1", "failed", "customer_declined"},
	} {
		o, err := c.Status(ctx, tc.key, "")
		if err != nil || string(o.Verdict) != tc.verdict || o.FailureCode != tc.code {
			t.Errorf("%s: %+v %v, want %s %s", tc.key, o, err, tc.verdict, tc.code)
		}
	}
	// Not a wallet: refused at once, in Malipo's words.
	_, err := c.Push(ctx, rails.Push{Key: "pay_0004-1", MSISDN: "+256701120004", Amount: 5000, Currency: "UGX"})
	if e := malipo.AsError(err); e == nil || e.Kind != malipo.KindInvalid || e.Code != "invalid_account" {
		t.Errorf("push to a non-wallet: %v", err)
	}
	if o, _ := c.Status(ctx, "pay_never-1", ""); o.Verdict != malipo.VerdictUnknown {
		t.Errorf("a transaction Airtel never had: %s", o.Verdict)
	}
	// Another currency is not this rail's: nothing sent.
	if _, err := c.Push(ctx, rails.Push{Key: "pay_k-1", MSISDN: "+256701120000", Amount: 5000, Currency: "KES"}); malipo.KindOf(err) != malipo.KindUnavailable {
		t.Errorf("push in KES: %v", err)
	}
	// One token serves many calls until three quarters of its life.
	tokens := 0
	for _, seen := range s.seen {
		if strings.HasSuffix(seen, "/auth/oauth2/token") {
			tokens++
		}
	}
	if tokens != 1 {
		t.Errorf("%d tokens asked for, want 1", tokens)
	}
	s.clock.Advance(150 * time.Second)
	c.Status(ctx, "pay_0000-1", "")
	if last := s.seen[len(s.seen)-2]; !strings.HasSuffix(last, "/auth/oauth2/token") {
		t.Errorf("no new token near expiry: %v", s.seen[len(s.seen)-3:])
	}
}

func TestCallbacksAreParsed(t *testing.T) {
	for _, c := range []struct{ body, key, verdict string }{
		{`{"transaction":{"id":"pay_1-1","message":"Paid UGX 5,000","status_code":"TS","airtel_money_id":"MP210603.1234.L06941"}}`, "pay_1-1", "succeeded"},
		{`{"transaction":{"id":"pay_1-1","status":"TF","message":"x"}}`, "pay_1-1", "failed"},
		{`{"transaction":{"id":"pay_1-1","status_code":"TIP"},"hash":"abc"}`, "pay_1-1", "pending"},
	} {
		o, err := airtel.ParseCallback([]byte(c.body))
		if err != nil || o.Key != c.key || string(o.Verdict) != c.verdict {
			t.Errorf("%s: %+v %v", c.body, o, err)
		}
	}
	for _, bad := range []string{`{"transaction":{}}`, `nope`, `{}`} {
		if _, err := airtel.ParseCallback([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestDisbursementsCarryTheEncryptedPIN(t *testing.T) {
	for _, padding := range []string{"pkcs1", "oaep"} {
		s := newStack(t, airtelsim.Options{Country: "KE"}, func(c *airtel.Config) { c.PINPadding = padding })
		d := s.rail.Disbursements()
		ctx := context.Background()
		send := func(key, msisdn string) error {
			_, err := d.Send(ctx, rails.PayoutRequest{Key: key, PayoutID: "po_1", Amount: 1000, Currency: "KES",
				Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: msisdn}})
			return err
		}
		if err := send("po_1-1", "+254733120000"); err != nil {
			t.Fatalf("%s: %v", padding, err)
		}
		if o, _ := d.Status(ctx, "po_1-1", ""); o.Verdict != malipo.VerdictSucceeded || o.RailReference == "" {
			t.Errorf("%s: status %+v", padding, o)
		}
		if e := malipo.AsError(send("po_2-1", "+254733120004")); e == nil || e.Code != "invalid_account" {
			t.Errorf("%s: payout to a non-wallet: %v", padding, e)
		}
	}
	// A wrong PIN is refused, not sent as unknown.
	s := newStack(t, airtelsim.Options{Country: "KE"}, func(c *airtel.Config) { c.PIN = "0000" })
	_, err := s.rail.Disbursements().Send(context.Background(), rails.PayoutRequest{Key: "po_3-1", Amount: 1000, Currency: "KES",
		Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: "+254733120000"}})
	if e := malipo.AsError(err); e == nil || e.Kind != malipo.KindInvalid {
		t.Errorf("wrong PIN: %v", err)
	}
}

// A call Airtel answers 500 after acting leaves the outcome unknown (an
// error that is not a refusal), and the status query finds the
// transaction: no second push is needed, so none is made.
func TestLostAnswersAreAskedAbout(t *testing.T) {
	s := newStack(t, airtelsim.Options{Country: "UG", FailRate: 1, Seed: 3}, nil)
	c := s.rail.Collections()
	ctx := context.Background()
	unknown := 0
	for i := range 10 {
		key := "pay_" + string(rune('a'+i)) + "-1"
		_, err := c.Push(ctx, rails.Push{Key: key, MSISDN: "+256701120000", Amount: 100, Currency: "UGX"})
		if err == nil || malipo.KindOf(err) != malipo.KindInternal {
			t.Fatalf("push with every call failing: %v", err)
		}
		unknown++
	}
	held := s.sim.Transactions()["collection TIP"]
	if held == 0 || held == unknown {
		t.Errorf("the simulator acted on %d of %d lost calls: want some, not all", held, unknown)
	}
}
