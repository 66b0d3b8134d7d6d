package native

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/store"
)

// amount is an integer number of minor units. It refuses decimals,
// exponents and strings, so "10.5" can never be rounded into money.
type amount int64

func (a *amount) UnmarshalJSON(b []byte) error {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return malipo.Invalid("amount", "amount_invalid", "amount must be an integer number of minor units (e.g. 5000 for 5000 XOF, 1050 for 10.50 KES)")
	}
	*a = amount(n)
	return nil
}

type customerWire struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// createPaymentRequest is the body of POST /v1/payments.
type createPaymentRequest struct {
	Amount      *amount           `json:"amount" doc:"required; integer minor units"`
	Currency    string            `json:"currency" doc:"required; ISO 4217"`
	Reference   string            `json:"reference" doc:"required; unique per integration"`
	Description string            `json:"description,omitempty"`
	Customer    *customerWire     `json:"customer,omitempty"`
	Channels    []string          `json:"channels,omitempty" doc:"mobile_money, card; default both"`
	Method      string            `json:"method,omitempty" doc:"mobile_money: push to phone at once"`
	Phone       string            `json:"phone,omitempty"`
	Operator    string            `json:"operator,omitempty"`
	ReturnURL   string            `json:"return_url,omitempty"`
	CancelURL   string            `json:"cancel_url,omitempty"`
	NotifyURL   string            `json:"notify_url,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Lang        string            `json:"lang,omitempty" doc:"fr or en"`
	Items       []itemWire        `json:"items,omitempty" doc:"invoice lines shown on the checkout page"`
	Taxes       []taxWire         `json:"taxes,omitempty" doc:"tax lines shown under the items"`
	LockPhone   bool              `json:"lock_phone,omitempty" doc:"the checkout page pushes to customer.phone only"`
	CardToken   string            `json:"card_token,omitempty" doc:"a saved card: the payment succeeds or fails before the answer"`
	CVV         string            `json:"cvv,omitempty" doc:"with card_token; used once, never stored"`
}

type itemWire struct {
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Quantity    int64   `json:"quantity" doc:"default 1"`
	UnitPrice   amount  `json:"unit_price" doc:"minor units"`
	Total       *amount `json:"total,omitempty" doc:"minor units; default quantity × unit_price"`
}

type taxWire struct {
	Name   string `json:"name"`
	Amount amount `json:"amount" doc:"minor units"`
}

func (req createPaymentRequest) input() (gateway.PaymentInput, error) {
	if req.Amount == nil {
		return gateway.PaymentInput{}, malipo.Invalid("amount", "parameter_missing", "amount is required")
	}
	in := gateway.PaymentInput{
		Amount: int64(*req.Amount), Currency: req.Currency, Reference: req.Reference, Description: req.Description,
		Channels: req.Channels, Method: req.Method, Phone: req.Phone, Operator: req.Operator,
		ReturnURL: req.ReturnURL, CancelURL: req.CancelURL, NotifyURL: req.NotifyURL, Metadata: req.Metadata, Lang: req.Lang,
	}
	if req.Customer != nil {
		in.Customer = malipo.Customer(*req.Customer)
	}
	in.LockPhone, in.CardToken, in.CVV = req.LockPhone, req.CardToken, req.CVV
	for _, it := range req.Items {
		item := malipo.Item{Name: it.Name, Description: it.Description, Quantity: it.Quantity, UnitPrice: int64(it.UnitPrice)}
		if it.Total != nil {
			item.Total = int64(*it.Total)
		}
		in.Items = append(in.Items, item)
	}
	for _, tx := range req.Taxes {
		in.Taxes = append(in.Taxes, malipo.Tax{Name: tx.Name, Amount: int64(tx.Amount)})
	}
	return in, nil
}

type failureWire struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// paymentResource is how a payment looks on the wire.
type paymentResource struct {
	ID             string            `json:"id"`
	Object         string            `json:"object"`
	Livemode       bool              `json:"livemode"`
	Status         string            `json:"status" doc:"pending, processing, succeeded, failed, cancelled, expired"`
	Amount         int64             `json:"amount"`
	Currency       string            `json:"currency"`
	Fee            int64             `json:"fee"`
	Net            int64             `json:"net" doc:"amount less fee, once succeeded"`
	AmountRefunded int64             `json:"amount_refunded"`
	Late           bool              `json:"late" doc:"true when the customer's approval came after the payment had expired: it succeeded late"`
	Attempts       int               `json:"attempts" doc:"rail attempts made so far (pushes, card authorisations)"`
	AvailableAt    *time.Time        `json:"available_at" doc:"when the net amount becomes available, once succeeded"`
	Reference      string            `json:"reference"`
	Description    string            `json:"description"`
	Customer       customerWire      `json:"customer"`
	Channels       []string          `json:"channels"`
	Method         *string           `json:"method"`
	Phone          *string           `json:"phone"`
	Operator       *string           `json:"operator"`
	CheckoutURL    string            `json:"checkout_url"`
	ReceiptURL     *string           `json:"receipt_url" doc:"the PDF receipt, once succeeded"`
	ReturnURL      *string           `json:"return_url"`
	CancelURL      *string           `json:"cancel_url"`
	NotifyURL      *string           `json:"notify_url"`
	Metadata       map[string]string `json:"metadata"`
	Lang           *string           `json:"lang"`
	Items          []itemOut         `json:"items"`
	Taxes          []taxOut          `json:"taxes"`
	LockPhone      bool              `json:"lock_phone"`
	NextAction     *string           `json:"next_action" doc:"three_d_secure while the customer must authenticate on the checkout page"`
	Failure        *failureWire      `json:"failure" doc:"why the payment failed; on a pending payment, why the last attempt did"`
	RailReference  *string           `json:"rail_reference"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	ExpiresAt      time.Time         `json:"expires_at"`
	CompletedAt    *time.Time        `json:"completed_at"`
}

