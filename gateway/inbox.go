package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// How a rail's outcome is never dropped.
//
// Whatever a rail says of a transaction (a callback, or the answer to the
// reconciler's status query) becomes an inbox item, stored with the rail's
// own words, and is applied once: the item and what it changed commit
// together. If applying fails, the item is stored alone, unapplied, and a
// worker applies it later; `malipo verify` lists any left. Applying is
// idempotent: the same verdict twice changes nothing. A success that its
// payment can no longer take (cancelled, failed, or paid by another
// attempt) is posted to a suspense account with a payment.unmatched event;
// a success after expiry is applied and flagged late.

// Report records an outcome a rail reported by itself (a callback) and
// applies it. It is the rails' Sink.
func (s *Service) Report(ctx context.Context, rail string, o rails.Outcome) error {
	return s.receive(ctx, s.inboxItem(rail, "callback", o))
}

// Hint records a callback from a live rail and confirms it before anything
// is done with it: operators' callbacks are unsigned (MoMo) or come from
// addresses anyone may spoof, so a callback only says "ask now". The
// callback is kept in the inbox as a hint, the attempt it names is claimed
// for a status query at once, and the rail's answer to that query is what
// is applied, through the inbox like any outcome. If the query fails, the
// reconciler asks again later; a callback naming no attempt Malipo made is
// kept and otherwise ignored.
func (s *Service) Hint(ctx context.Context, rail string, o rails.Outcome) error {
	item := s.inboxItem(rail, "callback", o)
	item.AppliedAt, item.Result = item.ReceivedAt, malipo.ResultHint
	var claimed *malipo.RailAttempt
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		claimed = nil
		a, err := tx.GetRailAttempt(o.Key)
		switch {
		case malipo.KindOf(err) == malipo.KindNotFound:
			s.cfg.Logger.WarnContext(ctx, "a rail called back about a transaction Malipo never sent", "rail", rail, "key", truncate(o.Key, 80))
		case err != nil:
			return err
		case a.Rail != rail:
			s.cfg.Logger.WarnContext(ctx, "a rail called back about another rail's transaction", "rail", rail, "attempt", a.ID, "of", a.Rail)
		case !a.Status.Final():
			item.Mode = a.Mode
			now := s.now()
			if a.RailReference == "" && o.RailReference != "" {
				// The rail's answer to the call was lost, so Malipo never
				// learnt the rail's reference; the callback names it, and the
				// rail is asked by it (Daraja can be asked no other way).
				a.RailReference = o.RailReference
			}
			a.Checks++
			a.NextCheckAt = now.Add(s.backoff(a.Checks)) // the lease: the reconciler leaves it to us meanwhile
			if err := tx.UpdateRailAttempt(a); err != nil {
				return err
			}
			claimed = &a
		default:
			item.Mode = a.Mode
		}
		return tx.CreateInboxItem(item)
	}, store.Hint{RailAttempt: o.Key})
	if err != nil || claimed == nil {
		return err
	}
	if err := s.reconcile(ctx, *claimed); err != nil {
		s.cfg.Logger.WarnContext(ctx, "confirm a rail's callback; the reconciler will ask again", "attempt", claimed.ID, "rail", rail, "err", err)
		s.askAgainSoon(ctx, *claimed)
	}
	return nil
}

func (s *Service) inboxItem(rail, source string, o rails.Outcome) malipo.InboxItem {
	return malipo.InboxItem{ID: s.cfg.IDs.ID("ib"), Rail: rail, Mode: s.modeOfRail(rail), AttemptID: o.Key, Source: source,
		Verdict: o.Verdict, RailReference: o.RailReference, FailureCode: o.FailureCode, FailureReason: o.FailureReason,
		Amount: o.Amount, Currency: o.Currency, Body: o.Raw, ReceivedAt: s.now()}
}

