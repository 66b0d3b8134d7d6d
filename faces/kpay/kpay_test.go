package kpay_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/checkout/checkouttest"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/kpay"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/rails"
)

type face struct {
	st    interface{ Close() error }
	srv   *httptest.Server
	svc   *gateway.Service
	clock *clock.Fake
	disp  *notify.Dispatcher
	integ malipo.Integration
	creds gateway.Credentials
}

func newFace(t *testing.T, allow ...string) *face {
	t.Helper()
	return newFaceDelay(t, 3*time.Second, allow...)
}

func newFaceDelay(t *testing.T, delay time.Duration, allow ...string) *face {
	t.Helper()
	s := facetest.New(t, delay, 8)
	k := kpay.New(s.Service, nil)
	s.Flavors[malipo.FlavorKPay] = k.Flavor()
	k.Register(s.Mux, "/kpay")
	integ, creds := s.Integration(t, "Iduka", gateway.IntegrationInput{Flavor: malipo.FlavorKPay, Mode: malipo.ModeTest, AllowIPs: allow})
	return &face{st: s.Store, srv: s.Server, svc: s.Service, clock: s.Clock, disp: s.Dispatcher, integ: integ, creds: creds}
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

func (f *face) post(t *testing.T, body map[string]any, auth func(r *http.Request)) answer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", f.srv.URL+"/kpay/", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(f.creds["username"], f.creds["password"])
	req.Header.Set("Kpay-Key", f.creds["kpay_key"])
	if auth != nil {
		auth(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, raw: string(raw)}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("not JSON: %s", raw)
	}
	return a
}

// payBody is the seed's payment request, with this integration's retailer.
func (f *face) payBody(edit func(m map[string]any)) map[string]any {
	m := map[string]any{"msisdn": "0788312934", "details": "order", "refid": "15947234071471114", "amount": 4200, "currency": "RWF",
		"email": "ikaneza@gmail.com", "cname": "KANEZA", "cnumber": "0788123457", "pmethod": "momo", "retailerid": f.creds["retailer_id"],
		"returl": "https://iduka.rw/api/paymentack", "redirecturl": "https://www.iduka.rw", "bankid": "63510"}
	if edit != nil {
		edit(m)
	}
	return m
}

func retcode(a answer) float64 { n, _ := a.body["retcode"].(float64); return n }

