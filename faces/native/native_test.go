package native_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite openapi.json from the code")

type fixture struct {
	mux      *http.ServeMux
	logs     *bytes.Buffer // what the API logged, at every level
	srv      *httptest.Server
	clock    *clock.Fake
	svc      *gateway.Service
	disp     *notify.Dispatcher
	key      string
	liveKey  string
	otherKey string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "malipo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	sb := sandbox.New(st, clk, 3*time.Second, nil)
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, rand.New(rand.NewSource(7))),
		BaseURL: "http://pay.test", Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
	sb.Connect(svc)
	logs := &bytes.Buffer{}
	api := native.New(svc, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	disp := notify.New(notify.Config{Store: st, Clock: clk, Jitter: -1,
		Flavors: map[malipo.Flavor]notify.Flavor{malipo.FlavorNative: api.Flavor()}})
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	f := &fixture{srv: srv, clock: clk, svc: svc, disp: disp, mux: mux, logs: logs}
	m, _ := svc.CreateMerchant(ctx, "Duka", "")
	_, c, err := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest, Fee: malipo.FeeRule{BasisPoints: 100}})
	if err != nil {
		t.Fatal(err)
	}
	f.key = c["secret_key"]
	_, c, _ = svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeLive})
	f.liveKey = c["secret_key"]
	m2, _ := svc.CreateMerchant(ctx, "Other", "")
	_, c, _ = svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m2.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	f.otherKey = c["secret_key"]
	return f
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (f *fixture) do(t *testing.T, method, path, key, body string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, raw: string(b)}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want JSON", method, path, ct)
	}
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, b)
	}
	return a
}

