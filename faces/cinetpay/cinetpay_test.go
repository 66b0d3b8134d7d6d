package cinetpay_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/checkout/checkouttest"
	"github.com/malipo/malipo/faces/cinetpay"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/notify"
)

type face struct {
	srv   *httptest.Server
	svc   *gateway.Service
	clock *clock.Fake
	disp  *notify.Dispatcher
	integ malipo.Integration
	creds gateway.Credentials
}

func newFace(t *testing.T, perSecond int) *face {
	t.Helper()
	s := facetest.New(t, 3*time.Second, 4)
	cp := cinetpay.New(s.Service, cinetpay.Config{Clock: s.Clock, RequestsPerSecond: perSecond})
	s.Flavors[malipo.FlavorCinetPay] = cp.Flavor()
	cp.Register(s.Mux, "/cinetpay")
	integ, creds := s.Integration(t, "Ecole les Lauriers", gateway.IntegrationInput{Flavor: malipo.FlavorCinetPay, Mode: malipo.ModeTest, Currency: "XOF"})
	return &face{srv: s.Server, svc: s.Service, clock: s.Clock, disp: s.Dispatcher, integ: integ, creds: creds}
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

func (f *face) post(t *testing.T, path, body, contentType string) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+"/cinetpay"+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "merchant-backend/1.0")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, raw: string(b)}
	json.Unmarshal(b, &a.body)
	return a
}

// init sends a payment the way the seed's example does, with fields
// changed by edit.
func (f *face) init(t *testing.T, edit func(m map[string]any)) answer {
	t.Helper()
	m := map[string]any{"apikey": f.creds["apikey"], "site_id": f.creds["site_id"], "transaction_id": "REFID12354", "amount": 2500,
		"currency": "XOF", "description": "TRANSACTION DESCRIPTION", "return_url": "https://www.exemple.com/return",
		"notify_url": "https://www.exemple.com/notify", "metadata": "user001", "customer_id": "001", "customer_name": "John",
		"customer_surname": "Doe", "channels": "MOBILE_MONEY"}
	if edit != nil {
		edit(m)
	}
	b, _ := json.Marshal(m)
	return f.post(t, "/v2/payment", string(b), "application/json")
}

func TestInitPaymentAndCheck(t *testing.T) {
	f := newFace(t, 0)
	a := f.init(t, func(m map[string]any) {
		m["invoice_data"] = map[string]any{"Reste à payer": "25 000fr", "Matricule": "24OPO25", "Annee-scolaire": "2020-2021"}
		m["lock_phone_number"] = true
		m["customer_phone_number"] = "+2250707120000"
		m["lang"] = "FR"
	})
	if a.status != 201 || a.body["code"] != "201" || a.body["message"] != "CREATED" || a.body["description"] != "Transaction created with success" {
		t.Fatalf("init: %d %s", a.status, a.raw)
	}
	if !strings.HasPrefix(a.raw, `{"code":"201","message":"CREATED","description":"Transaction created with success","data":{"payment_token":`) {
		t.Errorf("keys out of CinetPay's order: %s", a.raw)
	}
	data := a.body["data"].(map[string]any)
	token := data["payment_token"].(string)
	if data["payment_url"] != f.srv.URL+"/pay/"+token {
		t.Errorf("payment_url %v", data["payment_url"])
	}
	p, err := f.svc.PaymentByReference(context.Background(), f.integ, "REFID12354")
	if err != nil || !p.LockPhone || len(p.Details) != 3 || p.Details[1].Label != "Matricule" || p.Lang != "fr" ||
		len(p.Channels) != 1 || p.Channels[0] != malipo.ChannelMobileMoney {
		t.Fatalf("payment %+v, %v", p, err)
	}
	check := func(by string) answer {
		return f.post(t, "/v2/payment/check", `{"apikey":"`+f.creds["apikey"]+`","site_id":"`+f.creds["site_id"]+`",`+by+`}`, "application/json")
	}
	if c := check(`"transaction_id":"REFID12354"`); c.status != 200 || c.body["code"] != "662" || c.body["message"] != "WAITING_CUSTOMER_PAYMENT" ||
		c.body["data"].(map[string]any)["status"] != "PENDING" {
		t.Errorf("check pending: %s", c.raw)
	}
	if _, err := f.svc.PayWithMobileMoney(context.Background(), token, "+2250707120000", ""); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(3 * time.Second)
	c := check(`"token":"` + token + `"`)
	d := c.body["data"].(map[string]any)
	if c.body["code"] != "00" || c.body["message"] != "SUCCES" || d["status"] != "ACCEPTED" || d["amount"] != "2500" ||
		d["currency"] != "XOF" || d["payment_method"] != "OM" || d["phone_prefix"] != "225" || d["phone_number"] != "0707120000" ||
		d["metadata"] != "user001" || d["payment_date"] != "2026-03-01 09:00:03" || d["operator_id"] == nil {
		t.Errorf("check accepted: %s", c.raw)
	}
	// A refused payment.
	f.init(t, func(m map[string]any) { m["transaction_id"] = "REFUSED-1" })
	r, _ := f.svc.PaymentByReference(context.Background(), f.integ, "REFUSED-1")
	f.svc.PayWithMobileMoney(context.Background(), r.CheckoutToken, "+2250707120002", "")
	f.clock.Advance(3 * time.Second)
	if c := check(`"transaction_id":"REFUSED-1"`); c.body["code"] != "600" || c.body["message"] != "PAYMENT_FAILED" ||
		c.body["data"].(map[string]any)["status"] != "REFUSED" {
		t.Errorf("check refused: %s", c.raw)
	}
}

