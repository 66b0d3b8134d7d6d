package momo_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/momo"
	"github.com/malipo/malipo/rails/momo/momosim"
)

type world struct {
	clock    *clock.Fake
	sim      *momosim.Server
	rail     *momo.Rail
	tokens   atomic.Int32 // token requests MTN saw
	mu       sync.Mutex
	callback []http.Header
	bodies   [][]byte
}

func newWorld(t *testing.T, opt momosim.Options, callbacks bool) *world {
	t.Helper()
	w := &world{clock: clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))}
	opt.Clock, opt.Seed = w.clock, 7
	w.sim = momosim.New(opt)
	h := w.sim.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token/") {
			w.tokens.Add(1)
		}
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	var cfg momo.Config
	b, _ := json.Marshal(w.sim.Config(srv.URL))
	json.Unmarshal(b, &cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	o := momo.Options{Clock: w.clock}
	if callbacks {
		cb := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.mu.Lock()
			w.callback = append(w.callback, r.Header.Clone())
			w.bodies = append(w.bodies, append([]byte(r.Method+" "), body...))
			w.mu.Unlock()
			rw.WriteHeader(http.StatusOK)
		}))
		t.Cleanup(cb.Close)
		o.CallbackURL = cb.URL + "/rails/r/secret/callback"
	}
	w.rail = momo.New(cfg, o)
	return w
}

func push(key, msisdn string, amount int64) rails.Push {
	return rails.Push{Key: key, PaymentID: strings.Split(key, "-")[0], MSISDN: msisdn, Amount: amount, Currency: "UGX", Description: "Order 'A'"}
}

func TestReferenceIsAUUIDv4OfTheKey(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := momo.Reference("pay_1-1"), momo.Reference("pay_1-2")
	if !re.MatchString(a) || a == b || momo.Reference("pay_1-1") != a {
		t.Errorf("references %s, %s", a, b)
	}
}

func TestCollectionOutcomes(t *testing.T) {
	w := newWorld(t, momosim.Options{CallbackDelay: 3 * time.Second}, true)
	ctx := context.Background()
	c := w.rail.Collections()
	cases := []struct {
		msisdn, verdict, code string
	}{
		{"+256772120000", "succeeded", ""},
		{"+256772120001", "failed", "insufficient_funds"},
		{"+256772120002", "failed", "customer_declined"},
		{"+256772120003", "expired", "expired"},
		{"+256772120004", "failed", "invalid_account"},
		{"+46733123450", "failed", "rail_failed"},
		{"+46733123451", "failed", "customer_declined"},
		{"+46733123454", "pending", ""},
	}
	for i, tc := range cases {
		key := "pay_" + string(rune('a'+i)) + "-1"
		if _, err := c.Push(ctx, push(key, tc.msisdn, 5000)); err != nil {
			t.Fatalf("push to %s: %v", tc.msisdn, err)
		}
		if o, _ := c.Status(ctx, key, ""); o.Verdict != malipo.VerdictPending && tc.code != "invalid_account" {
			t.Errorf("%s right after the push: %s", tc.msisdn, o.Verdict)
		}
	}
	w.clock.Advance(5 * time.Minute)
	for i, tc := range cases {
		key := "pay_" + string(rune('a'+i)) + "-1"
		o, err := c.Status(ctx, key, "")
		if err != nil || string(o.Verdict) != tc.verdict || o.FailureCode != tc.code || o.Key != key {
			t.Errorf("%s: %+v, %v; want %s %s", tc.msisdn, o, err, tc.verdict, tc.code)
		}
		if tc.verdict == "succeeded" && (o.RailReference == "" || o.Amount != 5000 || o.Currency != "UGX") {
			t.Errorf("success without its transaction: %+v", o)
		}
	}
	if o, _ := c.Status(ctx, "pay_never-1", ""); o.Verdict != malipo.VerdictUnknown {
		t.Errorf("a key never sent: %+v", o)
	}
	// MTN called back once per final transaction, by PUT; the body names
	// the attempt and reads back as its outcome.
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.bodies) != 7 {
		t.Fatalf("%d callbacks, want one per final transaction (7)", len(w.bodies))
	}
	for _, b := range w.bodies {
		method, body, _ := strings.Cut(string(b), " ")
		o, err := momo.ParseCallback([]byte(body))
		if method != "PUT" || err != nil || !strings.HasPrefix(o.Key, "pay_") {
			t.Errorf("callback %s %s: %+v, %v", method, body, o, err)
		}
	}
	if w.tokens.Load() != 1 {
		t.Errorf("%d token requests for 17 calls within the hour, want 1", w.tokens.Load())
	}
}

