// Package mpesa is Malipo's connector to Safaricom's M-Pesa Daraja API:
// M-Pesa Express (the STK push to the customer's phone, its query and its
// callback) for payments, and B2C payment requests for payouts, with the
// initiator's password RSA-encrypted under Safaricom's certificate (the
// SecurityCredential).
//
// Daraja names a push by its CheckoutRequestID, which only its answer to
// the push gives: the STK query needs it (rails.MobileMoney.Status takes
// it as the reference), and a push whose answer was lost cannot be asked
// about, so it stays pending until its callback or the payment's expiry.
// Every callback URL carries the attempt's key, so a callback names its
// attempt. B2C has no synchronous status: Status sends a Transaction
// Status query whose result Daraja posts to the rail's callback URL; that
// result, an answer to Malipo's own question, is what Status then reports.
package mpesa

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
)

// Kind names the connector in `malipo rails add --kind`.
const Kind = "mpesa"

// Config is a Daraja rail as `malipo rails add --kind mpesa` takes it.
type Config struct {
	Name           string   `json:"name"`
	BaseURL        string   `json:"base_url"` // https://api.safaricom.co.ke
	Countries      []string `json:"countries"`
	Currencies     []string `json:"currencies"`
	Operators      []string `json:"operators"`
	ConsumerKey    string   `json:"consumer_key"`
	ConsumerSecret string   `json:"consumer_secret"`
	// M-Pesa Express: the paybill or till and its passkey.
	ShortCode       string `json:"shortcode"`
	Passkey         string `json:"passkey"`
	TransactionType string `json:"transaction_type,omitempty"` // CustomerPayBillOnline (default) or CustomerBuyGoodsOnline
	B2C             *B2C   `json:"b2c,omitempty"`
}

// B2C is what payouts need: the B2C shortcode, the initiator and its
// password, and Safaricom's certificate (PEM) that encrypts it.
type B2C struct {
	ShortCode         string `json:"shortcode"`
	InitiatorName     string `json:"initiator_name"`
	InitiatorPassword string `json:"initiator_password"`
	Certificate       string `json:"certificate"`
	CommandID         string `json:"command_id,omitempty"` // BusinessPayment (default), SalaryPayment, PromotionPayment
}

// Validate checks a configuration before it is stored.
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.Name == "":
		return errors.New("name is required")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return errors.New("base_url must be an absolute http(s) URL")
	case len(c.Countries) == 0 || len(c.Currencies) == 0 || len(c.Operators) == 0:
		return errors.New("countries, currencies and operators are required")
	case c.ConsumerKey == "" || c.ConsumerSecret == "":
		return errors.New("consumer_key and consumer_secret are required")
	case c.ShortCode == "" || c.Passkey == "":
		return errors.New("shortcode and passkey (M-Pesa Express) are required")
	case c.TransactionType != "" && c.TransactionType != "CustomerPayBillOnline" && c.TransactionType != "CustomerBuyGoodsOnline":
		return errors.New("transaction_type is CustomerPayBillOnline or CustomerBuyGoodsOnline")
	}
	if b := c.B2C; b != nil {
		if b.ShortCode == "" || b.InitiatorName == "" || b.InitiatorPassword == "" {
			return errors.New("b2c needs shortcode, initiator_name and initiator_password")
		}
		if _, err := publicKey(b.Certificate); err != nil {
			return err
		}
	}
	return nil
}

// publicKey reads Safaricom's certificate (or a bare public key) in PEM.
func publicKey(text string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("b2c.certificate must be Safaricom's certificate in PEM")
	}
	if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
		if k, ok := cert.PublicKey.(*rsa.PublicKey); ok {
			return k, nil
		}
	}
	if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		if rk, ok := k.(*rsa.PublicKey); ok {
			return rk, nil
		}
	}
	return nil, errors.New("b2c.certificate holds no RSA public key")
}

// Options are what Malipo gives a rail beside its configuration.
type Options struct {
	// CallbackURL is the rail's callback URL; each request names a path
	// below it with the attempt's key.
	CallbackURL string
	Client      *http.Client
	Clock       clock.Clock
}

