package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/store"
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
			fits(t, ctx, "#payments")
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
			fits(t, ctx, "#ledger")
			step("home", chromedp.Navigate(sh.s.Server.URL+"/dashboard/"), chromedp.WaitVisible(chromedp.ID("balances")))
			shot("5-home")
			fits(t, ctx, "#balances")
			fits(t, ctx, "#failures")
			step("developers", chromedp.Navigate(sh.s.Server.URL+"/dashboard/developers"), chromedp.WaitVisible(chromedp.CSS(".integration")))
			shot("6-developers")
			step("statement", chromedp.Navigate(sh.s.Server.URL+"/dashboard/balance"), chromedp.WaitVisible(chromedp.ID("statement")))
			shot("6b-statement")
			fits(t, ctx, "#statement")
			step("refunds", chromedp.Navigate(sh.s.Server.URL+"/dashboard/refunds"), chromedp.WaitVisible(chromedp.CSS("main h1")))
			shot("6c-refunds")
			step("payouts", chromedp.Navigate(sh.s.Server.URL+"/dashboard/payouts"), chromedp.WaitVisible(chromedp.ID("payout-filter")))
			shot("6c2-payouts")
			step("new payout", chromedp.Navigate(sh.s.Server.URL+"/dashboard/payouts/new"), chromedp.WaitVisible(chromedp.ID("payout-form")))
			shot("6d-new-payout")
			step("webhooks", chromedp.Navigate(sh.s.Server.URL+"/dashboard/webhooks"), chromedp.WaitVisible(chromedp.ID("endpoint-form")))
			shot("6e-webhooks")
			step("account", chromedp.Navigate(sh.s.Server.URL+"/dashboard/account"), chromedp.WaitVisible(chromedp.ID("totp-start")),
				chromedp.Click(chromedp.ID("totp-start")), chromedp.WaitVisible(chromedp.ID("qr")))
			shot("6f-two-factor")
			step("users", chromedp.Navigate(sh.s.Server.URL+"/dashboard/users"), chromedp.WaitVisible(chromedp.ID("users")))
			shot("6g-users")
			fits(t, ctx, "#users")
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
	for _, size := range []struct {
		name    string
		emulate chromedp.Action[chromedp.Void]
	}{{"phone", chromedp.Emulate(device.IPhone12)}, {"desktop", chromedp.EmulateViewport(1280, 900)}} {
		if err := chromedp.Do(ctx, size.emulate); err != nil {
			t.Fatal(err)
		}
		for name, path := range map[string]string{"8-operator-merchants-fr": "/dashboard/merchants", "9-operator-platform-fr": "/dashboard/platform",
			"9-operator-merchant-fr": "/dashboard/merchants/" + sh.integ.MerchantID} {
			if err := chromedp.Do(ctx, chromedp.Navigate(sh.s.Server.URL+path), chromedp.WaitVisible(chromedp.CSS("main h1"))); err != nil {
				t.Fatal(err)
			}
			facetest.Screenshot(t, ctx, "dashboard", size.name+"-"+name)
			facetest.Accessible(t, ctx, name)
			switch path {
			case "/dashboard/merchants":
				fits(t, ctx, "#merchants")
			case "/dashboard/merchants/" + sh.integ.MerchantID:
				fits(t, ctx, "table.balances")
			}
		}
	}
}

