package clickpay_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/checkout/checkouttest"
	"github.com/malipo/malipo/faces/clickpay"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// seedVerifysign is the example in ClickPay's document.
const seedVerifysign = "eyJpdiI6Ik9hYkRUb1EzQVltUXhBbnVSZ08wWXc9PSIsInZhbHVlIjoiakhUcHVDQWJnbDNJMmVlUkt4N3NsM1wvdlljbTRqN084WFwvdnlUYUtHb0tnRFJkbDhoSGF6WStQNStOeTVpd0ZhN0x2em1WWlBnUTBUeGxNQSsydEZHQT09IiwibWFjIjoiMjhiMDkwYTY2Yzc0NThlZTI5ZmQ5YjUzYWJkNTQzNDFjYWI2ODg5MjJlOTcyZjM4MzMwZjViOTM0ZWUzNTFlNyJ9"

// The seed's envelope has the shape Seal makes: a 16-byte IV, a
// ciphertext of whole AES blocks (64 bytes: the serialized
// url+accountID+amount+msisdn of the example), a 64-hex MAC, and PHP's
// escaped slashes.
func TestSeedEnvelopeFormat(t *testing.T) {
	raw, _ := base64.StdEncoding.DecodeString(seedVerifysign)
	if !strings.Contains(string(raw), `\/`) || !strings.HasPrefix(string(raw), `{"iv":"`) {
		t.Errorf("seed envelope: %s", raw)
	}
	e, err := clickpay.ParseEnvelope(seedVerifysign)
	if err != nil {
		t.Fatal(err)
	}
	iv, _ := base64.StdEncoding.DecodeString(e.IV)
	value, _ := base64.StdEncoding.DecodeString(e.Value)
	if len(iv) != 16 || len(value) != 64 || len(e.MAC) != 64 {
		t.Errorf("iv %d bytes, value %d bytes, mac %d hex", len(iv), len(value), len(e.MAC))
	}
	// The example's fields serialize to a string that pads to 64 bytes.
	plain := "http://0.0.0.0:8080/receive/" + "1" + "34" + "255713XXXXXX"
	serialized := "s:" + strconv.Itoa(len(plain)) + `:"` + plain + `";`
	if padded := (len(serialized)/16 + 1) * 16; padded != len(value) {
		t.Errorf("the example serializes to %d bytes, padded %d, not the seed's %d", len(serialized), padded, len(value))
	}
	// Our envelope has the same shape, byte for byte in its structure.
	ours, err := clickpay.Seal(make([]byte, 16), plain, rand.New(rand.NewSource(1)))
	if err != nil {
		t.Fatal(err)
	}
	o, _ := clickpay.ParseEnvelope(ours)
	ov, _ := base64.StdEncoding.DecodeString(o.Value)
	oraw, _ := base64.StdEncoding.DecodeString(ours)
	if len(ov) != 64 || len(o.MAC) != 64 || !regexp.MustCompile(`^\{"iv":"[^"]+","value":"[^"]+","mac":"[0-9a-f]{64}"\}$`).Match(oraw) {
		t.Errorf("our envelope: %s", oraw)
	}
}

