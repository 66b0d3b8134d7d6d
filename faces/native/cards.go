package native

import (
	"net/http"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
)

// createCardSetupRequest is the body of POST /v1/card_setup.
type createCardSetupRequest struct {
	Customer  *customerWire `json:"customer" doc:"required; phone identifies the customer's saved cards"`
	Reference string        `json:"reference,omitempty"`
	ReturnURL string        `json:"return_url,omitempty" doc:"where the customer goes once the card is saved"`
	Lang      string        `json:"lang,omitempty" doc:"fr or en"`
}

// cardResource is a saved card: never its number, only a masked form.
type cardResource struct {
	ID        string       `json:"id" doc:"the card_token to pay with"`
	Object    string       `json:"object"`
	Livemode  bool         `json:"livemode"`
	Scheme    string       `json:"scheme" doc:"VISA, MASTERCARD, …"`
	Masked    string       `json:"masked" doc:"first six and last four digits, e.g. 555555xxxxxx4444"`
	ExpMonth  int          `json:"exp_month"`
	ExpYear   int          `json:"exp_year"`
	Customer  customerWire `json:"customer"`
	CreatedAt time.Time    `json:"created_at"`
}

func cardOf(c malipo.CardToken) cardResource {
	return cardResource{ID: c.ID, Object: "card", Livemode: c.Mode == malipo.ModeLive, Scheme: c.Scheme, Masked: c.Masked,
		ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, Customer: customerWire(c.Customer), CreatedAt: c.CreatedAt}
}

// cardSetupResource is a page where a customer saves a card.
type cardSetupResource struct {
	ID        string       `json:"id"`
	Object    string       `json:"object"`
	Livemode  bool         `json:"livemode"`
	URL       string       `json:"url" doc:"send the customer here"`
	Status    string       `json:"status" doc:"pending, succeeded or expired"`
	Customer  customerWire `json:"customer"`
	Reference string       `json:"reference"`
	ReturnURL *string      `json:"return_url"`
	Card      *string      `json:"card" doc:"the saved card's id (its card_token), once saved"`
	CreatedAt time.Time    `json:"created_at"`
	ExpiresAt time.Time    `json:"expires_at"`
}

func (a *API) cardSetup(cs malipo.CardSetup) cardSetupResource {
	return cardSetupResource{ID: cs.ID, Object: "card_setup", Livemode: cs.Mode == malipo.ModeLive, URL: a.svc.CardSetupURL(cs),
		Status: string(cs.Status), Customer: customerWire(cs.Customer), Reference: cs.Reference,
		ReturnURL: optional(cs.ReturnURL), Card: optional(cs.CardTokenID), CreatedAt: cs.CreatedAt, ExpiresAt: cs.ExpiresAt}
}

func (a *API) createCardSetup(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	b, err := body(w, r)
	if err != nil {
		return err
	}
	var req createCardSetupRequest
	if err := decode(b, &req); err != nil {
		return err
	}
	if req.Customer == nil || req.Customer.Phone == "" {
		return malipo.Invalid("customer.phone", "parameter_missing", "customer.phone is required: it identifies the customer's cards")
	}
	cs, replayed, err := a.svc.CreateCardSetup(r.Context(), in, gateway.CardSetupInput{Customer: malipo.Customer(*req.Customer),
		Reference: req.Reference, ReturnURL: req.ReturnURL, Lang: req.Lang}, idempotency(r, b))
	if err != nil {
		return err
	}
	markReplay(w, replayed)
	writeJSON(w, http.StatusCreated, a.cardSetup(cs))
	return nil
}

func (a *API) getCardSetup(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	cs, err := a.svc.GetCardSetup(r.Context(), in, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.cardSetup(cs))
	return nil
}

type cardList struct {
	Object  string         `json:"object"`
	Data    []cardResource `json:"data"`
	HasMore bool           `json:"has_more"`
	URL     string         `json:"url"`
}

func (a *API) listCards(w http.ResponseWriter, r *http.Request, in malipo.Integration) error {
	q, err := query(r, "created[gte]", "created[lte]")
	if err != nil {
		return err
	}
	from, to, err := created(q)
	if err != nil {
		return err
	}
	cards, err := a.svc.ListCards(r.Context(), in, r.PathValue("phone"))
	if err != nil {
		return err
	}
	list := cardList{Object: "list", Data: []cardResource{}, URL: r.URL.Path}
	for _, c := range cards {
		if !within(c.CreatedAt, from, to) {
			continue
		}
		list.Data = append(list.Data, cardOf(c))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}
