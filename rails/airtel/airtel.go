// Package airtel is Malipo's connector to Airtel Money's Africa Open API:
// collections (a USSD push to the customer's phone, POST
// /merchant/v1/payments/), disbursements (POST /standard/v1/disbursements/
// with the merchant's PIN encrypted under Airtel's public key) and the
// status of each by Malipo's own transaction id, which is the attempt's
// key: a call repeated after a timeout names the same transaction, and a
// status query always finds what Airtel has. One rail serves one country
// and currency (the X-Country and X-Currency headers). Airtel sends
// collection callbacks to the URL set on its developer portal: the rail's
// callback URL.
package airtel

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
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
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
)

// Kind names the connector in `malipo rails add --kind`.
const Kind = "airtel"

// Config is an Airtel rail as `malipo rails add --kind airtel` takes it.
type Config struct {
	Name         string   `json:"name"`
	BaseURL      string   `json:"base_url"` // https://openapi.airtel.africa
	Country      string   `json:"country"`  // ISO 3166, sent as X-Country
	Currency     string   `json:"currency"` // sent as X-Currency
	Operators    []string `json:"operators"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	// PIN and PublicKey are needed for disbursements only: the merchant's
	// 4-digit Airtel Money PIN, and Airtel's RSA public key (PEM) that
	// encrypts it, with PKCS #1 v1.5 padding or, if PINPadding is "oaep",
	// OAEP with SHA-256.
	PIN        string `json:"pin,omitempty"`
	PublicKey  string `json:"public_key,omitempty"`
	PINPadding string `json:"pin_padding,omitempty"`
}

// Validate checks a configuration before it is stored.
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.Name == "":
		return errors.New("name is required")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return errors.New("base_url must be an absolute http(s) URL")
	case len(c.Country) != 2 || strings.ToUpper(c.Country) != c.Country:
		return errors.New("country must be an ISO 3166 code such as UG")
	case c.Currency == "" || len(c.Operators) == 0:
		return errors.New("currency and operators are required")
	case c.ClientID == "" || c.ClientSecret == "":
		return errors.New("client_id and client_secret are required")
	case c.PINPadding != "" && c.PINPadding != "pkcs1" && c.PINPadding != "oaep":
		return errors.New(`pin_padding is "pkcs1" (the default) or "oaep"`)
	}
	if c.PIN != "" || c.PublicKey != "" {
		if len(c.PIN) != 4 || strings.Trim(c.PIN, "0123456789") != "" {
			return errors.New("pin is the 4-digit Airtel Money PIN")
		}
		if _, err := parseKey(c.PublicKey); err != nil {
			return err
		}
	}
	return nil
}

func parseKey(text string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(text))
	var der []byte
	if block != nil {
		der = block.Bytes
	} else if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text)); err == nil {
		der = b // the portal shows the key as bare base64
	}
	if der == nil {
		return nil, errors.New("public_key must be Airtel's RSA public key, PEM or base64")
	}
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		if rk, ok := k.(*rsa.PublicKey); ok {
			return rk, nil
		}
	}
	if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return k, nil
	}
	if cert, err := x509.ParseCertificate(der); err == nil {
		if rk, ok := cert.PublicKey.(*rsa.PublicKey); ok {
			return rk, nil
		}
	}
	return nil, errors.New("public_key is not an RSA public key")
}

// Options are what Malipo gives a rail beside its configuration.
type Options struct {
	Client *http.Client
	Clock  clock.Clock
}

// Rail is a configured Airtel Money account.
type Rail struct {
	cfg   Config
	opt   Options
	key   *rsa.PublicKey
	token rails.Token
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
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	r := &Rail{cfg: cfg, opt: opt}
	if cfg.PublicKey != "" {
		r.key, _ = parseKey(cfg.PublicKey)
	}
	return r, nil
}

// Name is the rail's name.
func (r *Rail) Name() string { return r.cfg.Name }

// Collections is the rail's push product: rails.MobileMoney.
func (r *Rail) Collections() *Collections { return &Collections{r} }

// Disbursements is the rail's payout product (nil without a PIN):
// rails.Payouts.
func (r *Rail) Disbursements() *Disbursements {
	if r.key == nil {
		return nil
	}
	return &Disbursements{r}
}

// getToken returns the kept token, or a new one. Airtel's tokens live as
// little as 180 s, so one is renewed when a quarter of its life is left.
func (r *Rail) getToken(ctx context.Context) (string, error) {
	return r.token.Get(r.opt.Clock.Now(), func() (string, time.Time, error) {
		body, _ := json.Marshal(map[string]string{"client_id": r.cfg.ClientID, "client_secret": r.cfg.ClientSecret, "grant_type": "client_credentials"})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.BaseURL+"/auth/oauth2/token", bytes.NewReader(body))
		if err != nil {
			return "", time.Time{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "*/*")
		res, err := r.opt.Client.Do(req)
		if err != nil {
			return "", time.Time{}, err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		var t struct {
			AccessToken string          `json:"access_token"`
			ExpiresIn   json.RawMessage `json:"expires_in"` // "180" or 180
		}
		if res.StatusCode != http.StatusOK || json.Unmarshal(b, &t) != nil || t.AccessToken == "" {
			return "", time.Time{}, fmt.Errorf("Airtel token: HTTP %d", res.StatusCode)
		}
		return t.AccessToken, r.opt.Clock.Now().Add(rails.ExpiresIn(t.ExpiresIn, 180*time.Second) * 3 / 4), nil
	})
}

// envelope is every Airtel answer: data and status.
type envelope struct {
	Data struct {
		Transaction struct {
			ID            string `json:"id"`
			Status        string `json:"status"`
			Message       string `json:"message"`
			AirtelMoneyID string `json:"airtel_money_id"`
			ReferenceID   string `json:"reference_id"`
		} `json:"transaction"`
	} `json:"data"`
	Status struct {
		Code         string `json:"code"`
		Message      string `json:"message"`
		ResultCode   string `json:"result_code"`
		ResponseCode string `json:"response_code"`
		Success      bool   `json:"success"`
	} `json:"status"`
}

// apiError is an answer that leaves the outcome unknown.
type apiError struct {
	status int
	code   string
}

func (e *apiError) Error() string { return fmt.Sprintf("Airtel Money: HTTP %d %s", e.status, e.code) }

// call sends one request and reads Airtel's envelope.
func (r *Rail) call(ctx context.Context, method, path string, body any) (int, envelope, []byte, error) {
	tok, err := r.getToken(ctx)
	if err != nil {
		return 0, envelope{}, nil, &malipo.Error{Kind: malipo.KindUnavailable, Code: "rail_unavailable", Message: "Airtel Money refused a token", Err: err}
	}
	var payload io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		payload = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.BaseURL+path, payload)
	if err != nil {
		return 0, envelope{}, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Country", r.cfg.Country)
	req.Header.Set("X-Currency", r.cfg.Currency)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "*/*")
	res, err := r.opt.Client.Do(req)
	if err != nil {
		return 0, envelope{}, nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 256<<10))
	if res.StatusCode == http.StatusUnauthorized {
		r.token.Forget() // asked again next call
	}
	var env envelope
	json.Unmarshal(b, &env)
	return res.StatusCode, env, b, nil
}

// failureCodes map Airtel's response codes to Malipo's failure codes.
var failureCodes = map[string]string{
	"DP00800001002": "customer_declined", // incorrect PIN
	"DP00800001003": "limit_exceeded",
	"DP00800001004": "amount_invalid",
	"DP00800001005": "customer_declined", // the customer did not enter the PIN
	"DP00800001007": "insufficient_funds",
	"DP00800001008": "customer_declined", // refused
	"DP00800001009": "customer_declined", // do not honor
	"DP00800001010": "invalid_account",   // not permitted to the payee
	"DP00800001024": "expired",
	"DP00800001029": "expired",
}

// failure is the failure code of an answer.
func failure(responseCode string) string {
	if c, ok := failureCodes[responseCode]; ok {
		return c
	}
	return "rail_failed"
}

// msisdn is a number as Airtel wants it: national digits, no country code.
func msisdn(e164 string) string {
	_, national := malipo.SplitMSISDN(e164)
	if national == "" {
		return strings.TrimPrefix(e164, "+")
	}
	return national
}

// amount is an amount as a JSON number in the currency's units.
func amount(n int64, c malipo.Currency) json.Number { return json.Number(malipo.FormatDecimal(n, c)) }

// accepted reads the answer to a push or a transfer: the operator took it
// (nil), refused it (a *malipo.Error of kind invalid), or the outcome is
// unknown (any other error).
func accepted(status int, env envelope, what string) error {
	switch {
	case status/100 == 2 && env.Status.Success:
		if env.Data.Transaction.Status == "TF" {
			return &malipo.Error{Kind: malipo.KindInvalid, Code: failure(env.Status.ResponseCode),
				Message: "Airtel Money: " + env.Status.ResponseCode + " " + env.Status.Message}
		}
		return nil
	case status/100 == 2 && (env.Status.ResponseCode == "DP00800001000" || env.Status.ResponseCode == "DP00800001006"):
		return nil // ambiguous or in process: the status query tells
	case status/100 == 2 && env.Status.ResponseCode != "", status == http.StatusBadRequest:
		// Airtel answered, and said no.
		code, ok := failureCodes[env.Status.ResponseCode]
		if !ok {
			code = "rail_refused"
		}
		return &malipo.Error{Kind: malipo.KindInvalid, Code: code,
			Message: "Airtel Money refused the " + what + ": " + env.Status.ResponseCode + " " + env.Status.Message}
	}
	return &apiError{status: status, code: env.Status.ResponseCode}
}

// outcome reads a status answer.
func outcome(key string, status int, env envelope, raw []byte) (rails.Outcome, error) {
	t := env.Data.Transaction
	o := rails.Outcome{Key: key, RailReference: t.AirtelMoneyID, Raw: raw}
	switch {
	case status == http.StatusNotFound || env.Status.ResponseCode == "DP00800001025":
		return rails.Unknown(key), nil
	case status/100 != 2:
		return o, &apiError{status: status, code: env.Status.ResponseCode}
	}
	switch t.Status {
	case "TS":
		o.Verdict = malipo.VerdictSucceeded
	case "TF":
		o.Verdict, o.FailureCode, o.FailureReason = malipo.VerdictFailed, failure(env.Status.ResponseCode), "Airtel Money: "+t.Message
	case "TE":
		o.Verdict, o.FailureCode, o.FailureReason = malipo.VerdictExpired, "expired", "Airtel Money: "+t.Message
	case "TIP", "TA":
		o.Verdict = malipo.VerdictPending
	default:
		return o, fmt.Errorf("Airtel Money transaction status %q", t.Status)
	}
	return o, nil
}

// ParseCallback reads what Airtel posts to the portal's callback URL:
// {"transaction":{"id","status_code" (or "status"),"airtel_money_id",
// "message"}}; an optional "hash" is not trusted either way, since Malipo
// confirms every callback with a status query.
func ParseCallback(body []byte) (rails.Outcome, error) {
	var cb struct {
		Transaction struct {
			ID            string `json:"id"`
			StatusCode    string `json:"status_code"`
			Status        string `json:"status"`
			AirtelMoneyID string `json:"airtel_money_id"`
			Message       string `json:"message"`
		} `json:"transaction"`
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		return rails.Outcome{}, fmt.Errorf("Airtel Money callback: %w", err)
	}
	t := cb.Transaction
	if t.ID == "" {
		return rails.Outcome{}, errors.New("Airtel Money callback without a transaction id")
	}
	status := t.StatusCode
	if status == "" {
		status = t.Status
	}
	o := rails.Outcome{Key: t.ID, RailReference: t.AirtelMoneyID, Raw: body}
	switch status {
	case "TS":
		o.Verdict = malipo.VerdictSucceeded
	case "TF":
		o.Verdict, o.FailureCode, o.FailureReason = malipo.VerdictFailed, "rail_failed", "Airtel Money: "+t.Message
	case "TE":
		o.Verdict, o.FailureCode, o.FailureReason = malipo.VerdictExpired, "expired", "Airtel Money: "+t.Message
	default:
		o.Verdict = malipo.VerdictPending
	}
	return o, nil
}

// Collections pushes USSD payment prompts: rails.MobileMoney.
type Collections struct{ r *Rail }

// Name implements rails.MobileMoney.
func (c *Collections) Name() string { return c.r.cfg.Name }

// Push implements rails.MobileMoney.
func (c *Collections) Push(ctx context.Context, p rails.Push) (string, error) {
	if string(p.Currency) != c.r.cfg.Currency {
		return "", malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "rail %s does not take %s", c.r.cfg.Name, p.Currency)
	}
	ref := p.Description
	if ref == "" {
		ref = p.PaymentID
	}
	status, env, _, err := c.r.call(ctx, http.MethodPost, "/merchant/v1/payments/", map[string]any{
		"reference":   truncate(ref, 64),
		"subscriber":  map[string]string{"country": c.r.cfg.Country, "currency": c.r.cfg.Currency, "msisdn": msisdn(p.MSISDN)},
		"transaction": map[string]any{"amount": amount(p.Amount, p.Currency), "country": c.r.cfg.Country, "currency": c.r.cfg.Currency, "id": p.Key},
	})
	if err != nil {
		return "", err
	}
	return p.Key, accepted(status, env, "push")
}

// Status implements rails.MobileMoney.
func (c *Collections) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	status, env, raw, err := c.r.call(ctx, http.MethodGet, "/standard/v1/payments/"+url.PathEscape(key), nil)
	if err != nil {
		return rails.Outcome{}, err
	}
	return outcome(key, status, env, raw)
}

// Operator implements rails.MobileMoney.
func (c *Collections) Operator(msisdn string) string {
	if op := rails.OperatorOf(msisdn); op != "" && slices.Contains(c.r.cfg.Operators, op) {
		return op
	}
	return ""
}

// Operators implements rails.MobileMoney.
func (c *Collections) Operators(country string) []string {
	if country != c.r.cfg.Country {
		return nil
	}
	return c.r.cfg.Operators
}

// Disbursements sends money to wallets: rails.Payouts.
type Disbursements struct{ r *Rail }

// Name implements rails.Payouts.
func (d *Disbursements) Name() string { return d.r.cfg.Name }

// Send implements rails.Payouts: Airtel pays wallets only.
func (d *Disbursements) Send(ctx context.Context, p rails.PayoutRequest) (string, error) {
	if p.Destination.Type != malipo.DestinationMobileMoney {
		return "", malipo.Invalid("destination", "destination_not_supported", "Airtel Money pays mobile-money wallets only")
	}
	if string(p.Currency) != d.r.cfg.Currency {
		return "", malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "rail %s does not pay %s", d.r.cfg.Name, p.Currency)
	}
	pin, err := d.r.encryptPIN()
	if err != nil {
		return "", &malipo.Error{Kind: malipo.KindUnavailable, Code: "rail_unavailable", Message: "Airtel Money PIN", Err: err}
	}
	status, env, _, err := d.r.call(ctx, http.MethodPost, "/standard/v1/disbursements/", map[string]any{
		"payee":       map[string]string{"msisdn": msisdn(p.Destination.Account)},
		"reference":   truncate(cmp.Or(p.Narration, p.PayoutID), 64),
		"pin":         pin,
		"transaction": map[string]any{"amount": amount(p.Amount, p.Currency), "id": p.Key},
	})
	if err != nil {
		return "", err
	}
	return p.Key, accepted(status, env, "transfer")
}

// Status implements rails.Payouts.
func (d *Disbursements) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	status, env, raw, err := d.r.call(ctx, http.MethodGet, "/standard/v1/disbursements/"+url.PathEscape(key), nil)
	if err != nil {
		return rails.Outcome{}, err
	}
	return outcome(key, status, env, raw)
}

// encryptPIN is the PIN as Airtel wants it: RSA-encrypted under its
// public key, in base64; a new ciphertext each time.
func (r *Rail) encryptPIN() (string, error) {
	var out []byte
	var err error
	if r.cfg.PINPadding == "oaep" {
		out, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, r.key, []byte(r.cfg.PIN), nil)
	} else {
		out, err = rsa.EncryptPKCS1v15(rand.Reader, r.key, []byte(r.cfg.PIN))
	}
	return base64.StdEncoding.EncodeToString(out), err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
