package gateway

import (
	"net/url"
	"time"

	"context"
	"fmt"
	"strings"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// PaymentInput is a request to collect money.
type PaymentInput struct {
	Amount      int64
	Currency    string
	Reference   string
	Description string
	Customer    malipo.Customer
	Channels    []string // empty means every channel
	Method      string   // optional: pay at once by this channel
	Phone       string   // for Method mobile_money; defaults to Customer.Phone
	Operator    string
	ReturnURL   string
	CancelURL   string
	NotifyURL   string
	Metadata    map[string]string
	Lang        string
	Items       []malipo.Item
	Taxes       []malipo.Tax
	LockPhone   bool // the checkout page does not let the customer change Customer.Phone
	// CardToken and CVV pay at once with a saved card: the payment
	// succeeds or fails before CreatePayment returns. The CVV is used for
	// that one authorisation and kept nowhere.
	CardToken string
	CVV       string
	// FaceData is kept with the payment for the face that created it.
	FaceData []byte
	// FrameOrigin, when set, is the origin ("https://shop.example") of
	// the merchant's page that shows the checkout page in a frame over
	// itself (CinetPay's Seamless SDK); no other page may frame it.
	FrameOrigin string
	// Bank, for a payment offering bank transfers, is the bank the
	// customer pays from, as the merchant names it (shown on the page,
	// passed to the bank rail; it becomes the payment's Operator).
	Bank    string
	Details []malipo.Detail
	Store   malipo.Store
}

// paymentKind, payoutKind and refundKind are the prefixes of payments',
// payouts' and refunds' IDs.
const (
	paymentKind = "pay"
	payoutKind  = "po"
	refundKind  = "re"
)

// newPayment turns input into a new pending payment, or explains what is
// wrong. It may blank fields of req that it drops (a store logo that is
// not a URL).
func (s *Service) newPayment(in malipo.Integration, req *PaymentInput) (*malipo.Payment, error) {
	p := new(malipo.Payment)
	cur, err := malipo.ParseCurrency(req.Currency)
	if req.Currency == "" {
		err = malipo.Invalid("currency", "parameter_missing", "currency is required")
	}
	if err != nil {
		return p, err
	}
	if err := malipo.ValidateAmount(req.Amount, "amount"); err != nil {
		return p, err
	}
	if err := malipo.ValidateReference(req.Reference); err != nil {
		return p, err
	}
	if len(req.Description) > malipo.MaxDescriptionLen {
		return p, malipo.Invalid("description", "parameter_invalid", "description must be at most %d characters", malipo.MaxDescriptionLen)
	}
	// In this order, so that a request with several bad URLs always
	// hears of the same one.
	for _, u := range [...]struct{ param, url string }{{"return_url", req.ReturnURL}, {"cancel_url", req.CancelURL}, {"notify_url", req.NotifyURL}} {
		if err := malipo.ValidateURL(u.param, u.url); err != nil {
			return p, err
		}
	}
	if req.NotifyURL != "" {
		if err := checkNotifyHost("notify_url", in.Mode, req.NotifyURL); err != nil {
			return p, err
		}
	}
	if err := malipo.ValidateMetadata(req.Metadata); err != nil {
		return p, err
	}
	if err := malipo.ValidateLang("lang", req.Lang); err != nil {
		return p, err
	}
	if len(req.Customer.Name) > 200 || len(req.Customer.Email) > 200 || len(req.Customer.Phone) > 32 {
		return p, malipo.Invalid("customer", "parameter_invalid", "customer fields are too long")
	}
	if err := malipo.ValidateInvoice(req.Items, req.Taxes); err != nil {
		return p, err
	}
	if st := req.Store; len(st.Name) > 200 || len(st.Tagline) > 200 || len(st.PostalAddress) > 300 || len(st.Phone) > 32 {
		return p, malipo.Invalid("store", "parameter_invalid", "the store's name, tagline, address or phone is too long")
	}
	// A logo or website that is not an http(s) URL is dropped, not
	// refused: it is decoration, and merchants send "" or "N/A".
	if malipo.ValidateURL("store.logo_url", req.Store.LogoURL) != nil {
		req.Store.LogoURL = ""
	}
	if malipo.ValidateURL("store.website_url", req.Store.WebsiteURL) != nil {
		req.Store.WebsiteURL = ""
	}
	if req.FrameOrigin != "" {
		u, err := url.Parse(req.FrameOrigin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil ||
			u.Scheme+"://"+u.Host != req.FrameOrigin {
			return p, malipo.Invalid("frame_origin", "url_invalid", "a frame origin is scheme://host[:port]")
		}
	}
	if len(req.Details) > 10 {
		return p, malipo.Invalid("invoice_data", "parameter_invalid", "at most 10 details")
	}
	for _, d := range req.Details {
		if len(d.Label) > 100 || len(d.Value) > 200 {
			return p, malipo.Invalid("invoice_data", "parameter_invalid", "details are at most 100 characters of label and 200 of value")
		}
	}
	if len(req.FaceData) > 16<<10 {
		return p, malipo.Invalid("custom_data", "parameter_invalid", "custom data is too large")
	}
	if req.LockPhone {
		if req.Customer.Phone == "" {
			return p, malipo.Invalid("lock_phone", "parameter_invalid", "lock_phone needs customer.phone")
		}
		if _, err := malipo.ParseMSISDN(req.Customer.Phone, s.regionFor("", p.Region, p.Currency)); err != nil {
			return p, malipo.AsError(err).WithParam("customer.phone")
		}
	}
	channels := []malipo.Channel{malipo.ChannelMobileMoney, malipo.ChannelCard}
	if len(req.Channels) > 0 {
		channels = channels[:0]
		seen := map[malipo.Channel]bool{}
		for _, c := range req.Channels {
			ch, err := malipo.ParseChannel(c)
			if err != nil {
				return p, err
			}
			if !seen[ch] {
				seen[ch] = true
				channels = append(channels, ch)
			}
		}
	}
	now := s.now()
	*p = malipo.Payment{
		ID: s.cfg.IDs.ID(paymentKind), MerchantID: in.MerchantID, IntegrationID: in.ID, Mode: in.Mode,
		Amount: req.Amount, Currency: cur, Reference: req.Reference, Description: req.Description,
		Customer: req.Customer, Channels: channels, ReturnURL: req.ReturnURL, CancelURL: req.CancelURL,
		NotifyURL: req.NotifyURL, Metadata: req.Metadata, Lang: malipo.NormalizeLang(req.Lang),
		Items: req.Items, Taxes: req.Taxes, LockPhone: req.LockPhone, FaceData: req.FaceData, Details: req.Details, Store: req.Store,
		Region: s.Home(in), FrameOrigin: req.FrameOrigin, Status: malipo.PaymentPending,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.cfg.PaymentTTL),
	}
	if req.Bank != "" {
		if !p.Offers(malipo.ChannelBank) || len(req.Bank) > 100 {
			return p, malipo.Invalid("bank", "parameter_invalid", "a bank is named only for a payment that offers bank_transfer (at most 100 characters)")
		}
		p.Operator = req.Bank
	}
	p.CheckoutToken = secretToken(p.ID, "pay_", s.cfg.IDs.Secret("", 20))
	if req.CardToken != "" || req.CVV != "" {
		switch {
		case req.CardToken == "":
			return p, malipo.Invalid("card_token", "parameter_missing", "cvv is only used with card_token")
		case req.CVV == "":
			return p, malipo.Invalid("cvv", "parameter_missing", "cvv is required to pay with a saved card")
		case req.Method != "" && req.Method != string(malipo.ChannelCard):
			return p, malipo.Invalid("method", "parameter_invalid", "a card_token payment is paid by card")
		case !p.Offers(malipo.ChannelCard):
			return p, malipo.Invalid("channels", "parameter_invalid", "a card_token payment must offer the card channel")
		case len(req.CVV) < 3 || len(req.CVV) > 4 || strings.Trim(req.CVV, "0123456789") != "":
			return p, malipo.Invalid("cvv", "cvv_invalid", "cvv must be 3 or 4 digits")
		}
		if _, err := s.cards(p.Mode); err != nil {
			return p, err
		}
		p.Method = malipo.ChannelCard
		return p, nil
	}
	if req.Method != "" {
		m, err := malipo.ParseChannel(req.Method)
		if err != nil {
			err.(*malipo.Error).Param = "method"
			return p, err
		}
		if !p.Offers(m) {
			return p, malipo.Invalid("method", "parameter_invalid", "method %s is not among the payment's channels", m)
		}
		if m != malipo.ChannelMobileMoney {
			return p, malipo.Invalid("method", "parameter_invalid", "only mobile_money can be charged at creation; send the customer to checkout_url to pay by card")
		}
		phone := req.Phone
		if phone == "" {
			phone = req.Customer.Phone
		}
		if phone == "" {
			return p, malipo.Invalid("phone", "parameter_missing", "phone is required to charge mobile money")
		}
		operator := strings.ToLower(strings.TrimSpace(req.Operator))
		e164, err := malipo.ParseMSISDN(phone, s.regionFor(operator, p.Region, p.Currency))
		if err != nil {
			return p, err
		}
		p.Method, p.Phone, p.Operator = m, e164, operator
		set, err := s.rails(p.Mode)
		if err != nil {
			return p, err
		}
		if p.Operator == "" {
			p.Operator = set.MobileMoney.Operator(p.Phone)
		}
	} else if req.Phone != "" {
		return p, malipo.Invalid("phone", "parameter_invalid", "phone is only used with method mobile_money")
	}
	return p, nil
}

func (s *Service) rails(m malipo.Mode) (rails.Set, error) {
	set, ok := s.cfg.Rails[m]
	if !ok || set.MobileMoney == nil {
		return rails.Set{}, malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "no payment rail is configured for %s mode", m)
	}
	return set, nil
}

