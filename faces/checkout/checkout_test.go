package checkout_test

import (
	"context"
	"html"
	"io"
	"math/rand"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/checkout"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store/storetest"
)

// pages is the checkout face over a real store on a fake clock, driven by
// a plain HTTP client with a cookie jar: a browser without JavaScript.
type pages struct {
	srv    *httptest.Server
	svc    *gateway.Service
	clock  *clock.Fake
	integ  malipo.Integration
	client *http.Client
}

func newPages(t *testing.T) *pages {
	t.Helper()
	st := storetest.SQLite(t)
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	sb := sandbox.New(st, clk, 3*time.Second, nil)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, rand.New(rand.NewSource(5))), BaseURL: srv.URL,
		Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
	sb.Connect(svc)
	checkout.New(svc, nil, rand.New(rand.NewSource(6))).Register(mux)
	m, _ := svc.CreateMerchant(context.Background(), "Duka la Mama", "")
	integ, _, err := svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &pages{srv: srv, svc: svc, clock: clk, integ: integ, client: client}
}

func (p *pages) create(t *testing.T, in gateway.PaymentInput) malipo.Payment {
	t.Helper()
	pay, _, err := p.svc.CreatePayment(context.Background(), p.integ, in, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	return pay
}

type page struct {
	status int
	header http.Header
	body   string
}

func (p *pages) get(t *testing.T, path string, header ...string) page {
	t.Helper()
	req, _ := http.NewRequest("GET", p.srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return p.send(t, req)
}

func (p *pages) post(t *testing.T, path string, form url.Values, header ...string) page {
	t.Helper()
	req, _ := http.NewRequest("POST", p.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return p.send(t, req)
}

func (p *pages) send(t *testing.T, req *http.Request) page {
	t.Helper()
	res, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(b)}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`)

func csrf(t *testing.T, pg page) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(pg.body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", pg.body)
	}
	return m[1]
}

func path(pay malipo.Payment) string { return "/pay/" + pay.CheckoutToken }

// Served over https, the CSRF cookie is Secure and __Host- bound.
func TestCookiesOverHTTPS(t *testing.T) {
	st := storetest.SQLite(t)
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	sb := sandbox.New(st, clk, 3*time.Second, nil)
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, rand.New(rand.NewSource(5))), BaseURL: "https://pay.example",
		Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
	mux := http.NewServeMux()
	checkout.New(svc, nil, nil).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	m, _ := svc.CreateMerchant(context.Background(), "Duka", "")
	in, _, _ := svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	pay, _, _ := svc.CreatePayment(context.Background(), in, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "o-1"}, gateway.Idempotency{})
	res, err := http.Get(srv.URL + path(pay))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cookie := res.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-malipo_csrf=", "Secure", "Path=/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Domain=") {
		t.Errorf("a __Host- cookie with a Domain: %q", cookie)
	}
}

func TestPagesAreLockedDown(t *testing.T) {
	p := newPages(t)
	pay := p.create(t, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "o-1"})
	pg := p.get(t, path(pay))
	if pg.status != 200 {
		t.Fatalf("GET: %d", pg.status)
	}
	for h, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := pg.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	csp := pg.header.Get("Content-Security-Policy")
	for _, d := range []string{"frame-ancestors 'none'", "script-src 'self'", "form-action 'self'", "default-src 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %s", csp, d)
		}
	}
	cookie := pg.header.Get("Set-Cookie")
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Errorf("CSRF cookie %q", cookie)
	}
	form := url.Values{"csrf": {csrf(t, pg)}, "number": {"4111111111111111"}, "expiry": {"12/30"}, "cvv": {"123"}}

	// A post without the matching token, or from another site, changes nothing.
	bad := url.Values{"csrf": {"00000000000000000000000000000000"}, "number": {"4111111111111111"}, "expiry": {"12/30"}, "cvv": {"123"}}
	if pg := p.post(t, path(pay)+"/card", bad); pg.status != 403 {
		t.Errorf("wrong CSRF token: %d", pg.status)
	}
	if pg := p.post(t, path(pay)+"/card", form, "Sec-Fetch-Site", "cross-site"); pg.status != 403 {
		t.Errorf("cross-site post: %d", pg.status)
	}
	fresh := &http.Client{} // no cookie
	req, _ := http.NewRequest("POST", p.srv.URL+path(pay)+"/cancel", strings.NewReader(url.Values{"csrf": {form.Get("csrf")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, err := fresh.Do(req); err != nil || res.StatusCode != 403 {
		t.Errorf("post without the cookie: %v %v", res.StatusCode, err)
	}
	// A cookie planted by another site, with a field to match it, as plain
	// double-submit would take: refused, the field is bound to the page.
	planted := &http.Client{}
	req, _ = http.NewRequest("POST", p.srv.URL+path(pay)+"/cancel", strings.NewReader(url.Values{"csrf": {strings.Repeat("ab", 16)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "malipo_csrf", Value: strings.Repeat("ab", 16)})
	if res, err := planted.Do(req); err != nil || res.StatusCode != 403 {
		t.Errorf("post with a planted cookie: %v %v", res.StatusCode, err)
	}
	// The field of another page, with this browser's own cookie: refused.
	other := p.create(t, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "o-other"})
	otherForm := url.Values{"csrf": {csrf(t, p.get(t, path(other)))}, "number": {"4111111111111111"}, "expiry": {"12/30"}, "cvv": {"123"}}
	if pg := p.post(t, path(pay)+"/card", otherForm); pg.status != 403 {
		t.Errorf("another page's token: %d", pg.status)
	}
	if got, _ := p.svc.Checkout(context.Background(), pay.CheckoutToken); got.Payment.Status != malipo.PaymentPending {
		t.Fatalf("a refused post changed the payment: %s", got.Payment.Status)
	}
	// With the token it goes through, and the browser is sent to the result.
	if pg := p.post(t, path(pay)+"/card", form); pg.status != 303 || pg.header.Get("Location") != path(pay) {
		t.Errorf("card post: %d %s", pg.status, pg.header.Get("Location"))
	}
	// The card number appears nowhere afterwards.
	if pg := p.get(t, path(pay)); strings.Contains(pg.body, "4111") || !strings.Contains(pg.body, `data-state="succeeded"`) || strings.Contains(pg.body, "<form") {
		t.Errorf("paid page:\n%s", pg.body)
	}
	// Unknown and forged links are a plain 404.
	for _, token := range []string{"x", pay.CheckoutToken[:26] + strings.Repeat("a", 32)} {
		if pg := p.get(t, "/pay/"+token); pg.status != 404 || !strings.Contains(pg.body, "not found") {
			t.Errorf("GET /pay/%s: %d", token, pg.status)
		}
	}
}

// The checkout page and everything it loads must stay light: most
// customers pay on a phone over a mobile network.
func TestPageWeight(t *testing.T) {
	p := newPages(t)
	items := make([]malipo.Item, 10)
	for i := range items {
		items[i] = malipo.Item{Name: "Article numéro " + string(rune('A'+i)), Quantity: 2, UnitPrice: 1500}
	}
	pay := p.create(t, gateway.PaymentInput{Amount: 30000, Currency: "XOF", Reference: "heavy", Description: "Commande", Items: items,
		Taxes: []malipo.Tax{{Name: "TVA", Amount: 0}}})
	total := 0
	pg := p.get(t, path(pay))
	total += len(pg.body)
	for _, asset := range regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`).FindAllStringSubmatch(pg.body, -1) {
		a := p.get(t, asset[1])
		if a.status != 200 {
			t.Fatalf("%s: %d", asset[1], a.status)
		}
		total += len(a.body)
	}
	t.Logf("checkout page with its assets: %d bytes", total)
	if total > 100_000 || total < 2_000 {
		t.Errorf("checkout page with its assets is %d bytes, want under 100 KB", total)
	}
}

func TestLanguage(t *testing.T) {
	p := newPages(t)
	kes := p.create(t, gateway.PaymentInput{Amount: 1050, Currency: "KES", Reference: "k"})
	xof := p.create(t, gateway.PaymentInput{Amount: 1050, Currency: "XOF", Reference: "x"})
	en := p.create(t, gateway.PaymentInput{Amount: 1050, Currency: "XOF", Reference: "e", Lang: "en"})
	cases := []struct {
		path, accept, want string
	}{
		{path(kes), "", "How would you like to pay?"},
		{path(kes), "fr-CI,fr;q=0.9,en;q=0.5", "Comment voulez-vous payer ?"},
		{path(kes), "sw,en;q=0.8,fr;q=0.5", "How would you like to pay?"},
		{path(xof), "", "Comment voulez-vous payer ?"}, // a franc CFA payment reads French by default
		{path(en), "fr", "How would you like to pay?"}, // the payment's own lang wins
		{path(en) + "?lang=fr", "en", "Comment voulez-vous payer ?"},
		// The card's expiry as each language writes it, in its hint too.
		{path(xof), "", `placeholder="MM/AA"`},
		{path(kes), "", `placeholder="MM/YY"`},
	}
	for _, c := range cases {
		pg := p.get(t, c.path, "Accept-Language", c.accept)
		if !strings.Contains(pg.body, c.want) {
			t.Errorf("%s with Accept-Language %q: want %q", c.path, c.accept, c.want)
		}
	}
}

// The example of a number under the phone field is one of the country
// the customer's number is likely from: the number the merchant gave,
// else the currency's country. A number given is shown grouped.
func TestPhoneExampleIsTheCustomersCountrys(t *testing.T) {
	p := newPages(t)
	cases := []struct {
		in   gateway.PaymentInput
		want string
	}{
		{gateway.PaymentInput{Amount: 1050, Currency: "KES", Reference: "k"}, "e.g. +254 712 123456"},
		{gateway.PaymentInput{Amount: 1050, Currency: "XOF", Reference: "x"}, "par ex. +225 01 23 45 6789"},
		// The number the merchant gave is grouped as people read it.
		{gateway.PaymentInput{Amount: 1050, Currency: "XOF", Reference: "s", Customer: malipo.Customer{Phone: "+221701234567"}}, `value="+221 70 123 45 67"`},
		{gateway.PaymentInput{Amount: 1050, Currency: "XOF", Reference: "s2", Customer: malipo.Customer{Phone: "+221701234567"}}, "par ex. +221 70 123 45 67"},
	}
	for _, c := range cases {
		if pg := p.get(t, path(p.create(t, c.in))); !strings.Contains(html.UnescapeString(pg.body), c.want) {
			t.Errorf("%s %s: the phone's hint does not say %q", c.in.Currency, c.in.Customer.Phone, c.want)
		}
	}
}

// Without JavaScript, mobile money works by the waiting page refreshing
// itself until the operator answers.
func TestMobileMoneyWithoutJavaScript(t *testing.T) {
	p := newPages(t)
	pay := p.create(t, gateway.PaymentInput{Amount: 10000, Currency: "RWF", Reference: "m", ReturnURL: "https://shop.example/done",
		Customer: malipo.Customer{Phone: "+250788120000"}})
	pg := p.get(t, path(pay))
	if !strings.Contains(pg.body, "MTN Mobile Money") || !strings.Contains(pg.body, "Airtel Money") {
		t.Errorf("Rwanda's operators are not offered")
	}
	form := url.Values{"csrf": {csrf(t, pg)}, "phone": {"0788 12"}, "operator": {"mtn-rw"}}
	// A number that cannot be a mobile number is refused with the form
	// shown again and the error worded for the customer.
	pg = p.post(t, path(pay)+"/mobile-money", form)
	if pg.status != 422 || !strings.Contains(pg.body, "country code") || !strings.Contains(pg.body, `id="momo-form"`) {
		t.Errorf("bad number: %d\n%s", pg.status, pg.body)
	}
	// A national number is dialled in the chosen operator's country.
	form.Set("phone", "0788 12 00 01") // this customer has too little money
	if pg := p.post(t, path(pay)+"/mobile-money", form); pg.status != 303 {
		t.Fatalf("push: %d", pg.status)
	}
	pg = p.get(t, path(pay))
	if !strings.Contains(pg.body, `id="waiting"`) || !strings.Contains(pg.body, `http-equiv="refresh" content="5"`) ||
		!strings.Contains(pg.body, "250 788 120 001") {
		t.Fatalf("waiting page:\n%s", pg.body)
	}
	if st := p.get(t, path(pay)+"/status"); !strings.Contains(st.body, `"processing"`) {
		t.Errorf("status: %s", st.body)
	}
	p.clock.Advance(3 * time.Second)
	pg = p.get(t, path(pay))
	if !strings.Contains(pg.body, `data-state="failed"`) || !strings.Contains(pg.body, "not enough money") || strings.Contains(pg.body, "<form") {
		t.Errorf("failed page:\n%s", pg.body)
	}
}

func TestExpiredPaymentShowsNoForm(t *testing.T) {
	p := newPages(t)
	pay := p.create(t, gateway.PaymentInput{Amount: 100, Currency: "USD", Reference: "late"})
	p.clock.Advance(31 * time.Minute) // the expiry worker has not run yet
	pg := p.get(t, path(pay))
	if !strings.Contains(pg.body, `data-state="expired"`) || strings.Contains(pg.body, "<form") || !strings.Contains(pg.body, "$1.00") {
		t.Errorf("expired page:\n%s", pg.body)
	}
}

func TestMerchantLogo(t *testing.T) {
	p := newPages(t)
	ctx := context.Background()
	if _, err := p.svc.CreateMerchant(ctx, "Insecure", "http://shop.example/logo.png"); malipo.AsError(err).Code != "url_invalid" {
		t.Errorf("an http logo was accepted: %v", err)
	}
	m, err := p.svc.CreateMerchant(ctx, "Kivu Coffee", "https://kivu.example/logo.png")
	if err != nil {
		t.Fatal(err)
	}
	integ, _, _ := p.svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	pay, _, err := p.svc.CreatePayment(ctx, integ, gateway.PaymentInput{Amount: 100, Currency: "RWF", Reference: "l"}, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	if pg := p.get(t, path(pay)); !strings.Contains(pg.body, `<img src="https://kivu.example/logo.png"`) || !strings.Contains(pg.body, "Kivu Coffee") {
		t.Errorf("the logo is not shown:\n%s", pg.body)
	}
}
