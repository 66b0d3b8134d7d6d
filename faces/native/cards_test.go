package native_test

import (
	"context"
	"strings"
	"testing"

	"github.com/malipo/malipo/rails"
)

func TestCardSetupSavedCardsAndPaymentsByToken(t *testing.T) {
	f := setup(t)
	a := f.do(t, "POST", "/v1/card_setup", f.key, `{"customer":{"phone":"250788312934","name":"Kaneza Innocent","email":"ikaneza@example.com"},"reference":"ABCD1593123162","return_url":"https://vote.example/saved"}`)
	if a.status != 201 || a.body["status"] != "pending" || a.body["card"] != nil || !strings.HasPrefix(a.body["url"].(string), "http://pay.test/cards/") {
		t.Fatalf("create setup: %d %s", a.status, a.raw)
	}
	token := strings.TrimPrefix(a.body["url"].(string), "http://pay.test/cards/")
	// The customer saves a card on the page (the checkout face's job).
	saved, err := f.svc.SaveCard(context.Background(), token, rails.Card{Number: "5555555555554444", Month: 12, Year: 2030, CVV: "123"})
	if err != nil {
		t.Fatal(err)
	}
	if g := f.do(t, "GET", "/v1/card_setup/"+a.body["id"].(string), f.key, ""); g.body["status"] != "succeeded" || g.body["card"] != saved.ID {
		t.Errorf("setup after saving: %s", g.raw)
	}
	for _, phone := range []string{"250788312934", "%2B250788312934"} {
		l := f.do(t, "GET", "/v1/customers/"+phone+"/cards", f.key, "")
		data, _ := l.body["data"].([]any)
		if l.status != 200 || len(data) != 1 {
			t.Fatalf("list cards for %s: %d %s", phone, l.status, l.raw)
		}
		c := data[0].(map[string]any)
		if c["id"] != saved.ID || c["masked"] != "555555xxxxxx4444" || c["scheme"] != "MASTERCARD" || c["exp_year"] != 2030.0 {
			t.Errorf("card: %v", c)
		}
		if strings.Contains(l.raw, "5555555555554444") {
			t.Errorf("the full number leaked: %s", l.raw)
		}
	}
	if l := f.do(t, "GET", "/v1/customers/250788312934/cards", f.otherKey, ""); len(l.body["data"].([]any)) != 0 {
		t.Errorf("another merchant sees the cards: %s", l.raw)
	}

	body := `{"amount":520,"currency":"RWF","reference":"YR1600116349","description":"Airtime TopUp","card_token":"` + saved.ID + `","cvv":"123"}`
	p := f.do(t, "POST", "/v1/payments", f.key, body, "Idempotency-Key", "tok-1")
	if p.status != 201 || p.body["status"] != "succeeded" || p.body["method"] != "card" || strings.Contains(p.raw, `"123"`) {
		t.Fatalf("pay by token: %d %s", p.status, p.raw)
	}
	again := f.do(t, "POST", "/v1/payments", f.key, body, "Idempotency-Key", "tok-1")
	if again.body["id"] != p.body["id"] || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %s", again.raw)
	}
	for _, c := range []struct {
		key, body string
		status    int
		code      string
	}{
		{f.key, `{"customer":{"name":"x"}}`, 400, "parameter_missing"},
		{f.key, `{"customer":{"phone":"12"}}`, 400, "phone_invalid"},
		{f.liveKey, `{"customer":{"phone":"250788312934"}}`, 503, "rail_unavailable"},
	} {
		if a := f.do(t, "POST", "/v1/card_setup", c.key, c.body); a.status != c.status || a.errCode() != c.code {
			t.Errorf("card_setup %s: %d %s", c.body, a.status, a.raw)
		}
	}
	for _, c := range []struct {
		body string
		code string
	}{
		{`{"amount":520,"currency":"RWF","reference":"x1","card_token":"` + saved.ID + `"}`, "parameter_missing"},
		{`{"amount":520,"currency":"RWF","reference":"x2","card_token":"card_nope","cvv":"123"}`, "card_token_invalid"},
		{`{"amount":520,"currency":"RWF","reference":"x3","card_token":"` + saved.ID + `","cvv":"12"}`, "cvv_invalid"},
		{`{"amount":520,"currency":"RWF","reference":"x4","cvv":"123"}`, "parameter_missing"},
	} {
		a := f.do(t, "POST", "/v1/payments", f.key, c.body)
		if a.status != 400 || a.errCode() != c.code {
			t.Errorf("%s: %d %s", c.body, a.status, a.raw)
		}
	}
	if l := f.do(t, "GET", "/v1/payments", f.key, ""); len(l.body["data"].([]any)) != 1 {
		t.Errorf("refused requests left payments behind: %s", l.raw)
	}
	if a := f.do(t, "GET", "/v1/card_setup/cs_nope", f.key, ""); a.status != 404 {
		t.Errorf("unknown setup: %d", a.status)
	}
}

func TestInvoiceItemsAndTaxes(t *testing.T) {
	f := setup(t)
	a := f.do(t, "POST", "/v1/payments", f.key, `{"amount":11800,"currency":"XOF","reference":"inv-9","customer":{"phone":"+2250707120000"},"lock_phone":true,
		"items":[{"name":"Chaussures","quantity":2,"unit_price":5000},{"name":"Livraison","unit_price":1000,"description":"Abidjan"}],
		"taxes":[{"name":"TVA (18%)","amount":800}]}`)
	if a.status != 201 || a.body["lock_phone"] != true {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	items := a.body["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["total"] != 10000.0 || items[1].(map[string]any)["quantity"] != 1.0 {
		t.Errorf("items: %v", items)
	}
	if taxes := a.body["taxes"].([]any); len(taxes) != 1 || taxes[0].(map[string]any)["amount"] != 800.0 {
		t.Errorf("taxes: %v", taxes)
	}
	for _, body := range []string{
		`{"amount":1,"currency":"XOF","reference":"b1","items":[{"unit_price":5}]}`,
		`{"amount":1,"currency":"XOF","reference":"b2","items":[{"name":"x","unit_price":5.5}]}`,
		`{"amount":1,"currency":"XOF","reference":"b3","taxes":[{"name":"x","amount":-1}]}`,
		`{"amount":1,"currency":"XOF","reference":"b4","lock_phone":true}`,
	} {
		if a := f.do(t, "POST", "/v1/payments", f.key, body); a.status != 400 {
			t.Errorf("%s: %d %s", body, a.status, a.raw)
		}
	}
}