// fits checks that a list fits its place on the page: on a phone each
// row reads as a card, nothing (a status, an amount) cut off at the side.
func fits(t *testing.T, ctx context.Context, table string) {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const t = document.querySelector("`+table+`");
		return t !== null && t.scrollWidth <= t.parentElement.clientWidth })()`))
	if err != nil || !ok {
		t.Errorf("%s is missing or wider than its place on the page (%v)", table, err)
	}
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

// The actions, in Chromium: refund from a payment's page, export CSV,
// roll a key and use the new one, send an event again, and, as the
// operator, suspend a merchant.
func TestBrowserActions(t *testing.T) {
	sh := newShop(t)
	native.New(sh.s.Service, nil).Register(sh.s.Mux)
	sh.s.Flavors[malipo.FlavorNative] = native.New(sh.s.Service, nil).Flavor()
	ctx := facetest.Browser(t, "en-GB")
	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\n%s", name, err, html)
		}
	}
	base := sh.s.Server.URL
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer receiver.Close()
	step("sign in", chromedp.Navigate(base+"/dashboard/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "mama@duka.example"), chromedp.SendKeys(chromedp.ID("password"), sh.password),
		chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("balances")))

	step("refund", chromedp.Navigate(base+"/dashboard/payments/"+sh.paid.ID), chromedp.WaitVisible(chromedp.ID("refund-form")),
		chromedp.SendKeys(chromedp.ID("amount"), "1000"), chromedp.SendKeys(chromedp.ID("reason"), "one shoe"),
		chromedp.Click(chromedp.ID("refund")), chromedp.WaitVisible(chromedp.ID("done")))
	facetest.Screenshot(t, ctx, "dashboard", "actions-1-refunded")
	facetest.Accessible(t, ctx, "refunded")
	if rs, _ := sh.s.Service.PaymentRefunds(context.Background(), sh.integ, sh.paid.ID); len(rs) != 1 || rs[0].Amount != 1000 {
		t.Errorf("refunds after the click: %+v", rs)
	}

	// The export link of the current filter, fetched with the browser's
	// session (the page's policy lets no script fetch anything).
	step("search", chromedp.Navigate(base+"/dashboard/payments?q=order-1042"), chromedp.WaitVisible(chromedp.ID("export")))
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("export").href`))
	if err != nil || !strings.Contains(href, "/dashboard/payments.csv?q=order-1042") {
		t.Fatalf("export link: %q %v", href, err)
	}
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/dashboard/"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", href, nil)
	for _, c := range cookies.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	csvText, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.HasPrefix(string(csvText), "id,created_at") || !strings.Contains(string(csvText), "order-1042") || strings.Contains(string(csvText), "order-1043") {
		t.Errorf("CSV export of the search: %q", csvText)
	}

	step("roll", chromedp.Navigate(base+"/dashboard/developers"), chromedp.WaitVisible(chromedp.CSS(".roll")),
		chromedp.Click(chromedp.CSS(".roll")), chromedp.WaitVisible(chromedp.ID("secret")))
	key, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("secret")))
	req, _ = http.NewRequest("GET", base+"/v1/payments", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(key))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("the rolled key %q: %v %v", key, res, err)
	} else {
		res.Body.Close()
	}
	facetest.Screenshot(t, ctx, "dashboard", "actions-2-rolled")

	step("endpoint", chromedp.Navigate(base+"/dashboard/webhooks"), chromedp.WaitVisible(chromedp.ID("url")),
		chromedp.SendKeys(chromedp.ID("url"), receiver.URL+"/hooks"), chromedp.Click(chromedp.ID("add-endpoint")), chromedp.WaitVisible(chromedp.ID("secret")))
	p, _, err := sh.s.Service.CreatePayment(context.Background(), sh.integ, gateway.PaymentInput{Amount: 900, Currency: "XOF", Reference: "hooked",
		Method: "mobile_money", Phone: "+2250707120000"}, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := sh.s.Service.ListEvents(context.Background(), sh.integ, store.EventFilter{ObjectID: p.ID, Limit: 5})
	if len(evs) != 1 {
		t.Fatalf("events of the new payment: %+v", evs)
	}
	if _, err := sh.s.Dispatcher.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	step("replay", chromedp.Navigate(base+"/dashboard/webhooks"), chromedp.WaitVisible(chromedp.ID("ev-"+evs[0].ID)),
		chromedp.Click(chromedp.CSS("#ev-"+evs[0].ID+" .replay")), chromedp.WaitVisible(chromedp.ID("done")))
	if logs, _ := sh.s.Service.EventDeliveries(context.Background(), sh.integ, evs[0].ID); len(logs) != 2 {
		t.Errorf("deliveries after the replay: %d, want 2", len(logs))
	}
	facetest.Screenshot(t, ctx, "dashboard", "actions-3-replayed")

	step("switch to live", chromedp.Navigate(base+"/dashboard/"), chromedp.Click(chromedp.ID("to-live")), chromedp.WaitVisible(chromedp.ID("to-test")))
	step("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("email")))
	step("operator", chromedp.SendKeys(chromedp.ID("email"), "ops@malipo.example"), chromedp.SendKeys(chromedp.ID("password"), sh.password),
		chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("merchants")),
		chromedp.Click(chromedp.CSS("#m-"+sh.other.MerchantID+" .suspend")), chromedp.WaitVisible(chromedp.CSS("#m-"+sh.other.MerchantID+" .resume")))
	facetest.Screenshot(t, ctx, "dashboard", "actions-4-suspended")
	if m, _ := sh.s.Service.Merchant(context.Background(), sh.other.MerchantID); m.SuspendedAt.IsZero() {
		t.Error("the merchant is not suspended")
	}
}
