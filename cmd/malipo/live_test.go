package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo/faces/ipay"
	"github.com/malipo/malipo/rails/airtel/airtelsim"
	"github.com/malipo/malipo/rails/momo/momosim"
	"github.com/malipo/malipo/rails/mpesa/mpesasim"
	"github.com/malipo/malipo/secrets"
)

// liveSetup is a database with live rails added through `malipo rails
// add`, a master key file, and the flags `malipo serve` needs for them.
type liveSetup struct {
	db, keyFile string
}

func newLiveSetup(t *testing.T, db string) liveSetup {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return liveSetup{db: db, keyFile: keyFile}
}

// addRail adds a rail of kind with config, as an operator would.
func (l liveSetup) addRail(t *testing.T, kind string, config any, position int) map[string]any {
	t.Helper()
	b, _ := json.Marshal(config)
	var out map[string]any
	if err := json.Unmarshal([]byte(runCmd(t, "rails", "add", "--db", l.db, "--master-key-file", l.keyFile, "--kind", kind,
		"--config", string(b), "--position", fmt.Sprint(position))), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// liveKey creates a merchant and a live integration of flavor, and returns
// its credentials.
func (l liveSetup) liveKey(t *testing.T, flavor string, extra ...string) map[string]string {
	t.Helper()
	var m map[string]string
	json.Unmarshal([]byte(runCmd(t, "merchants", "create", "--name", "Duka", "--db", l.db)), &m)
	creds := l.integration(t, m["id"], flavor, extra...)
	creds["merchant"] = m["id"]
	return creds
}

// integration creates a live integration of flavor for merchant.
func (l liveSetup) integration(t *testing.T, merchant, flavor string, extra ...string) map[string]string {
	t.Helper()
	var creds map[string]string
	args := append([]string{"integrations", "create", "--merchant", merchant, "--flavor", flavor, "--mode", "live", "--db", l.db}, extra...)
	if err := json.Unmarshal([]byte(runCmd(t, args...)), &creds); err != nil {
		t.Fatal(err)
	}
	return creds
}

// simulator is an MTN MoMo simulator on loopback.
func momoSimulator(t *testing.T, opt momosim.Options) (*momosim.Server, map[string]any) {
	t.Helper()
	sim := momosim.New(opt)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return sim, sim.Config(srv.URL)
}

// waitFor polls get until done says so, or fails after d.
func waitFor(t *testing.T, d time.Duration, what string, get func() map[string]any, done func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		v := get()
		if done(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after %s", what, v, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settles waits up to within for the payment or payout p (a /v1 answer)
// to end, and checks it ended as want, with failure code code if given.
func settles(t *testing.T, url, key, what string, p map[string]any, want, code string, within time.Duration) {
	t.Helper()
	id, _ := p["id"].(string)
	if id == "" {
		t.Fatalf("%s: %v", what, p)
	}
	kind := "payments"
	if strings.HasPrefix(id, "po_") {
		kind = "payouts"
	}
	got := waitFor(t, within, what, func() map[string]any { return call(t, "GET", url+"/v1/"+kind+"/"+id, key, "") }, final)
	failure, _ := got["failure"].(map[string]any)
	if got["status"] != want || (code != "" && (failure == nil || failure["code"] != code)) {
		t.Errorf("%s: %s %v, want %s %s", what, got["status"], failure, want, code)
	}
}

func final(v map[string]any) bool {
	s, _ := v["status"].(string)
	return s == "succeeded" || s == "failed" || s == "expired" || s == "cancelled"
}

// A live native integration against MTN MoMo simulators: a payment pushed
// to a phone succeeds through the operator's callback, and through status
// polling when callbacks are lost; MTN's failures come back as Malipo's
// failure codes; a payout reaches a phone by disbursement; calls the
// operator answers 500 after acting are asked about, never sent twice;
// routing skips a rail that does not serve a number; verify is clean.
func TestLiveMoMo(t *testing.T) {
	eachDatabase(t, liveMoMo)
}

func liveMoMo(t *testing.T, db string) {
	l := newLiveSetup(t, db)
	ug, ugConfig := momoSimulator(t, momosim.Options{Country: "UG", CallbackDelay: 300 * time.Millisecond})
	rw, rwConfig := momoSimulator(t, momosim.Options{Country: "RW", CallbackDelay: 300 * time.Millisecond, DropCallbacks: true})
	gh, ghConfig := momoSimulator(t, momosim.Options{Country: "GH", CallbackDelay: 300 * time.Millisecond, FailRate: 0.5, Seed: 7})
	added := l.addRail(t, "mtn-momo", ugConfig, 0)
	if p, _ := added["callback_path"].(string); !strings.HasPrefix(p, "/rails/mtn-ug/") || len(p) < len("/rails/mtn-ug/")+40 {
		t.Fatalf("rails add printed %v", added)
	}
	l.addRail(t, "mtn-momo", rwConfig, 0)
	l.addRail(t, "mtn-momo", ghConfig, 0)

	// rails list shows what each serves, never a credential.
	list := runCmd(t, "rails", "list", "--db", db)
	for _, secret := range []string{ugConfig["collection"].(map[string]string)["api_key"], ugConfig["collection"].(map[string]string)["subscription_key"], "callback"} {
		if strings.Contains(list, secret) {
			t.Errorf("rails list shows %q:\n%s", secret, list)
		}
	}
	if !strings.Contains(list, `"mtn-rw"`) || !strings.Contains(list, `"UGX"`) {
		t.Errorf("rails list:\n%s", list)
	}

	key := l.liveKey(t, "native")["secret_key"]
	s := startServer(t, db, "--master-key-file", l.keyFile, "--reconcile-after", "500ms")
	pay := func(ref, phone, currency string) map[string]any {
		return call(t, "POST", s.url+"/v1/payments", key, fmt.Sprintf(`{"amount":5000,"currency":%q,"reference":%q,"method":"mobile_money","phone":%q}`, currency, ref, phone))
	}
	get := func(kind, id string) func() map[string]any {
		return func() map[string]any { return call(t, "GET", s.url+"/v1/"+kind+"/"+id, key, "") }
	}
	settle := func(what string, p map[string]any, want, code string) {
		t.Helper()
		settles(t, s.url, key, what, p, want, code, 15*time.Second)
	}

	// The callback finishes a payment (after Malipo asks MTN to confirm it).
	settle("UG payment", pay("ug-1", "+256772120000", "UGX"), "succeeded", "")
	// MTN's failures, as Malipo's codes.
	settle("UG 0001", pay("ug-2", "+256772120001", "UGX"), "failed", "insufficient_funds")
	settle("UG 0002", pay("ug-3", "+256772120002", "UGX"), "failed", "customer_declined")
	settle("UG 0004", pay("ug-4", "+256772120004", "UGX"), "failed", "invalid_account")
	// Rwanda's callbacks are lost: status polling finishes the payment.
	settle("RW payment, no callback", pay("rw-1", "+250788120000", "RWF"), "succeeded", "")
	// No rail serves Kenya: a clear 503, nothing created.
	if got := pay("ke-1", "+254712120000", "KES"); got["error"] == nil || got["error"].(map[string]any)["code"] != "rail_unavailable" {
		t.Errorf("payment no rail serves: %v", got)
	}
	// Ghana's operator fails half its calls, some after acting: every
	// payment ends, and MTN holds one transaction per attempt.
	var ghIDs []string
	for i := range 8 {
		p := pay(fmt.Sprintf("gh-%d", i), "+233241120000", "GHS")
		if id, _ := p["id"].(string); id != "" {
			ghIDs = append(ghIDs, id)
		}
	}
	// A push lost before MTN acted ends its attempt (MTN never had it):
	// the payment stays payable. Any other ends the payment.
	waitFor(t, 30*time.Second, "GH attempts", func() map[string]any {
		return map[string]any{"in flight": countInFlight(t, db).attempts}
	}, func(v map[string]any) bool { return v["in flight"] == 0 })
	ghSucceeded := 0
	for _, id := range ghIDs {
		if got := get("payments", id)(); got["status"] == "succeeded" {
			ghSucceeded++
		}
	}
	if ghSucceeded == 0 {
		t.Errorf("no payment went through MTN Ghana")
	}
	if n := gh.Transactions()["collection SUCCESSFUL"]; n != ghSucceeded {
		t.Errorf("MTN Ghana took %d payments, Malipo recorded %d succeeded", n, ghSucceeded)
	}

	// A payout reaches a phone by disbursement; MTN's refusal fails one.
	settle("UG payout", call(t, "POST", s.url+"/v1/payouts", key, `{"amount":1000,"currency":"UGX","reference":"po-1","destination":{"type":"mobile_money","account":"+256772120000"}}`), "succeeded", "")
	settle("UG payout 0004", call(t, "POST", s.url+"/v1/payouts", key, `{"amount":1000,"currency":"UGX","reference":"po-2","destination":{"type":"mobile_money","account":"+256772120004"}}`), "failed", "invalid_account")

	if n := ug.Transactions()["collection SUCCESSFUL"]; n != 1 {
		t.Errorf("MTN Uganda took %d payments, want 1", n)
	}
	if n := rw.Transactions()["collection SUCCESSFUL"]; n != 1 {
		t.Errorf("MTN Rwanda took %d payments, want 1", n)
	}
	if n := ug.Transactions()["disbursement SUCCESSFUL"]; n != 1 {
		t.Errorf("MTN Uganda sent %d transfers, want 1", n)
	}
	metrics := getText(t, s.url+"/metrics")
	if !strings.Contains(metrics, `malipo_rail_calls_total{op="push",rail="mtn-gh",result="failed"}`) ||
		!strings.Contains(metrics, `malipo_rail_circuit_open{rail="mtn-ug"} 0`) {
		t.Errorf("metrics do not show the rails:\n%s", grepLines(metrics, "malipo_rail"))
	}
	s.stop()
	if out := runCmd(t, "verify", "--db", db); !strings.Contains(out, "ok") {
		t.Errorf("verify: %s", out)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}

func grepLines(text, substr string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// Live rails without the master key that sealed them do not start, and
// say why; rekey moves them to a new key.
func TestLiveRailsNeedTheirMasterKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "malipo.db")
	l := newLiveSetup(t, db)
	_, config := momoSimulator(t, momosim.Options{})
	l.addRail(t, "mtn-momo", config, 0)
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0", "--db", db}, {"serve", "--addr", "127.0.0.1:0", "--db", db, "--master-key-file", newLiveSetup(t, db).keyFile}} {
		var out, errOut syncBuffer
		err := run(t.Context(), args, noEnv, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "mtn-ug") {
			t.Errorf("malipo %s: %v, want a refusal naming the rail", strings.Join(args, " "), err)
		}
	}
	// Rotate: the new key first, the old one second; rekey; the old key alone no longer opens it.
	newKey := newLiveSetup(t, db)
	oldText, _ := os.ReadFile(l.keyFile)
	newText, _ := os.ReadFile(newKey.keyFile)
	both := filepath.Join(t.TempDir(), "both.key")
	os.WriteFile(both, []byte(strings.TrimSpace(string(newText))+","+string(oldText)), 0o600)
	if out := runCmd(t, "rails", "rekey", "--db", db, "--master-key-file", both); !strings.Contains(out, `"resealed": 1`) {
		t.Fatalf("rekey: %s", out)
	}
	newRing, _ := secrets.Parse(string(newText))
	if out := runCmd(t, "rails", "list", "--db", db); !strings.Contains(out, `"sealed_with": "`+newRing.Current()+`"`) {
		t.Fatalf("list after rekey, want sealed with %s: %s", newRing.Current(), out)
	}
	var out, errOut syncBuffer
	if err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--master-key-file", l.keyFile}, noEnv, &out, &errOut); err == nil {
		t.Error("serve started with the retired key")
	}
	s := startServer(t, db, "--master-key-file", newKey.keyFile)
	if !strings.Contains(s.out.String(), "live rails mtn-ug") {
		t.Errorf("start-up line: %s", s.out.String())
	}
}

// `malipo simulate mtn-momo|mpesa|airtel` prints a ready configuration on
// one line, which `malipo rails add` takes as it is, and serves the
// operator's API (a token is issued for the printed credentials).
func TestSimulateCommand(t *testing.T) {
	bin, err := buildMalipo()
	if err != nil {
		t.Fatal(err)
	}
	l := newLiveSetup(t, filepath.Join(t.TempDir(), "malipo.db"))
	for _, c := range []struct {
		kind  string
		args  []string
		check func(c map[string]any) *http.Request
		want  string
	}{
		{"mtn-momo", []string{"--country", "RW", "--drop-callbacks"}, func(c map[string]any) *http.Request {
			col := c["collection"].(map[string]any)
			req, _ := http.NewRequest("POST", c["base_url"].(string)+"/collection/token/", nil)
			req.Header.Set("Ocp-Apim-Subscription-Key", col["subscription_key"].(string))
			req.Header.Set("Authorization", momosim.BasicAuth(col["api_user"].(string), col["api_key"].(string)))
			return req
		}, `"target_environment":"mtnrwanda"`},
		{"mpesa", nil, func(c map[string]any) *http.Request {
			req, _ := http.NewRequest("GET", c["base_url"].(string)+"/oauth/v1/generate?grant_type=client_credentials", nil)
			req.SetBasicAuth(c["consumer_key"].(string), c["consumer_secret"].(string))
			return req
		}, `"currencies":["KES"]`},
		{"airtel", []string{"--country", "KE"}, func(c map[string]any) *http.Request {
			body, _ := json.Marshal(map[string]any{"client_id": c["client_id"], "client_secret": c["client_secret"], "grant_type": "client_credentials"})
			req, _ := http.NewRequest("POST", c["base_url"].(string)+"/auth/oauth2/token", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			return req
		}, `"currency":"KES"`},
	} {
		cmd := exec.Command(bin, append([]string{"simulate", c.kind}, c.args...)...)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var printed struct {
			Kind   string
			Config map[string]any
		}
		if err := json.Unmarshal([]byte(line), &printed); err != nil || printed.Kind != c.kind || !strings.HasPrefix(line, `{"kind":"`+c.kind+`","config":{`) ||
			!strings.Contains(line, c.want) {
			t.Fatalf("%s printed %q (%v)", c.kind, line, err)
		}
		res, err := http.DefaultClient.Do(c.check(printed.Config))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s token: %d", c.kind, res.StatusCode)
		}
		if added := l.addRail(t, c.kind, printed.Config, 0); added["id"] == nil {
			t.Errorf("%s: rails add %v", c.kind, added)
		}
	}
}

// postJSON posts body to url with headers and decodes the JSON answer.
func postJSON(t *testing.T, url string, header map[string]string, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]any
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("POST %s: %d %s", url, res.StatusCode, b)
	}
	return v
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`)

// payOnCheckout pays a checkout page by mobile money as a customer
// without JavaScript does, and returns the page it ends on.
func payOnCheckout(t *testing.T, pageURL, phone, operator string) string {
	t.Helper()
	status, page := submitOnCheckout(t, pageURL, phone, operator)
	if status != 200 {
		t.Fatalf("pay on the checkout page: %d\n%s", status, page)
	}
	return page
}

// submitOnCheckout opens a checkout page, submits its mobile-money form
// and returns the answer's status and page.
func submitOnCheckout(t *testing.T, pageURL, phone, operator string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfRe.FindSubmatch(b)
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("checkout page %d:\n%s", res.StatusCode, b)
	}
	if strings.Contains(string(b), `id="m-card"`) {
		t.Errorf("a live checkout offers cards, which no live rail takes")
	}
	res, err = c.PostForm(pageURL+"/mobile-money", url.Values{"csrf": {string(m[1])}, "phone": {phone}, "operator": {operator}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, string(b)
}

// Every provider face takes live money through the MTN rail behind it:
// a PayDunya invoice paid by SoftPay and another on the checkout page, a
// PayDunya direct-pay, a CinetPay payment paid on the checkout page, a
// KPay mobile-money request; a ClickPay collection from an Airtel
// Tanzania number; ClickPay's live card link, with no live card rail, is
// ClickPay's own 503, never a 500. verify is clean after.
func TestLiveFaces(t *testing.T) {
	db := filepath.Join(t.TempDir(), "malipo.db")
	l := newLiveSetup(t, db)
	_, ci := momoSimulator(t, momosim.Options{Country: "CI", CallbackDelay: 200 * time.Millisecond})
	_, rw := momoSimulator(t, momosim.Options{Country: "RW", CallbackDelay: 200 * time.Millisecond})
	l.addRail(t, "mtn-momo", ci, 0)
	l.addRail(t, "mtn-momo", rw, 0)
	tz := airtelsim.New(airtelsim.Options{Country: "TZ", CallbackDelay: 200 * time.Millisecond})
	tzSrv := httptest.NewServer(tz.Handler())
	t.Cleanup(tzSrv.Close)
	l.addRail(t, "airtel", tz.Config(tzSrv.URL), 0)
	pd := l.liveKey(t, "paydunya", "--payouts")
	cp := l.liveKey(t, "cinetpay")
	cpXAF := l.liveKey(t, "cinetpay", "--currency", "XAF")
	kp := l.liveKey(t, "kpay", "--allow-ip", "127.0.0.1")
	cl := l.liveKey(t, "clickpay")
	s := startServer(t, db, "--master-key-file", l.keyFile, "--reconcile-after", "500ms")

	// PayDunya: an invoice paid by SoftPay with a national number.
	pdHeader := map[string]string{"PAYDUNYA-MASTER-KEY": pd["master_key"], "PAYDUNYA-PRIVATE-KEY": pd["private_key"], "PAYDUNYA-TOKEN": pd["token"]}
	pdAPI := s.url + "/paydunya/api/v1"
	invoice := func() map[string]any {
		return postJSON(t, pdAPI+"/checkout-invoice/create", pdHeader, `{"invoice":{"total_amount":5000},"store":{"name":"Choco"}}`)
	}
	confirm := func(token string) func() map[string]any {
		return func() map[string]any {
			req, _ := http.NewRequest("GET", pdAPI+"/checkout-invoice/confirm/"+token, nil)
			for k, v := range pdHeader {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var v map[string]any
			json.NewDecoder(res.Body).Decode(&v)
			return v
		}
	}
	completed := func(v map[string]any) bool { return v["status"] == "completed" || v["status"] == "cancelled" }
	inv := invoice()
	token, _ := inv["token"].(string)
	if got := postJSON(t, pdAPI+"/softpay/mtn-ci", pdHeader, `{"mtn_ci_customer_fullname":"Awa K","mtn_ci_email":"awa@example.com","mtn_ci_phone_number":"0505120000","mtn_ci_wallet_provider":"MTNCI","payment_token":"`+token+`"}`); got["success"] != true {
		t.Fatalf("PayDunya softpay: %v", got)
	}
	if got := waitFor(t, 15*time.Second, "PayDunya invoice", confirm(token), completed); got["status"] != "completed" {
		t.Errorf("PayDunya invoice: %v", got)
	}
	// Another invoice, paid on the checkout page it names.
	inv = invoice()
	if page := payOnCheckout(t, inv["response_text"].(string), "+225 05 05 12 00 00", "mtn-ci"); !strings.Contains(page, "MTN") {
		t.Errorf("waiting page:\n%s", page)
	}
	if got := waitFor(t, 15*time.Second, "PayDunya checkout invoice", confirm(inv["token"].(string)), completed); got["status"] != "completed" {
		t.Errorf("PayDunya checkout invoice: %v", got)
	}
	// A number no live rail serves: the form again, saying so, with 503.
	inv = invoice()
	if status, page := submitOnCheckout(t, inv["response_text"].(string), "+254712120000", ""); status != 503 ||
		!strings.Contains(page, `id="momo-form"`) || (!strings.Contains(page, "pas disponible pour ce numéro") && !strings.Contains(page, "not available for this number")) {
		t.Errorf("a number no rail serves: %d\n%s", status, page)
	}
	// Direct-pay sends money to a wallet.
	if got := postJSON(t, pdAPI+"/direct-pay/credit-account", pdHeader, `{"account_alias":"+2250505120000","amount":1000}`); got["response_code"] != "00" {
		t.Errorf("PayDunya direct-pay: %v", got)
	}
	// To a country no rail pays: PayDunya's own code, not a 500.
	if got := postJSON(t, pdAPI+"/direct-pay/credit-account", pdHeader, `{"account_alias":"+254712120000","amount":1000}`); got["response_code"] != "5003" {
		t.Errorf("PayDunya direct-pay nobody serves: %v", got)
	}

	// CinetPay: a payment link, paid on the checkout page.
	got := postJSON(t, s.url+"/cinetpay/v2/payment", nil, `{"apikey":"`+cp["apikey"]+`","site_id":"`+cp["site_id"]+
		`","transaction_id":"T-live-1","amount":2500,"currency":"XOF","description":"d","channels":"MOBILE_MONEY","notify_url":"https://shop.example/n","return_url":"https://shop.example/r"}`)
	data, _ := got["data"].(map[string]any)
	if got["code"] != "201" || data == nil {
		t.Fatalf("CinetPay payment: %v", got)
	}
	payOnCheckout(t, data["payment_url"].(string), "+2250505120000", "")
	check := func() map[string]any {
		return postJSON(t, s.url+"/cinetpay/v2/payment/check", nil, `{"apikey":"`+cp["apikey"]+`","site_id":"`+cp["site_id"]+`","transaction_id":"T-live-1"}`)
	}
	if got := waitFor(t, 15*time.Second, "CinetPay check", check, func(v map[string]any) bool {
		d, _ := v["data"].(map[string]any)
		return d != nil && (d["status"] == "ACCEPTED" || d["status"] == "REFUSED")
	}); got["data"].(map[string]any)["status"] != "ACCEPTED" {
		t.Errorf("CinetPay check: %v", got)
	}

	// A payment in a currency no live rail takes: its page says so.
	got = postJSON(t, s.url+"/cinetpay/v2/payment", nil, `{"apikey":"`+cpXAF["apikey"]+`","site_id":"`+cpXAF["site_id"]+
		`","transaction_id":"T-live-2","amount":2500,"currency":"XAF","description":"d","notify_url":"https://shop.example/n","return_url":"https://shop.example/r"}`)
	if data, _ := got["data"].(map[string]any); data == nil {
		t.Errorf("CinetPay XAF payment: %v", got)
	} else if page := getText(t, data["payment_url"].(string)); !strings.Contains(page, "ne peut pas être réglé ici") || strings.Contains(page, `id="m-card"`) {
		t.Errorf("checkout page no rail serves:\n%s", page)
	}

	// KPay: a mobile-money request to an MTN Rwanda number.
	kpHeader := map[string]string{"Kpay-Key": kp["kpay_key"], "Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(kp["username"]+":"+kp["password"]))}
	got = postJSON(t, s.url+"/kpay/", kpHeader, `{"action":"pay","msisdn":"0788312934","details":"order","refid":"live-kp-1","amount":4200,"currency":"RWF","email":"i@example.rw","cname":"KANEZA","cnumber":"0788123457","pmethod":"momo","retailerid":"`+kp["retailer_id"]+`","returl":"https://iduka.rw/ack","redirecturl":"https://iduka.rw","bankid":"63510"}`)
	if got["retcode"] != float64(0) {
		t.Fatalf("KPay pay: %v", got)
	}
	if got := waitFor(t, 15*time.Second, "KPay checkstatus", func() map[string]any {
		return postJSON(t, s.url+"/kpay/", kpHeader, `{"action":"checkstatus","refid":"live-kp-1"}`)
	}, func(v map[string]any) bool { return v["statusid"] != "03" }); got["statusid"] != "01" {
		t.Errorf("KPay checkstatus: %v", got)
	}

	// ClickPay: a collection from a Tanzanian Airtel number, pushed to the
	// customer's phone; the transaction query follows it to success.
	clHeader := map[string]string{"Authorization": cl["api_key"]}
	got = postJSON(t, s.url+"/clickpay/api/collections", clHeader, `{"msisdn":"255682120000","amount":"5000","currency":"TZS"}`)
	clID, _ := got["id"].(string)
	if clID == "" {
		t.Fatalf("ClickPay live collection: %v", got)
	}
	if got := waitFor(t, 15*time.Second, "ClickPay collection", func() map[string]any {
		req, _ := http.NewRequest("GET", s.url+"/clickpay/api/transactions/"+clID, nil)
		req.Header.Set("Authorization", cl["api_key"])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		json.NewDecoder(res.Body).Decode(&v)
		return v
	}, func(v map[string]any) bool { return v["status"] != "pending" }); got["status"] != "success" || got["msisdn"] != "255682120000" {
		t.Errorf("ClickPay live collection: %v", got)
	}
	if got := postJSON(t, s.url+"/clickpay/api/sandbox/collections", clHeader, `{"msisdn":"255682120000","amount":"5000"}`); got["status"] != float64(403) {
		t.Errorf("ClickPay sandbox collection in live mode: %v", got)
	}
	if n := tz.Transactions()["collection TS"]; n != 1 {
		t.Errorf("Airtel Tanzania took %d payments, want 1", n)
	}

	// ClickPay's live card link: no live card rail takes cards, so
	// ClickPay's own 503, never a 500 or a page that cannot be paid.
	got = postJSON(t, s.url+"/clickpay/api/card/payment-url", map[string]string{"Authorization": cl["api_key"]},
		`{"account_id":"`+cl["account_id"]+`","amount":"2","order_info":"cl-1","currency":"USD"}`)
	if got["status"] != float64(503) || got["error"] != "Service Unavailable" {
		t.Errorf("ClickPay live card link: %v", got)
	}
	s.stop()
	if out := runCmd(t, "verify", "--db", db); !strings.Contains(out, "ok") {
		t.Errorf("verify: %s", out)
	}
}

// A live native integration against an Airtel Money simulator, on both
// stores: the callback URL rails add prints is set on the (simulated)
// developer portal; a push succeeds through Airtel's callback, confirmed by
// a status query; failures come back as Malipo's codes; a payout is paid
// with the encrypted PIN; verify is clean.
func TestLiveAirtel(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db string) { liveAirtel(t, db, false) })
	t.Run("sqlite-no-callbacks", func(t *testing.T) { liveAirtel(t, filepath.Join(t.TempDir(), "malipo.db"), true) })
}

