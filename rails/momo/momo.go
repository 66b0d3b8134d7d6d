// Package momo is Malipo's connector to MTN's MoMo Open API: collections
// (request-to-pay, pushed to the customer's phone) and disbursements
// (transfers, for payouts), each with its status query; tokens per product
// cached until a minute before they expire. The X-Reference-Id of a
// transaction is a UUID v4 derived from Malipo's attempt key, and the key
// itself travels as the externalId, so a call repeated after a timeout is
// the same transaction (MTN answers 409) and a callback names its attempt.
package momo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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
const Kind = "mtn-momo"

// Product is one MoMo product's credentials.
type Product struct {
	SubscriptionKey string `json:"subscription_key"`
	APIUser         string `json:"api_user"`
	APIKey          string `json:"api_key"`
}

// Config is a MoMo rail as `malipo rails add --kind mtn-momo` takes it.
type Config struct {
	Name              string   `json:"name"`
	BaseURL           string   `json:"base_url"`
	TargetEnvironment string   `json:"target_environment"`
	Countries         []string `json:"countries"`
	Currencies        []string `json:"currencies"`
	Operators         []string `json:"operators"`
	Collection        Product  `json:"collection"`
	Disbursement      Product  `json:"disbursement"`
}

// Validate checks a configuration before it is stored.
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.Name == "":
		return errors.New("name is required")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return errors.New("base_url must be an absolute http(s) URL")
	case c.TargetEnvironment == "":
		return errors.New("target_environment is required (sandbox, mtnuganda, mtnghana …)")
	case len(c.Countries) == 0 || len(c.Currencies) == 0 || len(c.Operators) == 0:
		return errors.New("countries, currencies and operators are required")
	case c.Collection.SubscriptionKey == "" && c.Disbursement.SubscriptionKey == "":
		return errors.New("collection or disbursement credentials are required")
	}
	for _, p := range []Product{c.Collection, c.Disbursement} {
		if p.SubscriptionKey != "" && (p.APIUser == "" || p.APIKey == "") {
			return errors.New("each product needs subscription_key, api_user and api_key")
		}
	}
	return nil
}

// Options are what Malipo gives a rail beside its configuration.
type Options struct {
	// CallbackURL is where MTN calls back for this rail; empty sends no
	// X-Callback-Url (status polling alone finishes transactions).
	CallbackURL string
	Client      *http.Client
	Clock       clock.Clock
}

// Rail is a configured MoMo account: Collections and Disbursements are its
// two faces as Malipo's rails interfaces want them.
type Rail struct {
	cfg    Config
	opt    Options
	mu     sync.Mutex
	tokens map[string]*rails.Token // by product
}

// New returns a rail.
func New(cfg Config, opt Options) *Rail {
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Rail{cfg: cfg, opt: opt, tokens: map[string]*rails.Token{}}
}

// Name is the rail's name.
func (r *Rail) Name() string { return r.cfg.Name }

// Collections is the rail's request-to-pay product.
func (r *Rail) Collections() *Collections { return &Collections{r} }

// Disbursements is the rail's transfer product.
func (r *Rail) Disbursements() *Disbursements { return &Disbursements{r} }

// Reference is the X-Reference-Id of the transaction with key: a UUID v4
// made from the key's SHA-256, so the same key always names the same
// transaction.
func Reference(key string) string {
	sum := sha256.Sum256([]byte("malipo attempt " + key))
	b := sum[:16]
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// apiError is an answer MTN gave that is not a success.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("MTN MoMo answered %d %s: %s", e.status, e.code, e.message)
}

// token returns a bearer token for product, from the cache or MTN.
func (r *Rail) token(ctx context.Context, product string, creds Product) (string, error) {
	return r.tokenOf(product).Get(r.opt.Clock.Now(), func() (string, time.Time, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.BaseURL+"/"+product+"/token/", nil)
		if err != nil {
			return "", time.Time{}, err
		}
		req.Header.Set("Ocp-Apim-Subscription-Key", creds.SubscriptionKey)
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(creds.APIUser+":"+creds.APIKey)))
		res, err := r.opt.Client.Do(req)
		if err != nil {
			return "", time.Time{}, err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		if res.StatusCode != http.StatusOK {
			return "", time.Time{}, &apiError{status: res.StatusCode, code: "TOKEN_REFUSED", message: string(body)}
		}
		var tok struct {
			AccessToken string          `json:"access_token"`
			ExpiresIn   json.RawMessage `json:"expires_in"`
		}
		if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
			return "", time.Time{}, fmt.Errorf("MTN MoMo token answer: %q", body)
		}
		return tok.AccessToken, r.opt.Clock.Now().Add(rails.ExpiresIn(tok.ExpiresIn, time.Hour) - time.Minute), nil
	})
}