// laravelDecrypt is written from Laravel's Encrypter, not from Seal.
func laravelDecrypt(t *testing.T, key []byte, payload string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ IV, Value, MAC string }
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(p.IV + p.Value))
	if hex.EncodeToString(mac.Sum(nil)) != p.MAC {
		t.Fatal("The MAC is invalid.")
	}
	iv, _ := base64.StdEncoding.DecodeString(p.IV)
	ct, _ := base64.StdEncoding.DecodeString(p.Value)
	block, _ := aes.NewCipher(key)
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)
	out = out[:len(out)-int(out[len(out)-1])]
	m := regexp.MustCompile(`^s:(\d+):"(.*)";$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("not a serialized string: %q", out)
	}
	if n, _ := strconv.Atoi(m[1]); n != len(m[2]) {
		t.Fatalf("serialized length %d for %d bytes", n, len(m[2]))
	}
	return m[2]
}

type face struct {
	srv   *httptest.Server
	svc   *gateway.Service
	clock *clock.Fake
	disp  *notify.Dispatcher
	integ malipo.Integration
	creds gateway.Credentials
}

func newFace(t *testing.T, notifyURL string) *face {
	t.Helper()
	s := facetest.New(t, 3*time.Second, 3)
	cl := clickpay.New(s.Service, s.Clock, nil, 5)
	s.Flavors[malipo.FlavorClickPay] = cl.Flavor()
	cl.Register(s.Mux, "/clickpay")
	integ, creds := s.Integration(t, "Dar Tours", gateway.IntegrationInput{Flavor: malipo.FlavorClickPay, Mode: malipo.ModeTest, NotifyURL: notifyURL})
	return &face{srv: s.Server, svc: s.Service, clock: s.Clock, disp: s.Dispatcher, integ: integ, creds: creds}
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

func (f *face) call(t *testing.T, method, path, body string, header ...string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+"/clickpay/api"+path, strings.NewReader(body))
	req.Header.Set("Authorization", f.creds["api_key"])
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, raw: string(raw)}
	json.Unmarshal(raw, &a.body)
	return a
}

func TestMobileMoneyIPNRetriedUntilSuccess(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	answers := []string{"Fail", "OK", "Success"}
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m)
		io.WriteString(w, answers[min(len(got)-1, 2)])
	}))
	defer listener.Close()
	f := newFace(t, listener.URL+"/receive/")
	a := f.call(t, "POST", "/sandbox/collections", `{"msisdn":"255713450000","amount":34,"currency":"TZS"}`)
	if a.status != 201 || a.body["type"] != "mobilemoney" || a.body["status"] != "pending" {
		t.Fatalf("collection: %d %s", a.status, a.raw)
	}
	id := a.body["id"].(string)
	f.clock.Advance(3 * time.Second)
	for range 3 {
		if _, err := f.disp.RunDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Hour)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("%d IPNs, want 3 (answered Fail, OK, then Success)", len(got))
	}
	ipn := got[0]
	if ipn["url"] != listener.URL+"/receive/" || ipn["accountID"] != f.creds["account_id"] || ipn["transactionid"] != id ||
		ipn["amount"] != 34.0 || ipn["msisdn"] != "255713450000" {
		t.Errorf("IPN: %v", ipn)
	}
	key, _ := base64.StdEncoding.DecodeString(f.creds["ipn_key"])
	if plain := laravelDecrypt(t, key, ipn["verifysign"].(string)); plain != listener.URL+"/receive/"+f.creds["account_id"]+"34"+"255713450000" {
		t.Errorf("verifysign decrypts to %q", plain)
	}
	if q := f.call(t, "GET", "/transactions/"+id, ""); q.body["status"] != "success" || q.body["msisdn"] != "255713450000" {
		t.Errorf("transaction query: %s", q.raw)
	}
}

func TestCardPaymentAndCallback(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.Method+" "+r.URL.RawQuery)
		mu.Unlock()
	}))
	defer callback.Close()
	f := newFace(t, callback.URL+"/cb")
	a := f.call(t, "POST", "/card/payment-url", `{"account_id":"`+f.creds["account_id"]+`","amount":"2","order_info":"Bookingid23","currency":"USD"}`)
	if a.status != 201 || !strings.HasPrefix(a.body["payment_url"].(string), f.srv.URL+"/pay/") {
		t.Fatalf("payment url: %d %s", a.status, a.raw)
	}
	// The customer is redirected to the URL and pays by card on the page.
	page := checkouttest.Get(t, a.body["payment_url"].(string))
	if !strings.Contains(page, `id="card-form"`) || strings.Contains(page, `id="momo-form"`) {
		t.Errorf("the page should offer the card only")
	}
	token := strings.TrimPrefix(a.body["payment_url"].(string), f.srv.URL+"/pay/")
	if _, err := f.svc.PayWithCard(context.Background(), token, rails.Card{Number: "4111111111111111", Month: 12, Year: 2030, CVV: "123"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.disp.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 1 || !strings.HasPrefix(queries[0], "GET ") || !strings.Contains(queries[0], "type=cardpayment") ||
		!strings.Contains(queries[0], "status=success") || !strings.Contains(queries[0], "order_info=Bookingid23") ||
		!strings.Contains(queries[0], "transaction_id="+a.body["transaction_id"].(string)) || !strings.Contains(queries[0], "message=Transaction+successful") {
		t.Errorf("card callback: %v", queries)
	}
}

// Every row of ClickPay's error table a server can produce.
func TestErrorTable(t *testing.T) {
	f := newFace(t, "")
	m, _ := f.svc.CreateMerchant(context.Background(), "Another shop", "")
	_, other, _ := f.svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorClickPay, Mode: malipo.ModeTest})
	pay := f.call(t, "POST", "/card/payment-url", `{"account_id":"`+other["account_id"]+`","amount":"2","order_info":"O-1","currency":"USD"}`, "Authorization", other["api_key"])
	// A second account of the same merchant.
	_, sibling, _ := f.svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: f.integ.MerchantID, Flavor: malipo.FlavorClickPay, Mode: malipo.ModeTest})
	siblings := f.call(t, "POST", "/card/payment-url", `{"account_id":"`+sibling["account_id"]+`","amount":"2","order_info":"S-1","currency":"USD"}`, "Authorization", sibling["api_key"])
	late := f.call(t, "POST", "/card/payment-url", `{"account_id":"`+f.creds["account_id"]+`","amount":"2","order_info":"L-1","currency":"USD"}`)
	f.clock.Advance(31 * time.Minute)
	if _, err := f.svc.ExpireDue(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path, body string
		header                   []string
		status                   int
	}{
		{"400 bad request", "POST", "/card/payment-url", `{"amount":"2"}`, nil, 400},
		{"401 wrong key", "GET", "/transactions/x", "", []string{"Authorization", "nope"}, 401},
		{"403 another account's payment", "GET", "/transactions/" + lenientStr(pay.body["transaction_id"]), "", nil, 403},
		{"403 a sibling account's payment", "GET", "/transactions/" + lenientStr(siblings.body["transaction_id"]), "", nil, 403},
		{"404 not found", "GET", "/transactions/pay_nope", "", nil, 404},
		{"405 wrong method", "DELETE", "/transactions/x", "", nil, 405},
		{"406 not json", "GET", "/transactions/x", "", []string{"Accept", "text/html"}, 406},
		{"410 gone", "GET", "/transactions/" + lenientStr(late.body["transaction_id"]), "", nil, 410},
	}
	for _, c := range cases {
		f.clock.Advance(time.Second)
		a := f.call(t, c.method, c.path, c.body, c.header...)
		if a.status != c.status || a.body["status"] != float64(c.status) || a.body["error"] == "" || a.body["message"] == "" {
			t.Errorf("%s: %d %s", c.name, a.status, a.raw)
		}
	}
	// 429: more than five calls in one second.
	f.clock.Advance(time.Second)
	var last answer
	for range 6 {
		last = f.call(t, "GET", "/transactions/pay_nope", "")
	}
	if last.status != 429 {
		t.Errorf("429: %d %s", last.status, last.raw)
	}
	// 503: a live key has no rails.
	f.clock.Advance(time.Second)
	_, live, _ := f.svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: f.integ.MerchantID, Flavor: malipo.FlavorClickPay, Mode: malipo.ModeLive})
	if a := f.call(t, "POST", "/card/payment-url", `{"account_id":"`+live["account_id"]+`","amount":"2","order_info":"X","currency":"USD"}`, "Authorization", live["api_key"]); a.status != 503 {
		t.Errorf("503: %d %s", a.status, a.raw)
	}
}

func lenientStr(v any) string { s, _ := v.(string); return s }

func TestAmountsAsClickPayWritesThem(t *testing.T) {
	f := newFace(t, "")
	for _, c := range []struct{ amount, cur, want string }{{"34", "TZS", "34"}, {"5000", "XOF", "5000"}, {"10.50", "KES", "10.50"}, {"2", "USD", "2"}} {
		f.clock.Advance(time.Second)
		a := f.call(t, "POST", "/sandbox/collections", `{"msisdn":"255713450000","amount":"`+c.amount+`","currency":"`+c.cur+`"}`)
		if !strings.Contains(a.raw, `"amount":`+c.want+`,`) {
			t.Errorf("%s %s: %s", c.amount, c.cur, a.raw)
		}
	}
}

// ClickPay's IPN exists for money received only: a failed mobile-money
// collection sends nothing, and its delivery ends saying why.
func TestNoIPNForFailedCollections(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		io.WriteString(w, "Success")
	}))
	defer listener.Close()
	f := newFace(t, listener.URL+"/receive/")
	a := f.call(t, "POST", "/collections", `{"msisdn":"255713450001","amount":34,"currency":"TZS"}`) // too little money: fails
	f.clock.Advance(3 * time.Second)
	if _, err := f.disp.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 0 {
		t.Errorf("a failed collection sent %d IPNs", calls)
	}
	evs, _ := f.svc.ListEvents(context.Background(), f.integ, store.EventFilter{Limit: 1})
	if len(evs) != 1 || evs[0].ObjectID != a.body["id"] {
		t.Fatalf("events: %+v", evs)
	}
	logs, _ := f.svc.EventDeliveries(context.Background(), f.integ, evs[0].ID)
	if len(logs) != 1 || logs[0].Delivery.Status != malipo.DeliveryFailed || len(logs[0].Attempts) != 1 ||
		!strings.Contains(logs[0].Attempts[0].Error, "not sent") {
		t.Errorf("delivery: %+v", logs)
	}
}
