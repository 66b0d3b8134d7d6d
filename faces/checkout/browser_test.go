package checkout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/checkout"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store/storetest"
)

// site is a running Malipo (native API and checkout pages over a real
// SQLite file, sandbox rails answering in 2 s) and a merchant shop the
// customer returns to.
type site struct {
	url, key string
	liveKey  string // a live integration's: no live rail is configured
	svc      *gateway.Service
	shop     *httptest.Server
}

func newSite(t *testing.T) *site {
	t.Helper()
	st := storetest.SQLite(t)
	t.Cleanup(func() { st.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	clk := clock.Real{}
	// Long enough for a waiting page's screenshot to be taken before the
	// page follows the payment away: Chromium's capture of a page that is
	// navigating can hang until the test's deadline, and at 300 ms it
	// did on a busy machine.
	sb := sandbox.New(st, clk, 2*time.Second, nil)
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: base,
		Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
	sb.Connect(svc)
	mux := http.NewServeMux()
	native.New(svc, nil).Register(mux)
	checkout.New(svc, nil, rand.New(rand.NewSource(1))).Register(mux)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	m, err := svc.CreateMerchant(context.Background(), "Boutique Awa", "")
	if err != nil {
		t.Fatal(err)
	}
	_, creds, err := svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><meta name="viewport" content="width=device-width"><h1 id="shop">Merci ! Thanks! (%s)</h1>`, r.URL.Path)
	}))
	t.Cleanup(shop.Close)
	_, live, err := svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeLive})
	if err != nil {
		t.Fatal(err)
	}
	return &site{url: base, key: creds["secret_key"], liveKey: live["secret_key"], svc: svc, shop: shop}
}

func (s *site) post(t *testing.T, path, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil || res.StatusCode >= 300 {
		t.Fatalf("POST %s: %d %s", path, res.StatusCode, b)
	}
	return v
}

// browser starts headless Chromium as a phone that prefers lang.
func browser(t *testing.T, lang string) context.Context { t.Helper(); return facetest.Browser(t, lang) }

// screenshot saves the page as the customer sees it, under test-output.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	facetest.Screenshot(t, ctx, "checkout", name)
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("%v (at %s)\n%s", err, loc, html)
	}
}

func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return s
}

// waitLocation waits until the browser is at a URL starting with prefix.
func waitLocation(t *testing.T, ctx context.Context, prefix string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && strings.HasPrefix(loc, prefix) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("browser at %s, want %s…", loc, prefix)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestBrowserMobileMoneyToReturnURL(t *testing.T) {
	s := newSite(t)
	ctx := browser(t, "en-US")
	p := s.post(t, "/v1/payments", `{"amount":11800,"currency":"XOF","reference":"order-7","description":"Shoes and delivery",
		"customer":{"name":"Awa","phone":"+2250707120000"},"return_url":"`+s.shop.URL+`/thanks",
		"items":[{"name":"Leather shoes","quantity":2,"unit_price":5000},{"name":"Delivery","unit_price":1000}],"taxes":[{"name":"VAT","amount":800}]}`)
	do(t, ctx, chromedp.Navigate(p["checkout_url"].(string)), chromedp.WaitVisible(chromedp.ID("pay-momo")))
	if got := text(t, ctx, "amount"); got != "FCFA\u00a011,800" {
		t.Errorf("amount shown as %q", got)
	}
	screenshot(t, ctx, "momo-1-form-en")
	do(t, ctx, chromedp.Click(chromedp.ID("pay-momo")), chromedp.WaitVisible(chromedp.ID("waiting")))
	screenshot(t, ctx, "momo-2-approve-on-phone-en")
	// The sandbox customer approves after 2 s; the page follows the
	// payment and hands the customer back to the shop.
	waitLocation(t, ctx, s.shop.URL+"/thanks", 20*time.Second)
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("shop")))
	screenshot(t, ctx, "momo-3-back-at-shop")
	c, err := s.svc.Checkout(context.Background(), strings.TrimPrefix(p["checkout_url"].(string), s.url+"/pay/"))
	if err != nil || c.Payment.Status != malipo.PaymentSucceeded || c.Payment.Phone != "+2250707120000" {
		t.Errorf("payment after the page: %+v, %v", c.Payment, err)
	}
}

func TestBrowserDeclinedCardInFrench(t *testing.T) {
	s := newSite(t)
	ctx := browser(t, "en-US") // the payment's lang wins over the browser's
	p := s.post(t, "/v1/payments", `{"amount":2500,"currency":"XOF","reference":"order-8","lang":"fr","return_url":"`+s.shop.URL+`/ok"}`)
	do(t, ctx, chromedp.Navigate(p["checkout_url"].(string)), chromedp.WaitVisible(chromedp.ID("pay-momo")),
		chromedp.Click(chromedp.CSS(`label[for="m-card"]`)), chromedp.WaitVisible(chromedp.ID("number")),
		chromedp.SendKeys(chromedp.ID("number"), "4000000000000002"),
		chromedp.SendKeys(chromedp.ID("expiry"), "1230"),
		chromedp.SendKeys(chromedp.ID("cvv"), "123"),
		chromedp.SendKeys(chromedp.ID("name"), "Awa Diallo"))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("number"))); v != "4000 0000 0000 0002" {
		t.Errorf("the card number is shown as %q, want it grouped by four", v)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("pay-card")), chromedp.WaitVisible(chromedp.ID("error")))
	if got := text(t, ctx, "error"); !strings.Contains(got, "Votre carte a été refusée") {
		t.Errorf("decline message %q", got)
	}
	if got := text(t, ctx, "pay-card"); got != "Payer 2\u202f500\u00a0FCFA" {
		t.Errorf("pay button %q", got)
	}
	screenshot(t, ctx, "card-declined-fr")
	// The payment is still payable, and the page says why the card failed.
	pay, err := s.svc.Checkout(context.Background(), strings.TrimPrefix(p["checkout_url"].(string), s.url+"/pay/"))
	if err != nil || pay.Payment.Status != malipo.PaymentPending || pay.Payment.FailureCode != "card_declined" {
		t.Errorf("after the decline: %+v, %v", pay.Payment, err)
	}
}

func TestBrowserThreeDSecureCard(t *testing.T) {
	s := newSite(t)
	ctx := browser(t, "en-US")
	p := s.post(t, "/v1/payments", `{"amount":1050,"currency":"KES","reference":"order-9","channels":["card"],"return_url":"`+s.shop.URL+`/paid"}`)
	do(t, ctx, chromedp.Navigate(p["checkout_url"].(string)), chromedp.WaitVisible(chromedp.ID("number")),
		chromedp.SendKeys(chromedp.ID("number"), "4000000000003220"),
		chromedp.SendKeys(chromedp.ID("expiry"), "12/30"),
		chromedp.SendKeys(chromedp.ID("cvv"), "123"),
		chromedp.Click(chromedp.ID("pay-card")),
		chromedp.WaitVisible(chromedp.ID("threeds")))
	screenshot(t, ctx, "card-3ds-challenge-en")
	do(t, ctx, chromedp.Click(chromedp.ID("tds-approve")), chromedp.WaitVisible(chromedp.ID("state")))
	if got := text(t, ctx, "state"); !strings.Contains(got, "Payment received") || !strings.Contains(got, "KSh\u00a010.50") {
		t.Errorf("paid page: %q", got)
	}
	screenshot(t, ctx, "card-3ds-paid-en")
	waitLocation(t, ctx, s.shop.URL+"/paid", 10*time.Second)
}

func TestBrowserSaveCardThenPayByToken(t *testing.T) {
	s := newSite(t)
	ctx := browser(t, "fr-FR")
	cs := s.post(t, "/v1/card_setup", `{"customer":{"phone":"250788312934","name":"Kaneza Innocent"},"return_url":"`+s.shop.URL+`/saved"}`)
	do(t, ctx, chromedp.Navigate(cs["url"].(string)), chromedp.WaitVisible(chromedp.ID("save-card")),
		chromedp.SendKeys(chromedp.ID("number"), "5555555555554444"),
		chromedp.SendKeys(chromedp.ID("expiry"), "1131"),
		chromedp.SendKeys(chromedp.ID("cvv"), "123"))
	screenshot(t, ctx, "save-card-1-form-fr")
	do(t, ctx, chromedp.Click(chromedp.ID("save-card")), chromedp.WaitVisible(chromedp.ID("state")))
	if got := text(t, ctx, "state"); !strings.Contains(got, "Carte enregistrée") || !strings.Contains(got, "555555xxxxxx4444") {
		t.Errorf("saved page: %q", got)
	}
	screenshot(t, ctx, "save-card-2-saved-fr")
	waitLocation(t, ctx, s.shop.URL+"/saved", 10*time.Second)

	req, _ := http.NewRequest("GET", s.url+"/v1/customers/250788312934/cards", nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Data []struct{ ID, Masked string } }
	json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	if len(list.Data) != 1 || list.Data[0].Masked != "555555xxxxxx4444" {
		t.Fatalf("saved cards: %+v", list)
	}
	pay := s.post(t, "/v1/payments", `{"amount":520,"currency":"RWF","reference":"YR1600116349","card_token":"`+list.Data[0].ID+`","cvv":"123"}`)
	if pay["status"] != "succeeded" {
		t.Errorf("payment by token: %v", pay)
	}
}

func TestBrowserCancelAndFinalPages(t *testing.T) {
	s := newSite(t)
	ctx := browser(t, "fr-FR")
	p := s.post(t, "/v1/payments", `{"amount":3000,"currency":"RWF","reference":"order-10","cancel_url":"`+s.shop.URL+`/cancelled"}`)
	do(t, ctx, chromedp.Navigate(p["checkout_url"].(string)), chromedp.WaitVisible(chromedp.ID("cancel")))
	if got := text(t, ctx, "amount"); got != "3\u202f000\u00a0FRw" {
		t.Errorf("amount in French %q", got)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("cancel")))
	waitLocation(t, ctx, s.shop.URL+"/cancelled", 10*time.Second)
	// Coming back to the link shows what happened, never a form.
	do(t, ctx, chromedp.Navigate(p["checkout_url"].(string)), chromedp.WaitVisible(chromedp.ID("state")))
	if got := text(t, ctx, "state"); !strings.Contains(got, "Paiement annulé") {
		t.Errorf("cancelled page: %q", got)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.forms.length`)); n != 0 {
		t.Errorf("the cancelled page has %d forms", n)
	}
	screenshot(t, ctx, "cancelled-fr")
	// Just cancelled, the page sends the customer back to the shop after a
	// second: let it, so that the next navigation is not cut short by it.
	waitLocation(t, ctx, s.shop.URL+"/cancelled", 10*time.Second)
	do(t, ctx, chromedp.Navigate(s.url+"/pay/00000000000000000000000000notarealtokenatall"), chromedp.WaitVisible(chromedp.ID("state")))
	if got := text(t, ctx, "state"); !strings.Contains(got, "introuvable") {
		t.Errorf("unknown link page: %q", got)
	}
	screenshot(t, ctx, "not-found-fr")
}

