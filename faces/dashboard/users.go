package dashboard

import (
	"net/http"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
)

type usersData struct {
	Users []malipo.User
	Roles []string
}

// users lists the merchant's users, for its owners to manage.
func (p *Pages) users(w http.ResponseWriter, r *request) {
	list, err := p.svc.ListUsers(r.Context(), r.user.MerchantID)
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	v := p.view(r, "users", "users_title")
	_, v.Error = takeFlash(w, r.Request)
	v.Data = usersData{Users: list, Roles: []string{"owner", "developer", "support", "viewer"}}
	p.render(w, http.StatusOK, "users", v)
}

// addUser adds a user to the merchant with a first password to hand over.
func (p *Pages) addUser(w http.ResponseWriter, r *request) {
	f := r.PostForm
	_, err := p.svc.CreateUser(r.Context(), gateway.UserInput{MerchantID: r.user.MerchantID, Email: f.Get("email"), Password: f.Get("password"),
		Role: malipo.Role(f.Get("role"))})
	p.afterUsers(w, r, err)
}

// changeUser changes a user's role, or disables or re-enables them.
func (p *Pages) changeUser(w http.ResponseWriter, r *request) {
	var c gateway.UserChange
	switch action := r.PostForm.Get("action"); action {
	case "role":
		role := malipo.Role(r.PostForm.Get("role"))
		c.Role = &role
	case "disable", "enable":
		off := action == "disable"
		c.Disabled = &off
	}
	_, err := p.svc.ChangeUser(r.Context(), r.user.MerchantID, r.PathValue("id"), c)
	if malipo.KindOf(err) == malipo.KindNotFound {
		p.notFound(w, r.Request, r)
		return
	}
	p.afterUsers(w, r, err)
}

func (p *Pages) afterUsers(w http.ResponseWriter, r *request, err error) {
	if err != nil {
		if malipo.KindOf(err) == malipo.KindInternal {
			p.failed(w, r.Request, err)
			return
		}
		setFlash(w, "error", malipo.AsError(err).Message)
	}
	http.Redirect(w, r.Request, "/dashboard/users", http.StatusSeeOther)
}