// PaymentByCheckoutToken finds the payment a checkout URL token opens.
func (s *Service) PaymentByCheckoutToken(ctx context.Context, token string) (malipo.Payment, error) {
	notFound := &malipo.Error{Kind: malipo.KindNotFound, Code: "resource_missing", Message: "no such payment page"}
	id, ok := tokenID(token, "pay_")
	if !ok {
		return malipo.Payment{}, notFound
	}
	var p malipo.Payment
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		p, err = tx.GetPayment(id)
		return err
	})
	if malipo.KindOf(err) == malipo.KindNotFound || (err == nil && !tokenMatches(p.CheckoutToken, token)) {
		return malipo.Payment{}, notFound
	}
	return p, err
}

// CheckoutURL is where the customer pays a payment.
func (s *Service) CheckoutURL(p malipo.Payment) string {
	return strings.TrimRight(s.cfg.BaseURL, "/") + "/pay/" + p.CheckoutToken
}

// ReceiptURL is where a succeeded payment's PDF receipt is served (as
// unguessable as its checkout page); other payments have none ("").
func (s *Service) ReceiptURL(p malipo.Payment) string {
	if p.Status != malipo.PaymentSucceeded {
		return ""
	}
	return s.CheckoutURL(p) + "/receipt.pdf"
}