func (a answer) errCode() string {
	e, _ := a.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

const momoBody = `{"amount":5000,"currency":"XOF","reference":"order-1","description":"Chaussures","customer":{"name":"Awa","email":"awa@example.com"},"method":"mobile_money","phone":"+2250707120000","return_url":"https://shop.example/ok","metadata":{"cart":"42"}}`

func TestPaymentLifecycle(t *testing.T) {
	f := setup(t)
	a := f.do(t, "POST", "/v1/payments", f.key, momoBody)
	if a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	id := a.body["id"].(string)
	if !strings.HasPrefix(id, "pay_") || a.body["status"] != "processing" || a.body["operator"] != "orange-ci" ||
		!strings.HasPrefix(a.body["checkout_url"].(string), "http://pay.test/pay/") || a.body["livemode"] != false {
		t.Errorf("create answer: %s", a.raw)
	}
	f.clock.Advance(3 * time.Second) // the simulated customer approves
	a = f.do(t, "GET", "/v1/payments/"+id, f.key, "")
	if a.status != 200 || a.body["status"] != "succeeded" || a.body["fee"] != 50.0 || a.body["net"] != 4950.0 || a.body["completed_at"] == nil {
		t.Errorf("after approval: %s", a.raw)
	}
	a = f.do(t, "GET", "/v1/balance", f.key, "")
	bal := a.body["balances"].([]any)
	if len(bal) != 1 || bal[0].(map[string]any)["available"] != 4950.0 || bal[0].(map[string]any)["currency"] != "XOF" {
		t.Errorf("balance: %s", a.raw)
	}
	// Another merchant cannot see it; the live key sees no test money.
	if a := f.do(t, "GET", "/v1/payments/"+id, f.otherKey, ""); a.status != 404 || a.errCode() != "resource_missing" {
		t.Errorf("other merchant: %d %s", a.status, a.raw)
	}
	if a := f.do(t, "GET", "/v1/balance", f.liveKey, ""); a.status != 200 || len(a.body["balances"].([]any)) != 0 || a.body["livemode"] != true {
		t.Errorf("live balance: %s", a.raw)
	}
}

func TestCancelAndSandboxOutcome(t *testing.T) {
	f := setup(t)
	create := func(ref string) string {
		a := f.do(t, "POST", "/v1/payments", f.key, `{"amount":1000,"currency":"KES","reference":"`+ref+`"}`)
		if a.status != 201 || a.body["status"] != "pending" {
			t.Fatalf("create: %d %s", a.status, a.raw)
		}
		return a.body["id"].(string)
	}
	id := create("c-1")
	if a := f.do(t, "POST", "/v1/payments/"+id+"/cancel", f.key, ""); a.status != 200 || a.body["status"] != "cancelled" {
		t.Errorf("cancel: %d %s", a.status, a.raw)
	}
	if a := f.do(t, "POST", "/v1/payments/"+id+"/cancel", f.key, ""); a.status != 409 || a.errCode() != "payment_state_invalid" {
		t.Errorf("second cancel: %d %s", a.status, a.raw)
	}
	id = create("c-2")
	if a := f.do(t, "POST", "/v1/sandbox/payments/"+id+"/outcome", f.key, `{"outcome":"failed"}`); a.status != 200 || a.body["status"] != "failed" || a.body["failure"] == nil {
		t.Errorf("forced failure: %d %s", a.status, a.raw)
	}
	id = create("c-3")
	if a := f.do(t, "POST", "/v1/sandbox/payments/"+id+"/outcome", f.key, `{"outcome":"succeeded"}`); a.status != 200 || a.body["status"] != "succeeded" {
		t.Errorf("forced success: %d %s", a.status, a.raw)
	}
	if a := f.do(t, "POST", "/v1/sandbox/payments/"+id+"/outcome", f.liveKey, `{"outcome":"succeeded"}`); a.status != 403 || a.errCode() != "live_mode" {
		t.Errorf("outcome with a live key: %d %s", a.status, a.raw)
	}
	for i, bad := range []string{`{}`, `{"outcome":"pending"}`, `{"outcome":"won"}`} {
		if a := f.do(t, "POST", "/v1/sandbox/payments/"+create(fmt.Sprint("bad-", i))+"/outcome", f.key, bad); a.status != 400 {
			t.Errorf("outcome %s: %d %s", bad, a.status, a.raw)
		}
	}
}

func TestListPagination(t *testing.T) {
	f := setup(t)
	var want []string
	for i := 0; i < 7; i++ {
		a := f.do(t, "POST", "/v1/payments", f.key, `{"amount":100,"currency":"RWF","reference":"r`+string(rune('a'+i))+`"}`)
		want = append([]string{a.body["id"].(string)}, want...)
		f.clock.Advance(time.Millisecond)
	}
	var got []string
	after := ""
	for pages := 0; pages < 10; pages++ {
		path := "/v1/payments?limit=3"
		if after != "" {
			path += "&starting_after=" + after
		}
		a := f.do(t, "GET", path, f.key, "")
		if a.status != 200 {
			t.Fatalf("list: %s", a.raw)
		}
		for _, p := range a.body["data"].([]any) {
			got = append(got, p.(map[string]any)["id"].(string))
		}
		if a.body["has_more"] != true {
			break
		}
		after = got[len(got)-1]
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("pages = %v, want %v", got, want)
	}
	a := f.do(t, "GET", "/v1/payments?reference=rc", f.key, "")
	if d := a.body["data"].([]any); len(d) != 1 || d[0].(map[string]any)["reference"] != "rc" {
		t.Errorf("by reference: %s", a.raw)
	}
	a = f.do(t, "GET", "/v1/payments?status=succeeded", f.key, "")
	if d := a.body["data"].([]any); len(d) != 0 {
		t.Errorf("status filter: %s", a.raw)
	}
	// Creation-time bounds (RFC 3339 or Unix seconds, inclusive) and the
	// dashboard's search, on every list.
	start := f.clock.Now().Add(-time.Second)
	for q, n := range map[string]int{
		"created[gte]=" + start.Format(time.RFC3339):                         7,
		"created[lte]=" + start.Format(time.RFC3339):                         0,
		"created[gte]=" + strconv.FormatInt(start.Add(time.Hour).Unix(), 10): 0,
		"q=rd": 1,
		"currency=RWF&created[lte]=" + strconv.FormatInt(f.clock.Now().Unix()+1, 10): 7,
		"currency=KES": 0,
	} {
		a := f.do(t, "GET", "/v1/payments?limit=100&"+strings.ReplaceAll(q, "+", "%2B"), f.key, "")
		if d, _ := a.body["data"].([]any); a.status != 200 || len(d) != n {
			t.Errorf("payments?%s: %d, %d payments, want %d", q, a.status, len(d), n)
		}
	}
	for _, path := range []string{"/v1/payouts", "/v1/events", "/v1/webhook_endpoints", "/v1/refunds", "/v1/customers/250788312934/cards"} {
		if a := f.do(t, "GET", path+"?created[gte]="+strconv.FormatInt(start.Add(time.Hour).Unix(), 10), f.key, ""); a.status != 200 || len(a.body["data"].([]any)) != 0 {
			t.Errorf("%s after an hour from now: %s", path, a.raw)
		}
		if a := f.do(t, "GET", path+"?created[lte]=yesterday", f.key, ""); a.status != 400 {
			t.Errorf("%s with a bad time: %d", path, a.status)
		}
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "status=won", "starting_after=pay_nope", "colour=red", "created[gte]=soon", "method=cash", "currency=XXXX"} {
		if a := f.do(t, "GET", "/v1/payments?"+q, f.key, ""); a.status != 400 && a.status != 404 {
			t.Errorf("list ?%s: %d %s", q, a.status, a.raw)
		}
	}
}

func TestIdempotencyKeys(t *testing.T) {
	f := setup(t)
	first := f.do(t, "POST", "/v1/payments", f.key, momoBody, "Idempotency-Key", "abc")
	f.clock.Advance(time.Minute) // the payment succeeds meanwhile
	again := f.do(t, "POST", "/v1/payments", f.key, momoBody, "Idempotency-Key", "abc")
	if again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" || again.raw != first.raw {
		t.Errorf("replay: %d %q\nfirst: %s\nagain: %s", again.status, again.header.Get("Idempotent-Replayed"), first.raw, again.raw)
	}
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Error("first answer marked as replayed")
	}
	other := strings.Replace(momoBody, "5000", "6000", 1)
	if a := f.do(t, "POST", "/v1/payments", f.key, other, "Idempotency-Key", "abc"); a.status != 409 || a.errCode() != "idempotency_key_reused" ||
		a.body["error"].(map[string]any)["type"] != "idempotency_error" {
		t.Errorf("same key, other body: %d %s", a.status, a.raw)
	}
	// Without a key the same body is a duplicate reference.
	if a := f.do(t, "POST", "/v1/payments", f.key, momoBody); a.status != 409 || a.errCode() != "reference_in_use" {
		t.Errorf("duplicate reference: %d %s", a.status, a.raw)
	}
	list := f.do(t, "GET", "/v1/payments", f.key, "")
	if n := len(list.body["data"].([]any)); n != 1 {
		t.Errorf("%d payments exist, want 1", n)
	}
}

