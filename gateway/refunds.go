package gateway

import (
	"context"
	"fmt"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// RefundInput asks to give a customer money back.
type RefundInput struct {
	PaymentID string
	Amount    int64 // 0: everything not yet refunded
	Reason    string
}

// MaxRefundReasonLen bounds a refund's reason.
const MaxRefundReasonLen = 200

// CreateRefund refunds all or part of a succeeded payment, never more than
// is left of it. The amount is reserved from the merchant's available
// balance in the same transaction, like a payout, then the rail pays it
// back; a refusal releases it.
func (s *Service) CreateRefund(ctx context.Context, in malipo.Integration, req RefundInput, idem Idempotency) (malipo.Refund, bool, error) {
	if req.PaymentID == "" {
		return malipo.Refund{}, false, malipo.Invalid("payment", "parameter_missing", "payment is required")
	}
	if req.Amount < 0 {
		return malipo.Refund{}, false, malipo.Invalid("amount", "amount_invalid", "amount must be a positive integer number of minor units")
	}
	if len(req.Reason) > MaxRefundReasonLen {
		return malipo.Refund{}, false, malipo.Invalid("reason", "parameter_invalid", "reason must be at most %d characters", MaxRefundReasonLen)
	}
	rail, err := s.refundRail(in.Mode)
	if err != nil {
		return malipo.Refund{}, false, err
	}
	now := s.now()
	r := malipo.Refund{ID: s.cfg.IDs.ID(refundKind), PaymentID: req.PaymentID, MerchantID: in.MerchantID, IntegrationID: in.ID, Mode: in.Mode,
		Reason: req.Reason, Status: malipo.RefundPending, CreatedAt: now, UpdatedAt: now}
	attempt := s.newAttempt("refund", r.ID, 1, r.MerchantID, r.Mode, rail.Name(), malipo.MethodRefund)
	var pay malipo.Payment
	var replay bool
	err = s.transactIdempotent(ctx, in.ID, idem, func(tx store.Tx) error {
		var err error
		if replay, err = s.replayed(tx, in.ID, idem, &r); err != nil || replay {
			return err
		}
		// The merchant's spending is locked first (before any row), then
		// the payment: two refunds of one payment cannot both see what is
		// left, nor two debits the same balance.
		if err := tx.LockSpending(in.MerchantID, in.Mode); err != nil {
			return err
		}
		if pay, err = owned(tx, in, req.PaymentID); err != nil {
			return malipo.AsError(err).WithParam("payment")
		}
		if pay.Status != malipo.PaymentSucceeded {
			return malipo.Errorf(malipo.KindConflict, "payment_not_refundable", "payment %s is %s: only succeeded payments can be refunded", pay.ID, pay.Status)
		}
		left := pay.Amount - pay.AmountRefunded
		r.Amount, r.Currency = req.Amount, pay.Currency
		if r.Amount == 0 {
			r.Amount = left
		}
		if left <= 0 {
			return malipo.Errorf(malipo.KindConflict, "payment_fully_refunded", "payment %s is already refunded in full", pay.ID)
		}
		if r.Amount > left {
			return malipo.Invalid("amount", "amount_too_large", "only %s %s of this payment is left to refund", malipo.FormatDecimal(left, pay.Currency), pay.Currency)
		}
		available, err := tx.AccountBalance(malipo.MerchantAvailable(in.MerchantID, in.Mode, pay.Currency))
		if err != nil {
			return err
		}
		if available < r.Amount {
			return &malipo.Error{Kind: malipo.KindInsufficientFunds, Code: "insufficient_funds", Param: "amount",
				Message: fmt.Sprintf("amount available is not enough %s", malipo.FormatDecimal(available, pay.Currency))}
		}
		pay.AmountRefunded += r.Amount
		if err := tx.UpdatePayment(pay); err != nil {
			return err
		}
		if err := tx.CreateRefund(r); err != nil {
			return err
		}
		if err := tx.PostEntry(malipo.RefundReserveEntry(s.cfg.IDs.ID("led"), r, now)); err != nil {
			return err
		}
		if err := tx.CreateRailAttempt(attempt); err != nil {
			return err
		}
		return s.remember(tx, in.ID, idem, r)
	}, store.Hint{Spend: store.Spend{MerchantID: in.MerchantID, Mode: in.Mode}, Payment: req.PaymentID})
	if err != nil || replay {
		return r, replay, err
	}
	r, err = s.sendRefund(ctx, in.ID, pay, r, attempt.ID, idem)
	return r, false, err
}

// sendRefund asks the rail to pay a pending refund back under its
// attempt's key and records the answer. An unknown outcome leaves the
// refund pending, its money reserved, for the reconciler.
func (s *Service) sendRefund(ctx context.Context, scope string, pay malipo.Payment, r malipo.Refund, key string, idem Idempotency) (malipo.Refund, error) {
	refunds, err := s.refundRail(r.Mode)
	if err != nil {
		return r, err
	}
	rctx, cancel := s.railCall(ctx)
	ref, refundErr := refunds.Refund(rctx, rails.RefundRequest{Key: key, RefundID: r.ID, PaymentID: pay.ID, PaymentRailReference: pay.RailReference,
		Method: pay.Method, Amount: r.Amount, Currency: r.Currency})
	cancel()
	call := classify(refundErr)
	if call == callUnknown || call == callNotSent {
		s.cfg.Logger.WarnContext(ctx, "refund not confirmed by its rail", "refund", r.ID, "attempt", key, "err", refundErr)
		return r, nil
	}
	err = s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		a, err := tx.GetRailAttempt(key)
		if err != nil {
			return err
		}
		cur, err := tx.GetRefund(r.ID)
		if err != nil {
			return err
		}
		r = cur
		if a.Status.Final() || cur.Status != malipo.RefundPending {
			return rememberAgain(tx, scope, idem, cur)
		}
		now := s.now()
		to, code, reason := malipo.RefundSucceeded, "", ""
		if call == callRefused {
			e := malipo.AsError(refundErr)
			to, code, reason = malipo.RefundFailed, e.Code, e.Message
		}
		a.RailReference = ref
		a.Finish(map[malipo.RefundStatus]malipo.AttemptStatus{malipo.RefundSucceeded: malipo.AttemptSucceeded, malipo.RefundFailed: malipo.AttemptFailed}[to], code, reason, now)
		if err := tx.UpdateRailAttempt(a); err != nil {
			return err
		}
		cur.RailReference, cur.FailureCode, cur.FailureReason = ref, code, reason
		if err := s.finishRefund(tx, &cur, to, refunds.Name()); err != nil {
			return err
		}
		r = cur
		return rememberAgain(tx, scope, idem, cur)
	}, attemptHint(key))
	return r, err
}