// Rail is a configured Daraja app.
type Rail struct {
	cfg     Config
	opt     Options
	key     *rsa.PublicKey
	mu      sync.Mutex // guards results
	token   rails.Token
	results map[string]rails.Outcome // B2C transaction-status results by key, until Status reads them
}

// New returns a rail of a validated configuration.
func New(cfg Config, opt Options) (*Rail, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if cfg.TransactionType == "" {
		cfg.TransactionType = "CustomerPayBillOnline"
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	r := &Rail{cfg: cfg, opt: opt, results: map[string]rails.Outcome{}}
	if cfg.B2C != nil {
		r.key, _ = publicKey(cfg.B2C.Certificate)
		if cfg.B2C.CommandID == "" {
			r.cfg.B2C.CommandID = "BusinessPayment"
		}
	}
	return r, nil
}

// Name is the rail's name.
func (r *Rail) Name() string { return r.cfg.Name }

// Express is the rail's STK push: rails.MobileMoney.
func (r *Rail) Express() *Express { return &Express{r} }

// Payouts is the rail's B2C side (nil without B2C credentials).
func (r *Rail) Payouts() *Payouts {
	if r.cfg.B2C == nil {
		return nil
	}
	return &Payouts{r}
}

// getToken returns the kept token or a new one (Daraja's live about an
// hour; renewed a minute early).
func (r *Rail) getToken(ctx context.Context) (string, error) {
	return r.token.Get(r.opt.Clock.Now(), func() (string, time.Time, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.BaseURL+"/oauth/v1/generate?grant_type=client_credentials", nil)
		if err != nil {
			return "", time.Time{}, err
		}
		req.SetBasicAuth(r.cfg.ConsumerKey, r.cfg.ConsumerSecret)
		res, err := r.opt.Client.Do(req)
		if err != nil {
			return "", time.Time{}, err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		var t struct {
			AccessToken string          `json:"access_token"`
			ExpiresIn   json.RawMessage `json:"expires_in"`
		}
		if res.StatusCode != http.StatusOK || json.Unmarshal(b, &t) != nil || t.AccessToken == "" {
			return "", time.Time{}, fmt.Errorf("Daraja token: HTTP %d", res.StatusCode)
		}
		life := rails.ExpiresIn(t.ExpiresIn, 3599*time.Second)
		return t.AccessToken, r.opt.Clock.Now().Add(max(life-time.Minute, life/2)), nil
	})
}

// apiError is an answer that leaves the outcome unknown.
type apiError struct {
	status    int
	code, msg string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("Daraja: HTTP %d %s %s", e.status, e.code, e.msg)
}

// darajaError is Daraja's error body.
type darajaError struct {
	RequestID    string `json:"requestId"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

// post sends body and returns the status and the answer.
func (r *Rail) post(ctx context.Context, path string, body any) (int, []byte, error) {
	tok, err := r.getToken(ctx)
	if err != nil {
		return 0, nil, &malipo.Error{Kind: malipo.KindUnavailable, Code: "rail_unavailable", Message: "Daraja refused a token", Err: err}
	}
	payload, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.BaseURL+path, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := r.opt.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 256<<10))
	if res.StatusCode == http.StatusNotFound && strings.Contains(string(b), "404.001.03") {
		r.token.Forget() // an expired token: a new one next call
	}
	return res.StatusCode, b, nil
}

// refused reads a 4xx answer as a refusal in Malipo's words.
func refused(status int, b []byte, what string) error {
	var e darajaError
	json.Unmarshal(b, &e)
	if status/100 != 4 || status == http.StatusNotFound {
		return &apiError{status: status, code: e.ErrorCode, msg: e.ErrorMessage}
	}
	code := "rail_refused"
	if strings.Contains(e.ErrorMessage, "PhoneNumber") || strings.Contains(e.ErrorMessage, "PartyA") || strings.Contains(e.ErrorMessage, "PartyB") {
		code = "invalid_account"
	}
	return &malipo.Error{Kind: malipo.KindInvalid, Code: code, Message: "M-Pesa refused the " + what + ": " + e.ErrorCode + " " + e.ErrorMessage}
}

// timestamp is Daraja's YYYYMMDDHHmmss, in Kenyan time.
func (r *Rail) timestamp() string {
	return r.opt.Clock.Now().In(time.FixedZone("EAT", 3*3600)).Format("20060102150405")
}

// password is base64(shortcode + passkey + timestamp).
func (r *Rail) password(ts string) string {
	return base64.StdEncoding.EncodeToString([]byte(r.cfg.ShortCode + r.cfg.Passkey + ts))
}

// wholeUnits is an amount in whole shillings: M-Pesa takes no cents.
func wholeUnits(amount int64, c malipo.Currency) (int64, error) {
	unit := int64(1)
	for range c.Exponent() {
		unit *= 10
	}
	if amount%unit != 0 || amount <= 0 {
		return 0, malipo.Invalid("amount", "amount_invalid", "M-Pesa moves whole units of %s only", c)
	}
	return amount / unit, nil
}

// msisdn is a number as Daraja wants it: 2547XXXXXXXX.
func msisdn(e164 string) string { return strings.TrimPrefix(e164, "+") }

// callback is the URL Daraja calls back for what about key.
func (r *Rail) callback(what, key string) string {
	return strings.TrimRight(r.opt.CallbackURL, "/") + "/" + what + "/" + url.PathEscape(key)
}

// stkFailures map M-Pesa Express result codes to Malipo's failure codes.
var stkFailures = map[string]string{
	"1": "insufficient_funds", "1032": "customer_declined", "2001": "customer_declined",
	"1037": "expired", "1019": "expired", "1001": "rail_failed", "17": "rail_failed", "26": "rail_failed",
	"1025": "rail_failed", "9999": "rail_failed",
}

// resultCode reads a ResultCode written as a number (callbacks) or a
// string (queries).
func resultCode(raw json.RawMessage) string { return strings.Trim(strings.TrimSpace(string(raw)), `"`) }

// stkOutcome is the outcome of a final STK result code.
func stkOutcome(key, code, desc string, raw []byte) rails.Outcome {
	o := rails.Outcome{Key: key, Raw: raw}
	switch code {
	case "0":
		o.Verdict = malipo.VerdictSucceeded
	default:
		fc, ok := stkFailures[code]
		if !ok {
			fc = "rail_failed"
		}
		o.Verdict, o.FailureCode, o.FailureReason = malipo.VerdictFailed, fc, "M-Pesa: "+code+" "+desc
		if fc == "expired" {
			o.Verdict = malipo.VerdictExpired
		}
	}
	return o
}

// Express pushes M-Pesa Express prompts: rails.MobileMoney.
type Express struct{ r *Rail }

// Name implements rails.MobileMoney.
func (e *Express) Name() string { return e.r.cfg.Name }

// Push implements rails.MobileMoney: it returns the CheckoutRequestID.
func (e *Express) Push(ctx context.Context, p rails.Push) (string, error) {
	if !slices.Contains(e.r.cfg.Currencies, string(p.Currency)) {
		return "", malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "rail %s does not take %s", e.r.cfg.Name, p.Currency)
	}
	amount, err := wholeUnits(p.Amount, p.Currency)
	if err != nil {
		return "", err
	}
	ts := e.r.timestamp()
	ref := p.PaymentID
	if len(ref) > 12 {
		ref = ref[len(ref)-12:] // AccountReference: at most 12 characters
	}
	desc := p.Description
	if desc == "" || len(desc) > 13 {
		desc = "Payment"
	}
	status, b, err := e.r.post(ctx, "/mpesa/stkpush/v1/processrequest", map[string]any{
		"BusinessShortCode": e.r.cfg.ShortCode, "Password": e.r.password(ts), "Timestamp": ts,
		"TransactionType": e.r.cfg.TransactionType, "Amount": amount, "PartyA": msisdn(p.MSISDN), "PartyB": e.r.cfg.ShortCode,
		"PhoneNumber": msisdn(p.MSISDN), "CallBackURL": e.r.callback("stk", p.Key), "AccountReference": ref, "TransactionDesc": desc,
	})
	if err != nil {
		return "", err
	}
	var ok struct{ CheckoutRequestID, ResponseCode string }
	if status == http.StatusOK && json.Unmarshal(b, &ok) == nil && ok.ResponseCode == "0" && ok.CheckoutRequestID != "" {
		return ok.CheckoutRequestID, nil
	}
	return "", refused(status, b, "push")
}

// Status implements rails.MobileMoney: the STK query, by the
// CheckoutRequestID Push returned.
func (e *Express) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	if reference == "" {
		// The push's answer was lost: Daraja cannot be asked by key.
		return rails.Outcome{Key: key, Verdict: malipo.VerdictPending}, nil
	}
	ts := e.r.timestamp()
	status, b, err := e.r.post(ctx, "/mpesa/stkpushquery/v1/query", map[string]any{
		"BusinessShortCode": e.r.cfg.ShortCode, "Password": e.r.password(ts), "Timestamp": ts, "CheckoutRequestID": reference,
	})
	if err != nil {
		return rails.Outcome{}, err
	}
	var q struct {
		ResponseCode string
		ResultCode   json.RawMessage
		ResultDesc   string
	}
	var de darajaError
	json.Unmarshal(b, &de)
	switch {
	case status == http.StatusOK && json.Unmarshal(b, &q) == nil && q.ResponseCode == "0" && len(q.ResultCode) > 0:
		o := stkOutcome(key, resultCode(q.ResultCode), q.ResultDesc, b)
		o.RailReference = reference
		return o, nil
	case de.ErrorCode == "500.001.1001": // still being processed
		return rails.Outcome{Key: key, Verdict: malipo.VerdictPending, RailReference: reference, Raw: b}, nil
	}
	return rails.Outcome{}, &apiError{status: status, code: de.ErrorCode, msg: de.ErrorMessage}
}

