package paydunya_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/checkout/checkouttest"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/paydunya"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/store"
)

// face is the PayDunya face over a real store on a fake clock.
type face struct {
	srv   *httptest.Server
	svc   *gateway.Service
	clock *clock.Fake
	integ malipo.Integration
	creds gateway.Credentials
	live  gateway.Credentials
}

func newFace(t *testing.T) *face { t.Helper(); return newFaceDelay(t, 3*time.Second) }

// newFaceDelay is newFace with a sandbox that answers after delay.
func newFaceDelay(t *testing.T, delay time.Duration) *face {
	t.Helper()
	s := facetest.New(t, delay, 2)
	paydunya.New(s.Service, nil).Register(s.Mux, "/paydunya")
	on := true
	integ, creds := s.Integration(t, "Magasin le Choco", gateway.IntegrationInput{Flavor: malipo.FlavorPayDunya, Mode: malipo.ModeTest, Payouts: &on})
	_, live, err := s.Service.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: integ.MerchantID, Flavor: malipo.FlavorPayDunya, Mode: malipo.ModeLive})
	if err != nil {
		t.Fatal(err)
	}
	return &face{srv: s.Server, svc: s.Service, clock: s.Clock, integ: integ, creds: creds, live: live}
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

// call posts body the way the client describes: contentType "" sends
// none, as PHP's curl clients do.
func (f *face) call(t *testing.T, method, path, body, contentType string, creds gateway.Credentials) answer {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+"/paydunya"+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if creds != nil {
		req.Header.Set("PAYDUNYA-MASTER-KEY", creds["master_key"])
		req.Header.Set("PAYDUNYA-PRIVATE-KEY", creds["private_key"])
		req.Header.Set("PAYDUNYA-TOKEN", creds["token"])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, raw: string(b)}
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, b)
	}
	return a
}

func (f *face) post(t *testing.T, path, body string) answer {
	t.Helper()
	return f.call(t, "POST", path, body, "application/json", f.creds)
}

const sandbox1 = "/sandbox-api/v1"

func TestCreateAcceptsWhatClientsSend(t *testing.T) {
	f := newFace(t)
	keyed := `{"invoice":{"total_amount":42300,"description":"Commande","items":{"item_0":{"name":"Chaussures Croco","quantity":3,"unit_price":"10000","total_price":"30000","description":"Croco"},"item_1":{"name":"Chemise","quantity":"1","unit_price":5000,"total_price":5000,"description":null}},"taxes":{"tax_0":{"name":"TVA (18%)","amount":6300},"tax_1":{"name":"Livraison","amount":"1000"}}},"store":{"name":"Magasin le Choco","phone_number":"336530583","website_url":null},"custom_data":{"order":"42"},"actions":{"return_url":"http://shop.example/back?x=1","cancel_url":null}}`
	listed := `{"invoice":{"total_amount":"42300.00","items":[{"name":"Chaussures Croco","quantity":3,"unit_price":10000,"total_price":30000},{"name":"Chemise","quantity":1,"unit_price":5000,"total_price":5000}],"taxes":[{"name":"TVA (18%)","amount":6300},{"name":"Livraison","amount":1000}]},"store":{"name":"Magasin le Choco","return_url":"http://shop.example/back?x=1"}}`
	form := `invoice[total_amount]=42300&invoice[items][item_0][name]=Chaussures+Croco&invoice[items][item_0][quantity]=3&invoice[items][item_0][unit_price]=10000&invoice[items][item_0][total_price]=30000&invoice[items][item_1][name]=Chemise&invoice[items][item_1][quantity]=1&invoice[items][item_1][unit_price]=5000&invoice[items][item_1][total_price]=5000&invoice[taxes][tax_0][name]=TVA+(18%25)&invoice[taxes][tax_0][amount]=6300&invoice[taxes][tax_1][name]=Livraison&invoice[taxes][tax_1][amount]=1000&store[name]=Magasin+le+Choco&actions[return_url]=http://shop.example/back?x=1`
	for name, c := range map[string]struct{ body, ct string }{
		"keyed JSON":                    {keyed, "application/json"},
		"JSON without Content-Type":     {keyed, ""},
		"JSON labelled form-urlencoded": {listed, "application/x-www-form-urlencoded"},
		"form with bracket keys":        {form, "application/x-www-form-urlencoded"},
	} {
		a := f.call(t, "POST", sandbox1+"/checkout-invoice/create", c.body, c.ct, f.creds)
		token, _ := a.body["token"].(string)
		if a.status != 200 || a.body["response_code"] != "00" || a.body["description"] != "Checkout Invoice Created" ||
			!strings.HasPrefix(a.body["response_text"].(string), f.srv.URL+"/pay/") || !strings.HasPrefix(token, "test_") {
			t.Errorf("%s: %d %s", name, a.status, a.raw)
			continue
		}
		if !strings.HasPrefix(a.raw, `{"response_code":"00","response_text":`) {
			t.Errorf("%s: keys out of PayDunya's order: %s", name, a.raw)
		}
		p, err := f.svc.PaymentByReference(context.Background(), f.integ, token)
		if err != nil || p.Amount != 42300 || p.Currency != "XOF" || len(p.Items) != 2 || p.Items[1].Total != 5000 ||
			len(p.Taxes) != 2 || p.Taxes[1].Amount != 1000 || p.ReturnURL != "http://shop.example/back?token="+token+"&x=1" {
			t.Errorf("%s: payment %+v, %v", name, p, err)
		}
	}
}