// CreatePayment creates a payment. With a mobile-money method the push goes
// to the customer's phone at once; with a card token the card is charged
// at once. It reports whether the answer was replayed from an earlier
// request with the same idempotency key.
func (s *Service) CreatePayment(ctx context.Context, in malipo.Integration, req PaymentInput, idem Idempotency) (malipo.Payment, bool, error) {
	// The payment travels by pointer: a request's goroutine keeps the
	// deepest stack it ever reached until a collection shrinks it, and
	// every Payment value a frame holds is 856 bytes of that stack.
	p, err := s.newPayment(in, &req)
	if err != nil {
		return malipo.Payment{}, false, err
	}
	var attempt malipo.RailAttempt
	if p.Method != "" { // charged at once: the first attempt is claimed with the payment
		rail, err := s.railFor(*p)
		if err != nil {
			return malipo.Payment{}, false, err
		}
		attempt = s.beginAttempt(p, rail)
	}
	created := *p
	var replay bool
	var card malipo.CardToken
	err = s.transactIdempotent(ctx, in.ID, idem, func(tx store.Tx) error {
		var prior malipo.Payment
		var err error
		*p = created
		if replay, err = s.replayed(tx, in.ID, idem, &prior); err != nil || replay {
			*p = prior
			return err
		}
		if req.CardToken != "" {
			if card, err = ownedCard(tx, in, req.CardToken); err != nil {
				return err
			}
		}
		if err := tx.CreatePayment(*p); err != nil {
			return err
		}
		if p.Attempt > 0 {
			if err := tx.CreateRailAttempt(attempt); err != nil {
				return err
			}
		}
		return s.remember(tx, in.ID, idem, *p)
	})
	if err != nil || replay {
		return *p, replay, err
	}
	return s.charge(ctx, in.ID, p, attempt, card, req.CardToken, req.CVV, idem)
}

