package native

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/snapshot"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/webhook"
)

// eventResource is how an event looks, both on GET /v1/events and as the
// body of a native notification.
type eventResource struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	Type      string    `json:"type" doc:"payment.succeeded|failed|cancelled|expired|unmatched, payout.succeeded|failed, refund.succeeded|failed, transfer.received"`
	Livemode  bool      `json:"livemode"`
	CreatedAt time.Time `json:"created_at"`
	Data      eventData `json:"data"`
}

type eventData struct {
	Object any `json:"object" doc:"the payment, payout or refund as it was when the event happened (for payment.unmatched, the unmatched money)"`
}

func (a *API) event(e malipo.Event) (eventResource, error) {
	r := eventResource{ID: e.ID, Object: "event", Type: e.Type, Livemode: e.Mode == malipo.ModeLive, CreatedAt: e.CreatedAt}
	switch e.ObjectType {
	case "payment":
		var p malipo.Payment
		if err := snapshot.Decode(e.Data, &p); err != nil {
			return r, fmt.Errorf("event %s: decode payment: %w", e.ID, err)
		}
		r.Data.Object = a.payment(p)
	case "payout":
		var p malipo.Payout
		if err := snapshot.Decode(e.Data, &p); err != nil {
			return r, fmt.Errorf("event %s: decode payout: %w", e.ID, err)
		}
		r.Data.Object = payoutOf(p)
	case "refund":
		var f malipo.Refund
		if err := snapshot.Decode(e.Data, &f); err != nil {
			return r, fmt.Errorf("event %s: decode refund: %w", e.ID, err)
		}
		r.Data.Object = refundOf(f)
	case "unmatched":
		var u malipo.Unmatched
		if err := snapshot.Decode(e.Data, &u); err != nil {
			return r, fmt.Errorf("event %s: decode unmatched money: %w", e.ID, err)
		}
		r.Data.Object = unmatchedResource{ID: u.ID, Object: "unmatched_money", Livemode: r.Livemode, Payment: u.PaymentID,
			Amount: u.Amount, Currency: string(u.Currency), PaymentStatus: string(u.PaymentStatus), Rail: u.Rail,
			RailReference: u.RailReference, CreatedAt: u.At}
	default:
		return r, fmt.Errorf("event %s: unknown object type %q", e.ID, e.ObjectType)
	}
	return r, nil
}

// unmatchedResource is what a payment.unmatched event carries: money a
// rail collected for a payment that could no longer take it (cancelled,
// failed, or paid already), held in suspense until it is sorted out.
type unmatchedResource struct {
	ID            string    `json:"id" doc:"the rail outcome that reported the money"`
	Object        string    `json:"object"`
	Livemode      bool      `json:"livemode"`
	Payment       string    `json:"payment"`
	Amount        int64     `json:"amount"`
	Currency      string    `json:"currency"`
	PaymentStatus string    `json:"payment_status" doc:"what the payment was when the money came"`
	Rail          string    `json:"rail"`
	RailReference string    `json:"rail_reference"`
	CreatedAt     time.Time `json:"created_at"`
}

// Flavor is the native notification flavor, after the Standard Webhooks
// specification: the event as JSON, signed in the webhook-id,
// webhook-timestamp and webhook-signature headers by every active secret of
// the endpoint (or the integration's webhook_secret for a notify_url), and
// acknowledged by any 2xx answer. The webhook-id is the event ID, the same
// on every retry, so receivers can drop duplicates.
func (a *API) Flavor() notify.Flavor { return flavor{a} }

type flavor struct{ a *API }

func (f flavor) Build(m notify.Message) (notify.Request, error) {
	ev, err := f.a.event(m.Event)
	if err != nil {
		return notify.Request{}, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return notify.Request{}, err
	}
	var secrets []string
	if m.Endpoint != nil {
		secrets = m.Endpoint.ActiveSecrets(m.Now)
	} else if s := m.Integration.Config["webhook_secret"]; s != "" {
		secrets = []string{s}
	}
	if len(secrets) == 0 {
		return notify.Request{}, errors.New("no signing secret: create a new integration or endpoint to get one")
	}
	h, err := webhook.Headers(secrets, m.Event.ID, m.Now, body)
	if err != nil {
		return notify.Request{}, err
	}
	h.Set("Content-Type", "application/json")
	return notify.Request{Header: h, Body: body}, nil
}

func (flavor) Acknowledged(status int, _ []byte) bool { return notify.Acknowledged2xx(status) }

// createEndpointRequest is the body of POST /v1/webhook_endpoints.
type createEndpointRequest struct {
	URL    string   `json:"url" doc:"required; where to POST notifications"`
	Events []string `json:"events,omitempty" doc:"event types, or payment.*, or *; default every event"`
}

