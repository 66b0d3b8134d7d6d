package kpay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/snapshot"
)

// Banks are KPay's financial institution codes (bankid): mobile-money
// operators, SPENN, cards and banks.
var Banks = map[string]string{
	"63510": "MTN Mobile Money", "63514": "Airtel Money", "63502": "SPENN", "000": "Visa / MasterCard",
	"010": "IMBANK RWANDA", "040": "BK", "070": "GTBANK RWANDA", "100": "ECOBANK", "115": "ACCESS", "130": "COGEBANQUE",
	"145": "UOB", "160": "KCB RWANDA", "192": "EQUITY", "400": "BPR", "750": "BRD", "800": "ZIGAMA", "900": "BOA RWANDA",
	"950": "UNGUKA", "951": "BNR", "63501": "MOBICASH",
}

// bankOperators are the sandbox operators behind KPay's wallet codes.
var bankOperators = map[string]string{"63510": "mtn-rw", "63514": "airtel-rw"}

// methodAccepts says which bankids each payment method takes.
func methodAccepts(pmethod, bankid string) (known bool, ok bool) {
	switch pmethod {
	case "momo":
		// A wallet's code picks the operator; the seed's own example sends
		// a bank's (130) with momo, and the number decides. Only the card
		// code is not mobile money.
		_, inTable := Banks[bankid]
		return true, inTable && bankid != "000"
	case "spenn":
		return true, bankid == "63502"
	case "cc":
		return true, bankid == "000"
	case "bank":
		_, isBank := Banks[bankid]
		return true, isBank && len(bankid) == 3 && bankid != "000"
	case "smartcash":
		return true, bankid != "" // SmartCash has no code in KPay's table
	}
	return false, false
}

// faceData is what a KPay payment keeps to answer about it: the number
// as the merchant sent it, which postbacks echo as payaccount.
type faceData struct {
	MSISDN string `json:"msisdn,omitempty"`
}

var payFields = []string{"msisdn", "email", "details", "refid", "amount", "cname", "cnumber", "pmethod", "retailerid", "returl", "redirecturl", "bankid"}

func missing(b lenient.Map, fields []string) error {
	var out []string
	for _, k := range fields {
		if lenient.String(b, k) == "" {
			out = append(out, k)
		}
	}
	if len(out) > 0 {
		return fail(RetEmptyParameter, "Empty parameter. - missing required parameters: "+strings.Join(out, ", "))
	}
	return nil
}

// amountOf reads the amount in the payment's currency: RWF unless set,
// RWF or USD.
func amountOf(b lenient.Map) (int64, string, error) {
	cur := strings.ToUpper(lenient.String(b, "currency"))
	if cur == "" {
		cur = "RWF"
	}
	if cur != "RWF" && cur != "USD" {
		return 0, "", fail(RetEmptyParameter, "currency must be RWF or USD")
	}
	n, err := malipo.ParseDecimal(lenient.String(b, "amount"), malipo.Currency(cur))
	if err != nil || n <= 0 {
		return 0, "", fail(RetEmptyParameter, "amount must be a positive number of "+cur)
	}
	return n, cur, nil
}