// Every retcode of KPay's table.
func TestRetcodes(t *testing.T) {
	f := newFace(t, "127.0.0.1", "10.0.0.0/8")
	other := newFace(t, "192.0.2.1") // allows a caller that is not us
	_, second, err := f.svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: f.integ.MerchantID, Flavor: malipo.FlavorKPay, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		f      *face
		body   map[string]any
		auth   func(r *http.Request)
		status int
		code   float64
	}{
		{"0 pending", f, f.payBody(nil), nil, 200, 0},
		{"600 bad password", f, f.payBody(nil), func(r *http.Request) { r.SetBasicAuth(f.creds["username"], "wrong") }, 401, 600},
		{"600 no basic auth", f, f.payBody(nil), func(r *http.Request) { r.Header.Del("Authorization") }, 401, 600},
		{"601 unknown Kpay-Key", f, f.payBody(nil), func(r *http.Request) { r.Header.Set("Kpay-Key", "nope") }, 401, 601},
		{"601 another retailer's Kpay-Key", f, f.payBody(nil), func(r *http.Request) { r.Header.Set("Kpay-Key", second["kpay_key"]) }, 401, 601},
		{"0 with Basic alone, as the seed authenticates", f, f.payBody(func(m map[string]any) { m["refid"] = "r-basic" }), func(r *http.Request) { r.Header.Del("Kpay-Key") }, 200, 0},
		{"600 another retailer's password, Basic alone", f, f.payBody(nil), func(r *http.Request) {
			r.SetBasicAuth(f.creds["username"], second["password"])
			r.Header.Del("Kpay-Key")
		}, 401, 600},
		{"0 bank 951 (BNR)", f, f.payBody(func(m map[string]any) { m["refid"], m["pmethod"], m["bankid"] = "r-951", "bank", "951" }), nil, 200, 0},
		{"0 MOBICASH 63501", f, f.payBody(func(m map[string]any) { m["refid"], m["bankid"] = "r-63501", "63501" }), nil, 200, 0},
		{"602 not whitelisted", other, other.payBody(nil), nil, 403, 602},
		{"603 missing parameter", f, f.payBody(func(m map[string]any) { delete(m, "email") }), nil, 200, 603},
		{"604 unknown retailer", f, f.payBody(func(m map[string]any) { m["retailerid"] = "99x" }), nil, 200, 604},
		{"607 failed mobile money", f, f.payBody(func(m map[string]any) { m["refid"], m["msisdn"] = "r-607", "250788120004" }), nil, 200, 607},
		{"608 used refid", f, f.payBody(nil), nil, 200, 608},
		{"609 unknown method", f, f.payBody(func(m map[string]any) { m["refid"], m["pmethod"] = "r-609", "paypal" }), nil, 200, 609},
		{"610 unknown bank", f, f.payBody(func(m map[string]any) { m["refid"], m["pmethod"], m["bankid"] = "r-610", "bank", "999" }), nil, 200, 610},
		{"610 momo with a card code", f, f.payBody(func(m map[string]any) { m["refid"], m["bankid"] = "r-610b", "000" }), nil, 200, 610},
	}
	for _, c := range cases {
		a := c.f.post(t, c.body, c.auth)
		if a.status != c.status || retcode(a) != c.code {
			t.Errorf("%s: %d %s", c.name, a.status, a.raw)
		}
		if c.code != 0 && (a.body["success"] != 0.0 || a.body["message"] == "") {
			t.Errorf("%s: the error lacks success 0 or a message: %s", c.name, a.raw)
		}
	}
	// 607 names the transaction it made: checkstatus finds it by that tid.
	a607 := f.post(t, f.payBody(func(m map[string]any) { m["refid"], m["msisdn"] = "r-607b", "250788120004" }), nil)
	if tid, _ := a607.body["tid"].(string); retcode(a607) != 607 || tid == "" {
		t.Errorf("607 without its tid: %s", a607.raw)
	} else if c := f.post(t, map[string]any{"tid": tid, "action": "checkstatus"}, nil); c.body["statusid"] != "02" || c.body["refid"] != "r-607b" {
		t.Errorf("checkstatus of the 607 tid: %s", c.raw)
	}
	// 605: a live retailer, which has no rails to take payments with.
	_, live, err := f.svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: f.integ.MerchantID, Flavor: malipo.FlavorKPay, Mode: malipo.ModeLive})
	if err != nil {
		t.Fatal(err)
	}
	a := f.post(t, f.payBody(func(m map[string]any) { m["refid"], m["retailerid"] = "r-605", live["retailer_id"] }), func(r *http.Request) {
		r.SetBasicAuth(live["username"], live["password"])
		r.Header.Set("Kpay-Key", live["kpay_key"])
	})
	if retcode(a) != 605 {
		t.Errorf("605: %s", a.raw)
	}
	// 611: checkstatus of an unknown transaction.
	if a := f.post(t, map[string]any{"refid": "nope", "action": "checkstatus"}, nil); a.body["statusid"] != "611" || a.body["statusdesc"] != "Transaction not found" {
		t.Errorf("611: %s", a.raw)
	}
	// 606: the store fails under the request (the credentials are cached).
	f.st.Close()
	if a := f.post(t, f.payBody(func(m map[string]any) { m["refid"] = "r-606" }), nil); retcode(a) != 606 || a.body["reply"] != "Error processing" {
		t.Errorf("606: %s", a.raw)
	}
}

func TestMobileMoneyPostbackAndStatus(t *testing.T) {
	f := newFace(t)
	var mu sync.Mutex
	var posts []map[string]any
	answers := []string{`{"reply":"RECEIVED"}`, "OK", `{"tid":"x","refid":"y","reply":"OK"}`} // only the last acknowledges
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		defer mu.Unlock()
		posts = append(posts, m)
		io.WriteString(w, answers[min(len(posts)-1, len(answers)-1)])
	}))
	defer receiver.Close()
	a := f.post(t, f.payBody(func(m map[string]any) { m["returl"] = receiver.URL + "/ack" }), nil)
	if a.body["reply"] != "PENDING" || a.body["success"] != 1.0 || retcode(a) != 0 || !strings.HasPrefix(a.body["url"].(string), f.srv.URL+"/pay/") {
		t.Fatalf("pay: %s", a.raw)
	}
	if !strings.HasPrefix(a.raw, `{"reply":"PENDING","url":`) {
		t.Errorf("keys out of KPay's order: %s", a.raw)
	}
	tid := a.body["tid"].(string)
	if c := f.post(t, map[string]any{"tid": tid, "action": "checkstatus"}, nil); c.body["statusid"] != "03" {
		t.Errorf("status while pending: %s", c.raw)
	}
	f.clock.Advance(3 * time.Second)
	for range 3 {
		if _, err := f.disp.RunDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Hour)
	}
	mu.Lock()
	if len(posts) != 3 {
		t.Fatalf("%d postbacks, want 3: two not acknowledged, then one acknowledged", len(posts))
	}
	p := posts[0]
	if p["tid"] != tid || p["refid"] != "15947234071471114" || p["statusid"] != "01" || p["payaccount"] != "0788312934" || p["momtransactionid"] == "" {
		t.Errorf("postback: %v", p)
	}
	mu.Unlock()
	c := f.post(t, map[string]any{"refid": "15947234071471114", "action": "checkstatus"}, nil)
	if c.body["statusid"] != "01" || c.body["tid"] != tid || !strings.HasPrefix(c.raw, `{"tid":`) {
		t.Errorf("checkstatus: %s", c.raw)
	}
}