// charge makes a payment created with its first attempt claimed reach its
// rail: a saved card's network, or the customer's mobile-money operator.
// A payment the customer pays at checkout is returned as it is.
func (s *Service) charge(ctx context.Context, scope string, p *malipo.Payment, a malipo.RailAttempt, card malipo.CardToken, cardToken, cvv string, idem Idempotency) (malipo.Payment, bool, error) {
	var err error
	switch {
	case cardToken != "":
		*p, err = s.chargeToken(ctx, scope, *p, a, card, cvv, idem)
	case p.Method == malipo.ChannelMobileMoney:
		*p, err = s.push(ctx, scope, *p, a, idem)
	}
	return *p, false, err
}

// push sends the mobile-money prompt of a claimed attempt and records what
// the operator said. It is never called inside a transaction.
func (s *Service) push(ctx context.Context, scope string, p malipo.Payment, a malipo.RailAttempt, idem Idempotency) (malipo.Payment, error) {
	set, err := s.rails(p.Mode)
	if err != nil {
		return p, err
	}
	mm, ok := set.MobileMoney.Named(a.Rail)
	if !ok {
		return p, malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "rail %s is not configured", a.Rail)
	}
	rctx, cancel := s.railCall(ctx)
	ref, pushErr := mm.Push(rctx, rails.Push{Key: a.ID, PaymentID: p.ID, MSISDN: p.Phone, Operator: p.Operator,
		Amount: p.Amount, Currency: p.Currency, Description: p.Description})
	cancel()
	return s.recordSent(ctx, scope, p, a, idem, ref, pushErr)
}

// finish moves p to a final status inside tx and, for a success, posts it
// to the ledger. rail names the clearing account the money came through.
func (s *Service) finish(tx store.Tx, p *malipo.Payment, to malipo.PaymentStatus, rail string) error {
	if err := p.Transition(to, s.now()); err != nil {
		return err
	}
	return s.complete(tx, p, rail)
}

// complete stores a payment that has just become final, posts it if it
// succeeded, and emits its event.
func (s *Service) complete(tx store.Tx, p *malipo.Payment, rail string) error {
	now := p.CompletedAt // one instant for the transition, its posting and its settlement date
	p.InFlightUntil = time.Time{}
	in, err := tx.GetIntegration(p.IntegrationID)
	if err != nil {
		return err
	}
	if p.Status == malipo.PaymentSucceeded {
		p.Fee = in.FeeFor(string(p.Method)).Fee(p.Amount)
		p.FailureCode, p.FailureReason, p.NextAction = "", "", ""
		delay := in.Rules.SettlementDelay
		if p.Amount == p.Fee {
			delay = 0 // nothing left for the merchant to wait for
		}
		p.AvailableAt = now.Add(delay)
		if delay <= 0 {
			p.SettledAt = now
		}
		if err := tx.PostEntry(malipo.PaymentEntry(s.cfg.IDs.ID("led"), *p, rail, delay > 0, now)); err != nil {
			return fmt.Errorf("post payment %s: %w", p.ID, err)
		}
	}
	if err := tx.UpdatePayment(*p); err != nil {
		return err
	}
	return s.emit(tx, *p, in)
}

// owned reads a payment of the integration's merchant and mode; any other
// payment is not found, so that IDs leak nothing across merchants.
func owned(tx store.Tx, in malipo.Integration, id string) (malipo.Payment, error) {
	p, err := tx.GetPayment(id)
	return p, ownedBy(in, p.MerchantID, p.Mode, err, "payment", id)
}

// ownedBy finishes a lookup by ID on behalf of an integration: an object
// of another merchant or mode is not found, like one that does not exist,
// and not found is said in the API's terms.
func ownedBy(in malipo.Integration, merchantID string, mode malipo.Mode, err error, what, id string) error {
	if err == nil && (merchantID != in.MerchantID || mode != in.Mode) {
		err = malipo.ErrNotFound
	}
	if malipo.KindOf(err) == malipo.KindNotFound {
		return &malipo.Error{Kind: malipo.KindNotFound, Code: "resource_missing", Param: "id", Message: fmt.Sprintf("no %s %q", what, id)}
	}
	return err
}