type itemOut struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	UnitPrice   int64  `json:"unit_price"`
	Total       int64  `json:"total"`
}

type taxOut struct {
	Name   string `json:"name"`
	Amount int64  `json:"amount"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (a *API) payment(p malipo.Payment) paymentResource {
	channels := make([]string, len(p.Channels))
	for i, c := range p.Channels {
		channels[i] = string(c)
	}
	meta := p.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	r := paymentResource{
		ID: p.ID, Object: "payment", Livemode: p.Mode == malipo.ModeLive, Status: string(p.Status),
		Amount: p.Amount, Currency: string(p.Currency), Fee: p.Fee, Reference: p.Reference, Description: p.Description,
		Customer: customerWire(p.Customer), Channels: channels, Method: optional(string(p.Method)), Phone: optional(p.Phone),
		Operator: optional(p.Operator), CheckoutURL: a.svc.CheckoutURL(p), ReceiptURL: optional(a.svc.ReceiptURL(p)), ReturnURL: optional(p.ReturnURL),
		CancelURL: optional(p.CancelURL), NotifyURL: optional(p.NotifyURL), Metadata: meta, Lang: optional(p.Lang),
		RailReference: optional(p.RailReference), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, ExpiresAt: p.ExpiresAt,
		Items: []itemOut{}, Taxes: []taxOut{}, LockPhone: p.LockPhone, NextAction: optional(p.NextAction),
		Late: p.Late, Attempts: p.Attempt,
	}
	for _, it := range p.Items {
		r.Items = append(r.Items, itemOut(it))
	}
	for _, t := range p.Taxes {
		r.Taxes = append(r.Taxes, taxOut(t))
	}
	if p.Status == malipo.PaymentSucceeded {
		r.Net = p.Amount - p.Fee
		if !p.AvailableAt.IsZero() {
			r.AvailableAt = &p.AvailableAt
		}
	}
	r.AmountRefunded = p.AmountRefunded
	if p.FailureCode != "" {
		r.Failure = &failureWire{Code: p.FailureCode, Message: p.FailureReason}
	}
	if !p.CompletedAt.IsZero() {
		r.CompletedAt = &p.CompletedAt
	}
	return r
}

func (a *API) createPayment(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	input, idem, err := paymentInput(w, r)
	if err != nil {
		return err
	}
	p, replayed, err := a.svc.CreatePayment(r.Context(), in, *input, idem)
	if err != nil {
		return err
	}
	markReplay(w, replayed)
	a.writePayment(w, http.StatusCreated, &p)
	return nil
}

// paymentInput reads and checks a create-payment request. It is a
// function of its own, as writePayment is, so that the request's decoded
// forms are off the stack while the payment is created: every frame
// createPayment keeps is under the commit wait (see
// TestRequestsNeedLittleStack).
func paymentInput(w http.ResponseWriter, r *http.Request) (*gateway.PaymentInput, gateway.Idempotency, error) {
	b, err := body(w, r)
	if err != nil {
		return nil, gateway.Idempotency{}, err
	}
	var req createPaymentRequest
	if err := decode(b, &req); err != nil {
		return nil, gateway.Idempotency{}, err
	}
	input, err := req.input()
	if err != nil {
		return nil, gateway.Idempotency{}, err
	}
	idem := idempotency(r, b)
	if req.CVV != "" && idem.Key != "" {
		// The stored fingerprint must not let anyone recover the CVV:
		// hash the request with it blanked.
		req.CVV = ""
		canonical, _ := json.Marshal(req)
		idem = idempotency(r, canonical)
	}
	return &input, idem, nil
}

// writePayment answers with a payment.
func (a *API) writePayment(w http.ResponseWriter, status int, p *malipo.Payment) {
	writeJSON(w, status, a.payment(*p))
}

func (a *API) getPayment(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	p, err := a.svc.GetPayment(r.Context(), in, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.payment(p))
	return nil
}

// paymentList is a page of payments.
type paymentList struct {
	Object  string            `json:"object"`
	Data    []paymentResource `json:"data"`
	HasMore bool              `json:"has_more"`
	URL     string            `json:"url"`
}

func (a *API) listPayments(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	pg, err := listQuery(r, "reference", "status", "q", "method", "currency", "operator")
	if err != nil {
		return err
	}
	q := pg.q
	f := store.PaymentFilter{StartingAfter: pg.startingAfter, Search: q.Get("q"), Operator: q.Get("operator"),
		CreatedFrom: pg.from, CreatedTo: pg.to, Limit: pg.want + 1}
	if len(f.Search) > 200 {
		return malipo.Invalid("q", "parameter_invalid", "q is at most 200 characters")
	}
	if q.Has("method") {
		if f.Method, err = malipo.ParseChannel(q.Get("method")); err != nil {
			return malipo.AsError(err).WithParam("method")
		}
	}
	if q.Has("currency") {
		if f.Currency, err = malipo.ParseCurrency(q.Get("currency")); err != nil {
			return err
		}
	}
	if q.Has("reference") {
		ref := q.Get("reference")
		f.Reference = &ref
	}
	if q.Has("status") {
		st, err := malipo.ParsePaymentStatus(q.Get("status"))
		if err != nil {
			return err
		}
		f.Status = &st
	}
	ps, err := a.svc.ListPayments(r.Context(), in, f)
	if err != nil {
		return err
	}
	list := paymentList{Object: "list", Data: []paymentResource{}, URL: "/v1/payments"}
	ps, list.HasMore = nextPage(ps, pg.want)
	for _, p := range ps {
		list.Data = append(list.Data, a.payment(p))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (a *API) cancelPayment(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	b, err := body(w, r)
	if err != nil {
		return err
	}
	if err := decode(b, &struct{}{}); err != nil {
		return err
	}
	p, replayed, err := a.svc.CancelPayment(r.Context(), in, r.PathValue("id"), idempotency(r, b))
	if err != nil {
		return err
	}
	markReplay(w, replayed)
	writeJSON(w, http.StatusOK, a.payment(p))
	return nil
}

// outcomeRequest is the body of POST /v1/sandbox/payments/{id}/outcome.
type outcomeRequest struct {
	Outcome string `json:"outcome" doc:"required; succeeded, failed, cancelled or expired"`
}

func (a *API) forceOutcome(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	b, err := body(w, r)
	if err != nil {
		return err
	}
	var req outcomeRequest
	if err := decode(b, &req); err != nil {
		return err
	}
	if req.Outcome == "" {
		return malipo.Invalid("outcome", "parameter_missing", "outcome is required")
	}
	p, replayed, err := a.svc.ForceOutcome(r.Context(), in, r.PathValue("id"), req.Outcome, idempotency(r, b))
	if err != nil {
		return err
	}
	markReplay(w, replayed)
	writeJSON(w, http.StatusOK, a.payment(p))
	return nil
}

type balanceWire struct {
	Currency  string `json:"currency"`
	Available int64  `json:"available" doc:"spendable now"`
	Pending   int64  `json:"pending" doc:"collected, available after the settlement delay"`
	Reserved  int64  `json:"reserved" doc:"set aside for payouts and refunds under way"`
}

// balanceResource is GET /v1/balance's answer.
type balanceResource struct {
	Object   string        `json:"object"`
	Livemode bool          `json:"livemode"`
	Balances []balanceWire `json:"balances"`
}

func (a *API) getBalance(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	bs, err := a.svc.Balances(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, balances(in, bs))
	return nil
}

func balances(in malipo.Integration, bs []malipo.Balance) balanceResource {
	res := balanceResource{Object: "balance", Livemode: in.Mode == malipo.ModeLive, Balances: []balanceWire{}}
	for _, b := range bs {
		res.Balances = append(res.Balances, balanceWire{Currency: string(b.Currency), Available: b.Available, Pending: b.Pending,
			Reserved: b.Reserved})
	}
	return res
}

// NoopHandler decodes a create-payment body exactly as the real endpoint
// does and answers a fixed body: the ceiling that `malipo bench` compares
// the real endpoint against.
func NoopHandler() http.Handler {
	fixed := []byte(`{"id":"pay_noop","object":"payment","status":"pending"}` + "\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := body(w, r)
		if err == nil {
			var req createPaymentRequest
			if err = decode(bytes.TrimSpace(b), &req); err == nil {
				_, err = req.input()
			}
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(fixed)
	})
}