func TestClientsAsTheySend(t *testing.T) {
	f := newFace(t, 0)
	// Python's SDK posts a form; PHP posts JSON labelled as a form, or with no Content-Type.
	form := url.Values{"apikey": {f.creds["apikey"]}, "site_id": {f.creds["site_id"]}, "transaction_id": {"PY-1"}, "amount": {"100"},
		"currency": {"XOF"}, "description": {"Test"}, "notify_url": {"https://shop.example/n"}, "return_url": {"https://shop.example/r"},
		"channels": {"ALL"}, "customer_name": {"Joe"}, "customer_surname": {"Down"}, "customer_email": {"down@test.com"},
		"customer_phone_number": {"088767611"}, "customer_address": {"BP 0024"}, "customer_city": {"Antananarivo"},
		"customer_country": {"CM"}, "customer_state": {"CM"}, "customer_zip_code": {"06510"}}
	if a := f.post(t, "/v2/payment", form.Encode(), "application/x-www-form-urlencoded"); a.status != 201 {
		t.Errorf("form: %d %s", a.status, a.raw)
	}
	if p, _ := f.svc.PaymentByReference(context.Background(), f.integ, "PY-1"); len(p.Channels) != 2 {
		t.Errorf("ALL with the card fields offers both channels: %v", p.Channels)
	}
	js := `{"apikey":"` + f.creds["apikey"] + `","site_id":"` + f.creds["site_id"] + `","transaction_id":"PHP-1","amount":"100","currency":"XOF","description":"Test","notify_url":"https://shop.example/n","return_url":"https://shop.example/r","channels":"ALL","metadata":null,"lang":null,"customer_name":null}`
	for i, ct := range []string{"application/x-www-form-urlencoded", ""} {
		body := strings.Replace(js, "PHP-1", "PHP-"+string(rune('1'+i)), 1)
		if a := f.post(t, "/v2/payment", body, ct); a.status != 201 {
			t.Errorf("JSON sent as %q: %d %s", ct, a.status, a.raw)
		}
	}
	if p, _ := f.svc.PaymentByReference(context.Background(), f.integ, "PHP-1"); len(p.Channels) != 1 {
		t.Errorf("ALL without the card fields offers mobile money only: %v", p.Channels)
	}
}