func TestBadInput(t *testing.T) {
	f := setup(t)
	cases := []struct {
		name, key, body string
		status          int
		code, param     string
	}{
		{"no key", "", `{}`, 401, "missing_api_key", ""},
		{"unknown key", "sk_test_unknown", momoBody, 401, "invalid_api_key", ""},
		{"publishable-looking key", "pk_test_x", momoBody, 401, "invalid_api_key", ""},
		{"malformed JSON", f.key, `{"amount":`, 400, "json_invalid", ""},
		{"not an object", f.key, `[1,2]`, 400, "parameter_invalid", ""},
		{"trailing data", f.key, `{"amount":1,"currency":"XOF","reference":"a"} {}`, 400, "json_invalid", ""},
		{"missing amount", f.key, `{"currency":"XOF","reference":"a"}`, 400, "parameter_missing", "amount"},
		{"zero amount", f.key, `{"amount":0,"currency":"XOF","reference":"a"}`, 400, "amount_invalid", "amount"},
		{"negative amount", f.key, `{"amount":-100,"currency":"XOF","reference":"a"}`, 400, "amount_invalid", "amount"},
		{"decimal amount", f.key, `{"amount":10.5,"currency":"XOF","reference":"a"}`, 400, "amount_invalid", "amount"},
		{"exponent amount", f.key, `{"amount":1e3,"currency":"XOF","reference":"a"}`, 400, "amount_invalid", "amount"},
		{"string amount", f.key, `{"amount":"100","currency":"XOF","reference":"a"}`, 400, "amount_invalid", "amount"},
		{"huge amount", f.key, `{"amount":99999999999999999999,"currency":"XOF","reference":"a"}`, 400, "amount_invalid", "amount"},
		{"missing currency", f.key, `{"amount":100,"reference":"a"}`, 400, "parameter_missing", "currency"},
		{"wrong currency", f.key, `{"amount":100,"currency":"ABC","reference":"a"}`, 400, "currency_unsupported", "currency"},
		{"missing reference", f.key, `{"amount":100,"currency":"XOF"}`, 400, "parameter_missing", "reference"},
		{"unknown field", f.key, `{"amount":100,"currency":"XOF","reference":"a","ammount":5}`, 400, "parameter_unknown", "ammount"},
		{"wrong type", f.key, `{"amount":100,"currency":"XOF","reference":7}`, 400, "parameter_invalid", "reference"},
		{"bad channel", f.key, `{"amount":100,"currency":"XOF","reference":"a","channels":["cash"]}`, 400, "channel_invalid", "channels"},
		{"bad phone", f.key, `{"amount":100,"currency":"XOF","reference":"a","method":"mobile_money","phone":"123"}`, 400, "phone_invalid", "phone"},
		{"bad metadata", f.key, `{"amount":100,"currency":"XOF","reference":"a","metadata":{"n":1}}`, 400, "parameter_invalid", "metadata"},
		{"bad url", f.key, `{"amount":100,"currency":"XOF","reference":"a","return_url":"ftp://x"}`, 400, "url_invalid", "return_url"},
		{"oversize body", f.key, `{"description":"` + strings.Repeat("x", native.MaxBodyBytes) + `"}`, 413, "body_too_large", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := f.do(t, "POST", "/v1/payments", c.key, c.body)
			e, _ := a.body["error"].(map[string]any)
			if a.status != c.status || a.errCode() != c.code || (c.param != "" && e["param"] != c.param) || e["message"] == "" || e["type"] == "" {
				t.Errorf("got %d %s, want %d %s (param %q)", a.status, a.raw, c.status, c.code, c.param)
			}
		})
	}
	// Several bad URLs: the same one named every time (a map's order
	// named either, at random).
	for range 16 {
		a := f.do(t, "POST", "/v1/payments", f.key, `{"amount":100,"currency":"XOF","reference":"a","notify_url":"ftp://y","cancel_url":"ftp://x"}`)
		if e, _ := a.body["error"].(map[string]any); a.errCode() != "url_invalid" || e["param"] != "cancel_url" {
			t.Fatalf("two bad URLs: %d %s, want cancel_url named", a.status, a.raw)
		}
	}
	// Two unknown query parameters: the first in alphabetical order named.
	for range 16 {
		a := f.do(t, "GET", "/v1/payments?zeta=1&limit=2&alpha=2", f.key, "")
		if e, _ := a.body["error"].(map[string]any); a.errCode() != "parameter_unknown" || e["param"] != "alpha" {
			t.Fatalf("two unknown parameters: %d %s, want alpha named", a.status, a.raw)
		}
	}
	if a := f.do(t, "GET", "/v1/payments/pay_unknown", f.key, ""); a.status != 404 || a.errCode() != "resource_missing" {
		t.Errorf("unknown payment: %d %s", a.status, a.raw)
	}
	if a := f.do(t, "DELETE", "/v1/payments", f.key, ""); a.status != 405 {
		t.Errorf("wrong method: %d %s", a.status, a.raw)
	}
	if a := f.do(t, "GET", "/v1/nothing", f.key, ""); a.status != 404 || a.errCode() != "route_missing" {
		t.Errorf("unknown route: %d %s", a.status, a.raw)
	}
	// Nothing was created by any of it.
	if a := f.do(t, "GET", "/v1/payments", f.key, ""); len(a.body["data"].([]any)) != 0 {
		t.Errorf("bad input created payments: %s", a.raw)
	}
}

