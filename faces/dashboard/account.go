package dashboard

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"image/png"
	"net/http"

	"github.com/malipo/malipo"
)

type accountData struct {
	QR     template.URL // the new secret as a QR code (data: URL)
	Secret string
}

// account shows the user's account and two-factor sign-in.
func (p *Pages) account(w http.ResponseWriter, r *request) {
	p.renderAccount(w, r, accountData{}, "", http.StatusOK)
}

func (p *Pages) renderAccount(w http.ResponseWriter, r *request, data accountData, errText string, status int) {
	u, _, err := p.svc.Session(r.Context(), r.token) // fresh: two-factor may have changed
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	r.user = u
	v := p.view(r, "account", "account_title")
	v.Error, v.Data = errText, data
	p.render(w, status, "account", v)
}

// enrollTOTP starts two-factor sign-in: a new secret, shown once as a QR
// code and as text, to be confirmed with a code.
func (p *Pages) enrollTOTP(w http.ResponseWriter, r *request) {
	key, err := p.svc.EnrollTOTP(r.Context(), r.token)
	if err != nil {
		if malipo.KindOf(err) == malipo.KindConflict {
			p.renderAccount(w, r, accountData{}, malipo.AsError(err).Message, http.StatusConflict)
			return
		}
		p.failed(w, r.Request, err)
		return
	}
	data := accountData{Secret: key.Secret()}
	if img, err := key.Image(200, 200); err == nil {
		var buf bytes.Buffer
		if png.Encode(&buf, img) == nil {
			data.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
		}
	}
	p.renderAccount(w, r, data, "", http.StatusOK)
}

// confirmTOTP turns two-factor sign-in on with a code from the new secret.
func (p *Pages) confirmTOTP(w http.ResponseWriter, r *request) {
	if err := p.svc.ConfirmTOTP(r.Context(), r.token, r.PostForm.Get("code")); err != nil {
		if malipo.KindOf(err) == malipo.KindInternal {
			p.failed(w, r.Request, err)
			return
		}
		p.renderAccount(w, r, accountData{}, malipo.AsError(err).Message, http.StatusUnprocessableEntity)
		return
	}
	http.Redirect(w, r.Request, "/dashboard/account", http.StatusSeeOther)
}
