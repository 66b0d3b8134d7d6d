package paydunya

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/gateway"
)

// faceData is what the face keeps with each invoice to answer about it
// as PayDunya does.
type faceData struct {
	Store      json.RawMessage   `json:"store,omitempty"`
	CustomData json.RawMessage   `json:"custom_data,omitempty"`
	Actions    map[string]string `json:"actions,omitempty"`
	Channels   []string          `json:"channels,omitempty"`
	OPRToken   string            `json:"opr_token,omitempty"`
}

// newInvoice reads PayDunya's invoice JSON (as create sends it, or as
// OPR's invoice_data) and creates the payment behind it.
func (f *Face) newInvoice(req *request, body lenient.Map, customer malipo.Customer, oprToken string) (malipo.Payment, error) {
	inv, _ := body["invoice"].(lenient.Map)
	if inv == nil {
		return malipo.Payment{}, malipo.Invalid("invoice", "parameter_missing", "invoice.total_amount is required")
	}
	total, err := amount(inv["total_amount"], "invoice.total_amount")
	if err != nil {
		return malipo.Payment{}, err
	}
	store, _ := body["store"].(lenient.Map)
	if lenient.String(store, "name") == "" {
		return malipo.Payment{}, malipo.Invalid("store.name", "parameter_missing", "store.name is required")
	}
	// actions may also sit inside store, as older clients put them.
	actions := map[string]string{}
	for _, k := range []string{"cancel_url", "return_url", "callback_url"} {
		if v := lenient.String(body, "actions", k); v != "" {
			actions[k] = v
		} else if v := lenient.String(store, k); v != "" {
			actions[k] = v
		}
	}
	token := f.svc.Token(map[malipo.Mode]string{malipo.ModeTest: "test_", malipo.ModeLive: "live_"}[req.in.Mode], 6)
	in := gateway.PaymentInput{Amount: total, Currency: "XOF", Reference: token, Description: lenient.String(inv, "description"),
		ReturnURL: withToken(actions["return_url"], token), CancelURL: actions["cancel_url"], NotifyURL: actions["callback_url"],
		Customer: customer}
	if in.Customer.Name == "" {
		c, _ := inv["customer"].(lenient.Map)
		if c == nil {
			c, _ = body["customer"].(lenient.Map)
		}
		in.Customer = malipo.Customer{Name: lenient.String(c, "name"), Email: lenient.String(c, "email"),
			Phone: cmp.Or(lenient.String(c, "phone"), lenient.String(c, "phone_number"))}
	}
	for _, entries := range []any{inv["items"], inv["taxes"]} {
		for _, e := range lenient.Entries(entries) {
			if err := lenient.Scalars(e, "name", "description", "quantity", "unit_price", "total_price", "amount"); err != nil {
				return malipo.Payment{}, malipo.Invalid("invoice.items", "parameter_invalid", "%v", err)
			}
		}
	}
	for _, it := range lenient.Entries(inv["items"]) {
		item := malipo.Item{Name: lenient.String(it, "name"), Description: lenient.String(it, "description")}
		if item.Name == "" {
			continue
		}
		item.Quantity, _ = wholeNumber(it["quantity"])
		item.UnitPrice, _ = wholeNumber(it["unit_price"])
		item.Total, _ = wholeNumber(it["total_price"])
		in.Items = append(in.Items, item)
	}
	for _, t := range lenient.Entries(inv["taxes"]) {
		n, _ := wholeNumber(t["amount"])
		in.Taxes = append(in.Taxes, malipo.Tax{Name: lenient.String(t, "name"), Amount: n})
	}
	in.Store = malipo.Store{Name: lenient.String(store, "name"), LogoURL: lenient.String(store, "logo_url"),
		Tagline: lenient.String(store, "tagline"), PostalAddress: lenient.String(store, "postal_address"),
		Phone: cmp.Or(lenient.String(store, "phone"), lenient.String(store, "phone_number")), WebsiteURL: lenient.String(store, "website_url")}
	fd := faceData{Actions: actions, OPRToken: oprToken}
	if list, ok := inv["channels"].([]any); ok {
		for _, c := range list {
			if s := lenient.Str(c); s != "" {
				fd.Channels = append(fd.Channels, s)
			}
		}
		in.Channels = channels(fd.Channels)
	}
	if store != nil {
		fd.Store, _ = json.Marshal(store)
	}
	if cd, ok := body["custom_data"]; ok && cd != nil {
		fd.CustomData, _ = json.Marshal(cd)
	}
	in.FaceData, _ = json.Marshal(fd)
	p, _, err := f.svc.CreatePayment(req.ctx, req.in, in, gateway.Idempotency{})
	if err != nil {
		if e := malipo.AsError(err); e.Param == "customer" || strings.HasPrefix(e.Param, "return_url") || strings.HasPrefix(e.Param, "cancel_url") || strings.HasPrefix(e.Param, "notify_url") {
			return p, e.WithParam("actions")
		}
		return p, err
	}
	return p, nil
}

