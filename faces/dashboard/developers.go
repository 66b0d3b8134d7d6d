package dashboard

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
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
	NewKey       string       // a rolled key, shown once
	Credentials  []credential // a new integration's, shown once
	Overlaps     []string
	Flavors      []string
}

// developers lists the merchant's integrations in the session's mode.
func (p *Pages) developers(w http.ResponseWriter, r *request) {
	p.renderDevelopers(w, r, "", http.StatusOK)
}

func (p *Pages) renderDevelopers(w http.ResponseWriter, r *request, newKey string, status int) {
	p.renderDevelopersWith(w, r, developersData{NewKey: newKey})
}

func (p *Pages) renderDevelopersWith(w http.ResponseWriter, r *request, data developersData) {
	status := http.StatusOK
	list, err := p.svc.ListIntegrations(r.Context(), r.user.MerchantID)
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	data.Overlaps = []string{"0s", "1h", "24h", "168h"}
	data.Flavors = []string{"native", "paydunya", "cinetpay", "kpay", "ipay", "clickpay"}
	now := p.svc.Now()
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
			Rolls: p.svc.Rolls(in), Revoked: true}
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
	creds, err := p.svc.RollKey(r.Context(), in.ID, overlap)
	if err != nil {
		if malipo.KindOf(err) == malipo.KindInternal {
			p.failed(w, r.Request, err)
			return
		}
		setFlash(w, "error", malipo.AsError(err).Message)
		http.Redirect(w, r.Request, "/dashboard/developers", http.StatusSeeOther)
		return
	}
	if key, ok := creds["secret_key"]; ok && len(creds) == 1 {
		p.renderDevelopers(w, r, key, http.StatusOK)
		return
	}
	p.renderDevelopersWith(w, r, developersData{Credentials: sortedCredentials(creds)})
}

func sortedCredentials(creds gateway.Credentials) []credential {
	var shown []credential
	for k, v := range creds {
		shown = append(shown, credential{k, v})
	}
	slices.SortFunc(shown, func(a, b credential) int { return strings.Compare(a.Name, b.Name) })
	return shown
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

// createIntegration adds an integration in the session's mode and shows
// its credentials, once.
func (p *Pages) createIntegration(w http.ResponseWriter, r *request) {
	f := r.PostForm
	payouts := f.Get("payouts") == "on"
	_, creds, err := p.svc.CreateIntegration(r.Context(), gateway.IntegrationInput{MerchantID: r.user.MerchantID,
		Flavor: malipo.Flavor(f.Get("flavor")), Mode: r.session.Mode, NotifyURL: strings.TrimSpace(f.Get("notify_url")),
		Country: f.Get("country"), Payouts: &payouts})
	if err != nil {
		if malipo.KindOf(err) == malipo.KindInternal {
			p.failed(w, r.Request, err)
			return
		}
		setFlash(w, "error", malipo.AsError(err).Message)
		http.Redirect(w, r.Request, "/dashboard/developers", http.StatusSeeOther)
		return
	}
	p.renderDevelopersWith(w, r, developersData{Credentials: sortedCredentials(creds)})
}

type credential struct{ Name, Value string }

// settings changes an integration's settings.
func (p *Pages) settings(w http.ResponseWriter, r *request) {
	in, ok := p.owned(r, r.PathValue("id"))
	if !ok {
		p.notFound(w, r.Request, r)
		return
	}
	f := r.PostForm
	notify, country, payouts := strings.TrimSpace(f.Get("notify_url")), f.Get("country"), f.Get("payouts") == "on"
	var ips []string
	for _, a := range strings.FieldsFunc(f.Get("allow_ips"), func(c rune) bool { return c == ',' || c == ' ' }) {
		ips = append(ips, a)
	}
	set := gateway.IntegrationSettings{NotifyURL: &notify, AllowIPs: &ips, Country: &country, Payouts: &payouts}
	if n, err := strconv.Atoi(f.Get("payouts_per_destination")); err == nil {
		set.PayoutsPerDestination = &n
	}
	if d, err := time.ParseDuration(f.Get("payout_window")); err == nil {
		set.PayoutWindow = &d
	}
	if n, err := strconv.ParseInt(f.Get("max_payout"), 10, 64); err == nil {
		set.MaxPayout = &n
	}
	if _, err := p.svc.UpdateIntegration(r.Context(), in.ID, set); err != nil {
		if malipo.KindOf(err) == malipo.KindInternal {
			p.failed(w, r.Request, err)
			return
		}
		setFlash(w, "error", malipo.AsError(err).Message)
	}
	http.Redirect(w, r.Request, "/dashboard/developers#"+in.ID, http.StatusSeeOther)
}