// receive stores an item and applies it in one transaction; if applying
// fails, it stores the item alone, for ApplyInbox.
func (s *Service) receive(ctx context.Context, item malipo.InboxItem) error {
	if !item.Verdict.Final() {
		return malipo.Invalid("status", "verdict_invalid", "a rail outcome must be succeeded, failed or expired, not %q", item.Verdict)
	}
	var voids []string
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		it := item
		var err error
		if voids, err = s.apply(tx, &it); err != nil {
			return err
		}
		return tx.CreateInboxItem(it)
	}, attemptHint(item.AttemptID))
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "rail outcome not applied; kept for a retry", "rail", item.Rail, "attempt", item.AttemptID, "err", err)
		s.triedAndFailed(&item, err)
		if err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error { return tx.CreateInboxItem(item) }); err != nil {
			return fmt.Errorf("record rail outcome for %s: %w", item.AttemptID, err)
		}
		return nil
	}
	s.void(ctx, item.Mode, voids...)
	s.ended.tell(malipo.AttemptObject(item.AttemptID))
	return nil
}

// inboxRetryAfter is how long an outcome kept unapplied waits before
// ApplyInbox applies it. One is kept only once its first try has failed,
// so there is no first try left to race (and were that try's commit
// still under way when its connection was lost, its locks would hold the
// retry until it ended, and applying is idempotent): this is a breath
// for a database that has just failed, not a guard. Until stop 36 it was
// a minute, through which the payment stayed in processing and every
// audit (malipo_ledger_audit_failed pages) listed the outcome.
const inboxRetryAfter = 5 * time.Second

// auditGrace is how long an outcome may wait for its retry before the
// ledger audit counts it as unapplied: its first try and three retries
// (at 5, 15 and 35 s) fit in it. An audit that ran just after a database
// hiccup would otherwise page the operator (malipo_ledger_audit_failed)
// for an outcome applied seconds later, until the next audit an hour on.
const auditGrace = time.Minute

// maxInboxRetry caps the wait between tries of an outcome whose
// application keeps failing: the wait doubles from inboxRetryAfter after
// each failed try, so that an outcome that fails for good (it waits for
// a person, and the audit lists it) is tried hourly, and the retries of
// the others, due sooner, are claimed before it.
const maxInboxRetry = time.Hour

// triedAndFailed notes on an outcome that applying it failed with err,
// and when to try again: inboxRetryAfter after the first failed try, then
// twice as long after each, at most maxInboxRetry.
func (s *Service) triedAndFailed(it *malipo.InboxItem, err error) {
	it.Error = truncate(err.Error(), 500)
	it.Tries++
	it.RetryAt = s.now().Add(doubling(inboxRetryAfter, it.Tries, maxInboxRetry))
}

// ApplyInbox applies the outcomes whose application failed and whose
// retry is due, at most limit of them, and reports how many it applied.
// Every node may run it.
func (s *Service) ApplyInbox(ctx context.Context, limit int) (int, error) {
	var items []malipo.InboxItem
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) (err error) {
		items, err = tx.ClaimUnappliedInbox(s.now(), limit)
		return err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, claimed := range items {
		id := claimed.ID
		var voids []string
		var mode malipo.Mode
		err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
			it, err := tx.GetInboxItem(id)
			if err != nil || !it.AppliedAt.IsZero() {
				return err // applied meanwhile by another node
			}
			it.Error = ""
			if voids, err = s.apply(tx, &it); err != nil {
				return err
			}
			mode = it.Mode
			return tx.UpdateInboxItem(it)
		}, attemptHint(claimed.AttemptID))
		if err != nil {
			s.cfg.Logger.Error("rail outcome still not applied", "item", id, "err", err)
			s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
				it, gerr := tx.GetInboxItem(id)
				if gerr != nil {
					return gerr
				}
				s.triedAndFailed(&it, err)
				return tx.UpdateInboxItem(it)
			})
			continue
		}
		s.void(ctx, mode, voids...)
		s.ended.tell(malipo.AttemptObject(claimed.AttemptID))
		n++
	}
	return n, nil
}