// Every row of the seed's error table that a server can produce.
func TestSeedErrorCodes(t *testing.T) {
	f := newFace(t, 3)
	cases := []struct {
		name   string
		edit   func(m map[string]any)
		status int
		code   string
		want   string
	}{
		{"missing field", func(m map[string]any) { delete(m, "notify_url") }, 400, "608", "notify_url is required"},
		{"wrong currency", func(m map[string]any) { m["currency"] = "XAF" }, 400, "608",
			"You cannot create a transaction in a different currency than the one allowed to your account. Transaction currency:'XAF' Account currency:'XOF'"},
		{"not a multiple of 5", func(m map[string]any) { m["amount"] = 2501 }, 400, "608", "The amount must be a multiple of 5"},
		{"card without the customer", func(m map[string]any) { m["channels"] = "CREDIT_CARD" }, 400, "608", "card payment needs"},
		{"bad channel", func(m map[string]any) { m["channels"] = "BITCOIN" }, 400, "608", "channels must be"},
		{"unknown apikey", func(m map[string]any) { m["apikey"] = "nope" }, 403, "609", "apikey provided is not correct"},
		{"wrong site_id", func(m map[string]any) { m["site_id"] = "1" }, 403, "613", "site_id provided is not correct"},
	}
	for _, c := range cases {
		f.clock.Advance(time.Second) // stay under the rate limit
		a := f.init(t, c.edit)
		if a.status != c.status || a.body["code"] != c.code || !strings.Contains(lenientStr(a.body["description"]), c.want) ||
			lenientStr(a.body["api_response_id"]) == "" {
			t.Errorf("%s: %d %s", c.name, a.status, a.raw)
		}
	}
	f.clock.Advance(time.Second)
	if a := f.init(t, nil); a.status != 201 {
		t.Fatalf("valid init: %s", a.raw)
	}
	if a := f.init(t, nil); a.body["code"] != "608" || !strings.Contains(a.raw, "already used") {
		t.Errorf("duplicate transaction_id: %s", a.raw)
	}
	// 429: a fourth call in the same second.
	f.init(t, func(m map[string]any) { m["transaction_id"] = "R-2" })
	if a := f.init(t, func(m map[string]any) { m["transaction_id"] = "R-3" }); a.status != 429 || a.body["code"] != "429" || a.body["message"] != "TOO_MANY_REQUEST" {
		t.Errorf("rate limit: %d %s", a.status, a.raw)
	}
	// Error code 1010: no User-Agent.
	req, _ := http.NewRequest("POST", f.srv.URL+"/cinetpay/v2/payment", strings.NewReader(`{}`))
	req.Header.Set("User-Agent", "")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 403 || string(b) != "error code: 1010" {
		t.Errorf("no User-Agent: %d %s", res.StatusCode, b)
	}
	// The seed's "403 when the content-type is not JSON" is deliberately not
	// reproduced: CinetPay's own Python SDK posts forms (TestClientsAsTheySend).
	f.clock.Advance(time.Second)
	if c := f.post(t, "/v2/payment/check", `{"apikey":"`+f.creds["apikey"]+`","site_id":"`+f.creds["site_id"]+`","transaction_id":"nope"}`, "application/json"); c.status != 404 || c.body["code"] != "404" {
		t.Errorf("check of an unknown transaction: %s", c.raw)
	}
}

func lenientStr(v any) string { s, _ := v.(string); return s }

