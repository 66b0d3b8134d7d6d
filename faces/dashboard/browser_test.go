package dashboard_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/malipo/malipo/faces/facetest"
)

// In Chromium, as a phone and as a desktop: sign in, find a payment by
// its reference, open its story, switch to live and back. Screenshots of
// each page go to test-output/dashboard.
func TestBrowserDashboard(t *testing.T) {
	sh := newShop(t)
	for _, size := range []struct {
		name    string
		emulate chromedp.Action[chromedp.Void]
	}{
		{"phone", chromedp.Emulate(device.IPhone12)},
		{"desktop", chromedp.EmulateViewport(1280, 900)},
	} {
		t.Run(size.name, func(t *testing.T) {
			ctx := facetest.Browser(t, "en-GB")
			step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
				t.Helper()
				if err := chromedp.Do(ctx, steps...); err != nil {
					html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
					t.Fatalf("%s: %v\n%s", name, err, html)
				}
			}
			shot := func(name string) {
				t.Helper()
				facetest.Screenshot(t, ctx, "dashboard", size.name+"-"+name)
				facetest.Accessible(t, ctx, name)
			}
			step("viewport", size.emulate)
			step("sign-in page", chromedp.Navigate(sh.s.Server.URL+"/dashboard/payments"), chromedp.WaitVisible(chromedp.ID("email")))
			shot("1-sign-in")
			step("sign in", chromedp.SendKeys(chromedp.ID("email"), "mama@duka.example"), chromedp.SendKeys(chromedp.ID("password"), sh.password),
				chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("filters")))
			shot("2-payments")
			step("search", chromedp.SendKeys(chromedp.ID("q"), "order-1042"), chromedp.Click(chromedp.ID("apply")))
			waitFor(t, ctx, `location.search.includes("q=order-1042") && document.readyState === "complete" && document.querySelectorAll("#payments tbody tr").length === 1`)
			shot("3-search")
			step("story", chromedp.Click(chromedp.CSS(`a[href="/dashboard/payments/`+sh.paid.ID+`"]`)), chromedp.WaitVisible(chromedp.ID("attempts")))
			got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
			for _, want := range []string{"order-1042", "succeeded", "payment.succeeded", "Awa Diop"} {
				if !strings.Contains(got, want) {
					t.Errorf("the story lacks %q", want)
				}
			}
			shot("4-payment")
			step("home", chromedp.Navigate(sh.s.Server.URL+"/dashboard/"), chromedp.WaitVisible(chromedp.ID("balances")))
			shot("5-home")
			step("developers", chromedp.Navigate(sh.s.Server.URL+"/dashboard/developers"), chromedp.WaitVisible(chromedp.CSS(".integration")))
			shot("6-developers")
			step("statement", chromedp.Navigate(sh.s.Server.URL+"/dashboard/balance"), chromedp.WaitVisible(chromedp.ID("statement")))
			shot("6b-statement")
			step("refunds", chromedp.Navigate(sh.s.Server.URL+"/dashboard/refunds"), chromedp.WaitVisible(chromedp.CSS("main h1")))
			shot("6c-refunds")
			step("payouts", chromedp.Navigate(sh.s.Server.URL+"/dashboard/payouts/new"), chromedp.WaitVisible(chromedp.ID("payout-form")))
			shot("6d-new-payout")
			step("webhooks", chromedp.Navigate(sh.s.Server.URL+"/dashboard/webhooks"), chromedp.WaitVisible(chromedp.ID("endpoint-form")))
			shot("6e-webhooks")
			step("live", chromedp.Navigate(sh.s.Server.URL+"/dashboard/"), chromedp.WaitVisible(chromedp.ID("to-live")),
				chromedp.Click(chromedp.ID("to-live")), chromedp.WaitVisible(chromedp.ID("to-test")))
			shot("7-live")
			step("test", chromedp.Click(chromedp.ID("to-test")), chromedp.WaitVisible(chromedp.ID("to-live")))
		})
	}
	// The operator's merchants page.
	ctx := facetest.Browser(t, "fr-FR")
	if err := chromedp.Do(ctx, chromedp.Navigate(sh.s.Server.URL+"/dashboard/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "ops@malipo.example"), chromedp.SendKeys(chromedp.ID("password"), sh.password),
		chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("merchants"))); err != nil {
		t.Fatal(err)
	}
	facetest.Screenshot(t, ctx, "dashboard", "phone-8-operator-merchants-fr")
	facetest.Accessible(t, ctx, "operator-merchants")
}

// waitFor waits until a JavaScript condition holds on the page.
func waitFor(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("waited in vain for %s\n%s", cond, html)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