// finishRefund ends a pending refund inside tx: a success pays the
// reservation to the rail; a failure gives it back and the payment may be
// refunded again.
func (s *Service) finishRefund(tx store.Tx, r *malipo.Refund, to malipo.RefundStatus, rail string) error {
	now := s.now()
	r.Status, r.UpdatedAt, r.CompletedAt = to, now, now
	entry, typ := malipo.RefundEntry(s.cfg.IDs.ID("led"), *r, rail, now), malipo.EventRefundSucceeded
	if to == malipo.RefundFailed {
		entry, typ = malipo.RefundReleaseEntry(s.cfg.IDs.ID("led"), *r, now), malipo.EventRefundFailed
		p, err := tx.GetPayment(r.PaymentID)
		if err != nil {
			return err
		}
		p.AmountRefunded -= r.Amount
		if err := tx.UpdatePayment(p); err != nil {
			return err
		}
	}
	if err := tx.PostEntry(entry); err != nil {
		return err
	}
	if err := tx.UpdateRefund(*r); err != nil {
		return err
	}
	in, err := tx.GetIntegration(r.IntegrationID)
	if err != nil {
		return err
	}
	return s.emitEvent(tx, typ, "refund", r.ID, r.MerchantID, r.Mode, *r, in, "")
}

func (s *Service) refundRail(m malipo.Mode) (rails.Refunds, error) {
	set, ok := s.cfg.Rails[m]
	if !ok || set.Refunds == nil {
		return nil, malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "no refund rail is configured for %s mode", m)
	}
	return set.Refunds, nil
}

// GetRefund reads one of the merchant's refunds.
func (s *Service) GetRefund(ctx context.Context, in malipo.Integration, id string) (malipo.Refund, error) {
	var r malipo.Refund
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		r, err = tx.GetRefund(id)
		return ownedBy(in, r.MerchantID, r.Mode, err, "refund", id)
	})
	return r, err
}

// PaymentRefunds lists a payment's refunds.
func (s *Service) PaymentRefunds(ctx context.Context, in malipo.Integration, paymentID string) ([]malipo.Refund, error) {
	var rs []malipo.Refund
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) error {
		if _, err := owned(tx, in, paymentID); err != nil {
			return err
		}
		var err error
		rs, err = tx.ListRefunds(paymentID)
		return err
	})
	return rs, err
}

// ListRefunds lists the merchant's refunds in the integration's mode,
// newest first.
func (s *Service) ListRefunds(ctx context.Context, in malipo.Integration, f store.RefundFilter) ([]malipo.Refund, error) {
	if err := checkPage(&f.Limit); err != nil {
		return nil, err
	}
	f.MerchantID, f.Mode = in.MerchantID, in.Mode
	var out []malipo.Refund
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		out, err = tx.ListMerchantRefunds(f)
		return err
	})
	return out, err
}
