package ipay_test

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
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/ipay"
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
	other gateway.Credentials // a second iPay merchant
}

func newFace(t *testing.T, notifyURL string, allow ...string) *face {
	t.Helper()
	s := facetest.New(t, 10*time.Second, 6)
	ip := ipay.New(s.Service, s.Clock, nil)
	s.Flavors[malipo.FlavorIPay] = ip.Flavor()
	ip.Register(s.Mux, "/ipay")
	integ, creds := s.Integration(t, "Demo Bulk", gateway.IntegrationInput{Flavor: malipo.FlavorIPay, Mode: malipo.ModeTest, AllowIPs: allow, NotifyURL: notifyURL})
	otherURL := ""
	if notifyURL != "" {
		otherURL = notifyURL + "/supplier"
	}
	_, other := s.Integration(t, "Supplier", gateway.IntegrationInput{Flavor: malipo.FlavorIPay, Mode: malipo.ModeTest, NotifyURL: otherURL})
	if _, err := s.Service.Topup(context.Background(), integ, 10_000_000, "KES"); err != nil {
		t.Fatal(err)
	}
	return &face{srv: s.Server, svc: s.Service, clock: s.Clock, disp: s.Dispatcher, integ: integ, creds: creds, other: other}
}

// sign follows iPay's published rule independently: sorted keys,
// key=value joined by &, no URL-encoding, empty values and hash left out.
func sign(key string, fields map[string]string) string {
	var keys []string
	for k, v := range fields {
		if k != "hash" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+fields[k])
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(strings.Join(parts, "&")))
	return hex.EncodeToString(mac.Sum(nil))
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

// send posts fields, signed unless they carry a hash, as JSON or a form.
func (f *face) send(t *testing.T, path string, fields map[string]string, asForm bool) answer {
	t.Helper()
	if _, ok := fields["hash"]; !ok {
		fields["hash"] = sign(f.creds["security_key"], fields)
	}
	var body, ct string
	if asForm {
		v := url.Values{}
		for k, x := range fields {
			v.Set(k, x)
		}
		body, ct = v.Encode(), "application/x-www-form-urlencoded"
	} else {
		b, _ := json.Marshal(fields)
		body, ct = string(b), "application/json"
	}
	res, err := http.Post(f.srv.URL+"/ipay/b2b/v1"+path, ct, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, raw: string(raw)}
	json.Unmarshal(raw, &a.body)
	return a
}

func paybill(f *face, ref string) map[string]string {
	return map[string]string{"vid": f.creds["vid"], "reference": ref, "account": "888880", "amount": "1000.50", "narration": "ACC-77", "curr": "KES"}
}

func TestHashRuleVector(t *testing.T) {
	// The example from the rule: sorted, unencoded, nulls and hash out.
	fields := map[string]any{"vid": "demo", "reference": "R1", "account": "888880", "amount": "100.00", "narration": "a b&c",
		"curr": "KES", "hash": "x", "extra": nil}
	want := sign("demokey", map[string]string{"account": "888880", "amount": "100.00", "curr": "KES", "narration": "a b&c", "reference": "R1", "vid": "demo"})
	if got := ipay.Hash("demokey", fields); got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
	mac := hmac.New(sha256.New, []byte("demokey"))
	mac.Write([]byte("account=888880&amount=100.00&curr=KES&narration=a b&c&reference=R1&vid=demo"))
	if want != hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("the independent signer does not follow the rule")
	}
}