func TestConfirmShape(t *testing.T) {
	f := newFace(t)
	a := f.post(t, sandbox1+"/checkout-invoice/create", `{"invoice":{"total_amount":5000,"description":"Chaussure VANS","items":{"item_0":{"name":"VANS","quantity":1,"unit_price":"5000","total_price":"5000"}}},"store":{"name":"Magasin le Choco"},"custom_data":{"categorie":"Jeu concours","numero_gagnant":5},"actions":{"callback_url":"http://shop.example/ipn"}}`)
	token := a.body["token"].(string)
	c := f.call(t, "GET", sandbox1+"/checkout-invoice/confirm/"+token, "", "", f.creds)
	want := []string{`"response_code":"00"`, `"response_text":"Transaction Found"`, `"hash":"` + paydunya.Hash(f.creds["master_key"]) + `"`,
		`"invoice":{"items":{"item_0":{"name":"VANS","quantity":1,"unit_price":"5000","total_price":"5000","description":""}},"taxes":{},"token":"` + token + `","total_amount":5000,"description":"Chaussure VANS"}`,
		`"custom_data":{"categorie":"Jeu concours","numero_gagnant":5}`, `"mode":"test"`, `"status":"pending"`, `"fail_reason":""`,
		`"actions":{"cancel_url":"","callback_url":"http://shop.example/ipn","return_url":""}`}
	for _, w := range want {
		if !strings.Contains(c.raw, w) {
			t.Errorf("confirm lacks %s:\n%s", w, c.raw)
		}
	}
	// Cancelled on the page: the same shape, status cancelled with a reason.
	p, _ := f.svc.PaymentByReference(context.Background(), f.integ, token)
	if _, err := f.svc.CancelCheckout(context.Background(), p.CheckoutToken); err != nil {
		t.Fatal(err)
	}
	c = f.call(t, "GET", sandbox1+"/checkout-invoice/confirm/"+token, "", "", f.creds)
	if c.body["status"] != "cancelled" || c.body["fail_reason"] != "Payment cancelled by customer" {
		t.Errorf("cancelled: %s", c.raw)
	}
}