// GetPayment reads one of the integration's payments.
func (s *Service) GetPayment(ctx context.Context, in malipo.Integration, id string) (malipo.Payment, error) {
	var p malipo.Payment
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		p, err = owned(tx, in, id)
		return err
	})
	return p, err
}

// MaxPageSize bounds list pages.
const MaxPageSize = 100

// checkPage checks a list's limit: 10 when unset, at most MaxPageSize, or
// one more, which faces ask for to learn whether another page follows.
func checkPage(limit *int) error {
	if *limit == 0 {
		*limit = 10
	}
	if *limit < 1 || *limit > MaxPageSize+1 {
		return malipo.Invalid("limit", "parameter_invalid", "limit must be between 1 and %d", MaxPageSize)
	}
	return nil
}

// errProcessing refuses to change a payment whose rail attempt is under
// way: only the rail's answer may end it now.
func errProcessing(p malipo.Payment) error {
	return &malipo.Error{Kind: malipo.KindConflict, Code: "payment_processing",
		Message: fmt.Sprintf("payment %s has a rail attempt under way: wait for the rail's answer", p.ID)}
}

// closeChallenge ends, inside tx, a card authorisation waiting for 3-D
// Secure on a payment that will not go on, and returns its key for the
// caller to void once committed ("" if there is none).
func (s *Service) closeChallenge(tx store.Tx, p *malipo.Payment, code, reason string) (string, error) {
	if p.NextAction != malipo.NextActionThreeDSecure || p.Attempt == 0 {
		return "", nil
	}
	p.NextAction = ""
	a, err := tx.GetRailAttempt(malipo.AttemptID(p.ID, p.Attempt))
	if malipo.KindOf(err) == malipo.KindNotFound || (err == nil && a.Status.Final()) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	a.Finish(malipo.AttemptFailed, code, reason, s.now())
	return a.ID, tx.UpdateRailAttempt(a)
}

// void cancels card authorisations that must not stand, after the
// transaction that decided so committed. A void that fails is left to the
// reconciler's status query, which reports the authorisation as it stands.
func (s *Service) void(ctx context.Context, mode malipo.Mode, keys ...string) {
	cards, err := s.cards(mode)
	for _, key := range keys {
		if key == "" || err != nil {
			continue
		}
		rctx, cancel := s.railCall(ctx)
		if verr := cards.Void(rctx, key); verr != nil {
			s.cfg.Logger.ErrorContext(ctx, "void card authorisation", "attempt", key, "err", verr)
		}
		cancel()
	}
}

// ListPayments lists the merchant's payments in the integration's mode,
// newest first.
func (s *Service) ListPayments(ctx context.Context, in malipo.Integration, f store.PaymentFilter) ([]malipo.Payment, error) {
	if err := checkPage(&f.Limit); err != nil {
		return nil, err
	}
	f.MerchantID, f.Mode = in.MerchantID, in.Mode
	var ps []malipo.Payment
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) error {
		if f.StartingAfter != "" {
			if _, err := owned(tx, in, f.StartingAfter); err != nil {
				return malipo.AsError(err).WithParam("starting_after")
			}
		}
		var err error
		ps, err = tx.ListPayments(f)
		return err
	})
	return ps, err
}

// CancelPayment cancels a payment that is not yet final and has no rail
// attempt under way.
func (s *Service) CancelPayment(ctx context.Context, in malipo.Integration, id string, idem Idempotency) (malipo.Payment, bool, error) {
	var p malipo.Payment
	var replay bool
	var voidKey string
	err := s.transactIdempotent(ctx, in.ID, idem, func(tx store.Tx) error {
		var err error
		if replay, err = s.replayed(tx, in.ID, idem, &p); err != nil || replay {
			return err
		}
		if p, err = owned(tx, in, id); err != nil {
			return err
		}
		if !p.Status.Final() && p.InFlight(s.now()) {
			return errProcessing(p)
		}
		if voidKey, err = s.closeChallenge(tx, &p, "cancelled", "The payment was cancelled"); err != nil {
			return err
		}
		if err := s.finish(tx, &p, malipo.PaymentCancelled, ""); err != nil {
			return err
		}
		return s.remember(tx, in.ID, idem, p)
	}, store.Hint{Payment: id})
	if err == nil && !replay {
		s.void(ctx, p.Mode, voidKey)
	}
	return p, replay, err
}