// Operator implements rails.MobileMoney.
func (e *Express) Operator(msisdn string) string {
	if op := rails.OperatorOf(msisdn); slices.Contains(e.r.cfg.Operators, op) {
		return op
	}
	return ""
}

// Operators implements rails.MobileMoney.
func (e *Express) Operators(country string) []string {
	if !slices.Contains(e.r.cfg.Countries, country) {
		return nil
	}
	return e.r.cfg.Operators
}

// Payouts sends B2C payments to wallets and B2B payments to paybills and
// tills: rails.Payouts.
type Payouts struct{ r *Rail }

// Name implements rails.Payouts.
func (p *Payouts) Name() string { return p.r.cfg.Name }

// securityCredential is the initiator's password encrypted under
// Safaricom's certificate (PKCS #1 v1.5), in base64.
func (r *Rail) securityCredential() (string, error) {
	out, err := rsa.EncryptPKCS1v15(rand.Reader, r.key, []byte(r.cfg.B2C.InitiatorPassword))
	return base64.StdEncoding.EncodeToString(out), err
}

// Send implements rails.Payouts: a B2C payment request whose
// OriginatorConversationID is the attempt's key.
func (p *Payouts) Send(ctx context.Context, req rails.PayoutRequest) (string, error) {
	if !slices.Contains(p.r.cfg.Currencies, string(req.Currency)) {
		return "", malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "rail %s does not pay %s", p.r.cfg.Name, req.Currency)
	}
	amount, err := wholeUnits(req.Amount, req.Currency)
	if err != nil {
		return "", err
	}
	cred, err := p.r.securityCredential()
	if err != nil {
		return "", &malipo.Error{Kind: malipo.KindUnavailable, Code: "rail_unavailable", Message: "SecurityCredential", Err: err}
	}
	remarks := req.Narration
	if remarks == "" {
		remarks = "Payout " + req.PayoutID
	}
	b2c := p.r.cfg.B2C
	path, body := "/mpesa/b2c/v3/paymentrequest", map[string]any{
		"OriginatorConversationID": req.Key, "InitiatorName": b2c.InitiatorName, "SecurityCredential": cred,
		"CommandID": b2c.CommandID, "Amount": amount, "PartyA": b2c.ShortCode, "PartyB": msisdn(req.Destination.Account),
		"Remarks": truncate(remarks, 100), "QueueTimeOutURL": p.r.callback("b2c-timeout", req.Key),
		"ResultURL": p.r.callback("b2c", req.Key), "Occasion": truncate(req.PayoutID, 100),
	}
	switch req.Destination.Type {
	case malipo.DestinationMobileMoney:
	case malipo.DestinationPaybill, malipo.DestinationTill:
		// B2B: to a paybill (with the account at that business) or a till.
		// OriginatorConversationID is Malipo's addition, as on B2C v3, so
		// that the Transaction Status query can name the payment.
		command, receiver := "BusinessPayBill", "4"
		if req.Destination.Type == malipo.DestinationTill {
			command, receiver = "BusinessBuyGoods", "2"
		}
		path, body = "/mpesa/b2b/v1/paymentrequest", map[string]any{
			"OriginatorConversationID": req.Key, "Initiator": b2c.InitiatorName, "SecurityCredential": cred,
			"CommandID": command, "SenderIdentifierType": "4", "RecieverIdentifierType": receiver, "Amount": amount,
			"PartyA": b2c.ShortCode, "PartyB": req.Destination.Account, "AccountReference": truncate(cmp.Or(req.Destination.AccountReference, req.PayoutID), 13),
			"Remarks": truncate(remarks, 100), "QueueTimeOutURL": p.r.callback("b2c-timeout", req.Key), "ResultURL": p.r.callback("b2c", req.Key),
		}
	default:
		return "", malipo.Invalid("destination", "destination_not_supported", "M-Pesa pays wallets, paybills and tills, not %s", req.Destination.Type)
	}
	status, b, err := p.r.post(ctx, path, body)
	if err != nil {
		return "", err
	}
	var ok struct{ ConversationID, ResponseCode string }
	if status == http.StatusOK && json.Unmarshal(b, &ok) == nil && ok.ResponseCode == "0" {
		return ok.ConversationID, nil
	}
	return "", refused(status, b, "B2C payment")
}

