package native_test

import (
	"strings"
	"testing"
	"time"
)

func TestPayoutsRefundsAndTopups(t *testing.T) {
	f := setup(t)
	if a := f.do(t, "POST", "/v1/sandbox/topup", f.key, `{"amount":50000,"currency":"KES"}`); a.status != 200 ||
		a.body["balances"].([]any)[0].(map[string]any)["available"] != 50000.0 {
		t.Fatalf("topup: %d %s", a.status, a.raw)
	}
	if a := f.do(t, "POST", "/v1/sandbox/topup", f.liveKey, `{"amount":50000,"currency":"KES"}`); a.status != 403 {
		t.Errorf("live topup: %d %s", a.status, a.raw)
	}
	body := `{"amount":10000,"currency":"KES","reference":"pay-1","destination":{"type":"mobile_money","account":"+254712340000","name":"Wanjiru"},"narration":"Salary"}`
	a := f.do(t, "POST", "/v1/payouts", f.key, body, "Idempotency-Key", "po-1")
	if a.status != 201 || a.body["status"] != "processing" || a.body["destination"].(map[string]any)["operator"] != "mpesa-ke" {
		t.Fatalf("payout: %d %s", a.status, a.raw)
	}
	id := a.body["id"].(string)
	if again := f.do(t, "POST", "/v1/payouts", f.key, body, "Idempotency-Key", "po-1"); again.body["id"] != id {
		t.Errorf("replay: %s", again.raw)
	}
	if b := f.do(t, "GET", "/v1/balance", f.key, ""); !strings.Contains(b.raw, `"available":40000`) || !strings.Contains(b.raw, `"reserved":10000`) {
		t.Errorf("balance during the payout: %s", b.raw)
	}
	f.clock.Advance(3 * time.Second)
	if g := f.do(t, "GET", "/v1/payouts/"+id, f.key, ""); g.body["status"] != "succeeded" || g.body["completed_at"] == nil {
		t.Errorf("after the rail answered: %s", g.raw)
	}
	ev := f.do(t, "GET", "/v1/events?type=payout.succeeded", f.key, "")
	if data := ev.body["data"].([]any); len(data) != 1 || data[0].(map[string]any)["data"].(map[string]any)["object"].(map[string]any)["id"] != id {
		t.Errorf("payout event: %s", ev.raw)
	}
	if l := f.do(t, "GET", "/v1/payouts?reference=pay-1", f.key, ""); len(l.body["data"].([]any)) != 1 {
		t.Errorf("list by reference: %s", l.raw)
	}
	if g := f.do(t, "GET", "/v1/payouts/"+id, f.otherKey, ""); g.status != 404 {
		t.Errorf("another merchant reads the payout: %d", g.status)
	}

	cases := []struct {
		body   string
		status int
		code   string
	}{
		{`{"amount":100000,"currency":"KES","reference":"big","destination":{"type":"mobile_money","account":"+254712340009"}}`, 402, "insufficient_funds"},
		{`{"amount":100,"currency":"KES","reference":"pay-1","destination":{"type":"mobile_money","account":"+254712340009"}}`, 409, "reference_in_use"},
		{`{"amount":100,"currency":"KES","reference":"x","destination":{"type":"bank","account":"1"}}`, 400, "parameter_invalid"},
		{`{"amount":100,"currency":"KES","reference":"x"}`, 400, "parameter_missing"},
		{`{"amount":1.5,"currency":"KES","reference":"x","destination":{"type":"till","account":"123456"}}`, 400, "amount_invalid"},
	}
	for _, c := range cases {
		if a := f.do(t, "POST", "/v1/payouts", f.key, c.body); a.status != c.status || a.errCode() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.body, a.status, a.raw, c.status, c.code)
		}
	}
	for i := 0; i < 2; i++ {
		f.do(t, "POST", "/v1/payouts", f.key, `{"amount":100,"currency":"KES","reference":"v-`+string(rune('a'+i))+`","destination":{"type":"mobile_money","account":"254712340000"}}`)
	}
	if a := f.do(t, "POST", "/v1/payouts", f.key, `{"amount":100,"currency":"KES","reference":"v-c","destination":{"type":"mobile_money","account":"254712340000"}}`); a.status != 429 || !strings.Contains(a.raw, "too many requests to the same phone") {
		t.Errorf("4th payout to one phone: %d %s", a.status, a.raw)
	}

	// A refund of a paid payment.
	p := f.do(t, "POST", "/v1/payments", f.key, momoBody)
	f.clock.Advance(3 * time.Second)
	r := f.do(t, "POST", "/v1/refunds", f.key, `{"payment":"`+p.body["id"].(string)+`","amount":1000,"reason":"wrong size"}`)
	if r.status != 201 || r.body["status"] != "succeeded" || r.body["amount"] != 1000.0 {
		t.Fatalf("refund: %d %s", r.status, r.raw)
	}
	if g := f.do(t, "GET", "/v1/payments/"+p.body["id"].(string), f.key, ""); g.body["amount_refunded"] != 1000.0 {
		t.Errorf("payment after refund: %s", g.raw)
	}
	if l := f.do(t, "GET", "/v1/payments/"+p.body["id"].(string)+"/refunds", f.key, ""); len(l.body["data"].([]any)) != 1 {
		t.Errorf("refund list: %s", l.raw)
	}
	if ev := f.do(t, "GET", "/v1/events?type=refund.succeeded", f.key, ""); !strings.Contains(ev.raw, r.body["id"].(string)) {
		t.Errorf("refund event: %s", ev.raw)
	}
	if g := f.do(t, "GET", "/v1/refunds/"+r.body["id"].(string), f.key, ""); g.body["payment"] != p.body["id"] {
		t.Errorf("get refund: %s", g.raw)
	}
	if l := f.do(t, "GET", "/v1/refunds?limit=5", f.key, ""); len(l.body["data"].([]any)) != 1 || !strings.Contains(l.raw, r.body["id"].(string)) {
		t.Errorf("every refund: %s", l.raw)
	}
	// The statement of the available balance: newest first, each
	// movement with the balance after it, the first one today's balance;
	// page by page it reads the same.
	cur := p.body["currency"].(string)
	st := f.do(t, "GET", "/v1/balance_transactions?limit=100&currency="+cur, f.key, "")
	rows, _ := st.body["data"].([]any)
	bal := f.do(t, "GET", "/v1/balance", f.key, "")
	var available float64
	for _, b := range bal.body["balances"].([]any) {
		if b.(map[string]any)["currency"] == cur {
			available = b.(map[string]any)["available"].(float64)
		}
	}
	if st.status != 200 || len(rows) < 2 || rows[0].(map[string]any)["balance_after"] != available {
		t.Fatalf("statement: %s (available %v)", st.raw, available)
	}
	for i := 1; i < len(rows); i++ {
		prev, this := rows[i-1].(map[string]any), rows[i].(map[string]any)
		if this["balance_after"].(float64) != prev["balance_after"].(float64)-prev["amount"].(float64) {
			t.Errorf("statement row %d does not follow: %v then %v", i, prev, this)
		}
	}
	after := ""
	for i := range rows {
		path := "/v1/balance_transactions?limit=1&currency=" + cur
		if after != "" {
			path += "&starting_after=" + after
		}
		page := f.do(t, "GET", path, f.key, "")
		d := page.body["data"].([]any)
		if len(d) != 1 || d[0].(map[string]any)["id"] != rows[i].(map[string]any)["id"] || d[0].(map[string]any)["balance_after"] != rows[i].(map[string]any)["balance_after"] {
			t.Fatalf("page %d: %s, want %v", i, page.raw, rows[i])
		}
		after = d[0].(map[string]any)["id"].(string)
	}
	if early := f.do(t, "GET", "/v1/balance_transactions?currency="+cur+"&created[lte]=1000", f.key, ""); early.status != 200 || len(early.body["data"].([]any)) != 0 {
		t.Errorf("statement up to 1970: %s", early.raw)
	}
	if all := f.do(t, "GET", "/v1/balance_transactions?limit=100&currency="+cur+"&created[gte]=1000", f.key, ""); len(all.body["data"].([]any)) != len(rows) ||
		all.body["data"].([]any)[0].(map[string]any)["balance_after"] != available {
		t.Errorf("statement since 1970: %s", all.raw)
	}
	for _, q := range []string{"", "currency=XX", "currency=" + cur + "&bucket=gold", "currency=" + cur + "&created[gte]=soon"} {
		if a := f.do(t, "GET", "/v1/balance_transactions?"+q, f.key, ""); a.status != 400 {
			t.Errorf("statement ?%s: %d", q, a.status)
		}
	}
	for _, c := range []struct {
		body string
		code string
	}{
		{`{"payment":"` + p.body["id"].(string) + `","amount":999999}`, "amount_too_large"},
		{`{"payment":"pay_nope"}`, "resource_missing"},
		{`{"amount":1}`, "parameter_missing"},
		{`{"payment":"` + p.body["id"].(string) + `","amount":0}`, "amount_invalid"},
	} {
		if a := f.do(t, "POST", "/v1/refunds", f.key, c.body); a.errCode() != c.code {
			t.Errorf("refund %s: %d %s", c.body, a.status, a.raw)
		}
	}
}