// A live payment no rail can take (no live rail is configured here) shows
// the customer a page that says so, with the way back to the merchant and
// no form to fill in.
func TestBrowserLivePaymentNoRailTakes(t *testing.T) {
	s := newSite(t)
	ctx := browser(t, "fr-FR")
	key := s.key
	s.key = s.liveKey
	p := s.post(t, "/v1/payments", `{"amount":3000,"currency":"XOF","reference":"order-live","cancel_url":"`+s.shop.URL+`/cancelled"}`)
	s.key = key
	do(t, ctx, chromedp.Navigate(p["checkout_url"].(string)), chromedp.WaitVisible(chromedp.ID("error")))
	if got := text(t, ctx, "error"); !strings.Contains(got, "ne peut pas être réglé ici") {
		t.Errorf("error shown: %q", got)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('input[name="phone"], input[name="number"]').length`)); n != 0 {
		t.Errorf("the page offers %d fields to pay with", n)
	}
	screenshot(t, ctx, "live-no-rail-fr")
}

// A bank transfer (KPay's pmethod bank): the customer types an account
// number, authorises with the bank, and lands back at the shop.
func TestBrowserBankTransfer(t *testing.T) {
	s := newSite(t)
	ctx := browser(t, "fr-FR")
	m, _ := s.svc.CreateMerchant(context.Background(), "Iduka", "")
	integ, _, err := s.svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := s.svc.CreatePayment(context.Background(), integ, gateway.PaymentInput{Amount: 4200, Currency: "RWF", Reference: "order-bank",
		Channels: []string{"bank_transfer"}, Bank: "BK", ReturnURL: s.shop.URL + "/paid"}, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Navigate(s.svc.CheckoutURL(p)), chromedp.WaitVisible(chromedp.ID("account")))
	screenshot(t, ctx, "bank-1-form-fr")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("account"), "000 1234 5678"), chromedp.Click(chromedp.ID("pay-bank")),
		chromedp.WaitVisible(chromedp.ID("waiting")))
	if got := text(t, ctx, "waiting"); !strings.Contains(got, "BK") {
		t.Errorf("waiting page: %q", got)
	}
	screenshot(t, ctx, "bank-2-waiting-fr")
	waitLocation(t, ctx, s.shop.URL+"/paid", 15*time.Second)
}