// A merchant's notify endpoint written from the rules in PROTOCOLS.md:
// recompute x-token over the cpm_* values in order, then call check.
func TestNotificationVerifies(t *testing.T) {
	f := newFace(t, 0)
	var mu sync.Mutex
	var verified, forged int
	var order []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var keys, values []string
		for _, pair := range strings.Split(string(raw), "&") {
			k, v, _ := strings.Cut(pair, "=")
			v, _ = url.QueryUnescape(v)
			keys, values = append(keys, k), append(values, v)
		}
		mac := hmac.New(sha256.New, []byte(f.creds["secret_key"]))
		mac.Write([]byte(strings.Join(values, "")))
		mu.Lock()
		defer mu.Unlock()
		order = keys
		if hex.EncodeToString(mac.Sum(nil)) == r.Header.Get("x-token") {
			verified++
		} else {
			forged++
		}
	}))
	defer receiver.Close()
	a := f.init(t, func(m map[string]any) {
		m["notify_url"] = receiver.URL + "/notify"
		m["invoice_data"] = map[string]any{"Matricule": "24OPO25", "Annee-scolaire": "2020-2021"}
		m["lock_phone_number"], m["customer_phone_number"] = true, "+2250707120000"
	})
	// The customer pays on the checkout page, which shows the invoice data
	// and the locked number.
	payURL := a.body["data"].(map[string]any)["payment_url"].(string)
	page := checkouttest.Get(t, payURL)
	for _, want := range []string{"Matricule", "24OPO25", "Annee-scolaire", `readonly`, "2\u202f500\u00a0FCFA"} {
		if !strings.Contains(page, want) {
			t.Errorf("the checkout page lacks %q", want)
		}
	}
	checkouttest.PayMobileMoney(t, payURL, "+2250799999999") // the locked number is pushed, not this one
	f.clock.Advance(3 * time.Second)
	c := f.post(t, "/v2/payment/check", `{"apikey":"`+f.creds["apikey"]+`","site_id":"`+f.creds["site_id"]+`","transaction_id":"REFID12354"}`, "application/json")
	if c.body["code"] != "00" || c.body["data"].(map[string]any)["phone_number"] != "0707120000" {
		t.Errorf("check after paying on the page: %s", c.raw)
	}
	if _, err := f.disp.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if verified != 1 || forged != 0 {
		t.Errorf("notifications verified %d, forged %d", verified, forged)
	}
	if strings.Join(order, ",") != strings.Join(cinetpay.Fields, ",") {
		t.Errorf("fields in order %v", order)
	}
}

// The amount is a multiple of 5 as the merchant writes it (34 CDF is
// not, though it is 3400 centimes); invoice_data keeps the merchant's
// order; the sized fields of the seed's table are held to their sizes.
func TestAmountsDetailsAndSizes(t *testing.T) {
	s := facetest.New(t, 3*time.Second, 4)
	cinetpay.New(s.Service, cinetpay.Config{Clock: s.Clock}).Register(s.Mux, "/cinetpay")
	_, cdf := s.Integration(t, "Kinshasa", gateway.IntegrationInput{Flavor: malipo.FlavorCinetPay, Mode: malipo.ModeTest, Currency: "CDF"})
	f := &face{srv: s.Server, svc: s.Service, clock: s.Clock, creds: cdf}
	a := f.init(t, func(m map[string]any) { m["currency"], m["amount"] = "CDF", 34 })
	if a.body["code"] != "608" {
		t.Errorf("34 CDF: %s", a.raw)
	}
	if a := f.init(t, func(m map[string]any) { m["currency"], m["amount"], m["transaction_id"] = "CDF", 35, "cdf-35" }); a.body["code"] != "201" {
		t.Errorf("35 CDF: %s", a.raw)
	}
	for field, value := range map[string]string{"customer_country": "CIV", "customer_state": "ABC", "customer_zip_code": "065100"} {
		if a := f.init(t, func(m map[string]any) { m["currency"], m["transaction_id"], m[field] = "CDF", "size-"+field, value }); a.body["code"] != "608" ||
			!strings.Contains(lenientStr(a.body["description"]), field) {
			t.Errorf("%s %q: %s", field, value, a.raw)
		}
	}
	body := `{"apikey":"` + cdf["apikey"] + `","site_id":"` + cdf["site_id"] + `","transaction_id":"order-1","amount":2500,"currency":"CDF",
		"description":"Frais","return_url":"https://www.exemple.com/return","notify_url":"https://www.exemple.com/notify","channels":"ALL",
		"invoice_data":{"Reste à payer":"25 000fr","Matricule":"24OPO25","Annee-scolaire":"2020-2021"}}`
	if a := f.post(t, "/v2/payment", body, "application/json"); a.body["code"] != "201" {
		t.Fatalf("with invoice_data: %s", a.raw)
	}
	integ, _ := s.Service.IntegrationBySecret(context.Background(), cdf["apikey"])
	p, err := s.Service.PaymentByReference(context.Background(), integ, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, d := range p.Details {
		labels = append(labels, d.Label)
	}
	if strings.Join(labels, "|") != "Reste à payer|Matricule|Annee-scolaire" {
		t.Errorf("invoice_data order: %v", labels)
	}
}
