package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/mpesa"
	"github.com/malipo/malipo/rails/mpesa/mpesasim"
	"github.com/malipo/malipo/store/sqlite"
)

// loseFirstPush is a network that delivers the first STK push to Daraja
// and loses Daraja's answer, as a timeout does.
type loseFirstPush struct {
	lost atomic.Bool
}

func (l *loseFirstPush) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, "/stkpush/v1/processrequest") && l.lost.CompareAndSwap(false, true) {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return nil, errors.New("read tcp: i/o timeout")
	}
	return res, err
}

// Daraja can be asked about a push only by the CheckoutRequestID its
// answer carries. When that answer is lost, the push's callback names it:
// Malipo asks Daraja by it, and the payment succeeds, once.
func TestDarajaPushWithALostAnswerEndsByItsCallback(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "malipo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sim := mpesasim.New(mpesasim.Options{CallbackDelay: 200 * time.Millisecond})
	api := httptest.NewServer(sim.Handler())
	defer api.Close()
	var svc *gateway.Service
	var rail *mpesa.Rail
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		o, err := rail.Callback(strings.TrimPrefix(r.URL.Path, "/rails/mpesa-ke/s/"), body)
		if err == nil {
			o.Raw = body
			err = svc.Hint(r.Context(), "mpesa-ke", o)
		}
		mpesa.Acknowledge(w, err)
	}))
	defer hooks.Close()
	var cfg mpesa.Config
	raw, _ := json.Marshal(sim.Config(api.URL))
	json.Unmarshal(raw, &cfg)
	rail, err = mpesa.New(cfg, mpesa.Options{CallbackURL: hooks.URL + "/rails/mpesa-ke/s", Client: &http.Client{Transport: &loseFirstPush{}}})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.Real{}
	svc = gateway.New(gateway.Config{Store: lockOrder(t, st), Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: "http://pay.test",
		Rails: map[malipo.Mode]rails.Set{malipo.ModeLive: {MobileMoney: rails.OneMobileMoney(rail.Express())}}, ReconcileAfter: time.Hour})
	m, _ := svc.CreateMerchant(ctx, "Duka", "")
	integ, _, err := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeLive})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := svc.CreatePayment(ctx, integ, gateway.PaymentInput{Amount: 10000, Currency: "KES", Reference: "o-1", Method: "mobile_money",
		Phone: "+254712120000"}, gateway.Idempotency{})
	if err != nil || p.Status != malipo.PaymentPending || p.RailReference != "" {
		t.Fatalf("push with its answer lost: %s %q %v", p.Status, p.RailReference, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Status != malipo.PaymentSucceeded && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		p, _ = svc.GetPayment(ctx, integ, p.ID)
	}
	if p.Status != malipo.PaymentSucceeded {
		t.Fatalf("status %s: the callback did not lead Malipo to the push", p.Status)
	}
	if n := sim.Transactions()["stk 0"]; n != 1 {
		t.Errorf("Daraja took %d payments, want 1", n)
	}
	if a, err := svc.Verify(ctx); err != nil || !a.Clean() {
		t.Errorf("verify: %+v %v", a, err)
	}
}
