package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo/store/postgres/pgtest"
)

// syncBuffer collects a command's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) string { return "" }

// runCmd runs a one-shot command and returns its standard output.
func runCmd(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut syncBuffer
	if err := run(context.Background(), args, noEnv, &out, &errOut); err != nil {
		t.Fatalf("malipo %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// server is a running `malipo serve`.
type server struct {
	url, key string
	stop     func()
	out      *syncBuffer
	log      *syncBuffer // what serve logs
}

func startServer(t *testing.T, db string, extra ...string) server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--sandbox-delay", "200ms"}, extra...)
	go func() { done <- run(ctx, args, noEnv, &out, &errOut) }()
	urlRe := regexp.MustCompile(`listening on (http://\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	var url string
	for time.Now().Before(deadline) {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			if res, err := http.Get(url + "/healthz"); err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					break
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s\n%s", err, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if url == "" {
		t.Fatalf("serve did not start:\n%s\n%s", out.String(), errOut.String())
	}
	key := regexp.MustCompile(`sk_test_[a-z2-7]+`).FindString(out.String())
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return server{url: url, key: key, stop: stop, out: &out, log: &errOut}
}

func call(t *testing.T, method, url, key, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: %s", method, url, b)
	}
	return v
}

// tour is the README's curl tour: a mobile-money payment to a number that
// approves, then the balance.
func tour(t *testing.T, s server) {
	t.Helper()
	p := call(t, "POST", s.url+"/v1/payments", s.key,
		`{"amount":5000,"currency":"XOF","reference":"order-1","method":"mobile_money","phone":"+2250707120000"}`)
	id, _ := p["id"].(string)
	if id == "" {
		t.Fatalf("create: %v", p)
	}
	// The checkout link the answer carries opens the payment's page.
	res, err := http.Get(p["checkout_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "FCFA") {
		t.Errorf("GET checkout_url: %d\n%s", res.StatusCode, page)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p["status"] != "succeeded" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		p = call(t, "GET", s.url+"/v1/payments/"+id, s.key, "")
	}
	if p["status"] != "succeeded" {
		t.Fatalf("payment did not succeed: %v", p)
	}
	b := call(t, "GET", s.url+"/v1/balance", s.key, "")
	bal, _ := b["balances"].([]any)
	if len(bal) != 1 || bal[0].(map[string]any)["available"] != 5000.0 {
		t.Fatalf("balance after the tour: %v", b)
	}
}

// everyOutcome runs payments that succeed, fail, are declined, are refused,
// are cancelled and are forced through the sandbox, and waits until every
// one of them is final. With the tour's payment, 8 succeed.
func everyOutcome(t *testing.T, s server) {
	t.Helper()
	var ids []string
	create := func(body string) string {
		p := call(t, "POST", s.url+"/v1/payments", s.key, body)
		id, _ := p["id"].(string)
		if id == "" {
			t.Fatalf("create %s: %v", body, p)
		}
		ids = append(ids, id)
		return id
	}
	for i, suffix := range []string{"0000", "0001", "0002", "0004", "5678", "0000", "0001", "0000"} {
		create(fmt.Sprintf(`{"amount":%d,"currency":"RWF","reference":"momo-%d","method":"mobile_money","phone":"+25078812%s"}`, 1000+i, i, suffix))
	}
	for i, outcome := range []string{"succeeded", "failed", "cancelled", "expired", "succeeded", "succeeded"} {
		id := create(fmt.Sprintf(`{"amount":%d,"currency":"KES","reference":"link-%d"}`, 250+i, i))
		if p := call(t, "POST", s.url+"/v1/sandbox/payments/"+id+"/outcome", s.key, `{"outcome":"`+outcome+`"}`); p["status"] != outcome {
			t.Fatalf("outcome %s: %v", outcome, p)
		}
	}
	id := create(`{"amount":75,"currency":"USD","reference":"to-cancel"}`)
	if p := call(t, "POST", s.url+"/v1/payments/"+id+"/cancel", s.key, ""); p["status"] != "cancelled" {
		t.Fatalf("cancel: %v", p)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for {
			p := call(t, "GET", s.url+"/v1/payments/"+id, s.key, "")
			if st := p["status"]; st != "pending" && st != "processing" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("payment never finished: %v", p)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// moneyOut tops the demo merchant up, pays out to a phone that receives,
// one that is refused and one that fails later, and refunds a payment.
func moneyOut(t *testing.T, s server) {
	t.Helper()
	if b := call(t, "POST", s.url+"/v1/sandbox/topup", s.key, `{"amount":100000,"currency":"RWF"}`); b["object"] != "balance" {
		t.Fatalf("topup: %v", b)
	}
	var ids []string
	for i, suffix := range []string{"0000", "0004", "0001"} {
		p := call(t, "POST", s.url+"/v1/payouts", s.key, fmt.Sprintf(`{"amount":%d,"currency":"RWF","reference":"out-%d","destination":{"type":"mobile_money","account":"+25078834%s"}}`, 1000*(i+1), i, suffix))
		id, _ := p["id"].(string)
		if id == "" {
			t.Fatalf("payout: %v", p)
		}
		ids = append(ids, id)
	}
	list := call(t, "GET", s.url+"/v1/payments?status=succeeded&limit=1", s.key, "")
	paid := list["data"].([]any)[0].(map[string]any)
	if r := call(t, "POST", s.url+"/v1/refunds", s.key, fmt.Sprintf(`{"payment":"%s","amount":1}`, paid["id"])); r["status"] != "succeeded" {
		t.Fatalf("refund: %v", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for {
			p := call(t, "GET", s.url+"/v1/payouts/"+id, s.key, "")
			if p["status"] == "succeeded" || p["status"] == "failed" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("payout never finished: %v", p)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestServeFirstStartAndTour(t *testing.T) {
	db := filepath.Join(t.TempDir(), "malipo.db")
	s := startServer(t, db)
	if s.key == "" {
		t.Fatal("first start printed no demo key")
	}
	tour(t, s)
	everyOutcome(t, s)
	moneyOut(t, s)
	s.stop()

	// A second start keeps the data and makes no second demo merchant.
	again := startServer(t, db)
	if again.key != "" {
		t.Errorf("second start printed a new demo key %s", again.key)
	}
	again.stop()

	if out := runCmd(t, "verify", "--db", db); !strings.Contains(out, "ok: the ledger balances") || !strings.Contains(out, " 8 succeeded payments, 3 payouts, 1 refunds") {
		t.Errorf("verify: %s", out)
	}
}

func TestAdminCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "malipo.db")
	if out := runCmd(t, "migrate", "--db", db); !strings.Contains(out, "schema up to date") {
		t.Errorf("migrate: %s", out)
	}
	var m struct{ ID string }
	if err := json.Unmarshal([]byte(runCmd(t, "merchants", "create", "--name", "Duka la Mama", "--db", db)), &m); err != nil || !strings.HasPrefix(m.ID, "mer_") {
		t.Fatalf("merchants create: %v %+v", err, m)
	}
	var creds map[string]string
	out := runCmd(t, "integrations", "create", "--merchant", m.ID, "--flavor", "native", "--mode", "test", "--db", db)
	if err := json.Unmarshal([]byte(out), &creds); err != nil || !strings.HasPrefix(creds["secret_key"], "sk_test_") {
		t.Fatalf("integrations create: %v %s", err, out)
	}
	var pd map[string]string
	out = runCmd(t, "integrations", "create", "--merchant", m.ID, "--flavor", "paydunya", "--mode", "test", "--db", db)
	if err := json.Unmarshal([]byte(out), &pd); err != nil || len(pd) != 4 || !strings.HasPrefix(pd["private_key"], "test_private_") ||
		!strings.HasPrefix(pd["public_key"], "test_public_") || pd["master_key"] == "" || pd["token"] == "" {
		t.Fatalf("paydunya integration: %v %s", err, out)
	}
	// A home country must be one; --payouts and --no-payouts are switches.
	var cOut, cErr syncBuffer
	if err := run(context.Background(), []string{"integrations", "create", "--merchant", m.ID, "--flavor", "paydunya", "--country", "ZZ", "--db", db},
		noEnv, &cOut, &cErr); err == nil || !strings.Contains(err.Error()+cErr.String(), "ZZ") {
		t.Errorf("--country ZZ: %v", err)
	}
	runCmd(t, "integrations", "create", "--merchant", m.ID, "--flavor", "paydunya", "--country", "CI", "--payouts", "--db", db)
	runCmd(t, "integrations", "create", "--merchant", m.ID, "--flavor", "native", "--no-payouts", "--db", db)
	var cp map[string]string
	out = runCmd(t, "integrations", "create", "--merchant", m.ID, "--flavor", "cinetpay", "--mode", "test", "--currency", "XAF", "--db", db)
	if err := json.Unmarshal([]byte(out), &cp); err != nil || len(cp) != 3 || cp["apikey"] == "" || cp["site_id"] == "" || cp["secret_key"] == "" {
		t.Fatalf("cinetpay integration: %v %s", err, out)
	}
	var kp map[string]string
	out = runCmd(t, "integrations", "create", "--merchant", m.ID, "--flavor", "kpay", "--allow-ip", "127.0.0.1", "--allow-ip", "10.0.0.0/8", "--db", db)
	if err := json.Unmarshal([]byte(out), &kp); err != nil || len(kp) != 4 || kp["username"] == "" || kp["password"] == "" ||
		kp["kpay_key"] == "" || kp["retailer_id"] == "" {
		t.Fatalf("kpay integration: %v %s", err, out)
	}
	var ipy map[string]string
	out = runCmd(t, "integrations", "create", "--merchant", m.ID, "--flavor", "ipay", "--db", db)
	if err := json.Unmarshal([]byte(out), &ipy); err != nil || len(ipy) != 2 || ipy["vid"] == "" || ipy["security_key"] == "" {
		t.Fatalf("ipay integration: %v %s", err, out)
	}
	var cpa map[string]string
	out = runCmd(t, "integrations", "create", "--merchant", m.ID, "--flavor", "clickpay", "--db", db)
	if err := json.Unmarshal([]byte(out), &cpa); err != nil || len(cpa) != 3 || cpa["api_key"] == "" || cpa["account_id"] == "" {
		t.Fatalf("clickpay integration: %v %s", err, out)
	}
	if k, err := base64.StdEncoding.DecodeString(cpa["ipn_key"]); err != nil || len(k) != 16 {
		t.Errorf("ipn_key is not 16 bytes of base64: %q", cpa["ipn_key"])
	}
	var out2, errOut syncBuffer
	err := run(context.Background(), []string{"integrations", "create", "--merchant", "mer_nope", "--db", db}, noEnv, &out2, &errOut)
	if err == nil {
		t.Error("integration for an unknown merchant was created")
	}
	// The key works against a server on the same database, which makes no demo.
	s := startServer(t, db)
	if s.key != "" {
		t.Error("serve made a demo merchant in a store that has one")
	}
	s.key = creds["secret_key"]
	tour(t, s)
	s.stop()

	// PayDunya's API on a listener of its own, at PayDunya's own paths.
	s = startServer(t, db, "--paydunya-addr", "127.0.0.1:0", "--cinetpay-addr", "127.0.0.1:0", "--kpay-addr", "127.0.0.1:0", "--ipay-addr", "127.0.0.1:0", "--clickpay-addr", "127.0.0.1:0")
	own := regexp.MustCompile(`PayDunya's API is also at (http://\S+)/sandbox-api/v1`).FindStringSubmatch(s.out.String())
	if own == nil {
		t.Fatalf("no PayDunya listener announced:\n%s", s.out.String())
	}
	req, _ := http.NewRequest("POST", own[1]+"/sandbox-api/v1/checkout-invoice/create", strings.NewReader(`{"invoice":{"total_amount":5000},"store":{"name":"Choco"}}`))
	for h, k := range map[string]string{"PAYDUNYA-MASTER-KEY": "master_key", "PAYDUNYA-PRIVATE-KEY": "private_key", "PAYDUNYA-TOKEN": "token"} {
		req.Header.Set(h, pd[k])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"response_code":"00"`) {
		t.Errorf("PayDunya at its own paths: %d %s", res.StatusCode, b)
	}
	cpURL := regexp.MustCompile(`CinetPay's API is also at (http://\S+)/v2/payment`).FindStringSubmatch(s.out.String())
	if cpURL == nil {
		t.Fatalf("no CinetPay listener announced:\n%s", s.out.String())
	}
	res, err = http.Post(cpURL[1]+"/v2/payment", "application/json", strings.NewReader(`{"apikey":"`+cp["apikey"]+`","site_id":"`+cp["site_id"]+
		`","transaction_id":"T1","amount":100,"currency":"XAF","description":"d","notify_url":"https://shop.example/n","return_url":"https://shop.example/r"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 || !strings.Contains(string(b), `"code":"201"`) {
		t.Errorf("CinetPay at its own paths: %d %s", res.StatusCode, b)
	}
	kpURL := regexp.MustCompile(`KPay's API is also at (http://\S+)/`).FindStringSubmatch(s.out.String())
	if kpURL == nil {
		t.Fatalf("no KPay listener announced:\n%s", s.out.String())
	}
	req, _ = http.NewRequest("POST", kpURL[1]+"/", strings.NewReader(`{"refid":"nope","action":"checkstatus"}`))
	req.SetBasicAuth(kp["username"], kp["password"])
	req.Header.Set("Kpay-Key", kp["kpay_key"])
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"statusid":"611"`) {
		t.Errorf("KPay at its own path: %d %s", res.StatusCode, b)
	}
	ipURL := regexp.MustCompile(`iPay's API is also at (http://\S+)/b2b/v1`).FindStringSubmatch(s.out.String())
	if ipURL == nil {
		t.Fatalf("no iPay listener announced:\n%s", s.out.String())
	}
	if res, err = http.Post(ipURL[1]+"/b2b/v1/transaction/status", "application/json", strings.NewReader(`{"vid":"`+ipy["vid"]+`","reference":"x","hash":"00"}`)); err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || !strings.Contains(string(b), `"text":"hash mismatch"`) {
		t.Errorf("iPay at its own paths: %d %s", res.StatusCode, b)
	}
	clURL := regexp.MustCompile(`ClickPay's API is also at (http://\S+)/api`).FindStringSubmatch(s.out.String())
	if clURL == nil {
		t.Fatalf("no ClickPay listener announced:\n%s", s.out.String())
	}
	req, _ = http.NewRequest("GET", clURL[1]+"/api/transactions/pay_nope", nil)
	req.Header.Set("Authorization", cpa["api_key"])
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 404 || !strings.Contains(string(b), `"status":404`) {
		t.Errorf("ClickPay at its own paths: %d %s", res.StatusCode, b)
	}

	// Lists for scripts, and dashboard users whose password comes on
	// standard input.
	var merchants struct {
		Data []struct{ ID, Name string }
	}
	if err := json.Unmarshal([]byte(runCmd(t, "merchants", "list", "--db", db)), &merchants); err != nil || len(merchants.Data) == 0 || merchants.Data[0].ID != m.ID {
		t.Errorf("merchants list: %v %+v", err, merchants)
	}
	if out := runCmd(t, "merchants", "list", "--starting-after", m.ID, "--db", db); !strings.Contains(out, `"data": [`) || strings.Contains(out, m.ID) {
		t.Errorf("the merchants older than the newest: %s", out)
	}
	out = runCmd(t, "integrations", "list", "--merchant", m.ID, "--db", db)
	var integrations struct {
		Data []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &integrations); err != nil || len(integrations.Data) < 6 || strings.Contains(out, creds["secret_key"]) ||
		strings.Contains(out, "secret") || strings.Contains(out, "master_key") {
		t.Errorf("integrations list: %v %s", err, out)
	}
	// Roll the native key: the new one works, the old one for the overlap;
	// revoke stops both.
	var rolled map[string]string
	if err := json.Unmarshal([]byte(runCmd(t, "integrations", "roll", creds["integration_id"], "--overlap", "1h", "--db", db)), &rolled); err != nil ||
		!strings.HasPrefix(rolled["secret_key"], "sk_test_") || rolled["secret_key"] == creds["secret_key"] {
		t.Errorf("integrations roll: %v %v", err, rolled)
	}
	runCmd(t, "integrations", "revoke", creds["integration_id"], "--db", db)
	var uOut, uErr syncBuffer
	if err := runWith(context.Background(), []string{"users", "create", "--merchant", m.ID, "--email", "mama@duka.example", "--role", "owner", "--db", db},
		noEnv, strings.NewReader("a long enough password\n"), &uOut, &uErr); err != nil || !strings.Contains(uOut.String(), `"role": "owner"`) {
		t.Errorf("users create: %v %s %s", err, uOut.String(), uErr.String())
	}
	if err := runWith(context.Background(), []string{"users", "create", "--merchant", m.ID, "--email", "short@duka.example", "--db", db},
		noEnv, strings.NewReader("short\n"), &uOut, &uErr); err == nil {
		t.Error("users create with a short password succeeded")
	}
}

func TestServeOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	s := startServer(t, url)
	tour(t, s)
	s.stop()
	if out := runCmd(t, "verify", "--db", url); !strings.Contains(out, "ok: the ledger balances") {
		t.Errorf("verify: %s", out)
	}
}

func TestEnvironmentConfiguresServe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "env.db")
	env := map[string]string{"MALIPO_DATABASE_URL": db, "MALIPO_BASE_URL": "https://pay.example.com"}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, &out, &errOut)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "curl") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if !strings.Contains(out.String(), "https://pay.example.com") || !strings.Contains(out.String(), "sqlite "+db) {
		t.Errorf("serve ignored the environment:\n%s", out.String())
	}
}

func TestServeDeliversNotifications(t *testing.T) {
	got := make(chan http.Header, 10)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer rc.Close()
	s := startServer(t, filepath.Join(t.TempDir(), "malipo.db"))
	ep := call(t, "POST", s.url+"/v1/webhook_endpoints", s.key, `{"url":"`+rc.URL+`","events":["payment.succeeded"]}`)
	tour(t, s)
	select {
	case h := <-got:
		if !strings.HasPrefix(h.Get("webhook-id"), "evt_") || !strings.HasPrefix(h.Get("webhook-signature"), "v1,") {
			t.Errorf("notification headers: %v", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no notification reached %v", ep)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := http.Get(s.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(b), `malipo_notification_attempt_duration_seconds_count{flavor="native",result="acknowledged"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics does not count the attempt:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Every face answers API clients in JSON, even for paths and methods it
// does not serve: never the mux's plain text.
func TestWrongRoutesAnswerJSON(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "malipo.db"))
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/nope"}, {"PUT", "/v1/payments"},
		{"GET", "/kpay/"}, {"GET", "/kpay/anything"},
		{"GET", "/cinetpay/v2/payment"}, {"POST", "/cinetpay/v2/nope"},
		{"PUT", "/paydunya/sandbox-api/v1/checkout-invoice/create"}, {"GET", "/paydunya/api/v1/nope"},
		{"GET", "/ipay/b2b/v1/transaction/status"},
		{"DELETE", "/clickpay/api/transactions/x"}, {"GET", "/clickpay/api/nope"},
	} {
		req, _ := http.NewRequest(c.method, s.url+c.path, strings.NewReader("{}"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || !json.Valid(b) || res.StatusCode < 400 {
			t.Errorf("%s %s: %d %s %s", c.method, c.path, res.StatusCode, res.Header.Get("Content-Type"), b)
		}
	}
}

// Checkout links are bearer secrets: even debug logs name the route, not
// the URL.
func TestLogsKeepCheckoutTokensOut(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "malipo.db"), "--log-level", "debug")
	p := call(t, "POST", s.url+"/v1/payments", s.key, `{"amount":5000,"currency":"XOF","reference":"secret-link"}`)
	link := p["checkout_url"].(string)
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	token := link[strings.LastIndex(link, "/")+1:]
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.log.String(), "GET /pay/{token}") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if logs := s.log.String(); !strings.Contains(logs, "GET /pay/{token}") || strings.Contains(logs, token) || strings.Contains(logs, s.key) {
		t.Errorf("debug logs:\n%s", logs)
	}
}

// --help on any command prints help, exits 0 and touches nothing; help
// names each MALIPO_* variable but never shows what it holds.
func TestHelpTouchesNothing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "malipo.db")
	secretEnv := func(name string) string {
		switch name {
		case "MALIPO_DATABASE_URL":
			return "postgres://malipo:s3cret-pass@db.example/malipo"
		case "MALIPO_BENCH_POSTGRES_URL":
			return "postgres://bench:other-s3cret@db.example/bench"
		}
		return ""
	}
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"serve", "--help"}, {"serve", "-h", "--addr", "127.0.0.1:0"},
		{"merchants", "create", "--name", "X", "--help", "--db", db},
		{"integrations", "create", "--merchant", "mer_x", "--help", "--db", db},
		{"bench", "--help"}, {"verify", "--help", "--db", db}, {"migrate", "--help", "--db", db},
	} {
		var out, errOut syncBuffer
		done := make(chan error, 1)
		go func() { done <- run(context.Background(), args, secretEnv, &out, &errOut) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%v: %v", args, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v did not return: it ran the command", args)
		}
		text := out.String() + errOut.String()
		if !strings.Contains(text, "Usage: malipo") {
			t.Errorf("%v printed no help:\n%s", args, text)
		}
		if strings.Contains(text, "s3cret") {
			t.Errorf("%v showed a variable's value:\n%s", args, text)
		}
		if args[0] == "serve" && !strings.Contains(text, "MALIPO_DATABASE_URL") {
			t.Errorf("%v does not name MALIPO_DATABASE_URL:\n%s", args, text)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("--help left files behind: %v", entries)
	}
	if _, err := os.Stat("malipo.db"); err == nil {
		t.Errorf("--help created malipo.db in the working directory")
	}
}