func TestErrorCodes(t *testing.T) {
	f := newFace(t)
	wrong := gateway.Credentials{"master_key": "nope", "private_key": f.creds["private_key"], "token": f.creds["token"]}
	badToken := gateway.Credentials{"master_key": f.creds["master_key"], "private_key": f.creds["private_key"], "token": "nope"}
	unknown := gateway.Credentials{"master_key": "a", "private_key": "test_private_nope", "token": "b"}
	create := `{"invoice":{"total_amount":5000},"store":{"name":"Choco"}}`
	cases := []struct {
		name, method, path, body string
		creds                    gateway.Credentials
		status                   int
		code, text               string
	}{
		{"no keys", "POST", sandbox1 + "/checkout-invoice/create", create, nil, 401, "1001", "PAYDUNYA-MASTER-KEY, PAYDUNYA-PRIVATE-KEY and PAYDUNYA-TOKEN are required"},
		{"wrong master key", "POST", sandbox1 + "/checkout-invoice/create", create, wrong, 401, "1001", "Invalid Masterkey Specified"},
		{"wrong token", "POST", sandbox1 + "/checkout-invoice/create", create, badToken, 401, "1001", "Invalid Token Specified"},
		{"unknown private key", "POST", sandbox1 + "/checkout-invoice/create", create, unknown, 401, "1001", "Invalid Private Key Specified"},
		{"test keys on the live API", "POST", "/api/v1/checkout-invoice/create", create, f.creds, 401, "1001", "Test keys cannot be used on the live API (/api/v1): use /sandbox-api/v1"},
		{"live keys on the sandbox", "POST", sandbox1 + "/checkout-invoice/create", create, f.live, 401, "1001", "Live keys cannot be used on the sandbox API (/sandbox-api/v1)"},
		{"no total", "POST", sandbox1 + "/checkout-invoice/create", `{"store":{"name":"Choco"}}`, f.creds, 400, "1002", "invoice.total_amount is required"},
		{"fractional francs", "POST", sandbox1 + "/checkout-invoice/create", `{"invoice":{"total_amount":10.5},"store":{"name":"Choco"}}`, f.creds, 400, "1002", "invoice.total_amount must be a whole number of FCFA"},
		{"no store", "POST", sandbox1 + "/checkout-invoice/create", `{"invoice":{"total_amount":5000}}`, f.creds, 400, "1002", "store.name is required"},
		{"broken JSON", "POST", sandbox1 + "/checkout-invoice/create", `{"invoice":`, f.creds, 400, "1002", ""},
		{"unknown invoice", "GET", sandbox1 + "/checkout-invoice/confirm/test_nope", "", f.creds, 404, "1003", "Invoice not found"},
		{"insufficient funds", "POST", sandbox1 + "/direct-pay/credit-account", `{"account_alias":"+221770000000","amount":4500}`, f.creds, 402, "4002", "amount available is not enough 0"},
		{"unknown endpoint", "POST", sandbox1 + "/nothing", "{}", f.creds, 404, "404", ""},
	}
	for _, c := range cases {
		a := f.call(t, c.method, c.path, c.body, "application/json", c.creds)
		if a.status != c.status || a.body["response_code"] != c.code || (c.text != "" && a.body["response_text"] != c.text) {
			t.Errorf("%s: %d %s, want %d %s %q", c.name, a.status, a.raw, c.status, c.code, c.text)
		}
	}
	// Nothing above created anything.
	if ps, _ := f.svc.ListPayments(context.Background(), f.integ, storeFilter()); len(ps) != 0 {
		t.Errorf("refused requests left %d payments", len(ps))
	}
}

func TestSoftPayAndOPR(t *testing.T) {
	f := newFace(t)
	create := func() string {
		return f.post(t, sandbox1+"/checkout-invoice/create", `{"invoice":{"total_amount":2000},"store":{"name":"Choco"}}`).body["token"].(string)
	}
	// A wallet slug pushes to the customer's phone; the sandbox customer approves.
	token := create()
	a := f.post(t, sandbox1+"/softpay/orange-money-ci", `{"customer_name":"Awa","customer_email":"awa@example.com","phone_number":"+2250707120000","invoice_token":"`+token+`"}`)
	if a.body["success"] != true {
		t.Fatalf("softpay: %s", a.raw)
	}
	f.clock.Advance(3 * time.Second)
	if c := f.call(t, "GET", sandbox1+"/checkout-invoice/confirm/"+token, "", "", f.creds); c.body["status"] != "completed" ||
		c.body["customer"].(map[string]any)["phone"] != "0707120000" || c.body["customer"].(map[string]any)["name"] != "Awa" ||
		c.body["customer"].(map[string]any)["email"] != "awa@example.com" || c.body["fail_reason"] != "" {
		t.Errorf("after softpay: %s", c.raw)
	}
	// Wave-style field names are found too; card answers the checkout URL.
	token = create()
	if a := f.post(t, sandbox1+"/softpay/wave-ci", `{"wave_ci_fullName":"Awa","wave_ci_phone":"+2250707120002","wave_ci_payment_token":"`+token+`"}`); a.body["success"] != true {
		t.Errorf("wave: %s", a.raw)
	}
	token = create()
	if a := f.post(t, sandbox1+"/softpay/card", `{"invoice_token":"`+token+`"}`); !strings.HasPrefix(lenientStr(a.body["url"]), f.srv.URL+"/pay/") {
		t.Errorf("card: %s", a.raw)
	}
	if a := f.post(t, sandbox1+"/softpay/checkout/make-payment", `{"phone_phone":"770000000","customer_email":"test@example.com","password":"Miliey@2121","invoice_token":"`+token+`"}`); a.body["success"] != true {
		t.Errorf("sandbox make-payment: %s", a.raw)
	}
	if c := f.call(t, "GET", sandbox1+"/checkout-invoice/confirm/"+token, "", "", f.creds); c.body["status"] != "completed" {
		t.Errorf("after make-payment: %s", c.raw)
	}
	// OPR with the failing sandbox code.
	o := f.post(t, sandbox1+"/opr/create", `{"invoice_data":{"invoice":{"total_amount":1000},"store":{"name":"Choco"}},"opr_data":{"account_alias":"774563209"}}`)
	if o.body["response_code"] != "00" || o.body["response_text"] == nil || !strings.HasPrefix(lenientStr(o.body["token"]), "OPR-") {
		t.Fatalf("opr create: %s", o.raw)
	}
	ch := f.post(t, sandbox1+"/opr/charge", `{"token":"`+lenientStr(o.body["token"])+`","confirm_token":"`+paydunya.SandboxConfirmCode+`"}`)
	if ch.body["response_code"] != "00" || ch.body["invoice_data"].(map[string]any)["status"] != "failed" {
		t.Errorf("opr with the failing code: %s", ch.raw)
	}
	if ch := f.post(t, sandbox1+"/opr/charge", `{"token":"nope","confirm_token":"1"}`); ch.body["response_code"] != "1003" {
		t.Errorf("opr with an unknown token: %s", ch.raw)
	}
}

