package gateway

import (
	"context"
	"crypto/subtle"
	"net/mail"
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
	// Country is where the customer's number is likely from: its own
	// country if the merchant gave one, else the currency's ("" if
	// neither says).
	Country string
	// Operators the customer may choose from for mobile money, for
	// Country.
	Operators []string
	// Methods are the channels the payment offers that a rail of its mode
	// can take now: live mode has no card option until a card rail exists.
	Methods []malipo.Channel
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
	c.Country = currencyCountry[p.Currency]
	if p.Customer.Phone != "" {
		if e164, err := malipo.ParseMSISDN(p.Customer.Phone, s.regionFor("", p.Region, p.Currency)); err == nil {
			c.Country = malipo.CountryOfMSISDN(e164)
		}
	}
	if set, ok := s.cfg.Rails[p.Mode]; ok && set.MobileMoney != nil {
		c.Operators = set.MobileMoney.Operators(c.Country)
		if p.Offers(malipo.ChannelMobileMoney) && (len(c.Operators) > 0 || c.Country == "") {
			c.Methods = append(c.Methods, malipo.ChannelMobileMoney)
		}
	}
	if set, ok := s.cfg.Rails[p.Mode]; ok && set.Cards != nil && p.Offers(malipo.ChannelCard) {
		c.Methods = append(c.Methods, malipo.ChannelCard)
	}
	if set, ok := s.cfg.Rails[p.Mode]; ok && set.Banks != nil && p.Offers(malipo.ChannelBank) {
		c.Methods = append(c.Methods, malipo.ChannelBank)
	}
	return c, err
}

// regionFor is where a number written without its country code is
// dialled, the same in every flow of every face: the chosen operator's
// country ("mtn-ci": CI), else home (the integration's home country),
// else the country of the currency when one country uses it, else the
// configured default region.
func (s *Service) regionFor(operator, home string, c malipo.Currency) string {
	if i := strings.LastIndexByte(operator, '-'); i >= 0 && len(operator)-i == 3 {
		return strings.ToUpper(operator[i+1:])
	}
	if home != "" {
		return home
	}
	if country, ok := currencyCountry[c]; ok && c != "XOF" && c != "XAF" {
		return country
	}
	return s.cfg.DefaultRegion
}

// Offers reports whether the customer may pay the checkout by ch now.
func (c Checkout) Offers(ch malipo.Channel) bool { return slices.Contains(c.Methods, ch) }

// payable checks that the customer may start a new attempt to pay p by
// channel ch now.
func (s *Service) payable(p malipo.Payment, ch malipo.Channel) error {
	switch {
	case p.Status.Final():
		return malipo.Errorf(malipo.KindConflict, "payment_final", "this payment is already %s", p.Status)
	case !s.now().Before(p.ExpiresAt):
		return malipo.Errorf(malipo.KindConflict, "payment_expired", "this payment has expired")
	case p.InFlight(s.now()):
		return errProcessing(p)
	case !p.Offers(ch):
		return malipo.Invalid("method", "channel_not_offered", "this payment cannot be paid by %s", ch)
	}
	return nil
}

// claim starts, in one short transaction, the next attempt to pay a
// payment by channel ch: it checks that the payment may be tried (prepare
// may check more and set what the attempt needs), numbers the attempt and
// marks the payment in flight, before any rail is called. Of two submits
// at once, the second is refused with payment_processing.
func (s *Service) claim(ctx context.Context, id string, ch malipo.Channel, rail string, prepare func(p *malipo.Payment) error) (malipo.Payment, malipo.RailAttempt, error) {
	var p malipo.Payment
	var a malipo.RailAttempt
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		var err error
		if p, err = tx.GetPayment(id); err != nil {
			return err
		}
		if err := s.payable(p, ch); err != nil {
			return err
		}
		if prepare != nil {
			if err := prepare(&p); err != nil {
				return err
			}
		}
		p.Method = ch
		a = s.beginAttempt(&p, rail)
		p.NextAction = ""
		if err := tx.UpdatePayment(p); err != nil {
			return err
		}
		return tx.CreateRailAttempt(a)
	}, store.Hint{Payment: id})
	return p, a, err
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
	e164, err := malipo.ParseMSISDN(phone, s.regionFor(operator, p.Region, p.Currency))
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
	} else {
		operator = set.MobileMoney.Operator(e164)
	}
	mm, err := set.MobileMoney.For(e164, operator, p.Currency)
	if err != nil {
		return p, err
	}
	p, a, err := s.claim(ctx, p.ID, malipo.ChannelMobileMoney, mm.Name(), func(p *malipo.Payment) error {
		p.Phone, p.Operator = e164, operator
		return nil
	})
	if err != nil {
		return p, err
	}
	return s.push(ctx, "", p, a, Idempotency{})
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
	p, a, err := s.claim(ctx, p.ID, malipo.ChannelCard, cards.Name(), nil)
	if err != nil {
		return p, err
	}
	rctx, cancel := s.railCall(ctx)
	res, authErr := cards.Authorize(rctx, rails.Charge{Key: a.ID, PaymentID: p.ID, Card: card, Amount: p.Amount, Currency: p.Currency, At: s.now()})
	cancel()
	return s.cardResult(ctx, "", p.Mode, a.ID, cards.Name(), res, authErr, false, Idempotency{})
}

