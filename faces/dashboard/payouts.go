package dashboard

import (
	"net/http"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/store"
)

type payoutsData struct {
	datedList[malipo.Payout]
	CanPay bool
}

// payouts lists the merchant's payouts, between two days if asked.
func (p *Pages) payouts(w http.ResponseWriter, r *request) {
	list, err := listDated(r.URL.Query(), "/dashboard/payouts", func(from, to time.Time, after string) ([]malipo.Payout, error) {
		return p.svc.ListPayouts(r.Context(), r.scope, store.PayoutFilter{CreatedFrom: from, CreatedTo: to, StartingAfter: after, Limit: pageSize + 1})
	}, func(po malipo.Payout) string { return po.ID })
	if malipo.KindOf(err) == malipo.KindNotFound {
		err = nil
	}
	p.renderListed(w, r, "payouts", "payouts_title", payoutsData{list, r.user.Role.Can(malipo.PermPayout)}, err)
}

// payoutForm is what a new payout's form holds, from the first step to
// the confirmation.
type payoutForm struct {
	Integration, Account, Operator, Amount, Currency, Narration, Key string
	Integrations                                                     []malipo.Integration
	Confirm                                                          bool
}

func readPayoutForm(r *request) payoutForm {
	f := r.PostForm
	return payoutForm{Integration: f.Get("integration"), Account: strings.TrimSpace(f.Get("account")), Operator: f.Get("operator"),
		Amount: strings.TrimSpace(f.Get("amount")), Currency: strings.ToUpper(strings.TrimSpace(f.Get("currency"))),
		Narration: strings.TrimSpace(f.Get("narration")), Key: f.Get("key")}
}

// payoutIntegrations are the integrations a payout may be sent through:
// the merchant's, in the session's mode, that may pay out and are not
// revoked.
func (p *Pages) payoutIntegrations(r *request) []malipo.Integration {
	list, _ := p.svc.ListIntegrations(r.Context(), r.user.MerchantID)
	var out []malipo.Integration
	for _, in := range list {
		if in.Mode == r.session.Mode && p.svc.PayoutsEnabled(in) {
			out = append(out, in)
		}
	}
	return out
}

// newPayout shows the payout form (GET) or, posted, its confirmation: the
// money leaves only after a second, explicit step.
func (p *Pages) newPayout(w http.ResponseWriter, r *request) {
	form := payoutForm{Key: newKey(), Currency: "XOF"}
	if r.Method == http.MethodPost {
		form = readPayoutForm(r)
		form.Confirm = true
	}
	form.Integrations = p.payoutIntegrations(r)
	v := p.view(r, "payouts", "payout_new")
	if form.Confirm {
		if _, err := malipo.ParseDecimal(form.Amount, malipo.Currency(form.Currency)); err != nil || form.Account == "" {
			v.Error, form.Confirm = t(r.lang, "payout_incomplete"), false
		}
	}
	v.Data = form
	p.render(w, http.StatusOK, "payout_new", v)
}

// createPayout sends the confirmed payout, once per form.
func (p *Pages) createPayout(w http.ResponseWriter, r *request) {
	form := readPayoutForm(r)
	var in malipo.Integration
	for _, c := range p.payoutIntegrations(r) {
		if c.ID == form.Integration {
			in = c
		}
	}
	fail := func(err error) {
		v := p.view(r, "payouts", "payout_new")
		form.Integrations = p.payoutIntegrations(r)
		v.Error, v.Data = malipo.AsError(err).Message, form
		p.render(w, http.StatusUnprocessableEntity, "payout_new", v)
	}
	if in.ID == "" {
		fail(malipo.Invalid("integration", "parameter_invalid", "%s", t(r.lang, "payout_no_integration")))
		return
	}
	amount, err := malipo.ParseDecimal(form.Amount, malipo.Currency(form.Currency))
	if err != nil {
		fail(err)
		return
	}
	ref := "dash-" + form.Key
	if len(form.Key) < 8 || len(form.Key) > 40 {
		fail(malipo.Invalid("key", "parameter_invalid", "the form has expired: start again"))
		return
	}
	po, _, err := p.svc.CreatePayout(r.Context(), in, gateway.PayoutInput{Amount: amount, Currency: form.Currency, Reference: ref,
		Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: form.Account, Operator: form.Operator},
		Narration:   form.Narration}, gateway.Idempotency{Key: formKey(r, "payout")})
	switch {
	case err == nil:
	case malipo.KindOf(err) == malipo.KindInternal:
		p.failed(w, r.Request, err)
		return
	case malipo.KindOf(err) == malipo.KindConflict && strings.Contains(malipo.AsError(err).Code, "reference"):
		// The same form sent again: show the payout it made.
		if po, err = p.svc.PayoutByReference(r.Context(), in, ref); err != nil {
			p.failed(w, r.Request, err)
			return
		}
	default:
		fail(err)
		return
	}
	http.Redirect(w, r.Request, "/dashboard/payouts/"+po.ID, http.StatusSeeOther)
}

// payout is one payout's page.
func (p *Pages) payout(w http.ResponseWriter, r *request) {
	po, err := p.svc.GetPayout(r.Context(), r.scope, r.PathValue("id"))
	if p.lookupFailed(w, r, err) {
		return
	}
	attempts, err := p.svc.RailAttempts(r.Context(), r.scope, po.ID)
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	v := p.view(r, "payouts", "payout_title")
	v.Data = struct {
		Payout   malipo.Payout
		Attempts []malipo.RailAttempt
	}{po, attempts}
	p.render(w, http.StatusOK, "payout", v)
}

// payoutsCSV exports the mode's payouts, all or between two days.
func (p *Pages) payoutsCSV(w http.ResponseWriter, r *request) {
	_, from, to, err := dated(r.URL.Query())
	if p.exportFailed(w, r, err) {
		return
	}
	out := csvFile(w, datedName("payouts-"+string(r.session.Mode), r.URL.Query()),
		"id", "created_at", "status", "amount", "currency", "fee", "reference", "destination_type", "destination_account",
		"operator", "narration", "rail_reference", "failure_code", "completed_at")
	streamRows(p, r, "export payouts", out, func(after string) ([]malipo.Payout, error) {
		return p.svc.ListPayouts(r.Context(), r.scope, store.PayoutFilter{CreatedFrom: from, CreatedTo: to, StartingAfter: after, Limit: gateway.MaxPageSize})
	}, func(po malipo.Payout) string { return po.ID }, func(po malipo.Payout) []string {
		return []string{po.ID, rfc3339(po.CreatedAt), string(po.Status), malipo.FormatDecimal(po.Amount, po.Currency),
			string(po.Currency), malipo.FormatDecimal(po.Fee, po.Currency), cell(po.Reference), string(po.Destination.Type),
			po.Destination.Account, po.Destination.Operator, // the account is validated: E.164 or digits
			cell(po.Narration), cell(po.RailReference), po.FailureCode, rfc3339(po.CompletedAt)}
	})
}