// Every row of iPay's status-code table.
func TestStatusTable(t *testing.T) {
	f := newFace(t, "", "127.0.0.1")
	cases := []struct {
		name   string
		path   string
		fields map[string]string
		form   bool
		status int
		text   string
	}{
		{"queued (JSON)", "/external/send/mpesapaybill", paybill(f, "R-1"), false, 200, "QUEUED"},
		{"queued (form)", "/external/send/mpesatill", map[string]string{"vid": f.creds["vid"], "reference": "R-2", "account": "123456", "amount": "500", "curr": "KES"}, true, 200, "QUEUED"},
		{"transaction reference exists", "/external/send/mpesapaybill", paybill(f, "R-1"), false, 400, "transaction reference exists"},
		{"param missing", "/external/send/mpesatill", map[string]string{"vid": f.creds["vid"], "reference": "R-3", "amount": "500", "curr": "KES"}, false, 400, "account missing"},
		{"hash mismatch", "/external/send/mpesapaybill", func() map[string]string { m := paybill(f, "R-4"); m["hash"] = strings.Repeat("0", 64); return m }(), false, 400, "hash mismatch"},
		{"insufficient funds", "/external/send/mpesapaybill", func() map[string]string { m := paybill(f, "R-5"); m["amount"] = "99999"; return m }(), false, 400,
			"amount available is not enough 98499.50 please fund your iPay bulkpay Account"},
	}
	for _, c := range cases {
		a := f.send(t, c.path, c.fields, c.form)
		if a.status != c.status || a.body["text"] != c.text || (c.status != 200 && a.body["status"] != float64(c.status)) {
			t.Errorf("%s: %d %s", c.name, a.status, a.raw)
		}
	}
	// 3 per phone per 24 h: this destination is a till here; iPay's
	// velocity applies to every destination account.
	for i := range 2 {
		f.send(t, "/external/send/mpesatill", map[string]string{"vid": f.creds["vid"], "reference": "V-" + string(rune('a'+i)), "account": "123456", "amount": "10", "curr": "KES"}, false)
	}
	if a := f.send(t, "/external/send/mpesatill", map[string]string{"vid": f.creds["vid"], "reference": "V-z", "account": "123456", "amount": "10", "curr": "KES"}, false); a.status != 403 ||
		a.body["text"] != "too many requests to the same phone within specified period" {
		t.Errorf("4th to one account: %d %s", a.status, a.raw)
	}
	// Not allowed: a vendor whose allow-list does not hold us.
	g := newFace(t, "", "192.0.2.7")
	if a := g.send(t, "/external/send/mpesapaybill", paybill(g, "N-1"), false); a.status != 400 || a.body["text"] != "Not allowed" {
		t.Errorf("not allowed: %d %s", a.status, a.raw)
	}
	if a := f.send(t, "/external/send/bitcoin", paybill(f, "X-1"), false); a.status != 400 {
		t.Errorf("unknown channel: %d %s", a.status, a.raw)
	}
	// 503/504 internal server error: a rail-less mode answers it.
	_, live, _ := f.svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: f.integ.MerchantID, Flavor: malipo.FlavorIPay, Mode: malipo.ModeLive})
	fields := map[string]string{"vid": live["vid"], "reference": "L-1", "account": "888880", "amount": "10", "narration": "A", "curr": "KES"}
	fields["hash"] = sign(live["security_key"], fields)
	if a := f.send(t, "/external/send/mpesapaybill", fields, false); a.status != 503 || a.body["text"] != "internal server error" {
		t.Errorf("no rail: %d %s", a.status, a.raw)
	}
}

func TestStatusAndCallback(t *testing.T) {
	var mu sync.Mutex
	var forms []url.Values
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		v, _ := url.ParseQuery(string(b))
		v.Set("to", r.URL.Path)
		mu.Lock()
		forms = append(forms, v)
		mu.Unlock()
	}))
	defer receiver.Close()
	f := newFace(t, receiver.URL+"/b2b-callback")
	if a := f.send(t, "/external/send/mpesapaybill", paybill(f, "S-1"), false); a.body["text"] != "QUEUED" || a.body["timestamp"] != "2026-03-01 09:00:00" {
		t.Fatalf("send: %s", a.raw)
	}
	status := func(ref string) answer {
		return f.send(t, "/transaction/status", map[string]string{"vid": f.creds["vid"], "reference": ref}, false)
	}
	if a := status("S-1"); a.body["text"] != "QUEUED" {
		t.Errorf("status while queued: %s", a.raw)
	}
	f.clock.Advance(10 * time.Second)
	a := status("S-1")
	if a.body["text"] != "SUCCESS" || !strings.HasPrefix(a.body["ipay_reference"].(string), "po_") || a.body["mmref"] == "" {
		t.Errorf("status after: %s", a.raw)
	}
	if a := status("nope"); a.status != 404 {
		t.Errorf("unknown reference: %d %s", a.status, a.raw)
	}
	// Internal transfer to the other iPay merchant: settled at once, but
	// answered QUEUED as the seed's success example is.
	if a := f.send(t, "/internal/send/ipay", map[string]string{"vid": f.creds["vid"], "reference": "I-1", "account": f.other["vid"], "amount": "250", "curr": "KES"}, false); a.body["text"] != "QUEUED" {
		t.Errorf("internal send: %s", a.raw)
	}
	if a := status("I-1"); a.body["text"] != "SUCCESS" {
		t.Errorf("status of the internal transfer: %s", a.raw)
	}
	if _, err := f.disp.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// The sender hears of both payouts, the receiving vendor of the
	// transfer, each signed with its own key; account is the vendor ID
	// the sender named.
	if len(forms) != 3 {
		t.Fatalf("%d callbacks, want 3: %v", len(forms), forms)
	}
	received := 0
	for _, form := range forms {
		fields := map[string]string{}
		for k := range form {
			if k != "to" {
				fields[k] = form.Get(k)
			}
		}
		key := f.creds["security_key"]
		if form.Get("to") == "/b2b-callback/supplier" {
			key, received = f.other["security_key"], received+1
		}
		if sign(key, fields) != form.Get("hash") || form.Get("status") != "200" || form.Get("text") != "SUCCESS" {
			t.Errorf("callback does not verify: %v", form)
		}
		if form.Get("reference") == "I-1" && form.Get("account") != f.other["vid"] {
			t.Errorf("transfer callback names account %q, want the vendor ID %q", form.Get("account"), f.other["vid"])
		}
	}
	if received != 1 {
		t.Errorf("the receiving vendor got %d callbacks, want 1", received)
	}
	if r, err := f.svc.Verify(context.Background()); err != nil || !r.Clean() {
		t.Errorf("ledger: %+v %v", r, err)
	}
}
