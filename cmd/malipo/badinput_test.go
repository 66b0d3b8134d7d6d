package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// credentials creates an integration of a flavor for a merchant and
// returns what `integrations create` prints.
func credentials(t *testing.T, db, merchant, flavor string, extra ...string) map[string]string {
	t.Helper()
	var creds map[string]string
	args := append([]string{"integrations", "create", "--merchant", merchant, "--flavor", flavor, "--mode", "test", "--db", db}, extra...)
	if err := json.Unmarshal([]byte(runCmd(t, args...)), &creds); err != nil {
		t.Fatal(err)
	}
	return creds
}

// Bad input gets a clear 4xx in each face's own format, never a 500 and
// never a guess, on both stores, and changes nothing.
func TestBadInputIsRefusedByEveryFace(t *testing.T) {
	eachDatabase(t, badInput)
}

func badInput(t *testing.T, db string) {
	s := startServer(t, db)
	var m struct{ ID string }
	json.Unmarshal([]byte(runCmd(t, "merchants", "create", "--name", "Duka", "--db", db)), &m)
	pd := credentials(t, db, m.ID, "paydunya")
	cp := credentials(t, db, m.ID, "cinetpay", "--currency", "XOF")
	kp := credentials(t, db, m.ID, "kpay")
	ip := credentials(t, db, m.ID, "ipay")
	cl := credentials(t, db, m.ID, "clickpay")

	native := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+s.key) }
	paydunya := func(r *http.Request) {
		r.Header.Set("PAYDUNYA-MASTER-KEY", pd["master_key"])
		r.Header.Set("PAYDUNYA-PRIVATE-KEY", pd["private_key"])
		r.Header.Set("PAYDUNYA-TOKEN", pd["token"])
	}
	kpay := func(r *http.Request) {
		r.SetBasicAuth(kp["username"], kp["password"])
		r.Header.Set("Kpay-Key", kp["kpay_key"])
	}
	clickpay := func(r *http.Request) { r.Header.Set("Authorization", cl["api_key"]) }
	none := func(*http.Request) {}
	cinet := func(fields string) string {
		return `{"apikey":"` + cp["apikey"] + `","site_id":"` + cp["site_id"] + `","transaction_id":"t-1","amount":100,"currency":"XOF",` + fields + `}`
	}
	invoice := func(fields string) string {
		return `{"invoice":{"total_amount":5000,"description":"x"` + fields + `},"store":{"name":"Choco"}}`
	}
	kpayBody := func(fields string) string {
		return `{"action":"pay","msisdn":"0788312934","details":"x","refid":"r-1","amount":100,"currency":"RWF","pmethod":"momo","bankid":"63510","returl":"https://s.example/r","redirecturl":"https://s.example/d"` + fields + `}`
	}
	ipayBody := func(fields string) string {
		return `{"vid":"` + ip["vid"] + `","reference":"r-1","account":"888880","narration":"acc","curr":"KES","hash":"00"` + fields + `}`
	}
	const pdPath = "/paydunya/sandbox-api/v1/checkout-invoice/create"
	cases := []struct {
		name       string
		method     string
		path       string
		auth       func(*http.Request)
		body       string
		wantStatus int
		want       string // in the answer: the face's code
	}{
		{"native NUL in a field", "POST", "/v1/payments", native, `{"amount":100,"currency":"XOF","reference":"r","description":"a\u0000b"}`, 400, `"param":"description"`},
		{"native bytes that are not UTF-8", "POST", "/v1/payments", native, "{\"amount\":100,\"currency\":\"XOF\",\"reference\":\"r\",\"description\":\"caf\xe9\"}", 400, `"json_invalid"`},
		{"paydunya form not UTF-8", "POST", "/paydunya/sandbox-api/v1/checkout-invoice/create", paydunya, `invoice[total_amount]=5000&invoice[description]=caf%E9&store[name]=Choco`, 400, `"response_code":"1002"`},
		{"native NUL in a nested field", "POST", "/v1/card_setup", native, `{"customer":{"phone":"+250788120000","name":"A\u0000"}}`, 400, `"param":"customer.name"`},
		{"native NUL in a payout", "POST", "/v1/payouts", native, `{"amount":100,"currency":"XOF","reference":"r","narration":"\u0000","destination":{"type":"till","account":"123456"}}`, 400, `"param":"narration"`},
		{"native NUL in a path", "GET", "/v1/payments/pay_%00", native, "", 400, `"parameter_invalid"`},
		{"native NUL in a query", "GET", "/v1/payments?reference=%00", native, "", 400, `"parameter_invalid"`},
		{"native trailing brace", "POST", "/v1/payments", native, `{"amount":100,"currency":"XOF","reference":"r"}}`, 400, `"json_invalid"`},
		{"native trailing brackets", "POST", "/v1/payments", native, `{"amount":100,"currency":"XOF","reference":"r"}]]]`, 400, `"json_invalid"`},
		{"native trailing object", "POST", "/v1/payments", native, `{"amount":100,"currency":"XOF","reference":"r"} {}`, 400, `"json_invalid"`},
		{"native amount true", "POST", "/v1/payments", native, `{"amount":true,"currency":"XOF","reference":"r"}`, 400, `"param":"amount"`},
		{"native object for a string", "POST", "/v1/payments", native, `{"amount":100,"currency":"XOF","reference":{"a":1}}`, 400, `"param":"reference"`},
		{"native item total overflow", "POST", "/v1/payments", native, `{"amount":100,"currency":"XOF","reference":"r","items":[{"name":"x","quantity":1000000,"unit_price":1000000000000000}]}`, 400, `"param":"items"`},
		{"native lang", "POST", "/v1/payments", native, `{"amount":100,"currency":"XOF","reference":"r","lang":"klingon"}`, 400, `"lang_invalid"`},
		{"native limit 101", "GET", "/v1/payments?limit=101", native, "", 400, `"param":"limit"`},

		{"paydunya NUL", "POST", pdPath, paydunya, invoice(`,"x":"\u0000"`), 400, `"response_code":"1002"`},
		{"paydunya trailing", "POST", pdPath, paydunya, invoice(``) + `}`, 400, `"response_code":"1002"`},
		{"paydunya amount true", "POST", pdPath, paydunya, `{"invoice":{"total_amount":true},"store":{"name":"Choco"}}`, 400, `"response_code":"1002"`},
		{"paydunya object for a string", "POST", pdPath, paydunya, invoice(`,"customer":{"name":{"first":"A"}}`), 400, `"response_code":"1002"`},
		{"paydunya item price true", "POST", pdPath, paydunya, invoice(`,"items":{"item_0":{"name":"x","quantity":1,"unit_price":true}}`), 400, `"response_code":"1002"`},
		{"paydunya form NUL", "POST", pdPath, paydunya, `invoice[total_amount]=5000&invoice[description]=a%00&store[name]=Choco`, 400, `"response_code":"1002"`},

		{"cinetpay NUL", "POST", "/cinetpay/v2/payment", none, cinet(`"description":"a\u0000"`), 400, `"code":"608"`},
		{"cinetpay trailing", "POST", "/cinetpay/v2/payment", none, cinet(`"description":"a"`) + `}`, 400, `"code":"608"`},
		{"cinetpay amount true", "POST", "/cinetpay/v2/payment", none, strings.Replace(cinet(`"description":"a"`), `"amount":100`, `"amount":true`, 1), 400, `"code":"608"`},
		{"cinetpay object for a string", "POST", "/cinetpay/v2/payment", none, cinet(`"description":{"a":1}`), 400, `"code":"608"`},

		{"kpay NUL", "POST", "/kpay/", kpay, kpayBody(`,"cname":"A\u0000"`), 200, `"retcode":603`},
		{"kpay trailing", "POST", "/kpay/", kpay, kpayBody(``) + `}`, 200, `"retcode":603`},
		{"kpay amount true", "POST", "/kpay/", kpay, strings.Replace(kpayBody(``), `"amount":100`, `"amount":true`, 1), 200, `"retcode":603`},
		{"kpay object for a string", "POST", "/kpay/", kpay, kpayBody(`,"email":["a@b.c"]`), 200, `"retcode":603`},

		{"ipay NUL", "POST", "/ipay/b2b/v1/external/send/mpesapaybill", none, ipayBody(`,"amount":"100\u0000"`), 400, `"status":400`},
		{"ipay trailing", "POST", "/ipay/b2b/v1/external/send/mpesapaybill", none, ipayBody(`,"amount":"100"`) + `]`, 400, `"status":400`},
		{"ipay amount true", "POST", "/ipay/b2b/v1/external/send/mpesapaybill", none, ipayBody(`,"amount":true`), 400, `amount must be`},

		{"clickpay NUL", "POST", "/clickpay/api/card/payment-url", clickpay, `{"account_id":"` + cl["account_id"] + `","amount":"100","currency":"TZS","order_info":"o\u0000"}`, 400, `"status":400`},
		{"clickpay trailing", "POST", "/clickpay/api/card/payment-url", clickpay, `{"account_id":"` + cl["account_id"] + `","amount":"100","currency":"TZS","order_info":"o"}}`, 400, `"status":400`},
		{"clickpay amount true", "POST", "/clickpay/api/card/payment-url", clickpay, `{"account_id":"` + cl["account_id"] + `","amount":true,"currency":"TZS","order_info":"o"}`, 400, `amount must be`},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, s.url+c.path, strings.NewReader(c.body))
		c.auth(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.wantStatus || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s; want %d with %s", c.name, res.StatusCode, b, c.wantStatus, c.want)
		}
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: Content-Type %q", c.name, res.Header.Get("Content-Type"))
		}
	}
	if got := call(t, "GET", s.url+"/v1/payments?limit=100", s.key, ""); got["data"] == nil {
		t.Errorf("limit=100: %v", got)
	}
	s.stop()
	conn := lookInto(t, db)
	defer conn.Close()
	var n int
	conn.QueryRow(`SELECT (SELECT COUNT(*) FROM payments) + (SELECT COUNT(*) FROM payouts) + (SELECT COUNT(*) FROM card_setups)`).Scan(&n)
	if n != 0 {
		t.Errorf("bad input created %d objects", n)
	}
}
