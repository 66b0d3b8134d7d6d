package gateway

import (
	"context"
	"crypto/subtle"
	"slices"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// Checkout is what a checkout page shows: a payment and who is paid.
type Checkout struct {
	Payment  malipo.Payment
	Merchant malipo.Merchant
	// Operators the customer may choose from for mobile money, for the
	// country of the customer's number or else of the currency.
	Operators []string
	// Expired is true when the payment's time is up, even if the expiry
	// worker has not marked it yet.
	Expired bool
	// Now is when the checkout was read.
	Now time.Time
}

// currencyCountry guesses where a payment in a currency is paid, to offer
// that country's operators when the customer has given no number yet.
var currencyCountry = map[malipo.Currency]string{
	"XOF": "CI", "XAF": "CM", "RWF": "RW", "KES": "KE", "TZS": "TZ", "UGX": "UG", "GHS": "GH", "NGN": "NG", "ZMW": "ZM",
}

// Checkout opens the payment a checkout URL token points at.
func (s *Service) Checkout(ctx context.Context, token string) (Checkout, error) {
	p, err := s.PaymentByCheckoutToken(ctx, token)
	if err != nil {
		return Checkout{}, err
	}
	now := s.now()
	c := Checkout{Payment: p, Expired: !p.Status.Final() && !now.Before(p.ExpiresAt), Now: now}
	err = s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		c.Merchant, err = tx.GetMerchant(p.MerchantID)
		return err
	})
	if set, ok := s.cfg.Rails[p.Mode]; ok && set.MobileMoney != nil {
		country := currencyCountry[p.Currency]
		if p.Customer.Phone != "" {
			if e164, err := malipo.ParseMSISDN(p.Customer.Phone, s.cfg.DefaultRegion); err == nil {
				country = malipo.CountryOfMSISDN(e164)
			}
		}
		c.Operators = set.MobileMoney.Operators(country)
	}
	return c, err
}

// payable checks that the customer may still try to pay p by channel ch.
func (s *Service) payable(p malipo.Payment, ch malipo.Channel) error {
	switch {
	case p.Status.Final():
		return malipo.Errorf(malipo.KindConflict, "payment_final", "this payment is already %s", p.Status)
	case !s.now().Before(p.ExpiresAt):
		return malipo.Errorf(malipo.KindConflict, "payment_expired", "this payment has expired")
	case p.Status != malipo.PaymentPending:
		return malipo.Errorf(malipo.KindConflict, "payment_in_progress", "a payment attempt is already in progress")
	case !p.Offers(ch):
		return malipo.Invalid("method", "channel_not_offered", "this payment cannot be paid by %s", ch)
	}
	return nil
}

// PayWithMobileMoney starts a mobile-money payment from the checkout page:
// the customer's number (the locked one if the merchant locked it) gets
// the push.
func (s *Service) PayWithMobileMoney(ctx context.Context, token, phone, operator string) (malipo.Payment, error) {
	p, err := s.PaymentByCheckoutToken(ctx, token)
	if err != nil {
		return p, err
	}
	if err := s.payable(p, malipo.ChannelMobileMoney); err != nil {
		return p, err
	}
	if p.LockPhone && p.Customer.Phone != "" {
		phone = p.Customer.Phone
	}
	e164, err := malipo.ParseMSISDN(phone, s.cfg.DefaultRegion)
	if err != nil {
		return p, err
	}
	set, err := s.rails(p.Mode)
	if err != nil {
		return p, err
	}
	operator = strings.ToLower(strings.TrimSpace(operator))
	if operator != "" {
		if offered := set.MobileMoney.Operators(malipo.CountryOfMSISDN(e164)); len(offered) > 0 && !slices.Contains(offered, operator) {
			return p, malipo.Invalid("operator", "operator_invalid", "operator %q does not serve this number's country", operator)
		}
	}
	p.Method, p.Phone, p.Operator = malipo.ChannelMobileMoney, e164, operator
	return s.push(ctx, "", p, Idempotency{})
}

func (s *Service) cards(m malipo.Mode) (rails.Cards, error) {
	set, ok := s.cfg.Rails[m]
	if !ok || set.Cards == nil {
		return nil, malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "no card rail is configured for %s mode", m)
	}
	return set.Cards, nil
}