func TestCardTokens(t *testing.T) {
	f := newFace(t)
	a := f.post(t, map[string]any{"msisdn": "250788312934", "email": "ikaneza@gmail.com", "cusname": "Kaneza Innocent", "action": "addtoken", "refid": "ABCD1593123162"}, nil)
	if a.body["reply"] != "token generation url saved" || a.body["success"] != 1.0 || !strings.HasPrefix(a.body["url"].(string), f.srv.URL+"/cards/") {
		t.Fatalf("addtoken: %s", a.raw)
	}
	token := strings.TrimPrefix(a.body["url"].(string), f.srv.URL+"/cards/")
	for _, pan := range []string{"5555555555554444", "4000000000009995"} {
		cs, _, _ := f.svc.CreateCardSetup(context.Background(), f.integ, gateway.CardSetupInput{Customer: malipo.Customer{Phone: "+250788312934"}}, gateway.Idempotency{})
		if pan == "5555555555554444" {
			cs.Token = token
		}
		if _, err := f.svc.SaveCard(context.Background(), cs.Token, rails.Card{Number: pan, Month: 12, Year: 2030, CVV: "123"}); err != nil {
			t.Fatal(err)
		}
	}
	l := f.post(t, map[string]any{"msisdn": "250788312934", "action": "tokenlist", "refid": "ABCD1593510281"}, nil)
	list, _ := l.body["reply"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["cardhash"] != "555555xxxxxx4444" || list[0].(map[string]any)["scheme"] != "MASTERCARD" || l.body["tid"] != 0.0 {
		t.Fatalf("tokenlist: %s", l.raw)
	}
	pay := func(tok, ref string) answer {
		return f.post(t, map[string]any{"action": "tokenpay", "token": tok, "cvv": "123", "msisdn": "250788312934", "email": "kaneza@esicia.rw",
			"details": "Airtime TopUp", "refid": ref, "amount": 520, "cname": "INNOCENT KANEZA", "cnumber": "250788312934", "retailerid": f.creds["retailer_id"],
			"pmethod": "tokenpay", "returl": "https://vote.rw/response", "redirecturl": "https://vote.rw/wait"}, nil)
	}
	ok := pay(list[0].(map[string]any)["token"].(string), "YR1600116349")
	if ok.body["statusid"] != "01" || ok.body["statusdesc"] != "APPROVED" || ok.body["comtime"] == "" || ok.body["momtransactionid"] == "" {
		t.Errorf("tokenpay: %s", ok.raw)
	}
	if d := pay(list[1].(map[string]any)["token"].(string), "YR2"); d.body["statusid"] != "02" || d.body["statusdesc"] != "DECLINED" {
		t.Errorf("tokenpay declined: %s", d.raw)
	}
	if bad := pay("card_nope", "YR3"); retcode(bad) != 603 {
		t.Errorf("unknown token: %s", bad.raw)
	}
}

func TestImmediateSuccess(t *testing.T) {
	f := newFaceDelay(t, 0) // the sandbox settles before it answers
	a := f.post(t, f.payBody(nil), nil)
	if a.body["statusid"] != "01" || a.body["statusdesc"] != "SUCCESSFUL" || retcode(a) != 0 || a.body["momtransactionid"] == "" ||
		!strings.HasPrefix(a.raw, `{"tid":`) {
		t.Errorf("immediate success: %s", a.raw)
	}
}

// logourl is shown on the checkout page the payment request answers.
func TestLogoURLIsShown(t *testing.T) {
	f := newFace(t)
	a := f.post(t, f.payBody(func(m map[string]any) {
		m["pmethod"], m["bankid"], m["logourl"] = "cc", "000", "https://iduka.rw/logo.png"
	}), nil)
	url, _ := a.body["url"].(string)
	if retcode(a) != 0 || url == "" {
		t.Fatalf("card payment request: %s", a.raw)
	}
	if page := checkouttest.Get(t, url); !strings.Contains(page, `src="https://iduka.rw/logo.png"`) {
		t.Errorf("the checkout page does not show logourl:\n%s", page)
	}
}

// pmethod bank: the checkout page offers a transfer from the bank the
// merchant named; in the sandbox the customer's bank answers like a
// phone does (the account's last four digits), and the postback names
// the account paid from.
func TestBankPayment(t *testing.T) {
	var mu sync.Mutex
	var posts []map[string]any
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		posts = append(posts, m)
		mu.Unlock()
		w.Write([]byte(`{"reply":"OK"}`))
	}))
	defer receiver.Close()
	f := newFace(t)
	a := f.post(t, f.payBody(func(m map[string]any) {
		m["refid"], m["pmethod"], m["bankid"], m["returl"] = "bank-1", "bank", "040", receiver.URL
	}), nil)
	url, _ := a.body["url"].(string)
	if retcode(a) != 0 || url == "" {
		t.Fatalf("bank payment request: %s", a.raw)
	}
	page := checkouttest.Get(t, url)
	if !strings.Contains(page, `id="bank-form"`) || !strings.Contains(page, "BK") || strings.Contains(page, `id="momo-form"`) {
		t.Fatalf("the checkout page offers no transfer from BK:\n%s", page)
	}
	// An account number that cannot be one is refused on the page.
	if page := checkouttest.SubmitStatus(t, url, "bank", neturl.Values{"account": {"12"}}, 422); !strings.Contains(page, "5 to 34") && !strings.Contains(page, "5 à 34") {
		t.Errorf("short account number: %s", page)
	}
	if page := checkouttest.Submit(t, url, "bank", neturl.Values{"account": {"000 1234 5678"}}); !strings.Contains(page, "BK") {
		t.Errorf("waiting page: %s", page)
	}
	f.clock.Advance(3 * time.Second)
	if _, err := f.disp.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(posts) != 1 || posts[0]["statusid"] != "01" || posts[0]["payaccount"] != "00012345678" || posts[0]["refid"] != "bank-1" {
		t.Errorf("postbacks: %v", posts)
	}
	mu.Unlock()
	// An account the bank does not know: the bank refuses at once and
	// the payment fails, saying so (as a number no wallet holds does).
	a = f.post(t, f.payBody(func(m map[string]any) {
		m["refid"], m["pmethod"], m["bankid"], m["returl"] = "bank-2", "bank", "951", receiver.URL
	}), nil)
	url, _ = a.body["url"].(string)
	if page := checkouttest.Submit(t, url, "bank", neturl.Values{"account": {"00012340004"}}); !strings.Contains(page, "Your bank has no such account") {
		t.Errorf("unknown account: %s", page)
	}
	if c := f.post(t, map[string]any{"refid": "bank-2", "action": "checkstatus"}, nil); c.body["statusid"] != "02" {
		t.Errorf("checkstatus after the refusal: %s", c.raw)
	}
}