// AuthenticateCard ends the 3-D Secure step of a card payment: the same
// attempt goes on, claimed again so that two submits reach the card
// network once.
func (s *Service) AuthenticateCard(ctx context.Context, token string, passed bool) (malipo.Payment, error) {
	p, err := s.PaymentByCheckoutToken(ctx, token)
	if err != nil {
		return p, err
	}
	cards, err := s.cards(p.Mode)
	if err != nil {
		return p, err
	}
	var key string
	id := p.ID // the closure may run more than once (the committer retries): it must not read what it wrote
	err = s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		var err error
		if p, err = tx.GetPayment(id); err != nil {
			return err
		}
		if p.NextAction != malipo.NextActionThreeDSecure {
			return malipo.Errorf(malipo.KindConflict, "no_authentication_pending", "this payment is not waiting for 3-D Secure")
		}
		if err := s.payable(p, malipo.ChannelCard); err != nil {
			return err
		}
		a, err := tx.GetRailAttempt(malipo.AttemptID(p.ID, p.Attempt))
		if err != nil {
			return err
		}
		if a.Status != malipo.AttemptPending {
			return malipo.Errorf(malipo.KindConflict, "no_authentication_pending", "this payment is not waiting for 3-D Secure")
		}
		key = a.ID
		p.InFlightUntil, p.UpdatedAt = s.now().Add(s.inFlightFor()), s.now()
		return tx.UpdatePayment(p)
	}, store.Hint{Payment: id})
	if err != nil {
		return p, err
	}
	rctx, cancel := s.railCall(ctx)
	res, authErr := cards.Authenticate(rctx, key, passed)
	cancel()
	return s.cardResult(ctx, "", p.Mode, key, cards.Name(), res, authErr, false, Idempotency{})
}

// cardResult records what the card network answered for an attempt.
// Approved, the payment succeeds (or, if it can no longer take the money,
// the authorisation is voided); a challenge waits for 3-D Secure; a
// decline leaves the payment payable with the reason, unless final says a
// decline ends it (a saved card charged at once). Card details the network
// refused come back as the error, for the customer to fix.
func (s *Service) cardResult(ctx context.Context, scope string, mode malipo.Mode, key, rail string, res rails.CardResult,
	callErr error, final bool, idem Idempotency) (malipo.Payment, error) {
	call := classify(callErr)
	if call == callUnknown || call == callNotSent {
		s.cfg.Logger.WarnContext(ctx, "card authorisation not confirmed", "attempt", key, "err", callErr)
	}
	p, void, err := s.recordAttempt(ctx, scope, key, idem, func(tx store.Tx, p *malipo.Payment, a *malipo.RailAttempt, current bool) (bool, error) {
		now := s.now()
		open := current && !p.Status.Final()
		if open {
			p.InFlightUntil = time.Time{}
		}
		fail := func(code, reason string) error {
			a.Finish(malipo.AttemptFailed, code, reason, now)
			if !open {
				return nil
			}
			p.NextAction, p.FailureCode, p.FailureReason = "", code, reason
			if final {
				return s.finish(tx, p, malipo.PaymentFailed, "")
			}
			return nil
		}
		switch call {
		case callRefused:
			e := malipo.AsError(callErr)
			return false, fail(e.Code, e.Message)
		case callNotSent:
			a.Finish(malipo.AttemptFailed, "rail_unavailable", malipo.AsError(callErr).Message, now)
			return false, nil
		case callUnknown:
			if open {
				p.InFlightUntil = a.NextCheckAt // in flight until the reconciler has asked
			}
			return false, nil
		}
		a.RailReference = res.RailReference
		switch res.Decision {
		case rails.CardApproved:
			a.Finish(malipo.AttemptSucceeded, "", "", now)
			if !open {
				return true, nil // the payment cannot take it: void the authorisation
			}
			p.RailReference = res.RailReference
			return false, s.finish(tx, p, malipo.PaymentSucceeded, rail)
		case rails.CardChallenge:
			a.Status, a.UpdatedAt = malipo.AttemptPending, now
			if !open {
				return true, nil
			}
			p.RailReference, p.NextAction, p.FailureCode, p.FailureReason = res.RailReference, malipo.NextActionThreeDSecure, "", ""
			return false, nil
		}
		return false, fail(res.Code, res.Reason)
	})
	if err != nil {
		return p, err
	}
	if void {
		s.void(ctx, mode, key)
	}
	if call == callRefused || call == callNotSent {
		return p, callErr
	}
	return p, nil
}

