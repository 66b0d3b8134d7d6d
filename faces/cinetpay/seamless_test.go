package cinetpay_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/cinetpay"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/store"
)

// The seed's Seamless example page, unchanged but for the script's
// address and the site's credentials, served from the merchant's own
// origin: its Checkout button opens Malipo's checkout over the page, the
// customer pays by mobile money in the frame, and the page's
// waitResponse callback hears ACCEPTED (the example alerts it).
func TestSeamlessSDKInChromium(t *testing.T) {
	s := facetest.New(t, 0, 22) // the sandbox customer approves at once
	cinetpay.New(s.Service, cinetpay.Config{Clock: s.Clock}).Register(s.Mux, "/cinetpay")
	_, creds := s.Integration(t, "Boutique Awa", gateway.IntegrationInput{Flavor: malipo.FlavorCinetPay, Mode: malipo.ModeTest})
	example, err := os.ReadFile("testdata/seamless.html")
	if err != nil {
		t.Fatal(err)
	}
	merchantPage := strings.NewReplacer(
		"https://cdn.cinetpay.com/seamless/main.js", s.Server.URL+"/cinetpay/seamless/main.js",
		"apikey: '',", "apikey: '"+creds["apikey"]+"',",
		"site_id: '',", "site_id: '"+creds["site_id"]+"',",
	).Replace(string(example))
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(merchantPage))
	}))
	defer shop.Close()

	ctx := facetest.Browser(t, "fr-FR")
	var mu sync.Mutex
	var alerts []string
	dialogs := make(chan struct{}, 4)
	if err := chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			mu.Lock()
			alerts = append(alerts, d.Message)
			mu.Unlock()
			dialogs <- struct{}{}
		}
	}); err != nil {
		t.Fatal(err)
	}
	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\n%s", name, err, html)
		}
	}
	step("open the merchant's page", chromedp.Navigate(shop.URL), chromedp.WaitVisible(chromedp.CSS("button")))
	step("checkout", chromedp.Click(chromedp.CSS("button")), chromedp.WaitVisible(chromedp.ID("cinetpay-seamless-frame")))

	// The checkout page, inside the frame over the merchant's page.
	var frame []*chromedp.Node
	deadline := time.Now().Add(20 * time.Second)
	for {
		nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.ID("cinetpay-seamless-frame")))
		if err == nil && len(nodes) == 1 && nodes[0].ContentDocument != nil {
			inner, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.ID("phone"), chromedp.FromNode(nodes[0].ContentDocument), chromedp.AtLeast(0)))
			if err == nil && len(inner) == 1 {
				frame = nodes
				break
			}
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("the checkout page did not load in the frame:\n%s", html)
		}
		time.Sleep(200 * time.Millisecond)
	}
	in := chromedp.FromNode(frame[0].ContentDocument)
	facetest.Screenshot(t, ctx, "cinetpay", "seamless-1-checkout-over-the-page")
	step("pay in the frame", chromedp.SetValue(chromedp.ID("phone"), "+2250707120000", in), chromedp.Click(chromedp.ID("pay-momo"), in))

	select {
	case <-dialogs:
	case <-time.After(30 * time.Second):
		facetest.Screenshot(t, ctx, "cinetpay", "seamless-timeout")
		t.Fatal("the merchant's page heard no outcome")
	}
	mu.Lock()
	got := append([]string(nil), alerts...)
	mu.Unlock()
	if len(got) != 1 || got[0] != "Your payment has been made successfully" {
		t.Errorf("the merchant's page said %q", got)
	}
	if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
		t.Fatal(err)
	}
	// The overlay is gone; the merchant's page is as it was.
	step("overlay closed", chromedp.WaitNotPresent(chromedp.ID("cinetpay-seamless")))
	facetest.Screenshot(t, ctx, "cinetpay", "seamless-2-paid")
	integ, _ := s.Service.IntegrationBySecret(context.Background(), creds["apikey"])
	ps, err := s.Service.ListPayments(context.Background(), integ, store.PaymentFilter{Limit: 10})
	if err != nil || len(ps) != 1 || ps[0].Status != malipo.PaymentSucceeded || ps[0].FrameOrigin != shop.URL {
		t.Fatalf("payments: %+v %v", ps, err)
	}
	// Only the merchant's page may frame that checkout page; a payment
	// made from a server may be framed by none.
	res, err := http.Get(s.Service.CheckoutURL(ps[0]))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+shop.URL) || res.Header.Get("X-Frame-Options") != "" {
		t.Errorf("framed checkout page: CSP %q, X-Frame-Options %q", csp, res.Header.Get("X-Frame-Options"))
	}
	f := &face{srv: s.Server, creds: creds}
	a := f.init(t, nil)
	res, err = http.Get(lenientStr(a.body["data"].(map[string]any)["payment_url"]))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("a server-made payment's page: CSP %q, X-Frame-Options %q", csp, res.Header.Get("X-Frame-Options"))
	}
}