// PayWithCard authorises the card the customer typed on the checkout page.
// The card lives only in this call. Approved, the payment succeeds; a
// 3-D Secure challenge sets NextAction; declined, the payment stays
// pending with the reason, so the customer can try another card.
func (s *Service) PayWithCard(ctx context.Context, token string, card rails.Card) (malipo.Payment, error) {
	p, err := s.PaymentByCheckoutToken(ctx, token)
	if err != nil {
		return p, err
	}
	if err := s.payable(p, malipo.ChannelCard); err != nil {
		return p, err
	}
	cards, err := s.cards(p.Mode)
	if err != nil {
		return p, err
	}
	res, err := cards.Authorize(ctx, rails.Charge{PaymentID: p.ID, Card: card, Amount: p.Amount, Currency: p.Currency, At: s.now()})
	if err != nil {
		return p, err
	}
	return s.cardResult(ctx, p.ID, cards.Name(), res)
}

// AuthenticateCard ends the 3-D Secure step of a card payment.
func (s *Service) AuthenticateCard(ctx context.Context, token string, passed bool) (malipo.Payment, error) {
	p, err := s.PaymentByCheckoutToken(ctx, token)
	if err != nil {
		return p, err
	}
	if p.NextAction != malipo.NextActionThreeDSecure {
		return p, malipo.Errorf(malipo.KindConflict, "no_authentication_pending", "this payment is not waiting for 3-D Secure")
	}
	if err := s.payable(p, malipo.ChannelCard); err != nil {
		return p, err
	}
	cards, err := s.cards(p.Mode)
	if err != nil {
		return p, err
	}
	res, err := cards.Authenticate(ctx, p.RailReference, passed)
	if err != nil {
		return p, err
	}
	return s.cardResult(ctx, p.ID, cards.Name(), res)
}

// cardResult records what the card network answered.
func (s *Service) cardResult(ctx context.Context, paymentID, rail string, res rails.CardResult) (malipo.Payment, error) {
	var p malipo.Payment
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		var err error
		if p, err = tx.GetPayment(paymentID); err != nil {
			return err
		}
		if p.Status != malipo.PaymentPending {
			// Finished meanwhile (cancelled, expired): a real connector
			// would void the authorisation here.
			return malipo.Errorf(malipo.KindConflict, "payment_final", "this payment is already %s", p.Status)
		}
		p.Method, p.RailReference, p.NextAction = malipo.ChannelCard, res.RailReference, ""
		p.FailureCode, p.FailureReason = res.Code, res.Reason
		switch res.Decision {
		case rails.CardApproved:
			return s.finish(tx, &p, malipo.PaymentSucceeded, rail)
		case rails.CardChallenge:
			p.NextAction, p.FailureCode, p.FailureReason = malipo.NextActionThreeDSecure, "", ""
		}
		p.UpdatedAt = s.now()
		return tx.UpdatePayment(p)
	})
	if err == nil && p.Status.Final() {
		s.wake()
	}
	return p, err
}

// CancelCheckout cancels a payment from its checkout page.
func (s *Service) CancelCheckout(ctx context.Context, token string) (malipo.Payment, error) {
	p, err := s.PaymentByCheckoutToken(ctx, token)
	if err != nil {
		return p, err
	}
	err = s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		if p, err = tx.GetPayment(p.ID); err != nil {
			return err
		}
		if p.Status.Final() {
			return nil
		}
		p.FailureCode, p.FailureReason = "customer_cancelled", "The customer cancelled the payment"
		return s.finish(tx, &p, malipo.PaymentCancelled, "")
	})
	if err == nil {
		s.wake()
	}
	return p, err
}

// secretToken is how checkout and card-setup URLs are made: the object's
// ULID and 160 random bits. The ID part finds the row by primary key; the
// random part makes the URL unguessable.
func secretToken(id, prefix, secret string) string { return strings.TrimPrefix(id, prefix) + secret }

// tokenID splits a URL token into the object's ID and checks the secret
// part in constant time.
func tokenID(token, prefix string) (string, bool) {
	const ulidLen = 26
	if len(token) <= ulidLen || len(token) > 128 {
		return "", false
	}
	return prefix + token[:ulidLen], true
}

func tokenMatches(stored, given string) bool {
	return subtle.ConstantTimeCompare([]byte(stored), []byte(given)) == 1
}

// Takes reports whether mode has a rail for channel: faces that create
// payments for one channel only refuse them when nothing could pay them.
func (s *Service) Takes(mode malipo.Mode, ch malipo.Channel) bool {
	set, ok := s.cfg.Rails[mode]
	switch {
	case !ok:
		return false
	case ch == malipo.ChannelCard:
		return set.Cards != nil
	default:
		return set.MobileMoney != nil
	}
}