// A statement is in time order whatever moved the money: a top-up made
// before a payment reads below it, not on top because of its ID.
func TestStatementIsInTimeOrder(t *testing.T) {
	f := setup(t)
	if a := f.do(t, "POST", "/v1/sandbox/topup", f.key, `{"amount":700,"currency":"XOF"}`); a.status != 200 {
		t.Fatalf("topup: %d %s", a.status, a.raw)
	}
	f.clock.Advance(time.Second)
	p := f.do(t, "POST", "/v1/payments", f.key, momoBody)
	f.clock.Advance(3 * time.Second)
	if g := f.do(t, "GET", "/v1/payments/"+p.body["id"].(string), f.key, ""); g.body["status"] != "succeeded" {
		t.Fatalf("payment: %s", g.raw)
	}
	st := f.do(t, "GET", "/v1/balance_transactions?currency=XOF", f.key, "")
	rows, _ := st.body["data"].([]any)
	if len(rows) != 2 {
		t.Fatalf("statement: %s", st.raw)
	}
	first, second := rows[0].(map[string]any), rows[1].(map[string]any)
	if first["type"] != "payment" || second["type"] != "topup" || second["balance_after"] != 700.0 ||
		first["balance_after"] != 700.0+first["amount"].(float64) {
		t.Errorf("statement, newest first: %s", st.raw)
	}
}