// CancelCheckout cancels a payment from its checkout page, unless a rail
// attempt is under way.
func (s *Service) CancelCheckout(ctx context.Context, token string) (malipo.Payment, error) {
	p, err := s.PaymentByCheckoutToken(ctx, token)
	if err != nil {
		return p, err
	}
	var voidKey string
	id := p.ID // the closure may run more than once: see AuthenticateCard
	err = s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		var err error
		if p, err = tx.GetPayment(id); err != nil {
			return err
		}
		if p.Status.Final() {
			return nil
		}
		if p.InFlight(s.now()) {
			return errProcessing(p)
		}
		if voidKey, err = s.closeChallenge(tx, &p, malipo.CodeCustomerCancelled, "The customer cancelled the payment"); err != nil {
			return err
		}
		p.FailureCode, p.FailureReason = malipo.CodeCustomerCancelled, "The customer cancelled the payment"
		return s.finish(tx, &p, malipo.PaymentCancelled, "")
	}, store.Hint{Payment: id})
	if err == nil {
		s.void(ctx, p.Mode, voidKey)
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

// NameCustomer fills in who is paying, as the customer gives it on the
// checkout page or a face passes it on: only what the merchant left
// empty, and only while the payment is not final. An email must look like
// one.
func (s *Service) NameCustomer(ctx context.Context, token, name, email string) error {
	name, email = strings.TrimSpace(name), strings.TrimSpace(email)
	if name == "" && email == "" {
		return nil
	}
	if len(name) > 200 || len(email) > 200 {
		return malipo.Invalid("name", "parameter_invalid", "the name and the email are at most 200 characters")
	}
	if email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			return malipo.Invalid("email", "email_invalid", "%q is not an email address", email)
		}
	}
	p, err := s.PaymentByCheckoutToken(ctx, token)
	if err != nil {
		return err
	}
	id := p.ID
	return s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		p, err := tx.GetPayment(id)
		if err != nil || p.Status.Final() {
			return err
		}
		changed := false
		if p.Customer.Name == "" && name != "" {
			p.Customer.Name, changed = name, true
		}
		if p.Customer.Email == "" && email != "" {
			p.Customer.Email, changed = email, true
		}
		if !changed {
			return nil
		}
		p.UpdatedAt = s.now()
		return tx.UpdatePayment(p)
	}, store.Hint{Payment: id})
}

// PayByBank starts a bank transfer from the checkout page: the customer's
// bank (the one the payment names in Operator) is asked to debit account,
// and the customer authorises it with the bank; the outcome arrives later.
func (s *Service) PayByBank(ctx context.Context, token, account string) (malipo.Payment, error) {
	p, err := s.PaymentByCheckoutToken(ctx, token)
	if err != nil {
		return p, err
	}
	if err := s.payable(p, malipo.ChannelBank); err != nil {
		return p, err
	}
	account = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.TrimSpace(account))
	if len(account) < 5 || len(account) > 34 || strings.Trim(account, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
		return p, malipo.Invalid("account", "account_invalid", "an account number is 5 to 34 letters and digits")
	}
	set, err := s.rails(p.Mode)
	if err != nil {
		return p, err
	}
	if set.Banks == nil {
		return p, malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "no bank rail is configured for %s mode", p.Mode)
	}
	p, a, err := s.claim(ctx, p.ID, malipo.ChannelBank, set.Banks.Name(), func(p *malipo.Payment) error {
		p.Account = account
		return nil
	})
	if err != nil {
		return p, err
	}
	rctx, cancel := s.railCall(ctx)
	ref, debitErr := set.Banks.Debit(rctx, rails.Debit{Key: a.ID, PaymentID: p.ID, Bank: p.Operator, Account: account,
		Amount: p.Amount, Currency: p.Currency, Description: p.Description})
	cancel()
	return s.recordSent(ctx, "", p, a, Idempotency{}, ref, debitErr)
}
