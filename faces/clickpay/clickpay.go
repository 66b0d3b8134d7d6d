// Package clickpay is ClickPay Africa's API, spoken over Malipo's gateway:
// the transaction query, card payment URLs (the customer pays on
// Malipo's checkout page, then ClickPay's GET callback), mobile-money IPNs
// signed with verifysign (Laravel's encrypter envelope) and acknowledged
// only by the body "Success", and ClickPay's error table. ClickPay
// publishes neither the JSON of its answers nor the path of its
// payment-URL call: the shapes here are Malipo's, documented in the
// README. Like every face it only translates.
package clickpay

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/client"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/faces/ratelimit"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/snapshot"
)

// MaxBodyBytes caps request bodies.
const MaxBodyBytes = 64 << 10

// Face serves ClickPay's API.
type Face struct {
	svc     *gateway.Service
	clock   clock.Clock
	logger  *slog.Logger
	limiter *ratelimit.PerSecond
}

// New returns the ClickPay face over svc; perSecond bounds each API key's
// calls (default 50), beyond which ClickPay answers 429.
func New(svc *gateway.Service, clk clock.Clock, logger *slog.Logger, perSecond int) *Face {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if perSecond <= 0 {
		perSecond = 50
	}
	svc.RegisterFlavor(integrations())
	return &Face{svc: svc, clock: clk, logger: logger, limiter: &ratelimit.PerSecond{Limit: perSecond}}
}

// Register adds ClickPay's routes under prefix: "/clickpay" beside the
// other faces, or "" on a listener of its own.
func (f *Face) Register(mux *http.ServeMux, prefix string) {
	b := prefix + "/api"
	mux.Handle("GET "+b+"/transactions/{id}", f.endpoint(f.transaction))
	mux.Handle("POST "+b+"/card/payment-url", f.endpoint(f.cardPaymentURL))
	mux.Handle("POST "+b+"/sandbox/collections", f.endpoint(f.sandboxCollection))
	mux.Handle("POST "+b+"/collections", f.endpoint(f.collection))
	for _, p := range []string{b + "/transactions/{id}", b + "/card/payment-url", b + "/sandbox/collections", b + "/collections"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, &apiError{http.StatusMethodNotAllowed, "You tried to access a payment with an invalid method"})
		})
	}
	mux.HandleFunc(b+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{http.StatusNotFound, "The specified resource could not be found"})
	})
}

// apiError is one row of ClickPay's error table.
type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string { return e.message }

// errorNames are the table's meanings.
var errorNames = map[int]string{400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
	406: "Not Acceptable", 410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}

// writeError answers {"status","error","message"}.
func writeError(w http.ResponseWriter, e *apiError) {
	write(w, e.status, lenient.Ordered{{Key: "status", Value: e.status}, {Key: "error", Value: errorNames[e.status]}, {Key: "message", Value: e.message}})
}

func write(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

type request struct {
	ctx  context.Context
	r    *http.Request
	in   malipo.Integration
	body lenient.Map
}

func (f *Face) endpoint(h func(*request) (int, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, out, err := f.serve(w, r, h)
		if err != nil {
			ae, ok := err.(*apiError)
			if !ok {
				ae = fromDomain(err)
				if ae.status == http.StatusInternalServerError {
					client.LogFailure(f.logger, r, "clickpay request failed", err, "route", r.Pattern)
				}
			}
			writeError(w, ae)
			return
		}
		write(w, status, out)
	})
}

// acceptsJSON reports whether an Accept header allows a JSON answer.
func acceptsJSON(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (mt == "*/*" || mt == "application/*" || mt == "application/json") {
			return true
		}
	}
	return false
}

