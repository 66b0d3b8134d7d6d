package gateway

import (
	"context"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// CardSetupTTL is how long a card-saving page stays open.
const CardSetupTTL = time.Hour

// CardSetupInput asks for a page where a customer saves a card.
type CardSetupInput struct {
	Customer  malipo.Customer // Phone is required: it identifies the customer's cards
	Reference string
	ReturnURL string
	Lang      string
}

// CreateCardSetup opens a card-saving page for a customer (KPay's
// addtoken); CardSetupURL is where to send them.
func (s *Service) CreateCardSetup(ctx context.Context, in malipo.Integration, req CardSetupInput, idem Idempotency) (malipo.CardSetup, bool, error) {
	phone, err := malipo.ParseMSISDN(req.Customer.Phone, s.regionFor("", s.Home(in), ""))
	if err != nil {
		return malipo.CardSetup{}, false, malipo.AsError(err).WithParam("customer.phone")
	}
	if err := malipo.ValidateURL("return_url", req.ReturnURL); err != nil {
		return malipo.CardSetup{}, false, err
	}
	if err := malipo.ValidateLang("lang", req.Lang); err != nil {
		return malipo.CardSetup{}, false, err
	}
	if len(req.Reference) > malipo.MaxReferenceLen || len(req.Customer.Name) > 200 || len(req.Customer.Email) > 200 {
		return malipo.CardSetup{}, false, malipo.Invalid("reference", "parameter_invalid", "reference, name or email is too long")
	}
	if _, err := s.cards(in.Mode); err != nil {
		return malipo.CardSetup{}, false, err
	}
	now := s.now()
	cs := malipo.CardSetup{ID: s.cfg.IDs.ID("cs"), MerchantID: in.MerchantID, IntegrationID: in.ID, Mode: in.Mode,
		Customer: req.Customer, Reference: req.Reference, ReturnURL: req.ReturnURL, Lang: malipo.NormalizeLang(req.Lang),
		Status: malipo.CardSetupPending, CreatedAt: now, ExpiresAt: now.Add(CardSetupTTL)}
	cs.Customer.Phone = phone
	cs.Token = secretToken(cs.ID, "cs_", s.cfg.IDs.Secret("", 20))
	var replay bool
	err = s.transactIdempotent(ctx, in.ID, idem, func(tx store.Tx) error {
		var err error
		if replay, err = s.replayed(tx, in.ID, idem, &cs); err != nil || replay {
			return err
		}
		if err := tx.CreateCardSetup(cs); err != nil {
			return err
		}
		return s.remember(tx, in.ID, idem, cs)
	})
	return cs, replay, err
}

// CardSetupURL is where the customer saves a card.
func (s *Service) CardSetupURL(cs malipo.CardSetup) string {
	return strings.TrimRight(s.cfg.BaseURL, "/") + "/cards/" + cs.Token
}

// GetCardSetup reads one of the merchant's card setups.
func (s *Service) GetCardSetup(ctx context.Context, in malipo.Integration, id string) (malipo.CardSetup, error) {
	var cs malipo.CardSetup
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		cs, err = tx.GetCardSetup(id)
		return ownedBy(in, cs.MerchantID, cs.Mode, err, "card setup", id)
	})
	cs.Status = cs.StatusAt(s.now())
	return cs, err
}

// CardSetupPage is what the card-saving page shows.
type CardSetupPage struct {
	Setup    malipo.CardSetup
	Merchant malipo.Merchant
	Card     *malipo.CardToken // once saved
}

// CardSetupByToken opens the setup a card-saving URL token points at.
func (s *Service) CardSetupByToken(ctx context.Context, token string) (CardSetupPage, error) {
	notFound := &malipo.Error{Kind: malipo.KindNotFound, Code: "resource_missing", Message: "no such card page"}
	id, ok := tokenID(token, "cs_")
	if !ok {
		return CardSetupPage{}, notFound
	}
	var page CardSetupPage
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) error {
		var err error
		if page.Setup, err = tx.GetCardSetup(id); err != nil {
			return err
		}
		if !tokenMatches(page.Setup.Token, token) {
			return malipo.ErrNotFound
		}
		if page.Setup.CardTokenID != "" {
			c, err := tx.GetCardToken(page.Setup.CardTokenID)
			if err != nil {
				return err
			}
			page.Card = &c
		}
		page.Merchant, err = tx.GetMerchant(page.Setup.MerchantID)
		return err
	})
	if malipo.KindOf(err) == malipo.KindNotFound {
		return CardSetupPage{}, notFound
	}
	page.Setup.Status = page.Setup.StatusAt(s.now())
	return page, err
}