func TestDisburse(t *testing.T) {
	f := newFace(t)
	if _, err := f.svc.Topup(context.Background(), f.integ, 50_000, "XOF"); err != nil {
		t.Fatal(err)
	}
	g := f.post(t, sandbox1+"/disburse/get-invoice", `{"account_alias":"770000000","amount":5000,"withdraw_mode":"orange-money-senegal","callback_url":"http://shop.example/d"}`)
	dt := lenientStr(g.body["disburse_token"])
	if g.body["response_code"] != "00" || g.body["response_text"] == nil || dt == "" {
		t.Fatalf("get-invoice: %s", g.raw)
	}
	if c := f.post(t, sandbox1+"/disburse/check-status", `{"disburse_invoice":"`+dt+`"}`); c.body["response_code"] != "1003" {
		t.Errorf("status before submit: %s", c.raw)
	}
	s := f.post(t, sandbox1+"/disburse/submit-invoice", `{"disburse_invoice":"`+dt+`"}`)
	if s.body["response_code"] != "00" || s.body["status"] != "pending" {
		t.Fatalf("submit: %s", s.raw)
	}
	// Submitting the same invoice again pays once.
	if again := f.post(t, sandbox1+"/disburse/submit-invoice", `{"disburse_invoice":"`+dt+`"}`); again.body["response_code"] != "1004" {
		t.Errorf("second submit: %s", again.raw)
	}
	f.clock.Advance(3 * time.Second)
	if c := f.post(t, sandbox1+"/disburse/check-status", `{"disburse_invoice":"`+dt+`"}`); c.body["status"] != "success" {
		t.Errorf("status after: %s", c.raw)
	}
	if c := f.post(t, sandbox1+"/disburse/submit-invoice", `{"disburse_invoice":"`+dt+`x"}`); c.body["response_code"] != "1003" {
		t.Errorf("tampered token: %s", c.raw)
	}
	bs, _ := f.svc.Balances(context.Background(), f.integ)
	if bs[0].Available != 45_000 {
		t.Errorf("balance after one disbursement: %+v", bs)
	}
}

func lenientStr(v any) string { s, _ := v.(string); return s }

func storeFilter() store.PaymentFilter { return store.PaymentFilter{Limit: 100} }