// wholeNumber reads a non-negative integer sent as a number or a string.
func wholeNumber(v any) (int64, bool) {
	s := lenient.Str(v)
	if s == "" {
		return 0, false
	}
	n, err := malipo.ParseDecimal(s, "XOF")
	return n, err == nil && n >= 0
}

// channels maps PayDunya's channel slugs to Malipo's channels: "card" is
// a card, every wallet is mobile money.
func channels(slugs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range slugs {
		c := string(malipo.ChannelMobileMoney)
		if strings.Contains(s, "card") {
			c = string(malipo.ChannelCard)
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

func (f *Face) createInvoice(req *request) (any, error) {
	p, err := f.newInvoice(req, req.body, malipo.Customer{}, "")
	if err != nil {
		return nil, err
	}
	return lenient.Ordered{{Key: "response_code", Value: codeOK}, {Key: "response_text", Value: f.svc.CheckoutURL(p)},
		{Key: "description", Value: "Checkout Invoice Created"}, {Key: "token", Value: p.Reference}}, nil
}

// status is PayDunya's name for where an invoice stands.
func status(p malipo.Payment) string {
	switch p.Status {
	case malipo.PaymentSucceeded:
		return "completed"
	case malipo.PaymentFailed:
		return "failed"
	case malipo.PaymentCancelled, malipo.PaymentExpired:
		return "cancelled"
	}
	return "pending"
}

// invoiceData is the structure PayDunya's confirm answers and callbacks
// share, in PayDunya's key order. Items and taxes come back keyed item_0…
// and tax_0…, amounts as in PayDunya's own answers.
func invoiceData(svc *gateway.Service, in malipo.Integration, p malipo.Payment) lenient.Ordered {
	var fd faceData
	json.Unmarshal(p.FaceData, &fd)
	items := lenient.Ordered{}
	for i, it := range p.Items {
		items = append(items, lenient.KV{Key: fmt.Sprintf("item_%d", i), Value: lenient.Ordered{
			{Key: "name", Value: it.Name}, {Key: "quantity", Value: it.Quantity},
			{Key: "unit_price", Value: malipo.FormatDecimal(it.UnitPrice, p.Currency)},
			{Key: "total_price", Value: malipo.FormatDecimal(it.Total, p.Currency)}, {Key: "description", Value: it.Description}}})
	}
	taxes := lenient.Ordered{}
	for i, t := range p.Taxes {
		taxes = append(taxes, lenient.KV{Key: fmt.Sprintf("tax_%d", i), Value: lenient.Ordered{{Key: "name", Value: t.Name}, {Key: "amount", Value: t.Amount}}})
	}
	var custom any = map[string]any{}
	if len(fd.CustomData) > 0 {
		var v any
		if json.Unmarshal(fd.CustomData, &v) == nil {
			custom = v
		}
	}
	actions := lenient.Ordered{{Key: "cancel_url", Value: fd.Actions["cancel_url"]}, {Key: "callback_url", Value: fd.Actions["callback_url"]},
		{Key: "return_url", Value: fd.Actions["return_url"]}}
	mode := "test"
	if p.Mode == malipo.ModeLive {
		mode = "live"
	}
	// "a failure message is entered in the fail_reason node only for
	// failed or canceled bank card transactions", and the seed's cancelled
	// example says "Payment cancelled by customer": mobile-money failures
	// leave it empty.
	failReason := ""
	switch {
	case p.Status == malipo.PaymentCancelled && p.FailureCode == malipo.CodeCustomerCancelled:
		failReason = "Payment cancelled by customer"
	case p.Method == malipo.ChannelCard:
		failReason = p.FailureReason
	}
	// Phones come back as PayDunya shows them: national, digits only.
	phone := p.Customer.Phone
	if p.Phone != "" {
		phone = p.Phone
	}
	if e164, err := malipo.ParseMSISDN(phone, p.Region); err == nil {
		phone = malipo.NationalMSISDN(e164)
	}
	out := lenient.Ordered{
		{Key: "response_code", Value: codeOK}, {Key: "response_text", Value: "Transaction Found"},
		{Key: "hash", Value: Hash(settings(in).MasterKey)},
		{Key: "invoice", Value: lenient.Ordered{{Key: "items", Value: items}, {Key: "taxes", Value: taxes}, {Key: "token", Value: p.Reference},
			{Key: "total_amount", Value: p.Amount}, {Key: "description", Value: p.Description}}},
		{Key: "custom_data", Value: custom}, {Key: "actions", Value: actions}, {Key: "mode", Value: mode},
		{Key: "status", Value: status(p)}, {Key: "fail_reason", Value: failReason},
		{Key: "customer", Value: lenient.Ordered{{Key: "name", Value: p.Customer.Name}, {Key: "phone", Value: phone},
			{Key: "email", Value: p.Customer.Email}}},
		{Key: "receipt_url", Value: svc.ReceiptURL(p)},
	}
	if p.Status == malipo.PaymentSucceeded {
		out = append(out, lenient.KV{Key: "receipt_identifier", Value: p.ID}, lenient.KV{Key: "provider_reference", Value: p.RailReference})
	}
	return out
}

func (f *Face) confirm(req *request) (any, error) {
	p, err := f.invoice(req, req.r.PathValue("token"))
	if err != nil {
		return nil, err
	}
	return invoiceData(f.svc, req.in, p), nil
}

// oprToken is the onsite-payment token of an invoice: it names the
// invoice, so the charge finds it without a lookup table.
func oprToken(invoiceToken string) string { return "OPR-" + invoiceToken }

// oprCreate starts an onsite payment (PSR): the invoice is created for
// the customer's PayDunya account, who confirms it with a code.
func (f *Face) oprCreate(req *request) (any, error) {
	data, _ := req.body["invoice_data"].(lenient.Map)
	if data == nil {
		return nil, malipo.Invalid("invoice_data", "parameter_missing", "invoice_data is required")
	}
	alias := lenient.String(req.body, "opr_data", "account_alias")
	if alias == "" {
		return nil, malipo.Invalid("opr_data.account_alias", "parameter_missing", "opr_data.account_alias is required")
	}
	customer := malipo.Customer{Name: alias}
	if strings.Contains(alias, "@") {
		customer.Email = alias
	} else {
		customer.Phone = alias
	}
	p, err := f.newInvoice(req, data, customer, "")
	if err != nil {
		return nil, err
	}
	return lenient.Ordered{{Key: "response_code", Value: codeOK}, {Key: "response_text", Value: "OPR Invoice Created"},
		{Key: "description", Value: "Une demande de paiement a été envoyée au client. Il doit la confirmer avec le code reçu."},
		{Key: "token", Value: oprToken(p.Reference)}, {Key: "invoice_token", Value: p.Reference}}, nil
}

// SandboxConfirmCode is the confirmation code that fails an onsite payment
// in the sandbox; any other code confirms it.
const SandboxConfirmCode = "000000"

// oprCharge completes an onsite payment with the customer's code.
func (f *Face) oprCharge(req *request) (any, error) {
	token, code := lenient.String(req.body, "token"), lenient.String(req.body, "confirm_token")
	if token == "" || code == "" {
		return nil, malipo.Invalid("token", "parameter_missing", "token and confirm_token are required")
	}
	invoiceToken, ok := strings.CutPrefix(token, "OPR-")
	if !ok {
		return nil, errNoInvoice
	}
	p, err := f.invoice(req, invoiceToken)
	if err != nil {
		return nil, err
	}
	outcome := "succeeded"
	if code == SandboxConfirmCode {
		outcome = "failed"
	}
	if p, _, err = f.svc.ForceOutcome(req.ctx, req.in, p.ID, outcome, gateway.Idempotency{}); err != nil {
		return nil, err
	}
	text := "Paiement effectué avec succès"
	if outcome == "failed" {
		text = "Code de confirmation invalide"
	}
	return lenient.Ordered{{Key: "response_code", Value: codeOK}, {Key: "response_text", Value: text},
		{Key: "invoice_data", Value: invoiceData(f.svc, req.in, p)}}, nil
}

// softpayOperators maps SoftPay wallet slugs to the sandbox's operators.
var softpayOperators = map[string]string{
	"orange-money-ci": "orange-ci", "mtn-ci": "mtn-ci", "moov-ci": "moov-ci", "orange-money-senegal": "orange-sn",
	"free-money-senegal": "free-sn", "expresso-senegal": "expresso-sn", "t-money-togo": "t-money-tg", "mtn-benin": "mtn-bj",
}

// softpay pays an invoice without a redirect: a wallet slug pushes the
// payment to the customer's phone; "card" answers the checkout URL.
func (f *Face) softpay(req *request) (any, error) {
	slug := req.r.PathValue("slug")
	token := firstKey(req.body, func(k string) bool { return strings.HasSuffix(k, "token") })
	p, err := f.invoice(req, token)
	if err != nil {
		return nil, err
	}
	if slug == "card" || strings.HasSuffix(slug, "-card") {
		return lenient.Ordered{{Key: "success", Value: true}, {Key: "message", Value: "Redirect the customer to pay by card."},
			{Key: "url", Value: f.svc.CheckoutURL(p)}}, nil
	}
	phone := firstKey(req.body, func(k string) bool { return strings.Contains(k, "phone") })
	if phone == "" {
		return nil, malipo.Invalid("phone_number", "parameter_missing", "the customer's phone number is required")
	}
	name := firstKey(req.body, func(k string) bool { k = strings.ToLower(k); return strings.HasSuffix(k, "name") })
	email := firstKey(req.body, func(k string) bool { return strings.HasSuffix(strings.ToLower(k), "email") })
	if err := f.svc.NameCustomer(req.ctx, p.CheckoutToken, name, email); err != nil {
		return nil, err
	}
	if _, err := f.svc.PayWithMobileMoney(req.ctx, p.CheckoutToken, phone, softpayOperators[slug]); err != nil {
		return nil, err
	}
	return lenient.Ordered{{Key: "success", Value: true},
		{Key: "message", Value: "Une demande de paiement a été envoyée sur le téléphone du client. Il doit la valider."},
		{Key: "fees", Value: 0}, {Key: "currency", Value: "XOF"}}, nil
}

// sandboxMakePayment is the sandbox's test-account payment: the invoice
// is paid at once.
func (f *Face) sandboxMakePayment(req *request) (any, error) {
	p, err := f.invoice(req, lenient.String(req.body, "invoice_token"))
	if err != nil {
		return nil, err
	}
	if lenient.String(req.body, "phone_phone") == "" || lenient.String(req.body, "password") == "" {
		return nil, malipo.Invalid("phone_phone", "parameter_missing", "phone_phone and password of a sandbox test account are required")
	}
	if _, _, err := f.svc.ForceOutcome(req.ctx, req.in, p.ID, "succeeded", gateway.Idempotency{}); err != nil {
		return nil, err
	}
	return lenient.Ordered{{Key: "success", Value: true}, {Key: "message", Value: "Paiement effectué avec succès"}}, nil
}
