package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// PayoutInput is a request to send money out of the available balance.
type PayoutInput struct {
	Amount      int64
	Currency    string
	Reference   string
	Destination malipo.Destination
	Narration   string
	// Receiver, for a transfer to another merchant, is the integration
	// the sender named it by (iPay's vendor ID): it hears of the money
	// received on its notify URL, in its flavor.
	Receiver *malipo.Integration
}

// destination checks and normalises where a payout goes.
func (s *Service) destination(in malipo.Integration, d malipo.Destination, c malipo.Currency) (malipo.Destination, error) {
	d.Account = strings.TrimSpace(d.Account)
	if d.Account == "" {
		return d, malipo.Invalid("destination.account", "parameter_missing", "destination.account is required")
	}
	if len(d.Name) > 200 || len(d.AccountReference) > 100 {
		return d, malipo.Invalid("destination", "parameter_invalid", "destination name or account_reference is too long")
	}
	digits := func(min, max int) error {
		if len(d.Account) < min || len(d.Account) > max || strings.Trim(d.Account, "0123456789") != "" {
			return malipo.Invalid("destination.account", "account_invalid", "a %s number is %d to %d digits", d.Type, min, max)
		}
		return nil
	}
	switch d.Type {
	case malipo.DestinationMobileMoney:
		d.Operator = strings.ToLower(strings.TrimSpace(d.Operator))
		e164, err := malipo.ParseMSISDN(d.Account, s.regionFor(d.Operator, s.Home(in), c))
		if err != nil {
			return d, malipo.AsError(err).WithParam("destination.account")
		}
		d.Account = e164
		if set, ok := s.cfg.Rails[in.Mode]; ok && set.MobileMoney != nil && d.Operator == "" {
			d.Operator = set.MobileMoney.Operator(e164)
		}
	case malipo.DestinationPaybill:
		if err := digits(5, 7); err != nil {
			return d, err
		}
		if d.AccountReference == "" {
			return d, malipo.Invalid("destination.account_reference", "parameter_missing", "a paybill payout needs the account_reference at the business")
		}
	case malipo.DestinationTill:
		if err := digits(5, 7); err != nil {
			return d, err
		}
	case malipo.DestinationMerchant:
		if d.Account == in.MerchantID {
			return d, malipo.Invalid("destination.account", "account_invalid", "a merchant cannot transfer to itself")
		}
	case "":
		return d, malipo.Invalid("destination.type", "parameter_missing", "destination.type is required")
	default:
		return d, malipo.Invalid("destination.type", "parameter_invalid", "destination.type must be mobile_money, paybill, till or merchant")
	}
	return d, nil
}