// "Payment And Redistribution must be explicitly enabled": an integration
// made without --payouts cannot pay out, by direct-pay or disburse, and
// the refusal changes nothing.
func TestRedistributionIsOffUntilEnabled(t *testing.T) {
	f := newFace(t)
	_, off, err := f.svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: f.integ.MerchantID, Flavor: malipo.FlavorPayDunya, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Topup(context.Background(), f.integ, 50_000, "XOF"); err != nil {
		t.Fatal(err)
	}
	a := f.call(t, "POST", sandbox1+"/direct-pay/credit-account", `{"account_alias":"771111111","amount":4500}`, "application/json", off)
	if a.status != 403 || a.body["response_code"] != "1005" || !strings.Contains(lenientStr(a.body["response_text"]), "not enabled") {
		t.Errorf("direct-pay with redistribution off: %d %s", a.status, a.raw)
	}
	g := f.call(t, "POST", sandbox1+"/disburse/get-invoice", `{"account_alias":"771111111","amount":4500,"withdraw_mode":"orange-money-senegal"}`, "application/json", off)
	s := f.call(t, "POST", sandbox1+"/disburse/submit-invoice", `{"disburse_invoice":"`+lenientStr(g.body["disburse_token"])+`"}`, "application/json", off)
	if s.status != 403 || s.body["response_code"] != "1005" {
		t.Errorf("disburse with redistribution off: %d %s", s.status, s.raw)
	}
	if bs, _ := f.svc.Balances(context.Background(), f.integ); len(bs) != 1 || bs[0].Available != 50_000 || bs[0].Reserved != 0 {
		t.Errorf("balances after refusals: %+v", bs)
	}
}

// whileAdvancing sends a request in the background and moves the fake
// clock a second at a time until it is answered: for endpoints that wait
// for the rails.
func (f *face) whileAdvancing(t *testing.T, path, body string) answer {
	t.Helper()
	done := make(chan answer, 1)
	go func() { done <- f.call(t, "POST", path, body, "application/json", f.creds) }()
	for range 200 {
		select {
		case a := <-done:
			return a
		case <-time.After(10 * time.Millisecond):
			f.clock.Advance(time.Second)
		}
	}
	t.Fatalf("POST %s %s was not answered", path, body)
	return answer{}
}

// Direct-pay answers "00" only once the money has moved: the seed's own
// example (a Senegalese number written without its country code) waits
// for the sandbox network; a transfer that fails, or is still pending
// after DirectPayWait, is answered so.
func TestDirectPayWaitsForTheMoney(t *testing.T) {
	f := newFace(t)
	if _, err := f.svc.Topup(context.Background(), f.integ, 50_000, "XOF"); err != nil {
		t.Fatal(err)
	}
	a := f.whileAdvancing(t, sandbox1+"/direct-pay/credit-account", `{ "account_alias" : "771111111", "amount" : 4500 }`)
	if a.status != 200 || a.body["response_code"] != "00" || a.body["response_text"] != "Transaction completed successfully" {
		t.Fatalf("seed example: %d %s", a.status, a.raw)
	}
	p, err := f.svc.GetPayout(context.Background(), f.integ, lenientStr(a.body["transaction_id"]))
	if err != nil || p.Status != malipo.PayoutSucceeded || p.Destination.Account != "+221771111111" {
		t.Errorf("payout behind the answer: %+v %v", p, err)
	}
	a = f.whileAdvancing(t, sandbox1+"/direct-pay/credit-account", `{"account_alias":"771110001","amount":1000}`)
	if a.body["response_code"] != "1007" || a.body["response_text"] != "Transaction failed" || a.body["transaction_id"] == "" {
		t.Errorf("failed transfer: %d %s", a.status, a.raw)
	}

	slow := newFaceDelay(t, time.Minute)
	if _, err := slow.svc.Topup(context.Background(), slow.integ, 50_000, "XOF"); err != nil {
		t.Fatal(err)
	}
	a = slow.whileAdvancing(t, sandbox1+"/direct-pay/credit-account", `{"account_alias":"771111111","amount":4500}`)
	if a.body["response_code"] != "1006" || a.body["response_text"] != "Transaction pending" {
		t.Errorf("slow transfer: %d %s", a.status, a.raw)
	}
}

