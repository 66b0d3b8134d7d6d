package dashboard

import (
	"net/http"
	"time"

	"github.com/malipo/malipo"
)

// integrationView is one integration as the developers page shows it:
// never a secret, only hints of its keys and when each stops.
type integrationView struct {
	Integration malipo.Integration
	Country     string
	Payouts     bool
	Keys        []malipo.APIKey
	Revoked     bool
	Rolls       bool // native keys roll; a provider's set does not
}

type developersData struct {
	Integrations []integrationView
	NewKey       string // a rolled key, shown once
	Overlaps     []string
}

// developers lists the merchant's integrations in the session's mode.
func (p *Pages) developers(w http.ResponseWriter, r *request) {
	p.renderDevelopers(w, r, "", http.StatusOK)
}

func (p *Pages) renderDevelopers(w http.ResponseWriter, r *request, newKey string, status int) {
	list, err := p.svc.ListIntegrations(r.Context(), r.user.MerchantID)
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	data := developersData{NewKey: newKey, Overlaps: []string{"0s", "1h", "24h", "168h"}}
	now := time.Now()
	for _, in := range list {
		if in.Mode != r.session.Mode {
			continue
		}
		keys, err := p.svc.APIKeys(r.Context(), in.ID)
		if err != nil {
			p.failed(w, r.Request, err)
			return
		}
		iv := integrationView{Integration: in, Country: p.svc.Home(in), Payouts: p.svc.PayoutsEnabled(in), Keys: keys,
			Rolls: in.Flavor == malipo.FlavorNative, Revoked: true}
		for _, k := range keys {
			if k.Works(now) {
				iv.Revoked = false
			}
		}
		data.Integrations = append(data.Integrations, iv)
	}
	v := p.view(r, "developers", "developers_title")
	_, v.Error = takeFlash(w, r.Request)
	v.Data = data
	p.render(w, status, "developers", v)
}

// owned finds one of the user's merchant's integrations in the session's
// mode; any other is not found.
func (p *Pages) owned(r *request, id string) (malipo.Integration, bool) {
	list, err := p.svc.ListIntegrations(r.Context(), r.user.MerchantID)
	if err != nil {
		return malipo.Integration{}, false
	}
	for _, in := range list {
		if in.ID == id && in.Mode == r.session.Mode {
			return in, true
		}
	}
	return malipo.Integration{}, false
}

// roll gives a native integration a new key and shows it, once.
func (p *Pages) roll(w http.ResponseWriter, r *request) {
	in, ok := p.owned(r, r.PathValue("id"))
	if !ok {
		p.notFound(w, r.Request, r)
		return
	}
	overlap, err := time.ParseDuration(r.PostForm.Get("overlap"))
	if err != nil {
		overlap = 24 * time.Hour
	}
	key, err := p.svc.RollKey(r.Context(), in.ID, overlap)
	if err != nil {
		if malipo.KindOf(err) == malipo.KindInternal {
			p.failed(w, r.Request, err)
			return
		}
		setFlash(w, "error", malipo.AsError(err).Message)
		http.Redirect(w, r.Request, "/dashboard/developers", http.StatusSeeOther)
		return
	}
	p.renderDevelopers(w, r, key, http.StatusOK)
}

// revoke stops every key of an integration, once the user confirmed it.
func (p *Pages) revoke(w http.ResponseWriter, r *request) {
	in, ok := p.owned(r, r.PathValue("id"))
	if !ok {
		p.notFound(w, r.Request, r)
		return
	}
	if r.PostForm.Get("confirm") != in.ID {
		setFlash(w, "error", t(r.lang, "revoke_confirm_missing"))
	} else if err := p.svc.RevokeIntegration(r.Context(), in.ID); err != nil {
		p.failed(w, r.Request, err)
		return
	}
	http.Redirect(w, r.Request, "/dashboard/developers", http.StatusSeeOther)
}