// Status implements rails.Payouts. Daraja answers a Transaction Status
// query later, at the callback URL: the first call asks and says pending;
// once the result has come (Callback keeps it), Status reports it.
func (p *Payouts) Status(ctx context.Context, key, _ string) (rails.Outcome, error) {
	p.r.mu.Lock()
	o, ok := p.r.results[key]
	delete(p.r.results, key)
	p.r.mu.Unlock()
	if ok {
		return o, nil
	}
	cred, err := p.r.securityCredential()
	if err != nil {
		return rails.Outcome{}, err
	}
	b2c := p.r.cfg.B2C
	status, b, err := p.r.post(ctx, "/mpesa/transactionstatus/v1/query", map[string]any{
		"Initiator": b2c.InitiatorName, "SecurityCredential": cred, "CommandID": "TransactionStatusQuery",
		"TransactionID": "", "OriginatorConversationID": key, "PartyA": b2c.ShortCode, "IdentifierType": "4",
		"ResultURL": p.r.callback("status", key), "QueueTimeOutURL": p.r.callback("status-timeout", key),
		"Remarks": "Malipo reconciliation", "Occasion": "",
	})
	if err != nil {
		return rails.Outcome{}, err
	}
	var ack struct{ ResponseCode string }
	if status != http.StatusOK || json.Unmarshal(b, &ack) != nil || ack.ResponseCode != "0" {
		var de darajaError
		json.Unmarshal(b, &de)
		return rails.Outcome{}, &apiError{status: status, code: de.ErrorCode, msg: de.ErrorMessage}
	}
	return rails.Outcome{Key: key, Verdict: malipo.VerdictPending, Raw: b}, nil
}