// The seed's store (tagline, address, phone, website, and its http logo)
// is shown on the checkout page; the page asks who pays when the invoice
// does not say, and confirm returns what the customer gave, the phone as
// PayDunya writes it. fail_reason is for card transactions: a declined
// card fills it, a failed mobile-money payment does not.
func TestCheckoutPageShowsTheStoreAndAsksWhoPays(t *testing.T) {
	f := newFace(t)
	a := f.post(t, sandbox1+"/checkout-invoice/create", `{"invoice":{"total_amount":5000,"description":"Chaussure VANS"},
		"store":{"name":"Magasin le Choco","tagline":"L'élégance n'a pas de prix","postal_address":"Dakar Plateau - Etablissement kheweul",
		"phone":"336611000","logo_url":"http://www.chocodakar.com/logo.png","website_url":"http://www.chocodakar.com"}}`)
	url := lenientStr(a.body["response_text"])
	page := checkouttest.Get(t, url)
	for _, want := range []string{"L&#39;élégance n&#39;a pas de prix", "Dakar Plateau - Etablissement kheweul", "336611000",
		`href="http://www.chocodakar.com"`, `src="http://www.chocodakar.com/logo.png"`, `name="customer_name"`, `name="customer_email"`} {
		if !strings.Contains(page, want) {
			t.Errorf("checkout page lacks %s", want)
		}
	}
	checkouttest.Submit(t, url, "mobile-money", neturl.Values{"phone": {"771230000"}, "customer_name": {"Alioune Faye"}, "customer_email": {"aliounefaye@gmail.com"}})
	f.clock.Advance(3 * time.Second)
	c := f.call(t, "GET", sandbox1+"/checkout-invoice/confirm/"+lenientStr(a.body["token"]), "", "", f.creds)
	if got, _ := json.Marshal(c.body["customer"]); string(got) != `{"email":"aliounefaye@gmail.com","name":"Alioune Faye","phone":"771230000"}` ||
		c.body["status"] != "completed" {
		t.Errorf("confirm after paying: %s", c.raw)
	}
	// receipt_url is "the URL of its PayDunya invoice in PDF format".
	if res, err := http.Get(lenientStr(c.body["receipt_url"])); err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("receipt_url %q: %v %v", c.body["receipt_url"], res, err)
	} else {
		res.Body.Close()
	}

	// A failed mobile-money payment leaves fail_reason empty.
	a = f.post(t, sandbox1+"/checkout-invoice/create", `{"invoice":{"total_amount":1000},"store":{"name":"Choco"}}`)
	checkouttest.Submit(t, lenientStr(a.body["response_text"]), "mobile-money", neturl.Values{"phone": {"771230002"}})
	f.clock.Advance(3 * time.Second)
	c = f.call(t, "GET", sandbox1+"/checkout-invoice/confirm/"+lenientStr(a.body["token"]), "", "", f.creds)
	if c.body["status"] != "failed" || c.body["fail_reason"] != "" {
		t.Errorf("failed mobile money: %s", c.raw)
	}
	// A declined card fills it.
	a = f.post(t, sandbox1+"/checkout-invoice/create", `{"invoice":{"total_amount":1000},"store":{"name":"Choco"}}`)
	checkouttest.Submit(t, lenientStr(a.body["response_text"]), "card", neturl.Values{"number": {"4000 0000 0000 0002"}, "expiry": {"12/30"}, "cvv": {"123"}, "name": {"Awa Diop"}})
	c = f.call(t, "GET", sandbox1+"/checkout-invoice/confirm/"+lenientStr(a.body["token"]), "", "", f.creds)
	if c.body["fail_reason"] != "The card was declined" || c.body["customer"].(map[string]any)["name"] != "Awa Diop" {
		t.Errorf("declined card: %s", c.raw)
	}
}

// A rolled private key works at once; the old one until the overlap ends;
// the master key and the token stay.
func TestRolledPrivateKey(t *testing.T) {
	f := newFace(t)
	rolled, err := f.svc.RollKey(context.Background(), f.integ.ID, time.Hour)
	if err != nil || !strings.HasPrefix(rolled["private_key"], "test_private_") || len(rolled) != 1 {
		t.Fatalf("roll: %v %v", rolled, err)
	}
	fresh := gateway.Credentials{"master_key": f.creds["master_key"], "private_key": rolled["private_key"], "token": f.creds["token"]}
	create := `{"invoice":{"total_amount":1000},"store":{"name":"Choco"}}`
	for name, creds := range map[string]gateway.Credentials{"new": fresh, "old, during the overlap": f.creds} {
		if a := f.call(t, "POST", sandbox1+"/checkout-invoice/create", create, "application/json", creds); a.body["response_code"] != "00" {
			t.Errorf("%s key: %s", name, a.raw)
		}
	}
	f.clock.Advance(time.Hour + time.Minute)
	if a := f.call(t, "POST", sandbox1+"/checkout-invoice/create", create, "application/json", f.creds); a.status != 401 {
		t.Errorf("the old key after the overlap: %d %s", a.status, a.raw)
	}
	if a := f.call(t, "POST", sandbox1+"/checkout-invoice/create", create, "application/json", fresh); a.body["response_code"] != "00" {
		t.Errorf("the new key after the overlap: %s", a.raw)
	}
}