// CreatePayout sends money from the merchant's available balance. The
// amount and fee are reserved in the same transaction that checks the
// balance and the velocity rules, so concurrent payouts can never spend the
// same money. A payout to another merchant is a transfer, settled at once.
func (s *Service) CreatePayout(ctx context.Context, in malipo.Integration, req PayoutInput, idem Idempotency) (malipo.Payout, bool, error) {
	if !s.PayoutsEnabled(in) {
		return malipo.Payout{}, false, malipo.Errorf(malipo.KindForbidden, malipo.CodePayoutsDisabled,
			"sending money out is not enabled for this integration: enable it in the integration's configuration")
	}
	cur, err := malipo.ParseCurrency(req.Currency)
	if req.Currency == "" {
		err = malipo.Invalid("currency", "parameter_missing", "currency is required")
	}
	if err != nil {
		return malipo.Payout{}, false, err
	}
	if err := malipo.ValidateAmount(req.Amount, "amount"); err != nil {
		return malipo.Payout{}, false, err
	}
	if max := in.Rules.MaxPayout; max > 0 && req.Amount > max {
		return malipo.Payout{}, false, malipo.Invalid("amount", "amount_too_large", "a payout may be at most %s %s", malipo.FormatDecimal(max, cur), cur)
	}
	if err := malipo.ValidateReference(req.Reference); err != nil {
		return malipo.Payout{}, false, err
	}
	if err := malipo.ValidateNarration("narration", req.Narration); err != nil {
		return malipo.Payout{}, false, err
	}
	dest, err := s.destination(in, req.Destination, cur)
	if err != nil {
		return malipo.Payout{}, false, err
	}
	transfer := dest.Type == malipo.DestinationMerchant
	var attempt malipo.RailAttempt
	now := s.now()
	p := malipo.Payout{ID: s.cfg.IDs.ID(payoutKind), MerchantID: in.MerchantID, IntegrationID: in.ID, Mode: in.Mode, Amount: req.Amount,
		Fee: in.FeeFor("payout").Fee(req.Amount), Currency: cur, Reference: req.Reference, Destination: dest, Narration: req.Narration,
		Status: malipo.PayoutQueued, CreatedAt: now, UpdatedAt: now}
	if !transfer {
		rail, err := s.payoutRail(in.Mode, dest, cur)
		if err != nil {
			return malipo.Payout{}, false, err
		}
		attempt = s.newAttempt("payout", p.ID, 1, p.MerchantID, p.Mode, rail.Name(), malipo.MethodPayout)
	}
	var replay bool
	created := p
	limit, window := in.Rules.Velocity()
	balance := malipo.MerchantAvailable(in.MerchantID, in.Mode, cur)
	spend := store.Spend{MerchantID: in.MerchantID, Mode: in.Mode, Balance: balance, IntegrationID: in.ID, Reference: p.Reference,
		Destination: dest.Account, Since: now.Add(-window)}
	err = s.transactIdempotent(ctx, in.ID, idem, func(tx store.Tx) error {
		p = created // the group committer may run this more than once
		if replay, err = s.replayed(tx, in.ID, idem, &p); err != nil || replay {
			return err
		}
		// Locking the available balance first serialises this merchant's
		// payouts, so the balance and velocity checks below hold until commit.
		if err := tx.LockSpending(in.MerchantID, in.Mode); err != nil {
			return err
		}
		available, err := tx.AccountBalance(balance)
		if err != nil {
			return err
		}
		if _, err := tx.PayoutByReference(in.ID, p.Reference); err == nil {
			return &malipo.Error{Kind: malipo.KindConflict, Code: malipo.CodeReferenceInUse, Param: "reference",
				Message: fmt.Sprintf("a payout with reference %q already exists", p.Reference)}
		}
		if need := p.Amount + p.Fee; available < need {
			return &malipo.Error{Kind: malipo.KindInsufficientFunds, Code: "insufficient_funds", Param: "amount",
				Message: fmt.Sprintf("amount available is not enough %s", malipo.FormatDecimal(available, cur))}
		}
		n, err := tx.CountPayoutsTo(in.ID, dest.Account, spend.Since)
		if err != nil {
			return err
		}
		if n >= limit {
			return &malipo.Error{Kind: malipo.KindRateLimited, Code: "velocity_limit", Param: "destination.account",
				Message: fmt.Sprintf("too many requests to the same %s: at most %d payouts per %s", destinationNoun(dest.Type), limit, window)}
		}
		if transfer {
			if err := s.transfer(tx, &p, in, req.Receiver); err != nil {
				return err
			}
		} else {
			if err := tx.CreatePayout(p); err != nil {
				return err
			}
			if err := tx.PostEntry(malipo.PayoutReserveEntry(s.cfg.IDs.ID("led"), p, now)); err != nil {
				return err
			}
			if err := tx.CreateRailAttempt(attempt); err != nil {
				return err
			}
		}
		return s.remember(tx, in.ID, idem, p)
	}, store.Hint{Spend: spend})
	if err != nil || replay || transfer {
		return p, replay, err
	}
	p, err = s.sendPayout(ctx, in.ID, p, attempt, idem)
	return p, false, err
}

func destinationNoun(t malipo.DestinationType) string {
	switch t {
	case malipo.DestinationMobileMoney:
		return "phone"
	case malipo.DestinationMerchant:
		return "merchant"
	}
	return "account"
}

// transfer settles a payout to another merchant inside tx.
func (s *Service) transfer(tx store.Tx, p *malipo.Payout, in malipo.Integration, receiver *malipo.Integration) error {
	to, err := tx.GetMerchant(p.Destination.Account)
	if malipo.KindOf(err) == malipo.KindNotFound {
		return malipo.Invalid("destination.account", "account_invalid", "no merchant %q", p.Destination.Account)
	}
	if err != nil {
		return err
	}
	if p.Destination.Name == "" {
		p.Destination.Name = to.Name
	}
	if err := p.Transition(malipo.PayoutSucceeded, s.now()); err != nil {
		return err
	}
	if err := tx.CreatePayout(*p); err != nil {
		return err
	}
	if err := tx.PostEntry(malipo.TransferEntry(s.cfg.IDs.ID("led"), *p, s.now())); err != nil {
		return err
	}
	if err := s.emitEvent(tx, malipo.EventPayoutSucceeded, "payout", p.ID, p.MerchantID, p.Mode, *p, in, ""); err != nil {
		return err
	}
	// The receiving merchant hears of it too, on its own endpoints and on
	// the notify URL of the integration it was named by.
	var named malipo.Integration
	if receiver != nil && receiver.MerchantID == to.ID && receiver.Mode == p.Mode {
		named = *receiver
	}
	return s.emitEvent(tx, malipo.EventTransferReceived, "payout", p.ID, to.ID, p.Mode, *p, named, "")
}