// liveAirtel runs the Airtel flows; with drop, Airtel never calls back and
// the status query finishes everything.
func liveAirtel(t *testing.T, db string, drop bool) {
	l := newLiveSetup(t, db)
	sim := airtelsim.New(airtelsim.Options{Country: "UG", CallbackDelay: 300 * time.Millisecond, DropCallbacks: drop})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	added := l.addRail(t, "airtel", sim.Config(srv.URL), 0)
	key := l.liveKey(t, "native")["secret_key"]
	// Airtel pays out at once; Malipo learns it from its first status query.
	s := startServer(t, db, "--master-key-file", l.keyFile, "--reconcile-after", "1s")
	req, _ := http.NewRequest("PUT", srv.URL+"/_simulator/callback-url", strings.NewReader(`{"url":"`+s.url+added["callback_path"].(string)+`"}`))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 204 {
		t.Fatalf("set the portal's callback URL: %v", err)
	}
	settle := func(what string, p map[string]any, want, code string) {
		t.Helper()
		settles(t, s.url, key, what, p, want, code, 15*time.Second)
	}
	pay := func(ref, phone string) map[string]any {
		return call(t, "POST", s.url+"/v1/payments", key, fmt.Sprintf(`{"amount":5000,"currency":"UGX","reference":%q,"method":"mobile_money","phone":%q}`, ref, phone))
	}
	settle("Airtel payment", pay("a-1", "+256701120000"), "succeeded", "")
	settle("Airtel 0001", pay("a-2", "+256701120001"), "failed", "insufficient_funds")
	settle("Airtel 0004", pay("a-3", "+256701120004"), "failed", "invalid_account")
	settle("Airtel payout", call(t, "POST", s.url+"/v1/payouts", key, `{"amount":1000,"currency":"UGX","reference":"apo-1","destination":{"type":"mobile_money","account":"+256701120000"}}`), "succeeded", "")
	// An MTN number in Uganda: no rail serves it, a clear 503.
	if got := pay("a-4", "+256772120000"); got["error"] == nil || got["error"].(map[string]any)["code"] != "rail_unavailable" {
		t.Errorf("MTN number with only an Airtel rail: %v", got)
	}
	conn := lookInto(t, db)
	var hints int
	conn.QueryRow(`SELECT COUNT(*) FROM inbox WHERE rail = 'airtel-ug' AND source = 'callback' AND result = 'hint'`).Scan(&hints)
	conn.Close()
	if want := map[bool]int{false: 2, true: 0}[drop]; hints != want {
		t.Errorf("%d Airtel callbacks reached Malipo, want %d", hints, want)
	}
	held := sim.Transactions()
	if held["collection TS"] != 1 || held["disbursement TS"] != 1 {
		t.Errorf("Airtel holds %v", held)
	}
	s.stop()
	if out := runCmd(t, "verify", "--db", db); !strings.Contains(out, "ok") {
		t.Errorf("verify: %s", out)
	}
}