// result is Daraja's Result envelope (B2C results and transaction status).
type result struct {
	Result struct {
		ResultType               json.RawMessage
		ResultCode               json.RawMessage
		ResultDesc               string
		OriginatorConversationID string
		ConversationID           string
		TransactionID            string
		ResultParameters         struct {
			ResultParameter []struct {
				Key   string
				Value json.RawMessage
			}
		}
	}
}

func (r result) param(name string) string {
	for _, p := range r.Result.ResultParameters.ResultParameter {
		if p.Key == name {
			return strings.Trim(string(p.Value), `"`)
		}
	}
	return ""
}

// b2cFailures map B2C result codes to Malipo's failure codes.
var b2cFailures = map[string]string{"1": "insufficient_funds", "2001": "rail_refused", "2040": "invalid_account",
	"8006": "rail_refused", "17": "rail_failed", "26": "rail_failed"}

// Callback reads what Daraja posts below the rail's callback URL: sub is
// "stk/<key>", "b2c/<key>", "b2c-timeout/<key>", "status/<key>" or
// "status-timeout/<key>". A transaction-status result answers Malipo's
// own question and is kept for Status; everything else is a hint.
func (r *Rail) Callback(sub string, body []byte) (rails.Outcome, error) {
	what, key, ok := strings.Cut(sub, "/")
	if k, err := url.PathUnescape(key); err == nil {
		key = k
	}
	if !ok || key == "" {
		return rails.Outcome{}, fmt.Errorf("Daraja callback at an unknown path %q", sub)
	}
	switch what {
	case "stk":
		var cb struct {
			Body struct {
				StkCallback struct {
					CheckoutRequestID string
					ResultCode        json.RawMessage
					ResultDesc        string
				} `json:"stkCallback"`
			}
		}
		if err := json.Unmarshal(body, &cb); err != nil || len(cb.Body.StkCallback.ResultCode) == 0 {
			return rails.Outcome{}, errors.New("Daraja STK callback without a ResultCode")
		}
		c := cb.Body.StkCallback
		o := stkOutcome(key, resultCode(c.ResultCode), c.ResultDesc, body)
		o.RailReference = c.CheckoutRequestID
		return o, nil
	case "b2c", "b2c-timeout", "status", "status-timeout":
		var res result
		if err := json.Unmarshal(body, &res); err != nil || len(res.Result.ResultCode) == 0 {
			return rails.Outcome{}, errors.New("Daraja result without a ResultCode")
		}
		o := rails.Outcome{Key: key, Verdict: malipo.VerdictPending, Raw: body}
		if what != "status" {
			return o, nil // a hint: Status asks
		}
		code := resultCode(res.Result.ResultCode)
		switch {
		case code == "R000002": // Daraja has no such transaction
			o.Verdict = malipo.VerdictUnknown
		case code == "0" && res.param("TransactionStatus") == "Completed":
			o.Verdict, o.RailReference = malipo.VerdictSucceeded, res.param("ReceiptNo")
		case code == "0" && (res.param("TransactionStatus") == "Failed" || res.param("TransactionStatus") == "Declined"):
			reason := res.param("ReasonCode")
			fc, ok := b2cFailures[reason]
			if !ok {
				fc = "rail_failed"
			}
			o.Verdict, o.FailureCode, o.FailureReason = malipo.VerdictFailed, fc, "M-Pesa: "+reason+" "+res.param("ReasonType")
		default:
			return o, nil // the question failed, or the payment is still on its way: ask again later
		}
		r.mu.Lock()
		r.results[key] = o
		r.mu.Unlock()
		o.Verdict = malipo.VerdictPending // the hint; Status reports the kept result
		return o, nil
	}
	return rails.Outcome{}, fmt.Errorf("Daraja callback at an unknown path %q", sub)
}

// Acknowledge answers Daraja as it expects.
func Acknowledge(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"ResultCode":1,"ResultDesc":"Not recorded"}`))
		return
	}
	w.Write([]byte(`{"ResultCode":0,"ResultDesc":"Accepted"}`))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