func (f *Face) serve(w http.ResponseWriter, r *http.Request, h func(*request) (int, any, error)) (int, any, error) {
	if !acceptsJSON(r.Header.Get("Accept")) {
		return 0, nil, &apiError{http.StatusNotAcceptable, "You requested a format that isn't json"}
	}
	key := strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	done, err := f.svc.AuthBegin(client.Addr(r))
	if err != nil {
		return 0, nil, &apiError{http.StatusTooManyRequests, "Too many requests with a wrong API key: try again later"}
	}
	in, err := f.svc.IntegrationBySecret(r.Context(), key)
	wrong := key == "" || malipo.KindOf(err) == malipo.KindNotFound || (err == nil && in.Flavor != malipo.FlavorClickPay)
	done(wrong && key != "")
	if wrong {
		return 0, nil, &apiError{http.StatusUnauthorized, "Your API key is wrong"}
	}
	if err != nil {
		return 0, nil, err
	}
	if !f.limiter.Allow(in.ID, f.clock.Now()) {
		return 0, nil, &apiError{http.StatusTooManyRequests, "You're requesting too many payments!"}
	}
	body := lenient.Map{}
	if r.Method == http.MethodPost {
		if body, err = lenient.Read(w, r, MaxBodyBytes); err != nil {
			return 0, nil, &apiError{http.StatusBadRequest, "Your request does not satisfy the defined rules: the body is not JSON"}
		}
		if err := lenient.Scalars(body, "account_id", "amount", "order_info", "currency", "msisdn", "reference"); err != nil {
			return 0, nil, &apiError{http.StatusBadRequest, "Your request does not satisfy the defined rules: " + err.Error()}
		}
	}
	return h(&request{ctx: r.Context(), r: r, in: in, body: body})
}

func fromDomain(err error) *apiError {
	e := malipo.AsError(err)
	switch e.Kind {
	case malipo.KindInvalid, malipo.KindConflict:
		return &apiError{http.StatusBadRequest, "Your request does not satisfy the defined rules: " + e.Message}
	case malipo.KindNotFound:
		return &apiError{http.StatusNotFound, "The specified payment could not be found"}
	case malipo.KindUnavailable:
		return &apiError{http.StatusServiceUnavailable, "We're temporarily offline for maintenance. Please try again later."}
	case malipo.KindRateLimited:
		return &apiError{http.StatusTooManyRequests, "You're requesting too many payments!"}
	case malipo.KindForbidden:
		return &apiError{http.StatusForbidden, e.Message}
	}
	return &apiError{http.StatusInternalServerError, "We had a problem with our server. Try again later."}
}

// transactionJSON is how a transaction looks in the query's answer.
func (f *Face) transactionJSON(in malipo.Integration, p malipo.Payment) lenient.Ordered {
	kind := "mobilemoney"
	if isCard(p) {
		kind = "cardpayment"
	}
	st := "pending"
	switch p.Status {
	case malipo.PaymentSucceeded:
		st = "success"
	case malipo.PaymentFailed, malipo.PaymentCancelled, malipo.PaymentExpired:
		st = "failed"
	}
	return lenient.Ordered{{Key: "id", Value: p.ID}, {Key: "accountID", Value: settings(in).AccountID}, {Key: "type", Value: kind},
		{Key: "status", Value: st}, {Key: "amount", Value: json.Number(amountOf(p))},
		{Key: "currency", Value: string(p.Currency)}, {Key: "msisdn", Value: strings.TrimPrefix(p.Phone, "+")},
		{Key: "order_info", Value: p.Reference}, {Key: "message", Value: message(p)}, {Key: "reference", Value: p.RailReference},
		{Key: "created_at", Value: p.CreatedAt.Format(time.RFC3339)}}
}

// amountOf writes an amount as ClickPay does: major units, without a
// fraction when it is zero (34, not 34.00).
func amountOf(p malipo.Payment) string {
	s := malipo.FormatDecimal(p.Amount, p.Currency)
	if whole, frac, ok := strings.Cut(s, "."); ok && strings.Trim(frac, "0") == "" {
		return whole
	}
	return s
}

// isCard reports whether a payment is a card payment: paid by card, or
// made by the payment-URL call, which offers only cards.
func isCard(p malipo.Payment) bool {
	return p.Method == malipo.ChannelCard || (p.Method == "" && len(p.Channels) == 1 && p.Channels[0] == malipo.ChannelCard)
}