// apply applies an outcome inside tx, filling in the item's mode, result
// and time, and returns card authorisations to void once committed.
func (s *Service) apply(tx store.Tx, it *malipo.InboxItem) ([]string, error) {
	now := s.now()
	it.AppliedAt = now
	a, err := tx.GetRailAttempt(it.AttemptID)
	if malipo.KindOf(err) == malipo.KindNotFound {
		return nil, s.unmatched(tx, it, nil, true)
	}
	if err != nil {
		return nil, err
	}
	it.Mode = a.Mode
	if a.Status.Final() {
		it.Result = malipo.ResultDuplicate
		if (a.Status == malipo.AttemptSucceeded) != (it.Verdict == malipo.VerdictSucceeded) {
			it.Result = malipo.ResultConflicting
			s.cfg.Logger.Error("a rail contradicts its earlier verdict", "attempt", a.ID, "was", a.Status, "now", it.Verdict)
		}
		return nil, nil
	}
	if it.RailReference != "" {
		a.RailReference = it.RailReference
	}
	to := malipo.AttemptFailed
	if it.Verdict == malipo.VerdictSucceeded {
		to = malipo.AttemptSucceeded
	}
	a.Finish(to, it.FailureCode, it.FailureReason, now)
	if err := tx.UpdateRailAttempt(a); err != nil {
		return nil, err
	}
	it.Result = malipo.ResultApplied
	switch a.ObjectType {
	case "payment":
		return s.applyToPayment(tx, it, a)
	case "payout":
		return nil, s.applyToPayout(tx, it, a)
	case "refund":
		return nil, s.applyToRefund(tx, it, a)
	}
	return nil, fmt.Errorf("attempt %s is of an unknown object type %q", a.ID, a.ObjectType)
}

func (s *Service) applyToPayment(tx store.Tx, it *malipo.InboxItem, a malipo.RailAttempt) ([]string, error) {
	p, err := tx.GetPayment(a.ObjectID)
	if err != nil {
		return nil, err
	}
	current := p.Attempt == a.Number
	if current {
		p.InFlightUntil = time.Time{}
	}
	if it.Verdict != malipo.VerdictSucceeded {
		if !current || p.Status.Final() {
			return nil, nil // an older attempt, or a payment already ended: the attempt is recorded
		}
		p.FailureCode, p.FailureReason = it.FailureCode, it.FailureReason
		switch {
		case it.Verdict == malipo.VerdictExpired:
			return nil, s.finish(tx, &p, malipo.PaymentExpired, "")
		case a.Method == string(malipo.ChannelMobileMoney):
			return nil, s.finish(tx, &p, malipo.PaymentFailed, "")
		}
		// A declined card leaves the payment payable: the customer may try another.
		p.NextAction, p.UpdatedAt = "", s.now()
		return nil, tx.UpdatePayment(p)
	}
	p.Method, p.RailReference = malipo.Channel(a.Method), a.RailReference
	switch {
	case !p.Status.Final():
		return nil, s.finish(tx, &p, malipo.PaymentSucceeded, a.Rail)
	case p.Status == malipo.PaymentExpired:
		it.Result = malipo.ResultLate
		if err := p.SucceedLate(s.now()); err != nil {
			return nil, err
		}
		return nil, s.complete(tx, &p, a.Rail)
	}
	// Cancelled, failed, or paid already by another attempt: a card's
	// authorisation is voided; money a push collected waits in suspense.
	if a.Method == string(malipo.ChannelCard) {
		it.Result = malipo.ResultIgnored
		a.Finish(malipo.AttemptFailed, "voided", "The payment could no longer take this authorisation", s.now())
		return []string{a.ID}, tx.UpdateRailAttempt(a)
	}
	fresh, err := tx.GetPayment(a.ObjectID) // as stored: p was changed above
	if err != nil {
		return nil, err
	}
	return nil, s.unmatched(tx, it, &fresh, true)
}