// ForceOutcome ends a pending test-mode payment as the caller says, as if
// the rail had answered: the sandbox's lever for tests and demos.
func (s *Service) ForceOutcome(ctx context.Context, in malipo.Integration, id string, outcome string, idem Idempotency) (malipo.Payment, bool, error) {
	if in.Mode != malipo.ModeTest {
		return malipo.Payment{}, false, malipo.Errorf(malipo.KindForbidden, "live_mode", "sandbox outcomes can only be forced in test mode")
	}
	to, err := malipo.ParsePaymentStatus(outcome)
	if err != nil || !to.Final() {
		return malipo.Payment{}, false, malipo.Invalid("outcome", "parameter_invalid", "outcome must be succeeded, failed, cancelled or expired")
	}
	var p malipo.Payment
	var replay bool
	var voidKey string
	err = s.transactIdempotent(ctx, in.ID, idem, func(tx store.Tx) error {
		var err error
		if replay, err = s.replayed(tx, in.ID, idem, &p); err != nil || replay {
			return err
		}
		if p, err = owned(tx, in, id); err != nil {
			return err
		}
		// Only expiry may overtake the rail: any other outcome would
		// contradict what the rail is about to say.
		if !p.Status.Final() && p.InFlight(s.now()) && to != malipo.PaymentExpired {
			return errProcessing(p)
		}
		if voidKey, err = s.closeChallenge(tx, &p, "sandbox_forced", "Outcome forced in the sandbox"); err != nil {
			return err
		}
		if to == malipo.PaymentFailed {
			p.FailureCode, p.FailureReason = "sandbox_forced", "Failure forced in the sandbox"
		}
		if err := s.finish(tx, &p, to, s.railName(p)); err != nil {
			return err
		}
		return s.remember(tx, in.ID, idem, p)
	}, store.Hint{Payment: id})
	if err == nil && !replay {
		s.void(ctx, p.Mode, voidKey)
	}
	return p, replay, err
}

// ExpireDue expires up to limit payments whose time is up and reports how
// many it expired. Several nodes may run it at once: each claims different
// payments. Expiry means Malipo stopped waiting, not that the rail said no:
// a push the customer approves later still succeeds, flagged late.
func (s *Service) ExpireDue(ctx context.Context, limit int) (int, error) {
	var n int
	voids := map[malipo.Mode][]string{}
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		now := s.now()
		clear(voids)
		ps, err := tx.ClaimExpiredPayments(now, limit)
		if err != nil {
			return err
		}
		n = len(ps)
		for _, p := range ps {
			key, err := s.closeChallenge(tx, &p, "expired", "The payment was not completed in time")
			if err != nil {
				return err
			}
			voids[p.Mode] = append(voids[p.Mode], key)
			p.FailureCode, p.FailureReason = "expired", "The payment was not completed in time"
			if err := s.finish(tx, &p, malipo.PaymentExpired, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for mode, keys := range voids {
			s.void(ctx, mode, keys...)
		}
	}
	return n, err
}

// PaymentByReference finds one of the integration's payments by the
// merchant's reference.
func (s *Service) PaymentByReference(ctx context.Context, in malipo.Integration, ref string) (malipo.Payment, error) {
	var p malipo.Payment
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		p, err = tx.PaymentByReference(in.ID, ref)
		return err
	})
	if malipo.KindOf(err) == malipo.KindNotFound {
		return p, &malipo.Error{Kind: malipo.KindNotFound, Code: "resource_missing", Param: "reference", Message: fmt.Sprintf("no payment with reference %q", ref)}
	}
	return p, err
}

// PaymentExists reports whether a payment with this ID exists in any
// account: ClickPay tells "forbidden" from "not found".
func (s *Service) PaymentExists(ctx context.Context, id string) (bool, error) {
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) error {
		_, err := tx.GetPayment(id)
		return err
	})
	if malipo.KindOf(err) == malipo.KindNotFound {
		return false, nil
	}
	return err == nil, err
}

// PaymentIntegration is the integration one of in's payments was made
// through: what a person acting on the payment from the dashboard acts
// as, so that its notifications go where the merchant's code expects.
func (s *Service) PaymentIntegration(ctx context.Context, in malipo.Integration, paymentID string) (malipo.Integration, error) {
	var integ malipo.Integration
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) error {
		p, err := owned(tx, in, paymentID)
		if err != nil {
			return err
		}
		integ, err = tx.GetIntegration(p.IntegrationID)
		return err
	})
	return integ, err
}