// tokenOf is the kept token of product.
func (r *Rail) tokenOf(product string) *rails.Token {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.tokens[product]
	if !ok {
		t = &rails.Token{}
		r.tokens[product] = t
	}
	return t
}

// call makes a product call. A token MTN no longer takes is renewed and the
// call made again once: refused at the gateway, it was not acted on.
func (r *Rail) call(ctx context.Context, product string, creds Product, method, path string, header http.Header, body any) (int, []byte, error) {
	if creds.SubscriptionKey == "" {
		return 0, nil, malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "rail %s has no %s credentials", r.cfg.Name, product)
	}
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	for try := 0; ; try++ {
		tok, err := r.token(ctx, product, creds)
		if err != nil {
			// No token, nothing sent: the rail cannot be used now.
			return 0, nil, &malipo.Error{Kind: malipo.KindUnavailable, Code: "rail_unavailable", Message: "MTN MoMo refused a token", Err: err}
		}
		req, err := http.NewRequestWithContext(ctx, method, r.cfg.BaseURL+path, bytes.NewReader(payload))
		if err != nil {
			return 0, nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Ocp-Apim-Subscription-Key", creds.SubscriptionKey)
		req.Header.Set("X-Target-Environment", r.cfg.TargetEnvironment)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := r.opt.Client.Do(req)
		if err != nil {
			return 0, nil, err // unknown: the request may have arrived
		}
		b, _ := io.ReadAll(io.LimitReader(res.Body, 256<<10))
		res.Body.Close()
		if res.StatusCode == http.StatusUnauthorized && try == 0 {
			r.tokenOf(product).Forget()
			continue
		}
		return res.StatusCode, b, nil
	}
}

// errorOf reads MTN's error body {"code","message"}.
func errorOf(status int, body []byte) *apiError {
	var e struct {
		Code, Message string
	}
	json.Unmarshal(body, &e)
	if e.Code == "" {
		e.Code = http.StatusText(status)
	}
	return &apiError{status: status, code: e.Code, message: e.Message}
}

// refusals are MTN's error codes that mean it did not, and will not, act:
// each with Malipo's failure code. Any other failure leaves the outcome
// unknown until the status query tells.
var refusals = map[string]string{
	"PAYER_NOT_FOUND": "invalid_account", "PAYEE_NOT_FOUND": "invalid_account", "INVALID_CURRENCY": "currency_not_supported",
	"NOT_ALLOWED": "rail_refused", "NOT_ALLOWED_TARGET_ENVIRONMENT": "rail_refused", "INVALID_CALLBACK_URL_HOST": "rail_refused",
	"PAYER_LIMIT_REACHED": "limit_exceeded", "PAYEE_NOT_ALLOWED_TO_RECEIVE": "recipient_limit_exceeded",
	"NOT_ENOUGH_FUNDS": "insufficient_funds",
}

// create posts a request-to-pay or a transfer. MTN's 409 on a reused
// reference means the transaction exists already: a retry of a call whose
// answer was lost, taken as accepted.
func (r *Rail) create(ctx context.Context, product string, creds Product, path, key string, body any) (string, error) {
	ref := Reference(key)
	h := http.Header{"X-Reference-Id": {ref}}
	if r.opt.CallbackURL != "" {
		h.Set("X-Callback-Url", r.opt.CallbackURL)
	}
	status, b, err := r.call(ctx, product, creds, http.MethodPost, path, h, body)
	switch {
	case err != nil:
		return "", err
	case status/100 == 2, status == http.StatusConflict:
		return ref, nil
	case status == http.StatusBadRequest:
		e := errorOf(status, b)
		return "", &malipo.Error{Kind: malipo.KindInvalid, Code: "rail_refused", Message: "MTN MoMo refused the request: " + e.code, Err: e}
	}
	e := errorOf(status, b)
	if code, ok := refusals[e.code]; ok {
		return "", &malipo.Error{Kind: malipo.KindInvalid, Code: code, Message: "MTN MoMo: " + e.code, Err: e}
	}
	return "", e // a server error: it may have acted; the status query tells
}