// Rolled credentials: the new password and Kpay-Key work at once, the old
// ones until the overlap ends.
func TestRolledCredentials(t *testing.T) {
	f := newFace(t)
	rolled, err := f.svc.RollKey(context.Background(), f.integ.ID, time.Hour)
	if err != nil || rolled["password"] == "" || rolled["kpay_key"] == "" {
		t.Fatalf("roll: %v %v", rolled, err)
	}
	status := func(user, password, key string) float64 {
		a := f.post(t, map[string]any{"refid": "nope", "action": "checkstatus"}, func(r *http.Request) {
			r.SetBasicAuth(user, password)
			if key == "" {
				r.Header.Del("Kpay-Key")
			} else {
				r.Header.Set("Kpay-Key", key)
			}
		})
		if a.status == 200 {
			return 0
		}
		return retcode(a)
	}
	user := f.creds["username"]
	if got := status(user, rolled["password"], rolled["kpay_key"]); got != 0 {
		t.Errorf("the new credentials: %v", got)
	}
	if got := status(user, f.creds["password"], ""); got != 0 {
		t.Errorf("the old password during the overlap: %v", got)
	}
	f.clock.Advance(time.Hour + time.Minute)
	if got := status(user, f.creds["password"], ""); got != 600 {
		t.Errorf("the old password after the overlap: %v", got)
	}
	if got := status(user, rolled["password"], f.creds["kpay_key"]); got != 601 {
		t.Errorf("the old Kpay-Key after the overlap: %v", got)
	}
	if got := status(user, rolled["password"], ""); got != 0 {
		t.Errorf("the new password after the overlap: %v", got)
	}
}