func (s *Service) applyToPayout(tx store.Tx, it *malipo.InboxItem, a malipo.RailAttempt) error {
	p, err := tx.GetPayout(a.ObjectID)
	if err != nil {
		return err
	}
	if it.RailReference != "" {
		p.RailReference = it.RailReference
	}
	switch {
	case !p.Status.Final():
		to := malipo.PayoutSucceeded
		if it.Verdict != malipo.VerdictSucceeded {
			to, p.FailureCode, p.FailureReason = malipo.PayoutFailed, it.FailureCode, it.FailureReason
		}
		return s.finishPayout(tx, &p, to, a.Rail)
	case p.Status == malipo.PayoutFailed && it.Verdict == malipo.VerdictSucceeded:
		return s.unmatched(tx, it, nil, false) // paid out, though the books had given the money back
	case p.Status == malipo.PayoutSucceeded && it.Verdict != malipo.VerdictSucceeded:
		it.Result = malipo.ResultConflicting
	default:
		it.Result = malipo.ResultDuplicate
	}
	return nil
}

func (s *Service) applyToRefund(tx store.Tx, it *malipo.InboxItem, a malipo.RailAttempt) error {
	r, err := tx.GetRefund(a.ObjectID)
	if err != nil {
		return err
	}
	if it.RailReference != "" {
		r.RailReference = it.RailReference
	}
	switch {
	case r.Status == malipo.RefundPending:
		to := malipo.RefundSucceeded
		if it.Verdict != malipo.VerdictSucceeded {
			to, r.FailureCode, r.FailureReason = malipo.RefundFailed, it.FailureCode, it.FailureReason
		}
		return s.finishRefund(tx, &r, to, a.Rail)
	case r.Status == malipo.RefundFailed && it.Verdict == malipo.VerdictSucceeded:
		return s.unmatched(tx, it, nil, false)
	case r.Status == malipo.RefundSucceeded && it.Verdict != malipo.VerdictSucceeded:
		it.Result = malipo.ResultConflicting
	default:
		it.Result = malipo.ResultDuplicate
	}
	return nil
}

// unmatched parks money a rail moved that no object can take: collected
// (in) for a payment that cannot take it or for a key Malipo never gave,
// or sent out (a payout or refund the books had already given back). The
// suspense account keeps it in the ledger until a person decides; the
// payment's merchant, if there is one, gets a payment.unmatched event. A
// failure for a key Malipo never gave changes nothing.
func (s *Service) unmatched(tx store.Tx, it *malipo.InboxItem, p *malipo.Payment, in bool) error {
	amount, cur := it.Amount, it.Currency
	if p != nil && (amount == 0 || cur == "") {
		amount, cur = p.Amount, p.Currency
	}
	if it.Verdict != malipo.VerdictSucceeded {
		it.Result = malipo.ResultIgnored
		return nil
	}
	it.Result = malipo.ResultUnmatched
	s.cfg.Logger.Error("money reported that no payment can take: posted to suspense", "rail", it.Rail, "attempt", it.AttemptID,
		"amount", amount, "currency", cur)
	if amount > 0 && cur != "" {
		if _, err := malipo.ParseCurrency(string(cur)); err != nil {
			return err
		}
		if err := tx.PostEntry(malipo.UnmatchedEntry(s.cfg.IDs.ID("led"), it.ID, it.Rail, it.Mode, cur, amount, in, s.now())); err != nil {
			return err
		}
	}
	if p == nil {
		return nil
	}
	in2, err := tx.GetIntegration(p.IntegrationID)
	if err != nil {
		return err
	}
	u := malipo.Unmatched{ID: it.ID, PaymentID: p.ID, Rail: it.Rail, RailReference: it.RailReference, Amount: amount,
		Currency: cur, PaymentStatus: p.Status, At: s.now()}
	return s.emitEvent(tx, malipo.EventPaymentUnmatched, "unmatched", it.ID, p.MerchantID, p.Mode, u, in2, p.NotifyURL)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