// updateEndpointRequest is the body of POST /v1/webhook_endpoints/{id}.
type updateEndpointRequest struct {
	URL      *string   `json:"url,omitempty"`
	Events   *[]string `json:"events,omitempty"`
	Disabled *bool     `json:"disabled,omitempty" doc:"false re-enables an endpoint disabled after a 410 answer"`
}

// rotateSecretRequest is the body of POST /v1/webhook_endpoints/{id}/rotate_secret.
type rotateSecretRequest struct {
	ExpiresIn *int64 `json:"expires_in,omitempty" doc:"seconds the old secret keeps signing beside the new one; default 86400, at most 604800"`
}

// endpointResource is how a webhook endpoint looks. Its secret appears
// only in the answers that create it.
type endpointResource struct {
	ID             string    `json:"id"`
	Object         string    `json:"object"`
	Livemode       bool      `json:"livemode"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Status         string    `json:"status" doc:"enabled or disabled"`
	DisabledReason *string   `json:"disabled_reason"`
	Secret         *string   `json:"secret,omitempty" doc:"whsec_…; shown only when created or rotated"`
	CreatedAt      time.Time `json:"created_at"`
}

func endpoint(ep malipo.Endpoint, secret string) endpointResource {
	events := ep.Events
	if len(events) == 0 {
		events = []string{"*"}
	}
	r := endpointResource{ID: ep.ID, Object: "webhook_endpoint", Livemode: ep.Mode == malipo.ModeLive, URL: ep.URL,
		Events: events, Status: "enabled", CreatedAt: ep.CreatedAt}
	if ep.Disabled {
		r.Status, r.DisabledReason = "disabled", &ep.DisabledReason
	}
	if secret != "" {
		r.Secret = &secret
	}
	return r
}

type endpointList struct {
	Object  string             `json:"object"`
	Data    []endpointResource `json:"data"`
	HasMore bool               `json:"has_more"`
	URL     string             `json:"url"`
}

type deletedResource struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

func (a *API) createEndpoint(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	b, err := body(w, r)
	if err != nil {
		return err
	}
	var req createEndpointRequest
	if err := decode(b, &req); err != nil {
		return err
	}
	input := gateway.EndpointInput{URL: &req.URL}
	if req.Events != nil {
		input.Events = &req.Events
	}
	ep, secret, replayed, err := a.svc.CreateEndpoint(r.Context(), in, input, idempotency(r, b))
	if err != nil {
		return err
	}
	markReplay(w, replayed)
	writeJSON(w, http.StatusCreated, endpoint(ep, secret))
	return nil
}

func (a *API) listEndpoints(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	q, err := query(r, "created[gte]", "created[lte]")
	if err != nil {
		return err
	}
	from, to, err := created(q)
	if err != nil {
		return err
	}
	eps, err := a.svc.ListEndpoints(r.Context(), in)
	if err != nil {
		return err
	}
	list := endpointList{Object: "list", Data: []endpointResource{}, URL: "/v1/webhook_endpoints"}
	for _, ep := range eps {
		if !within(ep.CreatedAt, from, to) {
			continue
		}
		list.Data = append(list.Data, endpoint(ep, ""))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (a *API) getEndpoint(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	ep, err := a.svc.GetEndpoint(r.Context(), in, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, endpoint(ep, ""))
	return nil
}

func (a *API) updateEndpoint(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	b, err := body(w, r)
	if err != nil {
		return err
	}
	var req updateEndpointRequest
	if err := decode(b, &req); err != nil {
		return err
	}
	ep, err := a.svc.UpdateEndpoint(r.Context(), in, r.PathValue("id"),
		gateway.EndpointInput{URL: req.URL, Events: req.Events, Disabled: req.Disabled})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, endpoint(ep, ""))
	return nil
}

func (a *API) deleteEndpoint(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	id := r.PathValue("id")
	if err := a.svc.DeleteEndpoint(r.Context(), in, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deletedResource{ID: id, Object: "webhook_endpoint", Deleted: true})
	return nil
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	b, err := body(w, r)
	if err != nil {
		return err
	}
	var req rotateSecretRequest
	if err := decode(b, &req); err != nil {
		return err
	}
	overlap := 24 * time.Hour
	if req.ExpiresIn != nil {
		if *req.ExpiresIn < 0 || *req.ExpiresIn > 7*24*3600 {
			return malipo.Invalid("expires_in", "parameter_invalid", "expires_in must be between 0 and 604800 seconds")
		}
		overlap = time.Duration(*req.ExpiresIn) * time.Second
	}
	ep, secret, err := a.svc.RotateEndpointSecret(r.Context(), in, r.PathValue("id"), overlap)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, endpoint(ep, secret))
	return nil
}

type eventList struct {
	Object  string          `json:"object"`
	Data    []eventResource `json:"data"`
	HasMore bool            `json:"has_more"`
	URL     string          `json:"url"`
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	pg, err := listQuery(r, "type")
	if err != nil {
		return err
	}
	evs, err := a.svc.ListEvents(r.Context(), in, store.EventFilter{Type: pg.q.Get("type"), StartingAfter: pg.startingAfter, Limit: pg.want + 1,
		CreatedFrom: pg.from, CreatedTo: pg.to})
	if err != nil {
		return err
	}
	list := eventList{Object: "list", Data: []eventResource{}, URL: "/v1/events"}
	evs, list.HasMore = nextPage(evs, pg.want)
	for _, e := range evs {
		er, err := a.event(e)
		if err != nil {
			return err
		}
		list.Data = append(list.Data, er)
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (a *API) getEvent(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	e, err := a.svc.GetEvent(r.Context(), in, r.PathValue("id"))
	if err != nil {
		return err
	}
	er, err := a.event(e)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, er)
	return nil
}

// deliveryResource is one event on its way to one URL, with its attempts.
type deliveryResource struct {
	ID            string        `json:"id"`
	Object        string        `json:"object"`
	Event         string        `json:"event"`
	Endpoint      *string       `json:"endpoint" doc:"the webhook endpoint; null for a notify_url"`
	URL           string        `json:"url"`
	Flavor        string        `json:"flavor" doc:"the wire format: native, or a provider's"`
	Status        string        `json:"status" doc:"pending, succeeded or failed"`
	AttemptCount  int           `json:"attempt_count"`
	NextAttemptAt *time.Time    `json:"next_attempt_at" doc:"null once the delivery is final"`
	CreatedAt     time.Time     `json:"created_at"`
	Attempts      []attemptWire `json:"attempts"`
}

type attemptWire struct {
	Number     int       `json:"number"`
	At         time.Time `json:"at"`
	StatusCode *int      `json:"status_code" doc:"null when no answer came"`
	LatencyMS  int64     `json:"latency_ms"`
	Response   string    `json:"response" doc:"the first 1024 bytes of the answer"`
	Error      *string   `json:"error"`
}

func delivery(d malipo.Delivery, attempts []malipo.Attempt) deliveryResource {
	r := deliveryResource{ID: d.ID, Object: "delivery", Event: d.EventID, Endpoint: optional(d.EndpointID), URL: d.URL,
		Flavor: string(d.Flavor), Status: string(d.Status), AttemptCount: d.Attempts, CreatedAt: d.CreatedAt,
		Attempts: []attemptWire{}}
	if d.Status == malipo.DeliveryPending {
		r.NextAttemptAt = &d.NextAttemptAt
	}
	for _, at := range attempts {
		aw := attemptWire{Number: at.Number, At: at.At, LatencyMS: at.Latency.Milliseconds(), Response: at.Response,
			Error: optional(at.Error)}
		if at.StatusCode != 0 {
			aw.StatusCode = &at.StatusCode
		}
		r.Attempts = append(r.Attempts, aw)
	}
	return r
}

type deliveryList struct {
	Object  string             `json:"object"`
	Data    []deliveryResource `json:"data"`
	HasMore bool               `json:"has_more"`
	URL     string             `json:"url"`
}

func (a *API) eventDeliveries(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	q, err := query(r, "created[gte]", "created[lte]")
	if err != nil {
		return err
	}
	from, to, err := created(q)
	if err != nil {
		return err
	}
	logs, err := a.svc.EventDeliveries(r.Context(), in, r.PathValue("id"))
	if err != nil {
		return err
	}
	list := deliveryList{Object: "list", Data: []deliveryResource{}, URL: r.URL.Path}
	for _, l := range logs {
		if !within(l.Delivery.CreatedAt, from, to) {
			continue
		}
		list.Data = append(list.Data, delivery(l.Delivery, l.Attempts))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (a *API) redeliver(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	b, err := body(w, r)
	if err != nil {
		return err
	}
	if err := decode(b, &struct{}{}); err != nil {
		return err
	}
	ds, replayed, err := a.svc.Redeliver(r.Context(), in, r.PathValue("id"), idempotency(r, b))
	if err != nil {
		return err
	}
	markReplay(w, replayed)
	list := deliveryList{Object: "list", Data: []deliveryResource{}, URL: r.URL.Path}
	for _, d := range ds {
		list.Data = append(list.Data, delivery(d, nil))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}