// status asks about the transaction with key.
func (r *Rail) status(ctx context.Context, product string, creds Product, path, key string) (rails.Outcome, error) {
	code, b, err := r.call(ctx, product, creds, http.MethodGet, path+"/"+Reference(key), nil, nil)
	switch {
	case err != nil:
		return rails.Outcome{}, err
	case code == http.StatusNotFound:
		return rails.Unknown(key), nil
	case code != http.StatusOK:
		return rails.Outcome{}, errorOf(code, b)
	}
	o, err := outcomeOf(b)
	o.Key = key
	return o, err
}

// outcomeOf reads a transaction as GET answers it and callbacks carry it.
func outcomeOf(b []byte) (rails.Outcome, error) {
	var t struct {
		FinancialTransactionID string          `json:"financialTransactionId"`
		ExternalID             string          `json:"externalId"`
		Amount                 string          `json:"amount"`
		Currency               string          `json:"currency"`
		Status                 string          `json:"status"`
		Reason                 json.RawMessage `json:"reason"`
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return rails.Outcome{}, fmt.Errorf("MTN MoMo transaction: %w", err)
	}
	o := rails.Outcome{Key: t.ExternalID, RailReference: t.FinancialTransactionID, Currency: malipo.Currency(t.Currency), Raw: b}
	if n, err := malipo.ParseDecimal(t.Amount, o.Currency); err == nil {
		o.Amount = n
	}
	switch t.Status {
	case "SUCCESSFUL":
		o.Verdict = malipo.VerdictSucceeded
	case "FAILED":
		reason := reasonOf(t.Reason)
		o.Verdict, o.FailureCode, o.FailureReason = malipo.VerdictFailed, failureCode(reason), "MTN MoMo: "+reason
		if o.FailureCode == "expired" {
			o.Verdict = malipo.VerdictExpired
		}
	case "PENDING", "ONGOING", "":
		o.Verdict = malipo.VerdictPending
	default:
		return o, fmt.Errorf("MTN MoMo transaction status %q", t.Status)
	}
	return o, nil
}

// reasonOf reads a failure reason: a plain code, or {"code","message"}.
func reasonOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return s
	}
	var e struct{ Code string }
	if json.Unmarshal(raw, &e) == nil && e.Code != "" {
		return e.Code
	}
	return "UNKNOWN"
}

// failureCode maps MTN's failure reasons to Malipo's failure codes.
func failureCode(reason string) string {
	switch reason {
	case "NOT_ENOUGH_FUNDS", "PAYER_LIMIT_REACHED":
		return "insufficient_funds"
	case "APPROVAL_REJECTED", "TRANSACTION_CANCELED", "PAYMENT_NOT_APPROVED":
		return "customer_declined"
	case "EXPIRED", "COULD_NOT_PERFORM_TRANSACTION":
		return "expired"
	case "PAYER_NOT_FOUND", "PAYEE_NOT_FOUND":
		return "invalid_account"
	case "PAYEE_NOT_ALLOWED_TO_RECEIVE":
		return "recipient_limit_exceeded"
	}
	return "rail_failed"
}

// ParseCallback reads the body MTN sends to the callback URL: the same
// transaction GET answers, whose externalId is Malipo's attempt key. It is
// a hint only (unsigned, sent once): Malipo confirms it with Status.
func ParseCallback(body []byte) (rails.Outcome, error) {
	o, err := outcomeOf(body)
	if err == nil && o.Key == "" {
		err = errors.New("MTN MoMo callback without an externalId")
	}
	return o, err
}

// party is an MSISDN as MTN wants it: digits with the country code, no +.
func party(msisdn string) map[string]string {
	return map[string]string{"partyIdType": "MSISDN", "partyId": strings.TrimPrefix(msisdn, "+")}
}

// message makes free text MTN accepts: at most 160 characters, without the
// characters it refuses.
func message(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune("'<>\"", r) || r < 0x20 {
			return -1
		}
		return r
	}, s)
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

// Collections pushes request-to-pay prompts: rails.MobileMoney.
type Collections struct{ r *Rail }