// payoutRail is the rail that takes a payout to d in c.
func (s *Service) payoutRail(m malipo.Mode, d malipo.Destination, c malipo.Currency) (rails.Payouts, error) {
	set, ok := s.cfg.Rails[m]
	if !ok || set.Payouts == nil {
		return nil, malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "no payout rail is configured for %s mode", m)
	}
	return set.Payouts.For(d, c)
}

// namedPayoutRail is the payout rail called name.
func (s *Service) namedPayoutRail(m malipo.Mode, name string) (rails.Payouts, error) {
	if set, ok := s.cfg.Rails[m]; ok && set.Payouts != nil {
		if r, ok := set.Payouts.Named(name); ok {
			return r, nil
		}
	}
	return nil, malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "payout rail %s is not configured", name)
}

// sendPayout hands a queued payout to the rail under its attempt's key,
// after its reservation committed, and records the answer. A refusal fails
// it and releases the money at once; an unknown outcome leaves it queued,
// its money reserved, for the reconciler to ask about (and send again only
// if the rail never received it).
func (s *Service) sendPayout(ctx context.Context, scope string, p malipo.Payout, a malipo.RailAttempt, idem Idempotency) (malipo.Payout, error) {
	rail, err := s.namedPayoutRail(p.Mode, a.Rail)
	if err != nil {
		return p, err
	}
	key := a.ID
	rctx, cancel := s.railCall(ctx)
	ref, sendErr := rail.Send(rctx, rails.PayoutRequest{Key: key, PayoutID: p.ID, Destination: p.Destination, Amount: p.Amount,
		Currency: p.Currency, Narration: p.Narration})
	cancel()
	call := classify(sendErr)
	if call == callUnknown || call == callNotSent {
		s.cfg.Logger.WarnContext(ctx, "payout not confirmed by its rail", "payout", p.ID, "attempt", key, "err", sendErr)
	}
	var out malipo.Payout
	err = s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		a, err := tx.GetRailAttempt(key)
		if err != nil {
			return err
		}
		cur, err := tx.GetPayout(p.ID)
		if err != nil {
			return err
		}
		out = cur
		if a.Status.Final() || cur.Status.Final() {
			return rememberAgain(tx, scope, idem, cur) // its outcome came first
		}
		now := s.now()
		switch call {
		case callAccepted:
			a.Status, a.RailReference, a.UpdatedAt = malipo.AttemptPending, ref, now
			a.NextCheckAt = now.Add(s.cfg.ReconcileAfter) // the call is over: ask if no callback comes
			if cur.Status == malipo.PayoutQueued {
				cur.RailReference = ref
				if err := cur.Transition(malipo.PayoutProcessing, now); err != nil {
					return err
				}
				if err := tx.UpdatePayout(cur); err != nil {
					return err
				}
			}
		case callRefused:
			e := malipo.AsError(sendErr)
			a.Finish(malipo.AttemptFailed, e.Code, e.Message, now)
			cur.FailureCode, cur.FailureReason = e.Code, e.Message
			if err := s.finishPayout(tx, &cur, malipo.PayoutFailed, rail.Name()); err != nil {
				return err
			}
		default: // unknown, or never sent: the reconciler asks soon, and sends again only what never arrived
			a.NextCheckAt = now.Add(s.cfg.ReconcileAfter)
			if err := tx.UpdateRailAttempt(a); err != nil {
				return err
			}
			return rememberAgain(tx, scope, idem, cur)
		}
		if err := tx.UpdateRailAttempt(a); err != nil {
			return err
		}
		out = cur
		return rememberAgain(tx, scope, idem, cur)
	}, attemptHint(key))
	return out, err
}