func message(p malipo.Payment) string {
	switch p.Status {
	case malipo.PaymentSucceeded:
		return "Transaction successful"
	case malipo.PaymentPending, malipo.PaymentProcessing:
		return "Transaction pending"
	}
	if p.FailureReason != "" {
		return p.FailureReason
	}
	return "Transaction failed"
}

// transaction is GET /api/transactions/{id}.
func (f *Face) transaction(req *request) (int, any, error) {
	id := req.r.PathValue("id")
	p, err := f.svc.GetPayment(req.ctx, req.in, id)
	if malipo.KindOf(err) == malipo.KindNotFound {
		// Another account's payment exists but is not this key's to see.
		if other, oerr := f.svc.PaymentExists(req.ctx, id); oerr == nil && other {
			return 0, nil, &apiError{http.StatusForbidden, "The payment requested is hidden for administrators only"}
		}
		return 0, nil, &apiError{http.StatusNotFound, "The specified payment could not be found"}
	}
	if err != nil {
		return 0, nil, err
	}
	if p.IntegrationID != req.in.ID {
		// The merchant's, but another account's: each ClickPay account
		// sees its own payments.
		return 0, nil, &apiError{http.StatusForbidden, "The payment requested is hidden for administrators only"}
	}
	if p.Status == malipo.PaymentExpired {
		return 0, nil, &apiError{http.StatusGone, "The payment requested has been removed from our servers"}
	}
	return http.StatusOK, f.transactionJSON(req.in, p), nil
}

// cardPaymentURL makes a card payment and answers the URL to redirect the
// customer to: Malipo's checkout page.
func (f *Face) cardPaymentURL(req *request) (int, any, error) {
	b := req.body
	for _, k := range []string{"account_id", "amount", "order_info", "currency"} {
		if lenient.String(b, k) == "" {
			return 0, nil, &apiError{http.StatusBadRequest, "Your request does not satisfy the defined rules: " + k + " is required"}
		}
	}
	if subtle.ConstantTimeCompare([]byte(lenient.String(b, "account_id")), []byte(settings(req.in).AccountID)) != 1 {
		return 0, nil, &apiError{http.StatusForbidden, "The account is not this API key's"}
	}
	if !f.svc.Takes(req.in.Mode, malipo.ChannelCard) {
		return 0, nil, &apiError{http.StatusServiceUnavailable, "We're temporarily offline for maintenance. Please try again later."}
	}
	cur := strings.ToUpper(lenient.String(b, "currency"))
	amount, err := malipo.ParseDecimal(lenient.String(b, "amount"), malipo.Currency(cur))
	if err != nil {
		return 0, nil, &apiError{http.StatusBadRequest, "Your request does not satisfy the defined rules: amount is not a valid amount of " + cur}
	}
	p, _, err := f.svc.CreatePayment(req.ctx, req.in, gateway.PaymentInput{Amount: amount, Currency: cur, Reference: lenient.String(b, "order_info"),
		Description: lenient.String(b, "order_info"), Channels: []string{string(malipo.ChannelCard)}}, gateway.Idempotency{})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, lenient.Ordered{{Key: "status", Value: "success"}, {Key: "transaction_id", Value: p.ID},
		{Key: "order_info", Value: p.Reference}, {Key: "payment_url", Value: f.svc.CheckoutURL(p)}}, nil
}

// sandboxCollection stands in for a customer paying the merchant's
// mobile-money account (on ClickPay, collections start from the
// customer's phone, not from the merchant's API): the sandbox pushes the
// prompt, and the IPN follows.
func (f *Face) sandboxCollection(req *request) (int, any, error) {
	if req.in.Mode != malipo.ModeTest {
		return 0, nil, &apiError{http.StatusForbidden, "sandbox collections exist only in test mode"}
	}
	return f.collection(req)
}