// A live native integration against the M-Pesa Daraja simulator, on both
// stores: an STK push succeeds through Safaricom's callback (confirmed by
// the STK query), failures come back as Malipo's codes, a push with cents
// is refused, a B2C payout is paid and learnt through Daraja's Transaction
// Status result; iPay B2B sends to a paybill and a till are paid by
// Daraja's B2B; verify is clean.
func TestLiveMpesa(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db string) { liveMpesa(t, db, false) })
	t.Run("sqlite-no-callbacks", func(t *testing.T) { liveMpesa(t, filepath.Join(t.TempDir(), "malipo.db"), true) })
}

// liveMpesa runs the M-Pesa flows; with drop, Daraja never calls back
// (STK callbacks and B2C results are lost): the STK query and the
// Transaction Status query finish everything.
func liveMpesa(t *testing.T, db string, drop bool) {
	l := newLiveSetup(t, db)
	sim := mpesasim.New(mpesasim.Options{CallbackDelay: 300 * time.Millisecond, DropCallbacks: drop})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	l.addRail(t, "mpesa", sim.Config(srv.URL), 0)
	native := l.liveKey(t, "native")
	key := native["secret_key"]
	ip := l.integration(t, native["merchant"], "ipay", "--allow-ip", "127.0.0.1")
	s := startServer(t, db, "--master-key-file", l.keyFile, "--reconcile-after", "1s")
	settle := func(what string, p map[string]any, want, code string) {
		t.Helper()
		settles(t, s.url, key, what, p, want, code, 20*time.Second)
	}
	pay := func(ref, phone string, amount int) map[string]any {
		return call(t, "POST", s.url+"/v1/payments", key, fmt.Sprintf(`{"amount":%d,"currency":"KES","reference":%q,"method":"mobile_money","phone":%q}`, amount, ref, phone))
	}
	settle("M-Pesa payment", pay("m-1", "+254712120000", 150000), "succeeded", "")
	settle("M-Pesa 0001", pay("m-2", "+254712120001", 150000), "failed", "insufficient_funds")
	settle("M-Pesa 0002", pay("m-3", "+254712120002", 150000), "failed", "customer_declined")
	settle("M-Pesa 0004", pay("m-4", "+254712120004", 150000), "failed", "invalid_account")
	if got := pay("m-5", "+254712120000", 150050); got["error"] == nil || got["error"].(map[string]any)["code"] != "amount_invalid" {
		if id, _ := got["id"].(string); id == "" || call(t, "GET", s.url+"/v1/payments/"+id, key, "")["failure"].(map[string]any)["code"] != "amount_invalid" {
			t.Errorf("KES 1500.50 through M-Pesa: %v", got)
		}
	}
	settle("M-Pesa B2C payout", call(t, "POST", s.url+"/v1/payouts", key, `{"amount":50000,"currency":"KES","reference":"mpo-1","destination":{"type":"mobile_money","account":"+254712120000"}}`), "succeeded", "")
	settle("M-Pesa B2C 0004", call(t, "POST", s.url+"/v1/payouts", key, `{"amount":50000,"currency":"KES","reference":"mpo-2","destination":{"type":"mobile_money","account":"+254712120004"}}`), "failed", "invalid_account")
	// iPay B2B sends to a paybill and a till go through Daraja's B2B.
	ipay1 := func(path string, fields map[string]any) map[string]any {
		fields["vid"] = ip["vid"]
		fields["hash"] = ipay.Hash(ip["security_key"], fields)
		body, _ := json.Marshal(fields)
		return postJSON(t, s.url+"/ipay/b2b/v1"+path, nil, string(body))
	}
	for _, send := range []struct{ path, ref, account string }{{"/external/send/mpesapaybill", "ip-1", "888880"}, {"/external/send/mpesatill", "ip-2", "5123456"}} {
		if got := ipay1(send.path, map[string]any{"reference": send.ref, "account": send.account, "amount": "100.00", "narration": "ACC-77", "curr": "KES"}); got["status"] != float64(200) {
			t.Fatalf("iPay %s: %v", send.path, got)
		}
		waitFor(t, 20*time.Second, "iPay "+send.ref, func() map[string]any {
			return ipay1("/transaction/status", map[string]any{"reference": send.ref})
		}, func(v map[string]any) bool { return v["text"] == "SUCCESS" })
	}
	held := sim.Transactions()
	if held["stk 0"] != 1 || held["b2c 0"] != 3 { // one B2C payout, two B2B sends
		t.Errorf("Daraja holds %v", held)
	}
	s.stop()
	if out := runCmd(t, "verify", "--db", db); !strings.Contains(out, "ok") {
		t.Errorf("verify: %s", out)
	}
}
