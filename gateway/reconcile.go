package gateway

import (
	"context"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// Reconcile asks the rails about up to limit attempts that have gone
// without a verdict past their next check, and reports how many it asked
// about. Nothing waits on a callback alone: a lost callback, a node that
// stopped mid-call or a rail that was down all end here. Each attempt is
// asked again with a doubling backoff (at most hourly) until it is final.
// A final answer goes through the inbox like a callback; "pending" moves a
// claimed attempt on; "unknown" (the rail never received it) ends a
// payment's attempt so the customer may try again, and sends a payout or
// refund again under the same key. Every node may run it: each attempt is
// claimed by one.
func (s *Service) Reconcile(ctx context.Context, limit int) (int, error) {
	var due []malipo.RailAttempt
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		now := s.now()
		as, err := tx.ClaimDueRailAttempts(now, limit)
		if err != nil {
			return err
		}
		for i := range as {
			as[i].Checks++
			as[i].NextCheckAt = now.Add(s.backoff(as[i].Checks)) // also the lease: no other node asks meanwhile
			if err := tx.UpdateRailAttempt(as[i]); err != nil {
				return err
			}
		}
		due = as
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, a := range due {
		if err := s.reconcile(ctx, a); err != nil {
			s.cfg.Logger.Warn("reconcile attempt", "attempt", a.ID, "rail", a.Rail, "err", err)
			s.askAgainSoon(ctx, a)
		}
	}
	return len(due), nil
}

// askAgainSoon undoes the backoff of a question that got no answer (the
// rail unreachable, a node's store write failing): the backoff is for
// rails that say "still pending", and a failed question must not push the
// next one an hour away. It is asked again ReconcileAfter from now.
func (s *Service) askAgainSoon(ctx context.Context, asked malipo.RailAttempt) {
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		a, err := tx.GetRailAttempt(asked.ID)
		if err != nil || a.Status.Final() || a.Checks != asked.Checks {
			return err // final meanwhile, or asked again by someone else
		}
		a.Checks = max(a.Checks-1, 0)
		a.NextCheckAt = s.now().Add(s.cfg.ReconcileAfter)
		return tx.UpdateRailAttempt(a)
	})
	if err != nil {
		s.cfg.Logger.Warn("reschedule a rail attempt", "attempt", asked.ID, "err", err)
	}
}

func (s *Service) reconcile(ctx context.Context, a malipo.RailAttempt) error {
	rail := s.railOf(a)
	if rail == nil {
		s.cfg.Logger.Error("no rail to ask about an attempt", "attempt", a.ID, "mode", a.Mode, "method", a.Method)
		return nil
	}
	rctx, cancel := s.railCall(ctx)
	o, err := rail.Status(rctx, a.ID, a.RailReference)
	cancel()
	if err != nil {
		return err
	}
	o.Key = a.ID
	switch o.Verdict {
	case malipo.VerdictPending:
		return s.markPending(ctx, a.ID, o.RailReference)
	case malipo.VerdictUnknown:
		return s.notReceived(ctx, a)
	}
	return s.receive(ctx, s.inboxItem(rail.Name(), "status", o))
}

// markPending records that the rail has an attempt claimed as sending: a
// payment's push was taken (processing), a payout is on its way.
func (s *Service) markPending(ctx context.Context, key, ref string) error {
	return s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		a, err := tx.GetRailAttempt(key)
		if err != nil || a.Status != malipo.AttemptSending {
			return err
		}
		now := s.now()
		a.Status, a.UpdatedAt = malipo.AttemptPending, now
		if ref != "" {
			a.RailReference = ref
		}
		if err := tx.UpdateRailAttempt(a); err != nil {
			return err
		}
		switch a.ObjectType {
		case "payment":
			p, err := tx.GetPayment(a.ObjectID)
			if err != nil || p.Attempt != a.Number || p.Status.Final() {
				return err
			}
			p.InFlightUntil = time.Time{}
			if a.Method == string(malipo.ChannelMobileMoney) && p.Status == malipo.PaymentPending {
				p.RailReference = a.RailReference
				if err := p.Transition(malipo.PaymentProcessing, now); err != nil {
					return err
				}
			}
			if a.Method == string(malipo.ChannelCard) {
				p.NextAction = malipo.NextActionThreeDSecure // the card network waits for the customer
			}
			return tx.UpdatePayment(p)
		case "payout":
			p, err := tx.GetPayout(a.ObjectID)
			if err != nil || p.Status != malipo.PayoutQueued {
				return err
			}
			p.RailReference = a.RailReference
			if err := p.Transition(malipo.PayoutProcessing, now); err != nil {
				return err
			}
			return tx.UpdatePayout(p)
		}
		return nil
	}, attemptHint(key))
}

// notReceived handles an attempt its rail says it never received. A
// payment's attempt ends, so the customer may try again (nothing was
// charged); a payout or refund is sent again under the same key, which is
// safe because the first never arrived.
func (s *Service) notReceived(ctx context.Context, a malipo.RailAttempt) error {
	switch a.ObjectType {
	case "payout":
		var p malipo.Payout
		err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
			p, err = tx.GetPayout(a.ObjectID)
			return err
		})
		if err != nil || p.Status.Final() {
			return err
		}
		_, err = s.sendPayout(ctx, "", p, a, Idempotency{})
		return err
	case "refund":
		var r malipo.Refund
		var pay malipo.Payment
		err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
			if r, err = tx.GetRefund(a.ObjectID); err != nil {
				return err
			}
			pay, err = tx.GetPayment(r.PaymentID)
			return err
		})
		if err != nil || r.Status != malipo.RefundPending {
			return err
		}
		_, err = s.sendRefund(ctx, "", pay, r, a.ID, Idempotency{})
		return err
	}
	return s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		cur, err := tx.GetRailAttempt(a.ID)
		if err != nil || cur.Status.Final() {
			return err
		}
		now := s.now()
		cur.Finish(malipo.AttemptFailed, "not_received", "The rail never received this attempt", now)
		if err := tx.UpdateRailAttempt(cur); err != nil {
			return err
		}
		p, err := tx.GetPayment(cur.ObjectID)
		if err != nil || p.Attempt != cur.Number || p.Status.Final() {
			return err
		}
		// Processing said the operator had the push; it says it has not.
		// Either way nothing was charged: the payment may be paid again.
		p.Status, p.InFlightUntil, p.NextAction, p.UpdatedAt = malipo.PaymentPending, time.Time{}, "", now
		return tx.UpdatePayment(p)
	}, attemptHint(a.ID))
}