// collection asks the customer's phone to pay the account (a push through
// the rail serving the number: the sandbox in test mode, a live operator
// in live mode); the IPN follows when the customer approves.
func (f *Face) collection(req *request) (int, any, error) {
	cur := strings.ToUpper(lenient.String(req.body, "currency"))
	if cur == "" {
		cur = "TZS"
	}
	amount, err := malipo.ParseDecimal(lenient.String(req.body, "amount"), malipo.Currency(cur))
	if err != nil {
		return 0, nil, &apiError{http.StatusBadRequest, "Your request does not satisfy the defined rules: amount is required"}
	}
	ref := lenient.String(req.body, "reference")
	if ref == "" {
		ref = f.svc.Token("COL", 6)
	}
	p, _, err := f.svc.CreatePayment(req.ctx, req.in, gateway.PaymentInput{Amount: amount, Currency: cur, Reference: ref,
		Method: string(malipo.ChannelMobileMoney), Phone: "+" + strings.TrimPrefix(lenient.String(req.body, "msisdn"), "+")}, gateway.Idempotency{})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, f.transactionJSON(req.in, p), nil
}

// Flavor is ClickPay's notification: for mobile money, the IPN (JSON
// with verifysign) to the notify URL, delivered only when the listener
// answers the body "Success"; for card payments, a GET to the card
// callback URL with type=cardpayment, status, message, order_info and
// transaction_id, acknowledged by any 2xx.
func (f *Face) Flavor() notify.Flavor { return flavor{} }

type flavor struct{}

func (flavor) Build(m notify.Message) (notify.Request, error) {
	if m.Event.ObjectType != "payment" {
		return notify.Request{}, fmt.Errorf("ClickPay notifies about payments only, not %s events", m.Event.ObjectType)
	}
	var p malipo.Payment
	if err := snapshot.Decode(m.Event.Data, &p); err != nil {
		return notify.Request{}, err
	}
	if isCard(p) {
		target := settings(m.Integration).CardCallbackURL
		if target == "" {
			target = m.Delivery.URL
		}
		u, err := url.Parse(target)
		if err != nil {
			return notify.Request{}, err
		}
		q := u.Query()
		st := "failed"
		if p.Status == malipo.PaymentSucceeded {
			st = "success"
		}
		q.Set("type", "cardpayment")
		q.Set("status", st)
		q.Set("message", message(p))
		q.Set("order_info", p.Reference)
		q.Set("transaction_id", p.ID)
		u.RawQuery = q.Encode()
		return notify.Request{Method: http.MethodGet, URL: u.String(), Header: http.Header{}}, nil
	}
	if p.Status != malipo.PaymentSucceeded {
		return notify.Request{}, errSkip
	}
	key, err := base64.StdEncoding.DecodeString(settings(m.Integration).IPNKey)
	if err != nil {
		return notify.Request{}, fmt.Errorf("the integration's IPN key is not base64: %w", err)
	}
	account := settings(m.Integration).AccountID
	amount := amountOf(p)
	msisdn := strings.TrimPrefix(p.Phone, "+")
	sign, err := Seal(key, m.Delivery.URL+account+amount+msisdn, nil)
	if err != nil {
		return notify.Request{}, err
	}
	body, err := json.Marshal(lenient.Ordered{{Key: "url", Value: m.Delivery.URL}, {Key: "accountID", Value: account},
		{Key: "transactionid", Value: p.ID}, {Key: "amount", Value: json.Number(amount)}, {Key: "msisdn", Value: msisdn},
		{Key: "verifysign", Value: sign}})
	if err != nil {
		return notify.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return notify.Request{Header: h, Body: body}, nil
}

// errSkip: ClickPay sends IPNs for received money only.
var errSkip = fmt.Errorf("%w: ClickPay sends mobile-money IPNs only for money received", notify.ErrSkip)

// Acknowledged accepts only the body "Success".
func (flavor) Acknowledged(status int, body []byte) bool {
	return notify.Acknowledged2xx(status) && strings.TrimSpace(string(body)) == "Success"
}

// Refuse answers a request the node will not serve (busy, say) with err,
// as ClickPay answers errors.
func (f *Face) Refuse(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, fromDomain(err))
}