// pay is a payment request (action absent or "pay").
func (f *Face) pay(req *request) (any, error) {
	b := req.body
	if err := missing(b, payFields); err != nil {
		return nil, err
	}
	pmethod, bankid := strings.ToLower(lenient.String(b, "pmethod")), lenient.String(b, "bankid")
	known, ok := methodAccepts(pmethod, bankid)
	if !known {
		return nil, fail(RetUnknownMethod, "Unknown Payment method")
	}
	if !ok {
		return nil, fail(RetUnknownBank, "Unknown or not enabled Financial institution")
	}
	amount, cur, err := amountOf(b)
	if err != nil {
		return nil, err
	}
	in := gateway.PaymentInput{Amount: amount, Currency: cur, Reference: lenient.String(b, "refid"), Description: lenient.String(b, "details"),
		Customer:  malipo.Customer{Name: lenient.String(b, "cname"), Email: lenient.String(b, "email"), Phone: lenient.String(b, "msisdn")},
		NotifyURL: lenient.String(b, "returl"), ReturnURL: lenient.String(b, "redirecturl"), CancelURL: lenient.String(b, "redirecturl"),
		Store: malipo.Store{LogoURL: lenient.String(b, "logourl")}}
	in.FaceData, _ = json.Marshal(faceData{MSISDN: lenient.String(b, "msisdn")})
	switch pmethod {
	case "momo", "spenn", "smartcash":
		in.Method, in.Phone, in.Operator = string(malipo.ChannelMobileMoney), in.Customer.Phone, bankOperators[bankid]
	case "cc":
		in.Channels = []string{string(malipo.ChannelCard)}
	case "bank":
		in.Channels, in.Bank = []string{string(malipo.ChannelBank)}, Banks[bankid]
	}
	p, _, err := f.svc.CreatePayment(req.ctx, req.in, in, gateway.Idempotency{})
	if err != nil {
		return nil, err
	}
	if p.Status == malipo.PaymentFailed {
		return nil, &retError{code: RetMoMoFailed, reply: "Failed mobile money transaction: " + p.FailureReason, tid: p.ID}
	}
	if p.Status == malipo.PaymentSucceeded {
		// Settled before the answer: KPay's immediate success.
		return lenient.Ordered{{Key: "tid", Value: p.ID}, {Key: "refid", Value: p.Reference}, {Key: "momtransactionid", Value: p.RailReference},
			{Key: "statusdesc", Value: "SUCCESSFUL"}, {Key: "statusid", Value: "01"}, {Key: "retcode", Value: RetOK}}, nil
	}
	return lenient.Ordered{{Key: "reply", Value: "PENDING"}, {Key: "url", Value: f.svc.CheckoutURL(p)}, {Key: "success", Value: 1},
		{Key: "authkey", Value: f.svc.Token("", 16)}, {Key: "tid", Value: p.ID}, {Key: "refid", Value: p.Reference},
		{Key: "retcode", Value: RetOK}}, nil
}

// status is KPay's statusid and statusdesc of a payment.
func status(p malipo.Payment) (string, string) {
	switch p.Status {
	case malipo.PaymentSucceeded:
		return "01", "Successfully processed transaction."
	case malipo.PaymentFailed, malipo.PaymentCancelled, malipo.PaymentExpired:
		desc := p.FailureReason
		if desc == "" {
			desc = "Failed payment"
		}
		return "02", desc
	}
	return "03", "Pending transaction"
}

// postback is the status of a payment as KPay posts and checks it. As
// the document's examples show, the operator's transaction ID and the
// account paid from are given once the payment succeeded.
func postback(p malipo.Payment, withAccount bool) lenient.Ordered {
	id, desc := status(p)
	paid := p.Status == malipo.PaymentSucceeded
	momID := ""
	if paid {
		momID = p.RailReference
	}
	out := lenient.Ordered{{Key: "tid", Value: p.ID}, {Key: "refid", Value: p.Reference}, {Key: "momtransactionid", Value: momID}}
	if withAccount && paid {
		out = append(out, lenient.KV{Key: "payaccount", Value: payAccount(p)})
	}
	return append(out, lenient.KV{Key: "statusid", Value: id}, lenient.KV{Key: "statusdesc", Value: desc})
}

// payAccount is the number a payment was paid from: as the merchant sent
// it when the customer paid from that number, else as the rail knows it
// (country code, no "+").
func payAccount(p malipo.Payment) string {
	if p.Method == malipo.ChannelBank {
		return p.Account
	}
	var fd faceData
	json.Unmarshal(p.FaceData, &fd)
	if e164, err := malipo.ParseMSISDN(fd.MSISDN, p.Region); err == nil && e164 == p.Phone {
		return fd.MSISDN
	}
	return strings.TrimPrefix(p.Phone, "+")
}

// checkStatus reads a payment by tid or refid.
func (f *Face) checkStatus(req *request) (any, error) {
	tid, refid := lenient.String(req.body, "tid"), lenient.String(req.body, "refid")
	var p malipo.Payment
	var err error
	switch {
	case tid != "":
		p, err = f.svc.GetPayment(req.ctx, req.in, tid)
	case refid != "":
		p, err = f.svc.PaymentByReference(req.ctx, req.in, refid)
	default:
		return nil, fail(RetEmptyParameter, "Empty parameter. - missing required parameters: tid or refid")
	}
	if malipo.KindOf(err) == malipo.KindNotFound {
		return lenient.Ordered{{Key: "tid", Value: ""}, {Key: "refid", Value: ""}, {Key: "momtransactionid", Value: ""},
			{Key: "statusid", Value: fmt.Sprint(RetNotFound)}, {Key: "statusdesc", Value: "Transaction not found"}}, nil
	}
	if err != nil {
		return nil, err
	}
	return postback(p, false), nil
}

