package paydunya

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/gateway"
)

// creditAccount pays a PayDunya account (a phone number) from the
// merchant's balance: a payout.
func (f *Face) creditAccount(req *request) (any, error) {
	alias := lenient.String(req.body, "account_alias")
	if alias == "" {
		return nil, malipo.Invalid("account_alias", "parameter_missing", "account_alias is required")
	}
	n, err := amount(req.body["amount"], "amount")
	if err != nil {
		return nil, err
	}
	p, _, err := f.svc.CreatePayout(req.ctx, req.in, gateway.PayoutInput{Amount: n, Currency: "XOF",
		Reference: f.svc.Token("DP", 8), Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: alias}},
		gateway.Idempotency{})
	if err != nil {
		return nil, err
	}
	// "Transaction completed successfully" only once the money has moved.
	if p, err = f.svc.AwaitPayout(req.ctx, req.in, p.ID, DirectPayWait); err != nil {
		return nil, err
	}
	amount := malipo.FormatDecimal(n, "XOF")
	switch p.Status {
	case malipo.PayoutSucceeded:
		return lenient.Ordered{{Key: "response_code", Value: codeOK}, {Key: "response_text", Value: "Transaction completed successfully"},
			{Key: "description", Value: fmt.Sprintf("Success! Amount of %s FCFA has been transfered to %s", amount, alias)},
			{Key: "transaction_id", Value: p.ID}}, nil
	case malipo.PayoutFailed:
		return lenient.Ordered{{Key: "response_code", Value: codeTransferFailed}, {Key: "response_text", Value: "Transaction failed"},
			{Key: "description", Value: fmt.Sprintf("The transfer of %s FCFA to %s failed: %s", amount, alias, p.FailureReason)},
			{Key: "transaction_id", Value: p.ID}}, nil
	}
	return lenient.Ordered{{Key: "response_code", Value: codeTransferPending}, {Key: "response_text", Value: "Transaction pending"},
		{Key: "description", Value: fmt.Sprintf("The transfer of %s FCFA to %s is being processed: its outcome is not known yet", amount, alias)},
		{Key: "transaction_id", Value: p.ID}}, nil
}

// DirectPayWait is how long direct-pay waits for the rail's outcome
// before it answers that the transfer is pending.
const DirectPayWait = 15 * time.Second

// disburseRequest is what a disburse token stands for until submitted.
type disburseRequest struct {
	Alias    string `json:"a"`
	Amount   int64  `json:"m"`
	Mode     string `json:"w"`
	Callback string `json:"c,omitempty"`
}

// disburseToken seals a disbursement request, signed with the
// integration's master key: nothing is stored until it is submitted.
func disburseToken(in malipo.Integration, d disburseRequest) string {
	b, _ := json.Marshal(d)
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + sign(in, body)
}

func sign(in malipo.Integration, s string) string {
	mac := hmac.New(sha256.New, []byte(settings(in).MasterKey))
	mac.Write([]byte(s))
	return hex.EncodeToString(mac.Sum(nil))[:24]
}

func openDisburseToken(in malipo.Integration, token string) (disburseRequest, error) {
	var d disburseRequest
	body, mac, ok := strings.Cut(token, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(sign(in, body))) {
		return d, &malipo.Error{Kind: malipo.KindNotFound, Code: "disburse_invoice_missing", Message: "Disburse invoice not found"}
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	return d, err
}

// disburseReference is the payout reference of a disburse token, so that
// submitting the same token twice pays once.
func disburseReference(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "DSB-" + hex.EncodeToString(sum[:])[:32]
}

func (f *Face) disburseGetInvoice(req *request) (any, error) {
	d := disburseRequest{Alias: lenient.String(req.body, "account_alias"), Mode: lenient.String(req.body, "withdraw_mode"),
		Callback: lenient.String(req.body, "callback_url")}
	if d.Alias == "" || d.Mode == "" {
		return nil, malipo.Invalid("account_alias", "parameter_missing", "account_alias and withdraw_mode are required")
	}
	if _, err := f.svc.ParsePhone(req.in, d.Alias, softpayOperators[d.Mode]); err != nil {
		return nil, malipo.Invalid("account_alias", "account_invalid", "account_alias must be a mobile number")
	}
	var err error
	if d.Amount, err = amount(req.body["amount"], "amount"); err != nil {
		return nil, err
	}
	return lenient.Ordered{{Key: "response_code", Value: codeOK}, {Key: "response_text", Value: "Disburse Invoice Created"},
		{Key: "disburse_token", Value: disburseToken(req.in, d)}}, nil
}

func (f *Face) disburseSubmit(req *request) (any, error) {
	token := lenient.String(req.body, "disburse_invoice")
	d, err := openDisburseToken(req.in, token)
	if err != nil {
		return nil, err
	}
	account, err := f.svc.ParsePhone(req.in, d.Alias, softpayOperators[d.Mode])
	if err != nil {
		return nil, err
	}
	p, _, err := f.svc.CreatePayout(req.ctx, req.in, gateway.PayoutInput{Amount: d.Amount, Currency: "XOF",
		Reference: disburseReference(token), Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: account,
			Operator: softpayOperators[d.Mode]}, Narration: "PayDunya disburse " + d.Mode}, gateway.Idempotency{})
	if err != nil {
		return nil, err
	}
	return disburseStatus(token, p), nil
}

func (f *Face) disburseCheck(req *request) (any, error) {
	token := lenient.String(req.body, "disburse_invoice")
	if _, err := openDisburseToken(req.in, token); err != nil {
		return nil, err
	}
	p, err := f.svc.PayoutByReference(req.ctx, req.in, disburseReference(token))
	if malipo.KindOf(err) == malipo.KindNotFound {
		return nil, &malipo.Error{Kind: malipo.KindNotFound, Code: "disburse_not_submitted", Message: "Disburse invoice not submitted yet"}
	}
	if err != nil {
		return nil, err
	}
	return disburseStatus(token, p), nil
}

func disburseStatus(token string, p malipo.Payout) lenient.Ordered {
	st, text := "pending", "Disbursement in progress"
	switch p.Status {
	case malipo.PayoutSucceeded:
		st, text = "success", "Disbursement completed"
	case malipo.PayoutFailed:
		st, text = "failed", p.FailureReason
	}
	return lenient.Ordered{{Key: "response_code", Value: codeOK}, {Key: "response_text", Value: text}, {Key: "status", Value: st},
		{Key: "transaction_id", Value: p.ID}, {Key: "amount", Value: p.Amount}, {Key: "disburse_invoice", Value: token}}
}