// TestOpenAPIDrift fails when the committed openapi.json differs from
// what the code describes; `go test ./faces/native -update` rewrites it.
func TestOpenAPIDrift(t *testing.T) {
	f := setup(t)
	res, err := http.Get(f.srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi.json: %v %v", err, doc["openapi"])
	}
	paths := doc["paths"].(map[string]any)
	for _, p := range []string{"/v1/payments", "/v1/payments/{id}", "/v1/payments/{id}/cancel", "/v1/balance", "/v1/sandbox/payments/{id}/outcome"} {
		if paths[p] == nil {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
	if *update {
		if err := os.WriteFile("openapi.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, got) {
		t.Error("faces/native/openapi.json is out of date: run go test ./faces/native -update and commit it")
	}
}

// A client that hangs up before its answer is ready is not a server
// error: the failure is logged at DEBUG, not ERROR.
func TestClientGoneIsNotAnError(t *testing.T) {
	f := setup(t)
	if a := f.do(t, "GET", "/v1/payments", f.key, ""); a.status != 200 { // the key is now known
		t.Fatalf("list: %d", a.status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // gone before the answer
	req := httptest.NewRequest("GET", "/v1/payments", nil).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+f.key)
	f.mux.ServeHTTP(httptest.NewRecorder(), req)
	logs := f.logs.String()
	if strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "the client went away") {
		t.Errorf("logs after a client hung up:\n%s", logs)
	}
}