// addToken gives the customer a page to save a card.
func (f *Face) addToken(req *request) (any, error) {
	if err := missing(req.body, []string{"msisdn", "refid"}); err != nil {
		return nil, err
	}
	cs, _, err := f.svc.CreateCardSetup(req.ctx, req.in, gateway.CardSetupInput{Customer: malipo.Customer{
		Name: lenient.String(req.body, "cusname"), Email: lenient.String(req.body, "email"), Phone: lenient.String(req.body, "msisdn")},
		Reference: lenient.String(req.body, "refid")}, gateway.Idempotency{})
	if err != nil {
		return nil, err
	}
	return lenient.Ordered{{Key: "reply", Value: "token generation url saved"}, {Key: "url", Value: f.svc.CardSetupURL(cs)},
		{Key: "success", Value: 1}, {Key: "authkey", Value: f.svc.Token("", 16)}, {Key: "tid", Value: cs.ID},
		{Key: "refid", Value: cs.Reference}, {Key: "retcode", Value: RetOK}}, nil
}

// tokenList lists a customer's saved cards.
func (f *Face) tokenList(req *request) (any, error) {
	if err := missing(req.body, []string{"msisdn"}); err != nil {
		return nil, err
	}
	cards, err := f.svc.ListCards(req.ctx, req.in, lenient.String(req.body, "msisdn"))
	if err != nil {
		return nil, err
	}
	list := []any{}
	for _, c := range cards {
		list = append(list, lenient.Ordered{{Key: "cardhash", Value: c.Masked}, {Key: "scheme", Value: c.Scheme}, {Key: "token", Value: c.ID}})
	}
	return lenient.Ordered{{Key: "reply", Value: list}, {Key: "success", Value: 1}, {Key: "authkey", Value: f.svc.Token("", 16)},
		{Key: "tid", Value: 0}, {Key: "refid", Value: lenient.String(req.body, "refid")}, {Key: "retcode", Value: RetOK}}, nil
}

// tokenPay charges a saved card at once.
func (f *Face) tokenPay(req *request) (any, error) {
	b := req.body
	if err := missing(b, []string{"token", "cvv", "msisdn", "details", "refid", "amount"}); err != nil {
		return nil, err
	}
	amount, cur, err := amountOf(b)
	if err != nil {
		return nil, err
	}
	p, _, err := f.svc.CreatePayment(req.ctx, req.in, gateway.PaymentInput{Amount: amount, Currency: cur, Reference: lenient.String(b, "refid"),
		Description: lenient.String(b, "details"), NotifyURL: lenient.String(b, "returl"), ReturnURL: lenient.String(b, "redirecturl"),
		Customer:  malipo.Customer{Name: lenient.String(b, "cname"), Email: lenient.String(b, "email"), Phone: lenient.String(b, "msisdn")},
		CardToken: lenient.String(b, "token"), CVV: lenient.String(b, "cvv")}, gateway.Idempotency{})
	if err != nil {
		return nil, err
	}
	id, desc := "01", "APPROVED"
	if p.Status != malipo.PaymentSucceeded {
		id, desc = "02", "DECLINED"
	}
	return lenient.Ordered{{Key: "tid", Value: p.ID}, {Key: "refid", Value: p.Reference}, {Key: "momtransactionid", Value: p.RailReference},
		{Key: "statusdesc", Value: desc}, {Key: "comtime", Value: p.UpdatedAt.Format("2006-01-02 15:04:05")}, {Key: "statusid", Value: id}}, nil
}

// Flavor is KPay's postback: the payment's status as JSON to returl,
// delivered only when the merchant answers {"tid","refid","reply":"OK"}.
func (f *Face) Flavor() notify.Flavor { return flavor{} }

type flavor struct{}

func (flavor) Build(m notify.Message) (notify.Request, error) {
	if m.Event.ObjectType != "payment" {
		return notify.Request{}, fmt.Errorf("KPay postbacks are sent for payments only, not %s events", m.Event.ObjectType)
	}
	var p malipo.Payment
	if err := snapshot.Decode(m.Event.Data, &p); err != nil {
		return notify.Request{}, err
	}
	body, err := json.Marshal(postback(p, true))
	if err != nil {
		return notify.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return notify.Request{Header: h, Body: body}, nil
}

// Acknowledged accepts only a JSON answer whose reply is "OK".
func (flavor) Acknowledged(status int, body []byte) bool {
	var ack struct{ Reply string }
	return notify.Acknowledged2xx(status) && json.Unmarshal(bytes.TrimSpace(body), &ack) == nil && ack.Reply == "OK"
}
