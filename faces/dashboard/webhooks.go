package dashboard

import (
	"net/http"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/store"
)

type webhooksData struct {
	Endpoints []malipo.Endpoint
	Events    []eventStory
	Secret    string // a new endpoint's or rotated secret, shown once
	Key       string
	Done      string
	Next      string // the link to the older events, "" on the last page
}

// eventsPage is how many events the webhooks page shows at a time, each
// with its deliveries and their attempts.
const eventsPage = 20

// webhooks shows the merchant's endpoints and the latest events, a page
// at a time, with their deliveries and each attempt, with replay.
func (p *Pages) webhooks(w http.ResponseWriter, r *request) {
	p.renderWebhooks(w, r, "", http.StatusOK)
}

func (p *Pages) renderWebhooks(w http.ResponseWriter, r *request, secret string, status int) {
	eps, err := p.svc.ListEndpoints(r.Context(), r.scope)
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	data := webhooksData{Endpoints: eps, Secret: secret, Key: newKey()}
	evs, err := p.svc.ListEvents(r.Context(), r.scope, store.EventFilter{StartingAfter: r.URL.Query().Get("after"), Limit: eventsPage + 1})
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	evs, data.Next = olderPage(evs, eventsPage, "/dashboard/webhooks", nil, func(ev malipo.Event) string { return ev.ID })
	for _, ev := range evs {
		logs, err := p.svc.EventDeliveries(r.Context(), r.scope, ev.ID)
		if err != nil {
			p.failed(w, r.Request, err)
			return
		}
		data.Events = append(data.Events, eventStory{Event: ev, Deliveries: logs})
	}
	v := p.view(r, "webhooks", "webhooks_title")
	done, failed := takeFlash(w, r.Request)
	if done != "" {
		data.Done = v.T("replayed")
	}
	v.Error = failed
	v.Data = data
	p.render(w, status, "webhooks", v)
}

// endpointAction creates, disables, enables, rotates or deletes an
// endpoint, as the form's action says.
func (p *Pages) endpointAction(w http.ResponseWriter, r *request) {
	id := r.PathValue("id")
	var err error
	var secret string
	switch action := r.PostForm.Get("action"); action {
	case "create":
		url := strings.TrimSpace(r.PostForm.Get("url"))
		events := splitList(r.PostForm.Get("events"))
		_, secret, _, err = p.svc.CreateEndpoint(r.Context(), r.scope, gateway.EndpointInput{URL: &url, Events: &events},
			gateway.Idempotency{Key: formKey(r, "endpoint")})
	case "edit":
		url := strings.TrimSpace(r.PostForm.Get("url"))
		events := splitList(r.PostForm.Get("events"))
		_, err = p.svc.UpdateEndpoint(r.Context(), r.scope, id, gateway.EndpointInput{URL: &url, Events: &events})
	case "disable", "enable":
		off := action == "disable"
		_, err = p.svc.UpdateEndpoint(r.Context(), r.scope, id, gateway.EndpointInput{Disabled: &off})
	case "rotate":
		_, secret, err = p.svc.RotateEndpointSecret(r.Context(), r.scope, id, 24*time.Hour)
	case "delete":
		err = p.svc.DeleteEndpoint(r.Context(), r.scope, id)
	default:
		err = malipo.Invalid("action", "parameter_invalid", "unknown action")
	}
	switch malipo.KindOf(err) {
	case malipo.KindNotFound:
		p.notFound(w, r.Request, r)
		return
	case malipo.KindInternal:
		if err != nil {
			p.failed(w, r.Request, err)
			return
		}
	}
	if err != nil {
		setFlash(w, "error", malipo.AsError(err).Message)
		http.Redirect(w, r.Request, "/dashboard/webhooks", http.StatusSeeOther)
		return
	}
	if secret != "" {
		p.renderWebhooks(w, r, secret, http.StatusOK) // shown once, never stored in the clear
		return
	}
	http.Redirect(w, r.Request, "/dashboard/webhooks", http.StatusSeeOther)
}

// replay sends an event again to every enabled destination it went to.
func (p *Pages) replay(w http.ResponseWriter, r *request) {
	_, _, err := p.svc.Redeliver(r.Context(), r.scope, r.PathValue("id"), gateway.Idempotency{Key: formKey(r, "replay")})
	switch {
	case malipo.KindOf(err) == malipo.KindNotFound:
		p.notFound(w, r.Request, r)
		return
	case err != nil && malipo.KindOf(err) == malipo.KindInternal:
		p.failed(w, r.Request, err)
		return
	case err != nil:
		setFlash(w, "error", malipo.AsError(err).Message)
	default:
		setFlash(w, "done", "replayed")
	}
	http.Redirect(w, r.Request, "/dashboard/webhooks", http.StatusSeeOther)
}

// splitList reads a list typed with commas or spaces.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(c rune) bool { return c == ',' || c == ' ' })
}