// Name implements rails.MobileMoney.
func (c *Collections) Name() string { return c.r.cfg.Name }

// Push implements rails.MobileMoney.
func (c *Collections) Push(ctx context.Context, p rails.Push) (string, error) {
	if !slices.Contains(c.r.cfg.Currencies, string(p.Currency)) {
		return "", malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "rail %s does not take %s", c.r.cfg.Name, p.Currency)
	}
	return c.r.create(ctx, "collection", c.r.cfg.Collection, "/collection/v1_0/requesttopay", p.Key, map[string]any{
		"amount": malipo.FormatDecimal(p.Amount, p.Currency), "currency": string(p.Currency), "externalId": p.Key,
		"payer": party(p.MSISDN), "payerMessage": message(p.Description), "payeeNote": message(p.PaymentID)})
}

// Status implements rails.MobileMoney.
func (c *Collections) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	return c.r.status(ctx, "collection", c.r.cfg.Collection, "/collection/v1_0/requesttopay", key)
}

// Operator implements rails.MobileMoney.
func (c *Collections) Operator(msisdn string) string {
	if slices.Contains(c.r.cfg.Countries, malipo.CountryOfMSISDN(msisdn)) && len(c.r.cfg.Operators) > 0 {
		return c.r.cfg.Operators[0]
	}
	return ""
}

// Operators implements rails.MobileMoney.
func (c *Collections) Operators(country string) []string {
	if slices.Contains(c.r.cfg.Countries, country) {
		return c.r.cfg.Operators
	}
	return nil
}

// Disbursements sends transfers to wallets: rails.Payouts.
type Disbursements struct{ r *Rail }

// Name implements rails.Payouts.
func (d *Disbursements) Name() string { return d.r.cfg.Name }

// Send implements rails.Payouts: MoMo pays wallets only.
func (d *Disbursements) Send(ctx context.Context, p rails.PayoutRequest) (string, error) {
	if p.Destination.Type != malipo.DestinationMobileMoney {
		return "", malipo.Invalid("destination.type", "destination_not_served", "MTN MoMo pays mobile-money wallets only")
	}
	if !slices.Contains(d.r.cfg.Currencies, string(p.Currency)) {
		return "", malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "rail %s does not take %s", d.r.cfg.Name, p.Currency)
	}
	return d.r.create(ctx, "disbursement", d.r.cfg.Disbursement, "/disbursement/v1_0/transfer", p.Key, map[string]any{
		"amount": malipo.FormatDecimal(p.Amount, p.Currency), "currency": string(p.Currency), "externalId": p.Key,
		"payee": party(p.Destination.Account), "payerMessage": message(p.Narration), "payeeNote": message(p.PayoutID)})
}

// Status implements rails.Payouts.
func (d *Disbursements) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	return d.r.status(ctx, "disbursement", d.r.cfg.Disbursement, "/disbursement/v1_0/transfer", key)
}

// Balance asks MTN for a product account's available balance.
func (r *Rail) Balance(ctx context.Context, product string) (int64, malipo.Currency, error) {
	creds := r.cfg.Collection
	if product == "disbursement" {
		creds = r.cfg.Disbursement
	}
	status, b, err := r.call(ctx, product, creds, http.MethodGet, "/"+product+"/v1_0/account/balance", nil, nil)
	if err != nil {
		return 0, "", err
	}
	if status != http.StatusOK {
		return 0, "", errorOf(status, b)
	}
	var v struct{ AvailableBalance, Currency string }
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, "", err
	}
	n, err := malipo.ParseDecimal(v.AvailableBalance, malipo.Currency(v.Currency))
	return n, malipo.Currency(v.Currency), err
}

// AccountHolderActive asks MTN whether a number is an active wallet.
func (r *Rail) AccountHolderActive(ctx context.Context, msisdn string) (bool, error) {
	status, b, err := r.call(ctx, "collection", r.cfg.Collection, http.MethodGet,
		"/collection/v1_0/accountholder/msisdn/"+strings.TrimPrefix(msisdn, "+")+"/active", nil, nil)
	switch {
	case err != nil:
		return false, err
	case status == http.StatusNotFound:
		return false, nil
	case status != http.StatusOK:
		return false, errorOf(status, b)
	}
	var v struct{ Result bool }
	err = json.Unmarshal(b, &v)
	return v.Result, err
}