// A push whose answer is lost is sent again with the same key: MTN answers
// 409, the connector takes it as accepted, and the customer is asked once.
func TestARetryAfterALostAnswerChargesOnce(t *testing.T) {
	w := newWorld(t, momosim.Options{FailRate: 1}, false) // every call acts, then half lose the answer, half fail first
	ctx := context.Background()
	c := w.rail.Collections()
	var accepted bool
	for try := 0; try < 20 && !accepted; try++ {
		_, err := c.Push(ctx, push("pay_x-1", "+256772120000", 1000))
		accepted = err == nil
		if err != nil && malipo.KindOf(err) != malipo.KindInternal {
			t.Fatalf("a lost answer must leave the outcome unknown, not refuse: %v", err)
		}
	}
	if got := w.sim.Transactions(); got["collection PENDING"] != 1 {
		t.Errorf("the operator holds %v; want one pending request", got)
	}
}

func TestTokensAreRenewedBeforeTheyExpire(t *testing.T) {
	w := newWorld(t, momosim.Options{TokenTTL: 10 * time.Minute}, false)
	ctx := context.Background()
	c := w.rail.Collections()
	c.Push(ctx, push("pay_1-1", "+256772120000", 1000))
	w.clock.Advance(8 * time.Minute)
	c.Status(ctx, "pay_1-1", "")
	if w.tokens.Load() != 1 {
		t.Errorf("%d tokens before expiry, want 1", w.tokens.Load())
	}
	w.clock.Advance(time.Minute + time.Second) // within a minute of expiry
	if _, err := c.Status(ctx, "pay_1-1", ""); err != nil {
		t.Fatal(err)
	}
	if w.tokens.Load() != 2 {
		t.Errorf("%d tokens after the renewal point, want 2", w.tokens.Load())
	}
}

func TestTransfers(t *testing.T) {
	w := newWorld(t, momosim.Options{CallbackDelay: time.Second, Balance: 10_000}, false)
	ctx := context.Background()
	d := w.rail.Disbursements()
	send := func(key, account string, amount int64) error {
		_, err := d.Send(ctx, rails.PayoutRequest{Key: key, PayoutID: key, Amount: amount, Currency: "UGX",
			Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: account}})
		return err
	}
	for key, account := range map[string]string{"po_a-1": "+256772990000", "po_b-1": "+256772990001", "po_c-1": "+256772990004"} {
		if err := send(key, account, 1000); err != nil {
			t.Fatal(err)
		}
	}
	send("po_d-1", "+256772990000", 50_000) // more than the account holds
	w.clock.Advance(2 * time.Second)
	for key, want := range map[string]string{"po_a-1": "", "po_b-1": "recipient_limit_exceeded", "po_c-1": "invalid_account", "po_d-1": "insufficient_funds"} {
		o, err := d.Status(ctx, key, "")
		if err != nil || o.FailureCode != want || (want == "") != (o.Verdict == malipo.VerdictSucceeded) {
			t.Errorf("%s: %+v, %v; want %q", key, o, err, want)
		}
	}
	if n, cur, err := w.rail.Balance(ctx, "disbursement"); err != nil || n != 9_000 || cur != "UGX" {
		t.Errorf("balance after one transfer of 1000: %d %s %v", n, cur, err)
	}
	if err := send("po_e-1", "+256772990000", 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Send(ctx, rails.PayoutRequest{Key: "po_f-1", Amount: 1, Currency: "UGX",
		Destination: malipo.Destination{Type: malipo.DestinationPaybill, Account: "888880"}}); malipo.KindOf(err) != malipo.KindInvalid {
		t.Errorf("a paybill payout through MoMo: %v", err)
	}
	if ok, err := w.rail.AccountHolderActive(ctx, "+256772990000"); !ok || err != nil {
		t.Errorf("an active wallet: %v %v", ok, err)
	}
	if ok, err := w.rail.AccountHolderActive(ctx, "+256772990004"); ok || err != nil {
		t.Errorf("no wallet: %v %v", ok, err)
	}
}

func TestRefusalsAndBadCredentials(t *testing.T) {
	w := newWorld(t, momosim.Options{}, false)
	ctx := context.Background()
	c := w.rail.Collections()
	p := push("pay_1-1", "+256772120000", 1000)
	p.Currency = "KES"
	if _, err := c.Push(ctx, p); malipo.KindOf(err) != malipo.KindUnavailable {
		t.Errorf("a currency the rail does not take: %v", err)
	}
	var cfg momo.Config
	b, _ := json.Marshal(w.sim.Config("http://127.0.0.1:1"))
	json.Unmarshal(b, &cfg)
	cfg.Collection.APIKey = "wrong"
	bad := momo.New(cfg, momo.Options{Clock: w.clock}).Collections()
	if _, err := bad.Push(ctx, push("pay_2-1", "+256772120000", 1000)); malipo.KindOf(err) != malipo.KindUnavailable {
		t.Errorf("a rail that cannot get a token: %v (kind %s), want unavailable: nothing was sent", err, malipo.KindOf(err))
	}
}