// finishPayout ends a payout inside tx: a success pays the reservation to
// the rail and the fee to Malipo; a failure gives it back.
func (s *Service) finishPayout(tx store.Tx, p *malipo.Payout, to malipo.PayoutStatus, rail string) error {
	now := s.now()
	if err := p.Transition(to, now); err != nil {
		return err
	}
	entry := malipo.PayoutEntry(s.cfg.IDs.ID("led"), *p, rail, now)
	typ := malipo.EventPayoutSucceeded
	if to == malipo.PayoutFailed {
		entry, typ = malipo.PayoutReleaseEntry(s.cfg.IDs.ID("led"), *p, now), malipo.EventPayoutFailed
	}
	if err := tx.PostEntry(entry); err != nil {
		return err
	}
	if err := tx.UpdatePayout(*p); err != nil {
		return err
	}
	in, err := tx.GetIntegration(p.IntegrationID)
	if err != nil {
		return err
	}
	return s.emitEvent(tx, typ, "payout", p.ID, p.MerchantID, p.Mode, *p, in, "")
}

// GetPayout reads one of the merchant's payouts.
func (s *Service) GetPayout(ctx context.Context, in malipo.Integration, id string) (malipo.Payout, error) {
	var p malipo.Payout
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		p, err = tx.GetPayout(id)
		return ownedBy(in, p.MerchantID, p.Mode, err, "payout", id)
	})
	return p, err
}

// AwaitPayout waits up to max (on the service's clock) for the payout to
// be final, for faces whose callers expect to learn at once whether the
// money moved; it returns the payout as it then stands. It looks again
// as soon as an outcome for the payout is applied on this node, and
// otherwise polls the store, less and less often (so an outcome applied
// on another node is seen too, without a read every few milliseconds
// for each caller waiting: a payout's rail takes seconds).
func (s *Service) AwaitPayout(ctx context.Context, in malipo.Integration, id string, max time.Duration) (malipo.Payout, error) {
	expired := make(chan struct{})
	timer := s.cfg.Clock.AfterFunc(max, func() { close(expired) })
	defer timer.Stop()
	told, stop := s.ended.wait(id) // before the first read, so no outcome falls between
	defer stop()
	wait := s.poll.first
	for {
		p, err := s.GetPayout(ctx, in, id)
		if err != nil || p.Status.Final() {
			return p, err
		}
		poll := time.NewTimer(wait)
		select {
		case <-told:
		case <-poll.C:
			wait = min(2*wait, s.poll.max)
		case <-expired:
			return p, nil
		case <-ctx.Done():
			return p, nil
		}
		poll.Stop()
	}
}

// backoff is a poll's first wait, doubled each time up to max.
type backoff struct{ first, max time.Duration }

// ended tells those waiting on this node for an object (AwaitPayout)
// that a rail's outcome was applied to it.
type ended struct {
	mu      sync.Mutex
	waiting map[string]map[chan struct{}]bool
}

// wait returns a channel told of id's outcomes, and the function that
// stops it. A tell while its waiter is busy is kept, one at most.
func (e *ended) wait(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.waiting == nil {
		e.waiting = map[string]map[chan struct{}]bool{}
	}
	if e.waiting[id] == nil {
		e.waiting[id] = map[chan struct{}]bool{}
	}
	e.waiting[id][ch] = true
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if delete(e.waiting[id], ch); len(e.waiting[id]) == 0 {
			delete(e.waiting, id)
		}
	}
}

// tell tells those waiting for id.
func (e *ended) tell(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.waiting[id] {
		select {
		case ch <- struct{}{}:
		default: // told already
		}
	}
}

// PayoutByReference finds one of the integration's payouts by its reference.
func (s *Service) PayoutByReference(ctx context.Context, in malipo.Integration, ref string) (malipo.Payout, error) {
	var p malipo.Payout
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		p, err = tx.PayoutByReference(in.ID, ref)
		return err
	})
	if malipo.KindOf(err) == malipo.KindNotFound {
		return p, &malipo.Error{Kind: malipo.KindNotFound, Code: "resource_missing", Param: "reference", Message: fmt.Sprintf("no payout with reference %q", ref)}
	}
	return p, err
}

// ListPayouts lists the merchant's payouts in the integration's mode.
func (s *Service) ListPayouts(ctx context.Context, in malipo.Integration, f store.PayoutFilter) ([]malipo.Payout, error) {
	if err := checkPage(&f.Limit); err != nil {
		return nil, err
	}
	f.MerchantID, f.Mode = in.MerchantID, in.Mode
	var ps []malipo.Payout
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		ps, err = tx.ListPayouts(f)
		return err
	})
	return ps, err
}