// SaveCard keeps the card the customer typed on a card-saving page: the
// card rail stores it and Malipo keeps the rail's token, the scheme, the
// masked number and the expiry.
func (s *Service) SaveCard(ctx context.Context, token string, card rails.Card) (malipo.CardToken, error) {
	page, err := s.CardSetupByToken(ctx, token)
	if err != nil {
		return malipo.CardToken{}, err
	}
	if page.Setup.Status != malipo.CardSetupPending {
		return malipo.CardToken{}, malipo.Errorf(malipo.KindConflict, "card_setup_"+string(page.Setup.Status), "this page is %s", page.Setup.Status)
	}
	cards, err := s.cards(page.Setup.Mode)
	if err != nil {
		return malipo.CardToken{}, err
	}
	stored, err := cards.Tokenize(ctx, card, s.now())
	if err != nil {
		return malipo.CardToken{}, err
	}
	ct := malipo.CardToken{ID: s.cfg.IDs.ID("card"), MerchantID: page.Setup.MerchantID, Mode: page.Setup.Mode,
		CustomerPhone: page.Setup.Customer.Phone, Customer: page.Setup.Customer, Scheme: stored.Scheme, Masked: stored.Masked,
		ExpMonth: stored.ExpMonth, ExpYear: stored.ExpYear, Rail: cards.Name(), NetworkToken: stored.NetworkToken, CreatedAt: s.now()}
	err = s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		cs, err := tx.GetCardSetup(page.Setup.ID)
		if err != nil {
			return err
		}
		if cs.Status != malipo.CardSetupPending {
			return malipo.Errorf(malipo.KindConflict, "card_setup_"+string(cs.Status), "this page is %s", cs.Status)
		}
		if err := tx.CreateCardToken(ct); err != nil {
			return err
		}
		cs.Status, cs.CardTokenID = malipo.CardSetupSucceeded, ct.ID
		return tx.UpdateCardSetup(cs)
	})
	return ct, err
}

// ListCards lists the cards a customer (by phone number) saved with the
// integration's merchant in its mode.
func (s *Service) ListCards(ctx context.Context, in malipo.Integration, phone string) ([]malipo.CardToken, error) {
	e164, err := malipo.ParseMSISDN(phone, s.regionFor("", s.Home(in), ""))
	if err != nil {
		return nil, err
	}
	var cards []malipo.CardToken
	err = s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		cards, err = tx.ListCardTokens(in.MerchantID, in.Mode, e164)
		return err
	})
	return cards, err
}

// ownedCard reads a saved card of the integration's merchant and mode.
func ownedCard(tx store.Tx, in malipo.Integration, id string) (malipo.CardToken, error) {
	c, err := tx.GetCardToken(id)
	if err = ownedBy(in, c.MerchantID, c.Mode, err, "saved card", id); malipo.KindOf(err) == malipo.KindNotFound {
		return c, malipo.Invalid("card_token", "card_token_invalid", "no saved card %q", id) // named in a request body: invalid input
	}
	return c, err
}

// chargeToken charges a saved card for a payment just created, at once
// (its first attempt was claimed with it), and ends the payment either way
// unless the card network could not be reached.
func (s *Service) chargeToken(ctx context.Context, scope string, p malipo.Payment, a malipo.RailAttempt, card malipo.CardToken, cvv string, idem Idempotency) (malipo.Payment, error) {
	cards, err := s.cards(p.Mode)
	if err != nil {
		return p, err
	}
	rctx, cancel := s.railCall(ctx)
	res, chargeErr := cards.AuthorizeToken(rctx, rails.TokenCharge{Key: a.ID, PaymentID: p.ID, NetworkToken: card.NetworkToken, CVV: cvv,
		ExpMonth: card.ExpMonth, ExpYear: card.ExpYear, Amount: p.Amount, Currency: p.Currency, At: s.now()})
	cancel()
	out, err := s.cardResult(ctx, scope, p.Mode, a.ID, cards.Name(), res, chargeErr, true, idem)
	if err != nil && classify(chargeErr) != callAccepted {
		return out, nil // the answer is the payment: failed for a refused card, pending if nothing was sent
	}
	return out, err
}
