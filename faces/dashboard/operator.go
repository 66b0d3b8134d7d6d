package dashboard

import (
	"net/http"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/rails/route"
)

type platformData struct {
	Audit    malipo.AuditReport
	Clean    bool
	Problems []string
	Rails    []route.Health
}

// platform is the operator's view of the gateway: the ledger audit (what
// malipo verify says) and the live rails' circuits.
func (p *Pages) platform(w http.ResponseWriter, r *request) {
	report, err := p.svc.Verify(r.Context())
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	v := p.view(r, "platform", "platform_title")
	data := platformData{Audit: report, Clean: report.Clean()}
	for _, problem := range report.Problems() {
		for _, id := range problem.IDs {
			data.Problems = append(data.Problems, v.T("audit_item", v.T("audit_"+problem.Code), id))
		}
	}
	if p.RailHealth != nil {
		data.Rails = p.RailHealth()
	}
	v.Data = data
	p.render(w, http.StatusOK, "platform", v)
}

type merchantData struct {
	Merchant malipo.Merchant
	Modes    []modeData
}

type modeData struct {
	Mode     malipo.Mode
	Balances []malipo.Balance
	Stats    []gateway.Stats // the last 30 days, per currency
}

// merchant is the operator's view of one merchant: its balances and its
// last 30 days, in both modes.
func (p *Pages) merchant(w http.ResponseWriter, r *request) {
	m, err := p.svc.Merchant(r.Context(), r.PathValue("id"))
	if p.lookupFailed(w, r, err) {
		return
	}
	data := merchantData{Merchant: m}
	for _, mode := range []malipo.Mode{malipo.ModeLive, malipo.ModeTest} {
		scope := malipo.Integration{MerchantID: m.ID, Mode: mode}
		md := modeData{Mode: mode}
		if md.Balances, err = p.svc.Balances(r.Context(), scope); err != nil {
			p.failed(w, r.Request, err)
			return
		}
		for _, b := range md.Balances {
			st, err := p.svc.PaymentStats(r.Context(), scope, string(b.Currency), 30)
			if err != nil {
				p.failed(w, r.Request, err)
				return
			}
			md.Stats = append(md.Stats, st)
		}
		data.Modes = append(data.Modes, md)
	}
	v := p.view(r, "merchants", "merchants_title")
	v.Title = m.Name
	v.Data = data
	p.render(w, http.StatusOK, "merchant", v)
}

// createMerchant makes a merchant and, when an email is given, its first
// owner (the password typed by the operator, to hand over).
func (p *Pages) createMerchant(w http.ResponseWriter, r *request) {
	f := r.PostForm
	m, err := p.svc.CreateMerchant(r.Context(), f.Get("name"), "")
	if err == nil && f.Get("email") != "" {
		_, err = p.svc.CreateUser(r.Context(), gateway.UserInput{MerchantID: m.ID, Email: f.Get("email"), Password: f.Get("password"), Role: malipo.RoleOwner})
	}
	switch {
	case err == nil:
		http.Redirect(w, r.Request, "/dashboard/merchants/"+m.ID, http.StatusSeeOther)
	case malipo.KindOf(err) == malipo.KindInternal:
		p.failed(w, r.Request, err)
	default:
		setFlash(w, "error", malipo.AsError(err).Message)
		http.Redirect(w, r.Request, "/dashboard/merchants", http.StatusSeeOther)
	}
}
