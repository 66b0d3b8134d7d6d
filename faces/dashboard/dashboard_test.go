package dashboard_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/dashboard"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/store"
)

// shop is a running Malipo with the dashboard, two merchants with
// payments, and a user of each.
type shop struct {
	s        *facetest.Stack
	integ    malipo.Integration // Duka's
	other    malipo.Integration // Soko's
	paid     malipo.Payment     // Duka's, succeeded
	theirs   malipo.Payment     // Soko's
	password string
}

func newShop(t *testing.T) *shop {
	t.Helper()
	s := facetest.New(t, 0, 31)
	dashboard.New(s.Service, nil).Register(s.Mux)
	ctx := context.Background()
	integ, _ := s.Integration(t, "Duka la Mama", gateway.IntegrationInput{Flavor: malipo.FlavorNative, Mode: malipo.ModeTest, Fee: malipo.FeeRule{BasisPoints: 150}})
	other, _ := s.Integration(t, "Soko", gateway.IntegrationInput{Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	sh := &shop{s: s, integ: integ, other: other, password: "correct horse battery"}
	create := func(in malipo.Integration, req gateway.PaymentInput) malipo.Payment {
		p, _, err := s.Service.CreatePayment(ctx, in, req, gateway.Idempotency{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	sh.paid = create(integ, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "order-1042", Description: "Chaussures",
		Customer: malipo.Customer{Name: "Awa Diop", Email: "awa@example.com"}, Method: "mobile_money", Phone: "+2250707120000"})
	create(integ, gateway.PaymentInput{Amount: 2500, Currency: "XOF", Reference: "order-1043", Method: "mobile_money", Phone: "+2250707120002"})
	create(integ, gateway.PaymentInput{Amount: 1050, Currency: "KES", Reference: "=HYPERLINK(\"x\")", Customer: malipo.Customer{Email: "kofi@example.com"}})
	sh.theirs = create(other, gateway.PaymentInput{Amount: 9900, Currency: "XOF", Reference: "soko-1", Method: "mobile_money", Phone: "+2250707120000"})
	for _, u := range []gateway.UserInput{
		{MerchantID: integ.MerchantID, Email: "mama@duka.example", Password: sh.password, Role: malipo.RoleOwner},
		{MerchantID: integ.MerchantID, Email: "dev@duka.example", Password: sh.password, Role: malipo.RoleDeveloper},
		{MerchantID: other.MerchantID, Email: "boss@soko.example", Password: sh.password, Role: malipo.RoleOwner},
		{Email: "ops@malipo.example", Password: sh.password, Role: malipo.RoleOperator},
	} {
		if _, err := s.Service.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := s.Service.GetPayment(ctx, integ, sh.paid.ID); p.Status != malipo.PaymentSucceeded {
		t.Fatalf("the sandbox did not pay at once: %s", p.Status)
	}
	return sh
}

// payouts tops Duka up and sends n payouts of 100 XOF from it, each to a
// phone of its own (payouts to one phone are limited), referenced
// ref-0, ref-1, …
func (sh *shop) payouts(t *testing.T, ref string, n int) []malipo.Payout {
	t.Helper()
	ctx := context.Background()
	if _, err := sh.s.Service.Topup(ctx, sh.integ, int64(n)*1_000, "XOF"); err != nil {
		t.Fatal(err)
	}
	var out []malipo.Payout
	for i := range n {
		po, _, err := sh.s.Service.CreatePayout(ctx, sh.integ, gateway.PayoutInput{Amount: 100, Currency: "XOF", Reference: fmt.Sprintf("%s-%d", ref, i),
			Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: fmt.Sprintf("+22507071%05d", i)}}, gateway.Idempotency{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, po)
	}
	return out
}

// browser is a plain HTTP client with a cookie jar that does not follow
// redirects: a browser without JavaScript.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (sh *shop) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: sh.s.Server.URL, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

func (b *browser) get(path string) page { b.t.Helper(); return b.do("GET", path, nil) }

func (b *browser) signIn(email, password string) page {
	b.t.Helper()
	return b.do("POST", "/dashboard/login", url.Values{"email": {email}, "password": {password}, "next": {"/dashboard/payments"}})
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`)

func (b *browser) csrf(path string) string {
	b.t.Helper()
	m := csrfRe.FindStringSubmatch(b.get(path).body)
	if m == nil {
		b.t.Fatalf("no CSRF value on %s", path)
	}
	return m[1]
}

func TestSignInAndOut(t *testing.T) {
	sh := newShop(t)
	b := sh.browser(t)
	if pg := b.get("/dashboard/payments?q=x"); pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/dashboard/login?next=%2Fdashboard%2Fpayments%3Fq%3Dx" {
		t.Errorf("signed out: %d %s", pg.status, pg.header.Get("Location"))
	}
	login := b.get("/dashboard/login")
	if login.status != 200 || !strings.Contains(login.body, `name="email"`) || !strings.Contains(login.body, `name="password"`) ||
		!strings.Contains(login.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("login page: %d %s", login.status, login.body)
	}
	if pg := b.signIn("mama@duka.example", "wrong password"); pg.status != 401 || !strings.Contains(pg.body, "The email or the password is wrong") {
		t.Errorf("wrong password: %d", pg.status)
	}
	if pg := b.signIn("nobody@duka.example", sh.password); pg.status != 401 {
		t.Errorf("unknown email: %d", pg.status)
	}
	pg := b.signIn("Mama@Duka.example", sh.password)
	if pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/dashboard/payments" {
		t.Fatalf("sign in: %d %s", pg.status, pg.header.Get("Location"))
	}
	if c := pg.header.Get("Set-Cookie"); !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
		t.Errorf("session cookie: %s", c)
	}
	home := b.get("/dashboard/")
	if home.status != 200 || !strings.Contains(home.body, "Duka la Mama") || !strings.Contains(home.body, `id="balances"`) ||
		!strings.Contains(home.body, "FCFA") || !strings.Contains(home.body, "order-1042") || strings.Contains(home.body, "soko-1") {
		t.Errorf("home: %d\n%s", home.status, home.body)
	}
	// The last 30 days: a chart, the success rate (1 of 2 XOF payments),
	// and the failures by reason and operator.
	for _, want := range []string{`<svg class="chart"`, `role="img"`, `<span><strong id="rate">50%</strong>`, `id="failures"`, "customer_declined", "orange-ci"} {
		if !strings.Contains(home.body, want) {
			t.Errorf("home lacks %s", want)
		}
	}
	// A sign-in's next is kept inside the dashboard.
	if pg := b.do("POST", "/dashboard/login", url.Values{"email": {"mama@duka.example"}, "password": {sh.password}, "next": {"//evil.example/x"}}); pg.header.Get("Location") != "/dashboard/" {
		t.Errorf("next to another site: %s", pg.header.Get("Location"))
	}
	// Forms need the session's CSRF value.
	if pg := b.do("POST", "/dashboard/logout", url.Values{"csrf": {"0123456789abcdef0123456789abcdef"}}); pg.status != 403 {
		t.Errorf("logout without the CSRF value: %d", pg.status)
	}
	if pg := b.do("POST", "/dashboard/logout", url.Values{"csrf": {b.csrf("/dashboard/")}}); pg.status != http.StatusSeeOther {
		t.Errorf("logout: %d", pg.status)
	}
	if pg := b.get("/dashboard/"); pg.status != http.StatusSeeOther {
		t.Errorf("after logout: %d", pg.status)
	}
}

func TestPaymentsSearchStoryAndExport(t *testing.T) {
	sh := newShop(t)
	b := sh.browser(t)
	b.signIn("mama@duka.example", sh.password)

	list := b.get("/dashboard/payments?q=order-1042")
	if list.status != 200 || !strings.Contains(list.body, "/dashboard/payments/"+sh.paid.ID) || strings.Contains(list.body, "order-1043") {
		t.Errorf("search by reference: %d\n%s", list.status, list.body)
	}
	for q, want := range map[string]string{"awa@": "order-1042", "0707120002": "order-1043", "status=failed": "order-1043", "method=mobile_money&currency=XOF": "order-1042"} {
		query := "q=" + url.QueryEscape(q)
		if strings.Contains(q, "=") {
			query = q
		}
		if pg := b.get("/dashboard/payments?" + query); !strings.Contains(pg.body, want) {
			t.Errorf("payments?%s lacks %s", query, want)
		}
	}
	if pg := b.get("/dashboard/payments?from=yesterday"); pg.status != 400 || !strings.Contains(pg.body, "YYYY-MM-DD") {
		t.Errorf("a bad date: %d", pg.status)
	}
	day := facetest.Start.Format("2006-01-02")
	if pg := b.get("/dashboard/payments?from=" + day + "&to=" + day); !strings.Contains(pg.body, "order-1042") {
		t.Errorf("today's payments lack order-1042")
	}
	if pg := b.get("/dashboard/payments?to=2020-01-01"); strings.Contains(pg.body, "order-1042") {
		t.Errorf("payments of 2019 include today's")
	}

	story := b.get("/dashboard/payments/" + sh.paid.ID)
	for _, want := range []string{"order-1042", "succeeded", "Awa Diop", "payment.succeeded", "sandbox", "/receipt.pdf", "FCFA\u00a075",
		`id="ledger"`, "rail:sandbox:test:clearing:XOF", "FCFA\u00a04,925", "fees:test:fees:XOF",
		"&#43;225 07 07 12 0000", // the number grouped as people read it
		"1 Mar 2026 09:00 UTC"} { // when, saying in which time

		if !strings.Contains(story.body, want) {
			t.Errorf("the payment's story lacks %q", want)
		}
	}

	export := b.get("/dashboard/payments.csv?currency=XOF")
	if export.status != 200 || !strings.HasPrefix(export.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(export.header.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(export.header.Get("Content-Disposition"), "payments-test-"+facetest.Start.Format("20060102")) { // the service's day
		t.Fatalf("export: %d %v", export.status, export.header)
	}
	rows, err := csv.NewReader(strings.NewReader(export.body)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "id" || rows[1][7] != "order-1043" || rows[2][7] != "order-1042" || rows[2][3] != "5000" || rows[2][5] != "75" {
		t.Errorf("export rows: %v %v", rows, err)
	}
	all := b.get("/dashboard/payments.csv")
	if !strings.Contains(all.body, `'=HYPERLINK`) || strings.Contains(all.body, "soko-1") {
		t.Errorf("a formula-like reference must be quoted, another merchant's payment absent:\n%s", all.body)
	}
}

// A user sees their own merchant's data and nothing of another's,
// through every page and export; the operator sees merchants; a
// developer sees test data only.
func TestMerchantsSeeOnlyTheirOwn(t *testing.T) {
	sh := newShop(t)
	soko := sh.browser(t)
	soko.signIn("boss@soko.example", sh.password)
	for _, path := range []string{"/dashboard/payments/" + sh.paid.ID, "/dashboard/payments/pay_nope", "/dashboard/merchants"} {
		if pg := soko.get(path); pg.status != 404 || strings.Contains(pg.body, "order-1042") {
			t.Errorf("%s as another merchant's owner: %d", path, pg.status)
		}
	}
	for _, path := range []string{"/dashboard/", "/dashboard/payments", "/dashboard/payments?q=order-1042", "/dashboard/payments?q=" + sh.paid.ID,
		"/dashboard/payments.csv", "/dashboard/payments?after=" + sh.paid.ID} {
		if pg := soko.get(path); strings.Contains(pg.body, `href="/dashboard/payments/`+sh.paid.ID) || strings.Contains(pg.body, "Awa Diop") ||
			strings.Contains(pg.body, "Duka la Mama") || strings.Contains(pg.body, ",order-104") {
			t.Errorf("%s shows Duka's data to Soko", path)
		}
	}
	if pg := soko.get("/dashboard/payments/" + sh.theirs.ID); pg.status != 200 || !strings.Contains(pg.body, "soko-1") {
		t.Errorf("Soko's own payment: %d", pg.status)
	}

	// Test and live data never mix: in live mode the test payments are
	// not there.
	csrf := soko.csrf("/dashboard/")
	if pg := soko.do("POST", "/dashboard/mode", url.Values{"csrf": {csrf}, "mode": {"live"}, "back": {"/dashboard/payments/" + sh.theirs.ID}}); pg.header.Get("Location") != "/dashboard/payments" {
		t.Errorf("switch to live goes back to %q", pg.header.Get("Location"))
	}
	if pg := soko.get("/dashboard/payments"); !strings.Contains(pg.body, `badge-live`) || strings.Contains(pg.body, "soko-1") {
		t.Errorf("live mode shows test payments")
	}
	if pg := soko.get("/dashboard/payments/" + sh.theirs.ID); pg.status != 404 {
		t.Errorf("a test payment's page in live mode: %d", pg.status)
	}

	dev := sh.browser(t)
	dev.signIn("dev@duka.example", sh.password)
	dev.do("POST", "/dashboard/mode", url.Values{"csrf": {dev.csrf("/dashboard/")}, "mode": {"live"}, "back": {"/dashboard/"}})
	if pg := dev.get("/dashboard/"); !strings.Contains(pg.body, "badge-test") || strings.Contains(pg.body, `id="to-live"`) {
		t.Errorf("a developer went live")
	}

	ops := sh.browser(t)
	ops.signIn("ops@malipo.example", sh.password)
	if pg := ops.get("/dashboard/"); pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/dashboard/merchants" {
		t.Errorf("operator home: %d %s", pg.status, pg.header.Get("Location"))
	}
	if pg := ops.get("/dashboard/merchants?q=soko"); !strings.Contains(pg.body, "Soko") || strings.Contains(pg.body, "Duka la Mama") {
		t.Errorf("operator's merchant search")
	}
	if pg := ops.get("/dashboard/payments/" + sh.paid.ID); pg.status != http.StatusSeeOther {
		t.Errorf("an operator opening a merchant's payment page: %d", pg.status)
	}
}

func TestThrottledSignIn(t *testing.T) {
	sh := newShop(t)
	b := sh.browser(t)
	var last page
	for range gateway.DefaultAuthFailures + 1 {
		last = b.signIn("mama@duka.example", "wrong password")
	}
	if last.status != http.StatusTooManyRequests {
		t.Errorf("after %d failures: %d", gateway.DefaultAuthFailures+1, last.status)
	}
}

// From a payment's page an owner refunds (once per form, whatever the
// double clicks) and cancels; a developer may do neither.
func TestRefundAndCancelFromThePaymentPage(t *testing.T) {
	sh := newShop(t)
	owner := sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	page := owner.get("/dashboard/payments/" + sh.paid.ID)
	key := regexp.MustCompile(`name="key" value="([0-9a-f]+)"`).FindStringSubmatch(page.body)
	if key == nil || !strings.Contains(page.body, `id="refund-form"`) {
		t.Fatalf("no refund form:\n%s", page.body)
	}
	csrf := csrfRe.FindStringSubmatch(page.body)[1]
	form := url.Values{"csrf": {csrf}, "key": {key[1]}, "amount": {"1000"}, "reason": {"damaged"}}
	for range 2 { // a double click
		if pg := owner.do("POST", "/dashboard/payments/"+sh.paid.ID+"/refund", form); pg.status != http.StatusSeeOther {
			t.Fatalf("refund: %d %s", pg.status, pg.body)
		}
	}
	after := owner.get("/dashboard/payments/" + sh.paid.ID)
	if !strings.Contains(after.body, `id="done"`) || strings.Count(after.body, "damaged") > 1 {
		t.Errorf("after the refund:\n%s", after.body)
	}
	refunds, err := sh.s.Service.PaymentRefunds(context.Background(), sh.integ, sh.paid.ID)
	if err != nil || len(refunds) != 1 || refunds[0].Amount != 1000 || refunds[0].IntegrationID != sh.integ.ID {
		t.Errorf("refunds: %+v %v", refunds, err)
	}
	// Too much is refused, on the page.
	form.Set("key", "another")
	form.Set("amount", "999999")
	owner.do("POST", "/dashboard/payments/"+sh.paid.ID+"/refund", form)
	if pg := owner.get("/dashboard/payments/" + sh.paid.ID); !strings.Contains(pg.body, `id="error"`) {
		t.Errorf("a refund too large says nothing")
	}
	// Cancel a pending payment.
	pending, _, err := sh.s.Service.CreatePayment(context.Background(), sh.integ, gateway.PaymentInput{Amount: 700, Currency: "XOF", Reference: "to-cancel"}, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	if pg := owner.do("POST", "/dashboard/payments/"+pending.ID+"/cancel", url.Values{"csrf": {csrf}, "key": {"k1"}}); pg.status != http.StatusSeeOther {
		t.Errorf("cancel: %d", pg.status)
	}
	if p, _ := sh.s.Service.GetPayment(context.Background(), sh.integ, pending.ID); p.Status != malipo.PaymentCancelled {
		t.Errorf("after cancel: %s", p.Status)
	}
	// A developer may not; another merchant's owner finds nothing.
	dev := sh.browser(t)
	dev.signIn("dev@duka.example", sh.password)
	if pg := dev.get("/dashboard/payments/" + sh.paid.ID); strings.Contains(pg.body, `id="refund-form"`) {
		t.Error("a developer is offered a refund")
	}
	if pg := dev.do("POST", "/dashboard/payments/"+sh.paid.ID+"/refund", url.Values{"csrf": {dev.csrf("/dashboard/")}, "key": {"k2"}}); pg.status != 403 {
		t.Errorf("a developer's refund: %d", pg.status)
	}
	soko := sh.browser(t)
	soko.signIn("boss@soko.example", sh.password)
	if pg := soko.do("POST", "/dashboard/payments/"+sh.paid.ID+"/refund", url.Values{"csrf": {soko.csrf("/dashboard/")}, "key": {"k3"}}); pg.status != 404 {
		t.Errorf("another merchant's refund: %d", pg.status)
	}
	if refunds, _ := sh.s.Service.PaymentRefunds(context.Background(), sh.integ, sh.paid.ID); len(refunds) != 1 {
		t.Errorf("%d refunds, want the one", len(refunds))
	}
}

// From the developers page an owner rolls a native key (the new one is
// shown once and works) and revokes an integration (after typing its ID);
// a viewer has no such page, and another merchant cannot touch it.
func TestRollAndRevokeFromTheDevelopersPage(t *testing.T) {
	sh := newShop(t)
	native.New(sh.s.Service, nil).Register(sh.s.Mux)
	if _, err := sh.s.Service.CreateUser(context.Background(), gateway.UserInput{MerchantID: sh.integ.MerchantID, Email: "view@duka.example", Password: sh.password, Role: malipo.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	owner := sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	page := owner.get("/dashboard/developers")
	if page.status != 200 || !strings.Contains(page.body, sh.integ.ID) || strings.Contains(page.body, sh.other.ID) || strings.Contains(page.body, "whsec_") {
		t.Fatalf("developers page: %d\n%s", page.status, page.body)
	}
	csrf := csrfRe.FindStringSubmatch(page.body)[1]
	rolled := owner.do("POST", "/dashboard/developers/"+sh.integ.ID+"/roll", url.Values{"csrf": {csrf}, "overlap": {"0s"}})
	m := regexp.MustCompile(`<code id="secret">(sk_test_[A-Za-z0-9]+)</code>`).FindStringSubmatch(rolled.body)
	if rolled.status != 200 || m == nil {
		t.Fatalf("roll: %d\n%s", rolled.status, rolled.body)
	}
	api := func(key string) int {
		req, _ := http.NewRequest("GET", sh.s.Server.URL+"/v1/payments", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := api(m[1]); got != 200 {
		t.Errorf("the rolled key: %d", got)
	}
	if again := owner.get("/dashboard/developers"); strings.Contains(again.body, m[1]) {
		t.Error("the new key is shown twice")
	}
	// Revoking needs the integration's ID typed; then no key works.
	owner.do("POST", "/dashboard/developers/"+sh.integ.ID+"/revoke", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
	if got := api(m[1]); got != 200 {
		t.Errorf("revoked without the confirmation: %d", got)
	}
	owner.do("POST", "/dashboard/developers/"+sh.integ.ID+"/revoke", url.Values{"csrf": {csrf}, "confirm": {sh.integ.ID}})
	if got := api(m[1]); got != 401 {
		t.Errorf("a revoked key: %d", got)
	}
	viewer := sh.browser(t)
	viewer.signIn("view@duka.example", sh.password)
	if pg := viewer.get("/dashboard/developers"); pg.status != 403 {
		t.Errorf("a viewer's developers page: %d", pg.status)
	}
	soko := sh.browser(t)
	soko.signIn("boss@soko.example", sh.password)
	if pg := soko.do("POST", "/dashboard/developers/"+sh.integ.ID+"/roll", url.Values{"csrf": {soko.csrf("/dashboard/")}, "overlap": {"0s"}}); pg.status != 404 {
		t.Errorf("another merchant's roll: %d", pg.status)
	}
}

// The operator suspends a merchant: its API keys are refused with an
// error that says so, its users cannot sign in, and signed-in ones are
// out; reactivated, all works again.
func TestOperatorSuspendsAMerchant(t *testing.T) {
	sh := newShop(t)
	native.New(sh.s.Service, nil).Register(sh.s.Mux)
	ctx := context.Background()
	_, creds, err := sh.s.Service.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: sh.other.MerchantID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	api := func() (int, string) {
		req, _ := http.NewRequest("GET", sh.s.Server.URL+"/v1/payments", nil)
		req.Header.Set("Authorization", "Bearer "+creds["secret_key"])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	soko := sh.browser(t)
	soko.signIn("boss@soko.example", sh.password)
	ops := sh.browser(t)
	ops.signIn("ops@malipo.example", sh.password)
	csrf := ops.csrf("/dashboard/merchants")
	if pg := ops.do("POST", "/dashboard/merchants/"+sh.other.MerchantID+"/suspend", url.Values{"csrf": {csrf}, "action": {"suspend"}}); pg.status != http.StatusSeeOther {
		t.Fatalf("suspend: %d", pg.status)
	}
	if status, body := api(); status != 403 || !strings.Contains(body, "merchant_suspended") {
		t.Errorf("a suspended merchant's key: %d %s", status, body)
	}
	if pg := soko.get("/dashboard/"); pg.status != http.StatusSeeOther {
		t.Errorf("a suspended merchant's signed-in owner: %d", pg.status)
	}
	if pg := sh.browser(t).signIn("boss@soko.example", sh.password); pg.status != 403 || !strings.Contains(pg.body, "suspended") {
		t.Errorf("a suspended merchant's owner signing in: %d", pg.status)
	}
	if pg := ops.get("/dashboard/merchants"); !strings.Contains(pg.body, `value="resume"`) {
		t.Error("the merchants page does not show the suspension")
	}
	// Duka is untouched.
	duka := sh.browser(t)
	if pg := duka.signIn("mama@duka.example", sh.password); pg.status != http.StatusSeeOther {
		t.Errorf("another merchant's owner: %d", pg.status)
	}
	ops.do("POST", "/dashboard/merchants/"+sh.other.MerchantID+"/suspend", url.Values{"csrf": {csrf}, "action": {"resume"}})
	if status, body := api(); status != 200 {
		t.Errorf("after reactivation: %d %s", status, body)
	}
	// Only an operator may.
	if pg := duka.do("POST", "/dashboard/merchants/"+sh.other.MerchantID+"/suspend", url.Values{"csrf": {duka.csrf("/dashboard/")}, "action": {"suspend"}}); pg.status != 404 {
		t.Errorf("a merchant's owner suspending another: %d", pg.status)
	}
}

// The balance statement shows every movement with the balance after it,
// exports as CSV, and is the merchant's own; refunds are listed.
func TestStatementAndRefunds(t *testing.T) {
	sh := newShop(t)
	ctx := context.Background()
	if _, _, err := sh.s.Service.CreateRefund(ctx, sh.integ, gateway.RefundInput{PaymentID: sh.paid.ID, Amount: 500, Reason: "one shoe"}, gateway.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	owner := sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	st := owner.get("/dashboard/balance?currency=XOF")
	if st.status != 200 || !strings.Contains(st.body, `id="statement"`) || !strings.Contains(st.body, sh.paid.ID) || !strings.Contains(st.body, "FCFA\u00a04,425") {
		t.Errorf("statement: %d\n%s", st.status, st.body)
	}
	export := owner.get("/dashboard/balance.csv?currency=XOF")
	rows, err := csv.NewReader(strings.NewReader(export.body)).ReadAll()
	if err != nil || len(rows) < 3 || rows[0][0] != "entry" || rows[1][7] != "4425" {
		t.Errorf("statement export: %v %v", rows, err)
	}
	if pg := owner.get("/dashboard/balance?currency=XOF&bucket=gold"); pg.status != 400 {
		t.Errorf("a bucket that is none: %d", pg.status)
	}
	// Between two days, on the page and in its export, whose link and
	// file name keep the days.
	day := facetest.Start.Format("2006-01-02")
	that := owner.get("/dashboard/balance?currency=XOF&from=" + day + "&to=" + day)
	link := regexp.MustCompile(`id="export" href="([^"]+)"`).FindStringSubmatch(that.body)
	if that.status != 200 || !strings.Contains(that.body, sh.paid.ID) || link == nil {
		t.Fatalf("the statement of %s: %d\n%s", day, that.status, that.body)
	}
	dayExport := owner.get(html.UnescapeString(link[1]))
	if rows, err := csv.NewReader(strings.NewReader(dayExport.body)).ReadAll(); err != nil || len(rows) != len(mustRows(t, export.body)) ||
		!strings.Contains(dayExport.header.Get("Content-Disposition"), "statement-test-XOF-"+day+"-"+day) {
		t.Errorf("the export of %s (%s): %v %v %v", day, link[1], rows, err, dayExport.header)
	}
	if old := owner.get("/dashboard/balance?currency=XOF&to=2020-01-01"); old.status != 200 || strings.Contains(old.body, sh.paid.ID) {
		t.Errorf("the statement up to 2020 shows today's payment: %d", old.status)
	}
	if old := owner.get("/dashboard/balance.csv?currency=XOF&to=2020-01-01"); len(mustRows(t, old.body)) != 1 {
		t.Errorf("the export up to 2020: %s", old.body)
	}
	if pg := owner.get("/dashboard/balance?currency=XOF&from=yesterday"); pg.status != 400 || !strings.Contains(pg.body, "YYYY-MM-DD") {
		t.Errorf("a bad day: %d", pg.status)
	}
	if pg := owner.get("/dashboard/refunds"); !strings.Contains(pg.body, "one shoe") || !strings.Contains(pg.body, sh.paid.ID) {
		t.Errorf("refunds page:\n%s", pg.body)
	}
	soko := sh.browser(t)
	soko.signIn("boss@soko.example", sh.password)
	for _, path := range []string{"/dashboard/balance?currency=XOF", "/dashboard/balance.csv?currency=XOF", "/dashboard/refunds"} {
		if pg := soko.get(path); strings.Contains(pg.body, sh.paid.ID) || strings.Contains(pg.body, "one shoe") {
			t.Errorf("%s shows Duka's money to Soko", path)
		}
	}
}

// mustRows reads a CSV export's rows, the header first.
func mustRows(t *testing.T, body string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, body)
	}
	return rows
}

// A payout takes two steps: the form, then a confirmation that sends it;
// sending the confirmation twice pays once; only an owner may.
func TestPayoutWithConfirmation(t *testing.T) {
	sh := newShop(t)
	ctx := context.Background()
	if _, err := sh.s.Service.Topup(ctx, sh.integ, 100_000, "XOF"); err != nil {
		t.Fatal(err)
	}
	owner := sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	form := owner.get("/dashboard/payouts/new")
	key := regexp.MustCompile(`name="key" value="([0-9a-f]+)"`).FindStringSubmatch(form.body)
	if form.status != 200 || key == nil || !strings.Contains(form.body, sh.integ.ID) {
		t.Fatalf("payout form: %d\n%s", form.status, form.body)
	}
	csrf := csrfRe.FindStringSubmatch(form.body)[1]
	values := url.Values{"csrf": {csrf}, "key": {key[1]}, "integration": {sh.integ.ID}, "account": {"+2250707120000"},
		"amount": {"2500"}, "currency": {"XOF"}, "narration": {"Supplier"}}
	confirm := owner.do("POST", "/dashboard/payouts/new", values)
	if !strings.Contains(confirm.body, `id="confirm"`) || !strings.Contains(confirm.body, `id="send"`) {
		t.Fatalf("no confirmation step:\n%s", confirm.body)
	}
	if ps, _ := sh.s.Service.ListPayouts(ctx, sh.integ, store.PayoutFilter{}); len(ps) != 0 {
		t.Fatalf("money left before the confirmation: %+v", ps)
	}
	var where string
	for range 2 { // a double click on "Send"
		sent := owner.do("POST", "/dashboard/payouts", values)
		if sent.status != http.StatusSeeOther || !strings.HasPrefix(sent.header.Get("Location"), "/dashboard/payouts/po_") {
			t.Fatalf("send: %d %s\n%s", sent.status, sent.header.Get("Location"), sent.body)
		}
		if where != "" && sent.header.Get("Location") != where {
			t.Errorf("the second send went to %s, the first to %s", sent.header.Get("Location"), where)
		}
		where = sent.header.Get("Location")
	}
	ps, _ := sh.s.Service.ListPayouts(ctx, sh.integ, store.PayoutFilter{})
	if len(ps) != 1 || ps[0].Amount != 2500 || ps[0].Destination.Account != "+2250707120000" {
		t.Errorf("payouts: %+v", ps)
	}
	if pg := owner.get(where); pg.status != 200 || !strings.Contains(pg.body, "2250707120000") {
		t.Errorf("payout page: %d", pg.status)
	}
	if pg := owner.get("/dashboard/payouts"); !strings.Contains(pg.body, where) {
		t.Errorf("payouts list lacks the payout")
	}
	export := owner.get("/dashboard/payouts.csv")
	if rows, err := csv.NewReader(strings.NewReader(export.body)).ReadAll(); err != nil || len(rows) != 2 || rows[1][3] != "2500" || rows[1][8] != "+2250707120000" {
		t.Errorf("payouts export: %v %v", rows, err)
	}
	dev := sh.browser(t)
	dev.signIn("dev@duka.example", sh.password)
	if pg := dev.get("/dashboard/payouts/new"); pg.status != 403 {
		t.Errorf("a developer's payout form: %d", pg.status)
	}
	soko := sh.browser(t)
	soko.signIn("boss@soko.example", sh.password)
	if pg := soko.get(where); pg.status != 404 {
		t.Errorf("another merchant's payout page: %d", pg.status)
	}
}

// Webhooks: add an endpoint (its secret shown once), see a delivery and
// its attempts, send the event again; disable; another merchant cannot.
func TestWebhooksPage(t *testing.T) {
	sh := newShop(t)
	ctx := context.Background()
	var got int
	var mu sync.Mutex
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got++
		mu.Unlock()
	}))
	defer receiver.Close()
	sh.s.Flavors[malipo.FlavorNative] = native.New(sh.s.Service, nil).Flavor()
	owner := sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	page := owner.get("/dashboard/webhooks")
	csrf := csrfRe.FindStringSubmatch(page.body)[1]
	key := regexp.MustCompile(`name="key" value="([0-9a-f]+)"`).FindStringSubmatch(page.body)[1]
	added := owner.do("POST", "/dashboard/webhooks/new", url.Values{"csrf": {csrf}, "key": {key}, "action": {"create"}, "url": {receiver.URL + "/hooks"}, "events": {"payment.succeeded"}})
	if added.status != 200 || !regexp.MustCompile(`<code id="secret">whsec_`).MatchString(added.body) {
		t.Fatalf("add endpoint: %d\n%s", added.status, added.body)
	}
	if again := owner.get("/dashboard/webhooks"); strings.Contains(again.body, `id="secret"`) {
		t.Error("the secret is shown twice")
	}
	p, _, err := sh.s.Service.CreatePayment(ctx, sh.integ, gateway.PaymentInput{Amount: 1000, Currency: "XOF", Reference: "hooked", Method: "mobile_money", Phone: "+2250707120000"}, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sh.s.Dispatcher.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	log := owner.get("/dashboard/webhooks")
	evs, _ := sh.s.Service.ListEvents(ctx, sh.integ, store.EventFilter{ObjectID: p.ID, Limit: 10})
	if len(evs) != 1 || !strings.Contains(log.body, receiver.URL+"/hooks") || !strings.Contains(log.body, "HTTP 200") {
		t.Fatalf("delivery log (%d events):\n%s", len(evs), log.body)
	}
	if pg := owner.do("POST", "/dashboard/webhooks/events/"+evs[0].ID+"/replay", url.Values{"csrf": {csrf}, "key": {"r1"}}); pg.status != http.StatusSeeOther {
		t.Errorf("replay: %d", pg.status)
	}
	if _, err := sh.s.Dispatcher.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if got != 2 {
		t.Errorf("the receiver got %d deliveries, want 2 (the event, then its replay)", got)
	}
	mu.Unlock()
	eps, _ := sh.s.Service.ListEndpoints(ctx, sh.integ)
	if len(eps) != 1 {
		t.Fatalf("endpoints: %+v", eps)
	}
	owner.do("POST", "/dashboard/webhooks/"+eps[0].ID, url.Values{"csrf": {csrf}, "action": {"edit"}, "url": {receiver.URL + "/v2"}, "events": {"payment.*, payout.succeeded"}})
	if eps, _ := sh.s.Service.ListEndpoints(ctx, sh.integ); eps[0].URL != receiver.URL+"/v2" || len(eps[0].Events) != 2 {
		t.Errorf("after the edit: %+v", eps[0])
	}
	owner.do("POST", "/dashboard/webhooks/"+eps[0].ID, url.Values{"csrf": {csrf}, "action": {"disable"}})
	if eps, _ := sh.s.Service.ListEndpoints(ctx, sh.integ); !eps[0].Disabled {
		t.Error("the endpoint is still enabled")
	}
	soko := sh.browser(t)
	soko.signIn("boss@soko.example", sh.password)
	sokoCSRF := soko.csrf("/dashboard/webhooks")
	if pg := soko.do("POST", "/dashboard/webhooks/"+eps[0].ID, url.Values{"csrf": {sokoCSRF}, "action": {"delete"}}); pg.status != 404 {
		t.Errorf("another merchant deleting the endpoint: %d", pg.status)
	}
	if pg := soko.do("POST", "/dashboard/webhooks/events/"+evs[0].ID+"/replay", url.Values{"csrf": {sokoCSRF}, "key": {"r2"}}); pg.status != 404 {
		t.Errorf("another merchant replaying the event: %d", pg.status)
	}
}

// Two-factor sign-in from the account page: the key is shown (as a QR
// code and as text), a code confirms it, and then signing in asks for the
// code.
func TestTwoFactorFromTheAccountPage(t *testing.T) {
	sh := newShop(t)
	b := sh.browser(t)
	b.signIn("mama@duka.example", sh.password)
	csrf := b.csrf("/dashboard/account")
	enrolled := b.do("POST", "/dashboard/account/totp", url.Values{"csrf": {csrf}})
	m := regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`).FindStringSubmatch(enrolled.body)
	if enrolled.status != 200 || m == nil || !strings.Contains(enrolled.body, `src="data:image/png;base64,`) {
		t.Fatalf("enroll: %d\n%s", enrolled.status, enrolled.body)
	}
	code, _ := totp.GenerateCode(m[1], sh.s.Clock.Now())
	if pg := b.do("POST", "/dashboard/account/totp/confirm", url.Values{"csrf": {csrf}, "code": {code}}); pg.status != http.StatusSeeOther {
		t.Fatalf("confirm: %d\n%s", pg.status, pg.body)
	}
	if pg := b.get("/dashboard/account"); !strings.Contains(pg.body, `id="totp-on"`) {
		t.Error("the account page does not say two-factor sign-in is on")
	}
	other := sh.browser(t)
	if pg := other.signIn("mama@duka.example", sh.password); pg.status != 401 || !strings.Contains(pg.body, "authenticator") {
		t.Errorf("sign-in without the code: %d", pg.status)
	}
	if pg := other.do("POST", "/dashboard/login", url.Values{"email": {"mama@duka.example"}, "password": {sh.password}, "code": {code}}); pg.status != http.StatusSeeOther {
		t.Errorf("sign-in with the code: %d", pg.status)
	}
}

// The daily settlement report: per day, payments, gross, fees and net.
func TestSettlementReport(t *testing.T) {
	sh := newShop(t)
	b := sh.browser(t)
	b.signIn("mama@duka.example", sh.password)
	pg := b.get("/dashboard/settlements.csv?currency=XOF&days=3")
	rows, err := csv.NewReader(strings.NewReader(pg.body)).ReadAll()
	if err != nil || pg.status != 200 || len(rows) != 4 || rows[0][4] != "gross" {
		t.Fatalf("report: %d %v %v", pg.status, rows, err)
	}
	if today := rows[3]; today[0] != "2026-03-01" || today[2] != "2" || today[3] != "1" || today[4] != "5000" || today[5] != "75" || today[6] != "4925" {
		t.Errorf("today's row: %v", today)
	}
	if pg := b.get("/dashboard/settlements.csv?currency=XOF&days=9999"); pg.status != 400 {
		t.Errorf("9999 days: %d", pg.status)
	}
	// A month's report, or a day's, linked from the statement of those
	// days and named after them.
	day := facetest.Start.Format("2006-01-02")
	st := b.get("/dashboard/balance?currency=XOF&from=" + day + "&to=" + day)
	link := regexp.MustCompile(`id="settlements" href="([^"]+)"`).FindStringSubmatch(st.body)
	if link == nil {
		t.Fatalf("no settlement report link:\n%s", st.body)
	}
	that := b.get(html.UnescapeString(link[1]))
	if rows := mustRows(t, that.body); len(rows) != 2 || rows[1][0] != day || rows[1][4] != "5000" ||
		!strings.Contains(that.header.Get("Content-Disposition"), "settlements-test-XOF-"+day+"-"+day+".csv") {
		t.Errorf("the report of %s (%s): %v %v", day, link[1], rows, that.header)
	}
	if feb := mustRows(t, b.get("/dashboard/settlements.csv?currency=XOF&from=2026-02-01&to=2026-02-28").body); len(feb) != 29 ||
		feb[1][0] != "2026-02-01" || feb[28][0] != "2026-02-28" || feb[28][2] != "0" {
		t.Errorf("February's report: %v", feb)
	}
	for _, q := range []string{"from=2026-03-02&to=2026-03-01", "from=2024-01-01&to=2026-03-01", "from=yesterday", "days=ninety"} {
		if pg := b.get("/dashboard/settlements.csv?currency=XOF&" + q); pg.status != 400 {
			t.Errorf("settlements ?%s: %d", q, pg.status)
		}
	}
}

// A dirty audit shows the operator every problem it found, each kind
// named as malipo verify names it, in the same order on every load.
func TestPlatformListsTheAuditsProblems(t *testing.T) {
	sh := newShop(t)
	now := sh.s.Clock.Now()
	err := sh.s.Store.Transact(context.Background(), func(tx store.Tx) error {
		if err := tx.CreateInboxItem(malipo.InboxItem{ID: "inb_waiting", Rail: "sandbox", Mode: malipo.ModeTest, AttemptID: "att_a",
			Source: "callback", Verdict: malipo.VerdictSucceeded, ReceivedAt: now.Add(-2 * time.Minute)}); err != nil {
			return err
		}
		// Kept just now: it waits for its retry, and is no problem yet.
		if err := tx.CreateInboxItem(malipo.InboxItem{ID: "inb_recent", Rail: "sandbox", Mode: malipo.ModeTest, AttemptID: "att_c",
			Source: "callback", Verdict: malipo.VerdictSucceeded, ReceivedAt: now, Tries: 1, RetryAt: now.Add(5 * time.Second)}); err != nil {
			return err
		}
		return tx.CreateInboxItem(malipo.InboxItem{ID: "inb_contrary", Rail: "sandbox", Mode: malipo.ModeTest, AttemptID: "att_b",
			Source: "callback", Verdict: malipo.VerdictFailed, ReceivedAt: now, AppliedAt: now, Result: malipo.ResultConflicting})
	})
	if err != nil {
		t.Fatal(err)
	}
	ops := sh.browser(t)
	ops.signIn("ops@malipo.example", sh.password)
	for range 4 {
		pg := ops.get("/dashboard/platform")
		waiting := strings.Index(pg.body, "rail outcomes not applied within a minute: inb_waiting")
		contrary := strings.Index(pg.body, "rail outcomes contradicting an earlier verdict: inb_contrary")
		if pg.status != 200 || !strings.Contains(pg.body, `id="audit-problems"`) || waiting < 0 || contrary < waiting {
			t.Fatalf("platform with a dirty audit: %d\n%s", pg.status, pg.body)
		}
		if strings.Contains(pg.body, "inb_recent") || !strings.Contains(pg.body, "(their first application failed in the last minute): 1.") {
			t.Fatalf("platform with an outcome waiting for its retry: %d\n%s", pg.status, pg.body)
		}
	}
	// In French, the kinds of problem are named in French.
	pg := ops.get("/dashboard/platform?lang=fr")
	if !strings.Contains(pg.body, "résultats d’opérateurs non appliqués en une minute : inb_waiting") ||
		!strings.Contains(pg.body, "résultats d’opérateurs contraires à un verdict antérieur : inb_contrary") {
		t.Errorf("platform with a dirty audit, in French: %d\n%s", pg.status, pg.body)
	}
}

// The operator's views: the ledger audit and the rails' circuits, and a
// merchant's balances and last 30 days in both modes.
func TestOperatorViews(t *testing.T) {
	sh := newShop(t)
	ops := sh.browser(t)
	ops.signIn("ops@malipo.example", sh.password)
	if pg := ops.get("/dashboard/platform"); pg.status != 200 || !strings.Contains(pg.body, `id="audit-clean"`) || !strings.Contains(pg.body, "No live rail") {
		t.Errorf("platform: %d\n%s", pg.status, pg.body)
	}
	pg := ops.get("/dashboard/merchants/" + sh.integ.MerchantID)
	if pg.status != 200 || !strings.Contains(pg.body, "Duka la Mama") || !strings.Contains(pg.body, "FCFA\u00a04,925") || !strings.Contains(pg.body, `id="mode-live"`) {
		t.Errorf("a merchant's page: %d\n%s", pg.status, pg.body)
	}
	if pg := ops.get("/dashboard/merchants/mer_nope"); pg.status != 404 {
		t.Errorf("an unknown merchant: %d", pg.status)
	}
	owner := sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	for _, path := range []string{"/dashboard/platform", "/dashboard/merchants/" + sh.integ.MerchantID} {
		if pg := owner.get(path); pg.status != 404 {
			t.Errorf("%s as a merchant's owner: %d", path, pg.status)
		}
	}
}

// From the developers page: create an integration (its credentials shown
// once, and working), and change an integration's settings.
func TestCreateIntegrationAndSettings(t *testing.T) {
	sh := newShop(t)
	native.New(sh.s.Service, nil).Register(sh.s.Mux)
	owner := sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	csrf := owner.csrf("/dashboard/developers")
	made := owner.do("POST", "/dashboard/developers/new", url.Values{"csrf": {csrf}, "flavor": {"native"}, "payouts": {"off"}, "country": {"ke"}})
	m := regexp.MustCompile(`data-name="secret_key">(sk_test_[A-Za-z0-9]+)<`).FindStringSubmatch(made.body)
	if made.status != 200 || m == nil {
		t.Fatalf("create: %d\n%s", made.status, made.body)
	}
	in, err := sh.s.Service.Authenticate(context.Background(), m[1])
	if err != nil || in.Mode != malipo.ModeTest || sh.s.Service.Home(in) != "KE" || sh.s.Service.PayoutsEnabled(in) {
		t.Errorf("the new integration: %+v %v", in, err)
	}
	if pg := owner.do("POST", "/dashboard/developers/"+sh.integ.ID+"/settings", url.Values{"csrf": {csrf}, "notify_url": {"https://duka.example/ipn"},
		"allow_ips": {"192.0.2.0/24, 10.0.0.1"}, "country": {"RW"}, "payouts": {"off"}, "payouts_per_destination": {"5"}, "payout_window": {"12h"}, "max_payout": {"100000"}}); pg.status != http.StatusSeeOther {
		t.Fatalf("settings: %d", pg.status)
	}
	list, _ := sh.s.Service.ListIntegrations(context.Background(), sh.integ.MerchantID)
	var got malipo.Integration
	for _, x := range list {
		if x.ID == sh.integ.ID {
			got = x
		}
	}
	if got.NotifyURL != "https://duka.example/ipn" || got.Config["allow_ips"] != "192.0.2.0/24,10.0.0.1" || sh.s.Service.Home(got) != "RW" ||
		sh.s.Service.PayoutsEnabled(got) || got.Rules.PayoutsPerDestination != 5 || got.Rules.PayoutWindow != 12*time.Hour || got.Rules.MaxPayout != 100000 {
		t.Errorf("after the settings: %+v", got)
	}
	owner.do("POST", "/dashboard/developers/"+sh.integ.ID+"/settings", url.Values{"csrf": {csrf}, "country": {"ZZ"}})
	if pg := owner.get("/dashboard/developers"); !strings.Contains(pg.body, `id="error"`) {
		t.Error("a country that is none says nothing")
	}
	soko := sh.browser(t)
	soko.signIn("boss@soko.example", sh.password)
	if pg := soko.do("POST", "/dashboard/developers/"+sh.integ.ID+"/settings", url.Values{"csrf": {soko.csrf("/dashboard/")}, "country": {"SN"}}); pg.status != 404 {
		t.Errorf("another merchant's settings: %d", pg.status)
	}
}

// Every route, as another merchant's owner aimed at Duka's objects: not
// found (or nothing of Duka's shown), and nothing changes.
func TestEveryRouteKeepsMerchantsApart(t *testing.T) {
	sh := newShop(t)
	ctx := context.Background()
	po := sh.payouts(t, "duka-po", 1)[0]
	re, _, err := sh.s.Service.CreateRefund(ctx, sh.integ, gateway.RefundInput{PaymentID: sh.paid.ID, Amount: 100}, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	url1 := "https://duka.example/hooks"
	ep, _, _, err := sh.s.Service.CreateEndpoint(ctx, sh.integ, gateway.EndpointInput{URL: &url1}, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := sh.s.Service.ListEvents(ctx, sh.integ, store.EventFilter{Limit: 1})
	soko := sh.browser(t)
	soko.signIn("boss@soko.example", sh.password)
	csrf := soko.csrf("/dashboard/")
	secret := []string{sh.paid.ID, po.ID, re.ID, ep.ID, "order-1042", "Awa Diop", "duka.example/hooks", sh.integ.ID}
	for _, path := range []string{"/dashboard/", "/dashboard/payments", "/dashboard/payments.csv", "/dashboard/payments?q=" + sh.paid.ID,
		"/dashboard/refunds", "/dashboard/refunds.csv", "/dashboard/payouts", "/dashboard/payouts.csv", "/dashboard/balance?currency=XOF", "/dashboard/balance.csv?currency=XOF",
		"/dashboard/settlements.csv?currency=XOF", "/dashboard/webhooks", "/dashboard/developers", "/dashboard/account"} {
		pg := soko.get(path)
		for _, s := range secret {
			if strings.Contains(pg.body, s) && !strings.Contains(path, s) {
				t.Errorf("GET %s shows Duka's %s", path, s)
			}
		}
	}
	for _, path := range []string{"/dashboard/payments/" + sh.paid.ID, "/dashboard/payouts/" + po.ID, "/dashboard/merchants", "/dashboard/platform",
		"/dashboard/merchants/" + sh.integ.MerchantID} {
		if pg := soko.get(path); pg.status != 404 {
			t.Errorf("GET %s: %d, want 404", path, pg.status)
		}
	}
	for path, form := range map[string]url.Values{
		"/dashboard/payments/" + sh.paid.ID + "/refund":            {"key": {"x1"}},
		"/dashboard/payments/" + sh.paid.ID + "/cancel":            {"key": {"x2"}},
		"/dashboard/developers/" + sh.integ.ID + "/roll":           {"overlap": {"0s"}},
		"/dashboard/developers/" + sh.integ.ID + "/revoke":         {"confirm": {sh.integ.ID}},
		"/dashboard/developers/" + sh.integ.ID + "/settings":       {"country": {"SN"}},
		"/dashboard/webhooks/" + ep.ID:                             {"action": {"delete"}},
		"/dashboard/webhooks/events/" + evs[0].ID + "/replay":      {"key": {"x3"}},
		"/dashboard/merchants/" + sh.integ.MerchantID + "/suspend": {"action": {"suspend"}},
	} {
		form.Set("csrf", csrf)
		if pg := soko.do("POST", path, form); pg.status != 404 {
			t.Errorf("POST %s: %d, want 404", path, pg.status)
		}
	}
	// Nothing of Duka's changed.
	if rs, _ := sh.s.Service.PaymentRefunds(ctx, sh.integ, sh.paid.ID); len(rs) != 1 || rs[0].ID != re.ID { // Duka's own only
		t.Errorf("refunds: %+v", rs)
	}
	if _, err := sh.s.Service.GetEndpoint(ctx, sh.integ, ep.ID); err != nil {
		t.Errorf("endpoint: %v", err)
	}
	if logs, _ := sh.s.Service.EventDeliveries(ctx, sh.integ, evs[0].ID); len(logs) > 1 {
		t.Errorf("deliveries: %d", len(logs))
	}
	list, _ := sh.s.Service.ListIntegrations(ctx, sh.integ.MerchantID)
	for _, in := range list {
		if in.ID == sh.integ.ID && in.Config["country"] != "" {
			t.Errorf("settings changed: %+v", in.Config)
		}
	}
	if m, _ := sh.s.Service.Merchant(ctx, sh.integ.MerchantID); !m.SuspendedAt.IsZero() {
		t.Error("Duka suspended")
	}
	if keys, _ := sh.s.Service.APIKeys(ctx, sh.integ.ID); len(keys) != 1 || !keys[0].ExpiresAt.IsZero() {
		t.Errorf("keys: %+v", keys)
	}
}

// The operator creates a merchant and its first owner, who can sign in.
func TestOperatorCreatesAMerchant(t *testing.T) {
	sh := newShop(t)
	ops := sh.browser(t)
	ops.signIn("ops@malipo.example", sh.password)
	csrf := ops.csrf("/dashboard/merchants")
	pg := ops.do("POST", "/dashboard/merchants", url.Values{"csrf": {csrf}, "name": {"Kiosk Kofi"}, "email": {"kofi@kiosk.example"}, "password": {"a long first password"}})
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.header.Get("Location"), "/dashboard/merchants/mer_") {
		t.Fatalf("create: %d %s", pg.status, pg.header.Get("Location"))
	}
	if pg := sh.browser(t).signIn("kofi@kiosk.example", "a long first password"); pg.status != http.StatusSeeOther {
		t.Errorf("the new owner signs in: %d", pg.status)
	}
	ops.do("POST", "/dashboard/merchants", url.Values{"csrf": {csrf}, "name": {""}})
	if pg := ops.get("/dashboard/merchants"); !strings.Contains(pg.body, `id="error"`) {
		t.Error("a merchant without a name says nothing")
	}
	owner := sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	if pg := owner.do("POST", "/dashboard/merchants", url.Values{"csrf": {owner.csrf("/dashboard/")}, "name": {"Mine"}}); pg.status != 404 {
		t.Errorf("a merchant's owner creating merchants: %d", pg.status)
	}
}

// An owner manages the merchant's users: adds one, changes a role,
// disables (which signs them out) and re-enables; the last owner stays;
// another merchant's users are out of reach.
func TestOwnerManagesUsers(t *testing.T) {
	sh := newShop(t)
	ctx := context.Background()
	owner := sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	csrf := owner.csrf("/dashboard/users")
	if pg := owner.do("POST", "/dashboard/users", url.Values{"csrf": {csrf}, "email": {"help@duka.example"}, "role": {"support"}, "password": {"a first password"}}); pg.status != http.StatusSeeOther {
		t.Fatalf("add: %d", pg.status)
	}
	support := sh.browser(t)
	if pg := support.signIn("help@duka.example", "a first password"); pg.status != http.StatusSeeOther {
		t.Fatalf("the new user signs in: %d", pg.status)
	}
	users, _ := sh.s.Service.ListUsers(ctx, sh.integ.MerchantID)
	var help, mama malipo.User
	for _, u := range users {
		switch u.Email {
		case "help@duka.example":
			help = u
		case "mama@duka.example":
			mama = u
		}
	}
	owner.do("POST", "/dashboard/users/"+help.ID, url.Values{"csrf": {csrf}, "action": {"role"}, "role": {"viewer"}})
	owner.do("POST", "/dashboard/users/"+help.ID, url.Values{"csrf": {csrf}, "action": {"disable"}})
	if pg := support.get("/dashboard/"); pg.status != http.StatusSeeOther {
		t.Errorf("a disabled user's session: %d", pg.status)
	}
	if pg := sh.browser(t).signIn("help@duka.example", "a first password"); pg.status != 401 {
		t.Errorf("a disabled user signs in: %d", pg.status)
	}
	users, _ = sh.s.Service.ListUsers(ctx, sh.integ.MerchantID)
	for _, u := range users {
		if u.ID == help.ID && (u.Role != malipo.RoleViewer || u.DisabledAt.IsZero()) {
			t.Errorf("after the changes: %+v", u)
		}
	}
	// The last owner cannot be disabled or demoted.
	owner.do("POST", "/dashboard/users/"+mama.ID, url.Values{"csrf": {csrf}, "action": {"role"}, "role": {"viewer"}})
	if pg := owner.get("/dashboard/users"); !strings.Contains(pg.body, `id="error"`) {
		t.Error("demoting the last owner says nothing")
	}
	// Developers have no such page; another merchant cannot touch Duka's users.
	dev := sh.browser(t)
	dev.signIn("dev@duka.example", sh.password)
	if pg := dev.get("/dashboard/users"); pg.status != 403 {
		t.Errorf("a developer's users page: %d", pg.status)
	}
	soko := sh.browser(t)
	soko.signIn("boss@soko.example", sh.password)
	if pg := soko.do("POST", "/dashboard/users/"+mama.ID, url.Values{"csrf": {soko.csrf("/dashboard/")}, "action": {"disable"}}); pg.status != 404 {
		t.Errorf("another merchant disabling Duka's owner: %d", pg.status)
	}
	if pg := soko.get("/dashboard/users"); strings.Contains(pg.body, "mama@duka.example") {
		t.Error("another merchant sees Duka's users")
	}
}

// Each list of more than a page links to its older page, and that link
// leads there: the rest of the list, in the same selection. The
// operator's merchants, searched or not, and the webhooks page's events
// too.
func TestOlderPagesFollow(t *testing.T) {
	sh := newShop(t)
	ctx := context.Background()
	const extra = 52 // with the shop's own, more than a page of 50 of each
	for i := range extra {
		p, _, err := sh.s.Service.CreatePayment(ctx, sh.integ, gateway.PaymentInput{Amount: 1000, Currency: "XOF",
			Reference: fmt.Sprintf("page-%d", i), Method: "mobile_money", Phone: "+2250707120000"}, gateway.Idempotency{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := sh.s.Service.CreateRefund(ctx, sh.integ, gateway.RefundInput{PaymentID: p.ID, Amount: 100}, gateway.Idempotency{}); err != nil {
			t.Fatal(err)
		}
	}
	sh.payouts(t, "po", extra)
	for i := range extra {
		if _, err := sh.s.Service.CreateMerchant(ctx, fmt.Sprintf("Shop %d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	merchants, err := sh.s.Service.ListMerchants(ctx, store.MerchantFilter{Limit: gateway.MaxPageSize})
	if err != nil || len(merchants) <= extra {
		t.Fatalf("%d merchants, %v", len(merchants), err)
	}
	owner, ops := sh.browser(t), sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	ops.signIn("ops@malipo.example", sh.password)
	events := 0
	for after := ""; ; {
		evs, err := sh.s.Service.ListEvents(ctx, sh.integ, store.EventFilter{StartingAfter: after, Limit: gateway.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		if events += len(evs); len(evs) < gateway.MaxPageSize {
			break
		}
		after = evs[len(evs)-1].ID
	}
	tr := regexp.MustCompile(`<tr[ >]`)
	rows := func(body string) int { // a table's rows but its header, or the webhooks page's events
		n := len(tr.FindAllString(body, -1))
		if n > 0 {
			n--
		}
		return n + strings.Count(body, `<li id="ev-`)
	}
	older := regexp.MustCompile(`<a href="([^"]+)" id="older">`)
	for _, list := range []struct {
		who  *browser
		path string
		want int
	}{
		{ops, "/dashboard/merchants", len(merchants)},
		{ops, "/dashboard/merchants?q=shop", extra},
		{owner, "/dashboard/payments?currency=XOF", 2 + extra},
		{owner, "/dashboard/balance?currency=XOF", len(mustRows(t, owner.get("/dashboard/balance.csv?currency=XOF").body)) - 1}, // as many as its export lists
		{owner, "/dashboard/refunds", extra},
		{owner, "/dashboard/payouts", extra},
		{owner, "/dashboard/webhooks", events},
	} {
		got, pages, path := 0, 0, list.path
		for path != "" && pages < 20 {
			pg := list.who.get(path)
			if pg.status != 200 {
				t.Fatalf("%s: %d", path, pg.status)
			}
			got, pages, path = got+rows(pg.body), pages+1, ""
			if link := older.FindStringSubmatch(pg.body); link != nil {
				path = html.UnescapeString(link[1])
			}
		}
		if pages < 2 || got != list.want || got < extra {
			t.Errorf("%s: %d rows over %d pages, want %d over more than one", list.path, got, pages, list.want)
		}
	}
}

// An export is whole or fails: past its bound, the statement's is
// refused with the reason, and the payments' and payouts', whose status
// is sent before their rows are read, are cut short so that the download
// fails instead of ending as if whole.
func TestExportsAreWholeOrFail(t *testing.T) {
	sh := newShop(t)
	sh.payouts(t, "po", 2)
	for range 2 {
		if _, _, err := sh.s.Service.CreateRefund(context.Background(), sh.integ, gateway.RefundInput{PaymentID: sh.paid.ID, Amount: 100}, gateway.Idempotency{}); err != nil {
			t.Fatal(err)
		}
	}
	owner := sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	whole := func(path string) (int, string, error) {
		res, err := owner.client.Get(owner.base + path)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res.StatusCode, string(b), err
	}
	for _, path := range []string{"/dashboard/payments.csv", "/dashboard/payouts.csv", "/dashboard/refunds.csv", "/dashboard/balance.csv?currency=XOF"} {
		if status, body, err := whole(path); err != nil || status != 200 || len(mustRows(t, body)) < 3 {
			t.Errorf("%s, unbounded: %d, %v\n%s", path, status, err, body)
		}
	}
	dashboard.SetMaxExport(t, 1)
	for _, path := range []string{"/dashboard/payments.csv", "/dashboard/payouts.csv", "/dashboard/refunds.csv"} {
		if _, body, err := whole(path); err == nil {
			t.Errorf("%s past its bound ended as if whole:\n%s", path, body)
		}
	}
	if status, body, _ := whole("/dashboard/balance.csv?currency=XOF"); status != 400 || !strings.Contains(body, "at most 1 rows") {
		t.Errorf("the statement past its bound: %d %s", status, body)
	}
}

// Payouts and refunds between two days, on their pages and in their
// exports, whose links and file names keep the days; a day that is none
// is refused.
func TestListsBetweenTwoDays(t *testing.T) {
	sh := newShop(t)
	po := sh.payouts(t, "po-day", 1)[0]
	re, _, err := sh.s.Service.CreateRefund(context.Background(), sh.integ, gateway.RefundInput{PaymentID: sh.paid.ID, Amount: 100}, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	owner := sh.browser(t)
	owner.signIn("mama@duka.example", sh.password)
	day := facetest.Start.Format("2006-01-02")
	for _, list := range []struct {
		path, id string
		shows    string // what of it the page shows: the refunds list names the payment
	}{{"/dashboard/payouts", po.ID, po.ID}, {"/dashboard/refunds", re.ID, re.PaymentID}} {
		that := owner.get(list.path + "?from=" + day + "&to=" + day)
		link := regexp.MustCompile(`href="([^"]+)" id="export"`).FindStringSubmatch(that.body)
		if that.status != 200 || !strings.Contains(that.body, list.shows) || link == nil {
			t.Fatalf("%s of %s: %d\n%s", list.path, day, that.status, that.body)
		}
		export := owner.get(html.UnescapeString(link[1]))
		if rows := mustRows(t, export.body); len(rows) != 2 || rows[1][0] != list.id ||
			!strings.Contains(export.header.Get("Content-Disposition"), strings.TrimPrefix(list.path, "/dashboard/")+"-test-"+day+"-"+day+".csv") {
			t.Errorf("the export of %s (%s): %v %v", day, link[1], rows, export.header)
		}
		if old := owner.get(list.path + "?to=2020-01-01"); old.status != 200 || strings.Contains(old.body, list.shows) {
			t.Errorf("%s up to 2020 shows today's: %d", list.path, old.status)
		}
		if old := owner.get(list.path + ".csv?to=2020-01-01"); len(mustRows(t, old.body)) != 1 {
			t.Errorf("%s.csv up to 2020: %s", list.path, old.body)
		}
		for _, path := range []string{list.path + "?from=yesterday", list.path + ".csv?from=yesterday"} {
			if pg := owner.get(path); pg.status != 400 || !strings.Contains(pg.body, "YYYY-MM-DD") {
				t.Errorf("%s: %d", path, pg.status)
			}
		}
	}
}
