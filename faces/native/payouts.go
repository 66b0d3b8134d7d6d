package native

import (
	"net/http"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/store"
)

type destinationWire struct {
	Type             string `json:"type" doc:"required; mobile_money, paybill, till or merchant"`
	Account          string `json:"account" doc:"required; a phone number, business number, till number or merchant id"`
	Name             string `json:"name,omitempty"`
	Operator         string `json:"operator,omitempty" doc:"mobile_money: the operator, else detected from the number"`
	AccountReference string `json:"account_reference,omitempty" doc:"paybill: the account at the business being paid"`
}

// createPayoutRequest is the body of POST /v1/payouts.
type createPayoutRequest struct {
	Amount      *amount          `json:"amount" doc:"required; integer minor units"`
	Currency    string           `json:"currency" doc:"required; ISO 4217"`
	Reference   string           `json:"reference" doc:"required; unique per integration: a retry with it never pays twice"`
	Destination *destinationWire `json:"destination" doc:"required"`
	Narration   string           `json:"narration,omitempty"`
}

type destinationOut struct {
	Type             string  `json:"type"`
	Account          string  `json:"account"`
	Name             *string `json:"name"`
	Operator         *string `json:"operator"`
	AccountReference *string `json:"account_reference"`
}

// payoutResource is how a payout looks.
type payoutResource struct {
	ID            string         `json:"id"`
	Object        string         `json:"object"`
	Livemode      bool           `json:"livemode"`
	Status        string         `json:"status" doc:"queued, processing, succeeded or failed"`
	Amount        int64          `json:"amount"`
	Fee           int64          `json:"fee" doc:"taken from the balance on top of amount"`
	Currency      string         `json:"currency"`
	Reference     string         `json:"reference"`
	Destination   destinationOut `json:"destination"`
	Narration     string         `json:"narration"`
	Failure       *failureWire   `json:"failure"`
	RailReference *string        `json:"rail_reference"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
	CompletedAt   *time.Time     `json:"completed_at"`
}

func payoutOf(p malipo.Payout) payoutResource {
	r := payoutResource{ID: p.ID, Object: "payout", Livemode: p.Mode == malipo.ModeLive, Status: string(p.Status), Amount: p.Amount,
		Fee: p.Fee, Currency: string(p.Currency), Reference: p.Reference, Narration: p.Narration,
		Destination: destinationOut{Type: string(p.Destination.Type), Account: p.Destination.Account, Name: optional(p.Destination.Name),
			Operator: optional(p.Destination.Operator), AccountReference: optional(p.Destination.AccountReference)},
		RailReference: optional(p.RailReference), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if p.FailureCode != "" {
		r.Failure = &failureWire{Code: p.FailureCode, Message: p.FailureReason}
	}
	if !p.CompletedAt.IsZero() {
		r.CompletedAt = &p.CompletedAt
	}
	return r
}

func (a *API) createPayout(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	b, err := body(w, r)
	if err != nil {
		return err
	}
	var req createPayoutRequest
	if err := decode(b, &req); err != nil {
		return err
	}
	if req.Amount == nil {
		return malipo.Invalid("amount", "parameter_missing", "amount is required")
	}
	if req.Destination == nil {
		return malipo.Invalid("destination", "parameter_missing", "destination is required")
	}
	d := req.Destination
	p, replayed, err := a.svc.CreatePayout(r.Context(), in, gateway.PayoutInput{Amount: int64(*req.Amount), Currency: req.Currency,
		Reference: req.Reference, Narration: req.Narration, Destination: malipo.Destination{Type: malipo.DestinationType(d.Type),
			Account: d.Account, Name: d.Name, Operator: d.Operator, AccountReference: d.AccountReference}}, idempotency(r, b))
	if err != nil {
		return err
	}
	markReplay(w, replayed)
	writeJSON(w, http.StatusCreated, payoutOf(p))
	return nil
}

func (a *API) getPayout(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	p, err := a.svc.GetPayout(r.Context(), in, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, payoutOf(p))
	return nil
}

type payoutList struct {
	Object  string           `json:"object"`
	Data    []payoutResource `json:"data"`
	HasMore bool             `json:"has_more"`
	URL     string           `json:"url"`
}

func (a *API) listPayouts(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	pg, err := listQuery(r, "reference")
	if err != nil {
		return err
	}
	ps, err := a.svc.ListPayouts(r.Context(), in, store.PayoutFilter{Reference: pg.q.Get("reference"), StartingAfter: pg.startingAfter,
		Limit: pg.want + 1, CreatedFrom: pg.from, CreatedTo: pg.to})
	if err != nil {
		return err
	}
	list := payoutList{Object: "list", Data: []payoutResource{}, URL: "/v1/payouts"}
	ps, list.HasMore = nextPage(ps, pg.want)
	for _, p := range ps {
		list.Data = append(list.Data, payoutOf(p))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// createRefundRequest is the body of POST /v1/refunds.
type createRefundRequest struct {
	Payment string  `json:"payment" doc:"required; the payment to refund"`
	Amount  *amount `json:"amount,omitempty" doc:"default: everything not yet refunded"`
	Reason  string  `json:"reason,omitempty"`
}

// refundResource is how a refund looks.
type refundResource struct {
	ID            string       `json:"id"`
	Object        string       `json:"object"`
	Livemode      bool         `json:"livemode"`
	Payment       string       `json:"payment"`
	Status        string       `json:"status" doc:"pending, succeeded or failed"`
	Amount        int64        `json:"amount"`
	Currency      string       `json:"currency"`
	Reason        string       `json:"reason"`
	Failure       *failureWire `json:"failure"`
	RailReference *string      `json:"rail_reference"`
	CreatedAt     time.Time    `json:"created_at"`
	CompletedAt   *time.Time   `json:"completed_at"`
}

func refundOf(f malipo.Refund) refundResource {
	r := refundResource{ID: f.ID, Object: "refund", Livemode: f.Mode == malipo.ModeLive, Payment: f.PaymentID, Status: string(f.Status),
		Amount: f.Amount, Currency: string(f.Currency), Reason: f.Reason, RailReference: optional(f.RailReference), CreatedAt: f.CreatedAt}
	if f.FailureCode != "" {
		r.Failure = &failureWire{Code: f.FailureCode, Message: f.FailureReason}
	}
	if !f.CompletedAt.IsZero() {
		r.CompletedAt = &f.CompletedAt
	}
	return r
}

func (a *API) createRefund(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	b, err := body(w, r)
	if err != nil {
		return err
	}
	var req createRefundRequest
	if err := decode(b, &req); err != nil {
		return err
	}
	input := gateway.RefundInput{PaymentID: req.Payment, Reason: req.Reason}
	if req.Amount != nil {
		if *req.Amount <= 0 {
			return malipo.Invalid("amount", "amount_invalid", "amount must be a positive integer number of minor units")
		}
		input.Amount = int64(*req.Amount)
	}
	f, replayed, err := a.svc.CreateRefund(r.Context(), in, input, idempotency(r, b))
	if err != nil {
		return err
	}
	markReplay(w, replayed)
	writeJSON(w, http.StatusCreated, refundOf(f))
	return nil
}

func (a *API) getRefund(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	f, err := a.svc.GetRefund(r.Context(), in, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, refundOf(f))
	return nil
}

type refundList struct {
	Object  string           `json:"object"`
	Data    []refundResource `json:"data"`
	HasMore bool             `json:"has_more"`
	URL     string           `json:"url"`
}

func (a *API) paymentRefunds(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	q, err := query(r, "created[gte]", "created[lte]")
	if err != nil {
		return err
	}
	from, to, err := created(q)
	if err != nil {
		return err
	}
	rs, err := a.svc.PaymentRefunds(r.Context(), in, r.PathValue("id"))
	if err != nil {
		return err
	}
	list := refundList{Object: "list", Data: []refundResource{}, URL: r.URL.Path}
	for _, f := range rs {
		if !within(f.CreatedAt, from, to) {
			continue
		}
		list.Data = append(list.Data, refundOf(f))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// topupRequest is the body of POST /v1/sandbox/topup.
type topupRequest struct {
	Amount   *amount `json:"amount" doc:"required; integer minor units"`
	Currency string  `json:"currency" doc:"required"`
}

func (a *API) topup(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	b, err := body(w, r)
	if err != nil {
		return err
	}
	var req topupRequest
	if err := decode(b, &req); err != nil {
		return err
	}
	if req.Amount == nil {
		return malipo.Invalid("amount", "parameter_missing", "amount is required")
	}
	bs, err := a.svc.Topup(r.Context(), in, int64(*req.Amount), req.Currency)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, balances(in, bs))
	return nil
}

func (a *API) listRefunds(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	pg, err := listQuery(r)
	if err != nil {
		return err
	}
	rs, err := a.svc.ListRefunds(r.Context(), in, store.RefundFilter{StartingAfter: pg.startingAfter, Limit: pg.want + 1,
		CreatedFrom: pg.from, CreatedTo: pg.to})
	if err != nil {
		return err
	}
	list := refundList{Object: "list", Data: []refundResource{}, URL: "/v1/refunds"}
	rs, list.HasMore = nextPage(rs, pg.want)
	for _, f := range rs {
		list.Data = append(list.Data, refundOf(f))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// balanceTransaction is one movement of a balance, with the balance after.
type balanceTransaction struct {
	ID           string    `json:"id" doc:"the ledger entry"`
	Object       string    `json:"object"`
	Type         string    `json:"type" doc:"payment, settlement, payout, refund, transfer, topup … : what moved the money"`
	Source       string    `json:"source" doc:"the payment, payout or refund that moved it"`
	SourceType   string    `json:"source_type"`
	Amount       int64     `json:"amount" doc:"positive: in; negative: out"`
	Currency     string    `json:"currency"`
	BalanceAfter int64     `json:"balance_after"`
	CreatedAt    time.Time `json:"created_at"`
}

type balanceTransactionList struct {
	Object  string               `json:"object"`
	Data    []balanceTransaction `json:"data"`
	HasMore bool                 `json:"has_more"`
	URL     string               `json:"url"`
}

func (a *API) listBalanceTransactions(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	pg, err := listQuery(r, "currency", "bucket")
	if err != nil {
		return err
	}
	if pg.q.Get("currency") == "" {
		return malipo.Invalid("currency", "parameter_missing", "currency is required")
	}
	ms, err := a.svc.Statement(r.Context(), in, pg.q.Get("currency"), pg.q.Get("bucket"),
		store.MovementFilter{StartingAfter: pg.startingAfter, Limit: pg.want + 1, CreatedFrom: pg.from, CreatedTo: pg.to})
	if err != nil {
		return err
	}
	list := balanceTransactionList{Object: "list", Data: []balanceTransaction{}, URL: "/v1/balance_transactions"}
	ms, list.HasMore = nextPage(ms, pg.want)
	for _, m := range ms {
		list.Data = append(list.Data, balanceTransaction{ID: m.EntryID, Object: "balance_transaction", Type: m.Kind, Source: m.RefID,
			SourceType: m.RefType, Amount: m.Amount, Currency: string(m.Currency), BalanceAfter: m.BalanceAfter, CreatedAt: m.CreatedAt})
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}
