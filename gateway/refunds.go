package gateway

import (
	"context"
	"fmt"
	"time"

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
	if _, err := s.refundRail(in.Mode); err != nil {
		return malipo.Refund{}, false, err
	}
	now := s.now()
	r := malipo.Refund{ID: s.cfg.IDs.ID("re"), PaymentID: req.PaymentID, MerchantID: in.MerchantID, IntegrationID: in.ID, Mode: in.Mode,
		Reason: req.Reason, Status: malipo.RefundPending, CreatedAt: now, UpdatedAt: now}
	var pay malipo.Payment
	var replay bool
	err := s.transactIdempotent(ctx, idem, func(tx store.Tx) error {
		var err error
		if replay, err = s.replayed(tx, in.ID, idem, &r); err != nil || replay {
			return err
		}
		// The payment is locked first, then the balance: two refunds of
		// one payment cannot both see what is left.
		if pay, err = owned(tx, in, req.PaymentID); err != nil {
			e := malipo.AsError(err)
			e.Param = "payment"
			return e
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
		return s.remember(tx, in.ID, idem, r)
	})
	if err != nil || replay {
		return r, replay, err
	}
	r, err = s.sendRefund(ctx, in, pay, r, idem)
	return r, false, err
}

// sendRefund asks the rail to pay a pending refund back and records its
// answer. A rail that cannot be reached leaves the refund pending, its
// money reserved, for ResendStale.
func (s *Service) sendRefund(ctx context.Context, in malipo.Integration, pay malipo.Payment, r malipo.Refund, idem Idempotency) (malipo.Refund, error) {
	refunds, err := s.refundRail(r.Mode)
	if err != nil {
		return r, err
	}
	ref, refundErr := refunds.Refund(ctx, rails.RefundRequest{RefundID: r.ID, PaymentID: pay.ID, PaymentRailReference: pay.RailReference,
		Method: pay.Method, Amount: r.Amount, Currency: r.Currency})
	if refundErr != nil && malipo.KindOf(refundErr) == malipo.KindInternal {
		s.cfg.Logger.Warn("refund not sent", "refund", r.ID, "err", refundErr)
		return r, nil
	}
	err = s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		cur, err := tx.GetRefund(r.ID)
		if err != nil {
			return err
		}
		if cur.Status != malipo.RefundPending {
			r = cur
			return nil
		}
		now := s.now()
		cur.UpdatedAt, cur.CompletedAt = now, now
		entry, typ := malipo.RefundEntry(s.cfg.IDs.ID("led"), cur, refunds.Name(), now), malipo.EventRefundSucceeded
		cur.Status, cur.RailReference = malipo.RefundSucceeded, ref
		if refundErr != nil {
			e := malipo.AsError(refundErr)
			cur.Status, cur.FailureCode, cur.FailureReason = malipo.RefundFailed, e.Code, e.Message
			entry, typ = malipo.RefundReleaseEntry(s.cfg.IDs.ID("led"), cur, now), malipo.EventRefundFailed
			p, err := tx.GetPayment(cur.PaymentID)
			if err != nil {
				return err
			}
			p.AmountRefunded -= cur.Amount
			if err := tx.UpdatePayment(p); err != nil {
				return err
			}
		}
		if err := tx.PostEntry(entry); err != nil {
			return err
		}
		if err := tx.UpdateRefund(cur); err != nil {
			return err
		}
		if err := s.emitEvent(tx, typ, "refund", cur.ID, cur.MerchantID, cur.Mode, cur, in, ""); err != nil {
			return err
		}
		r = cur
		return rememberAgain(tx, in.ID, idem, cur)
	})
	if err == nil {
		s.wake()
	}
	return r, err
}

// ResendStale hands the rails again the payouts and refunds committed but
// never handed over: the node stopped between the commit and the rail
// call, or the rail could not be reached. Each is taken again only once
// it has been left alone for age (longer than any rail call takes), and
// rails take the same ID twice without paying twice. It reports how many
// it resent.
func (s *Service) ResendStale(ctx context.Context, age time.Duration, limit int) (int, error) {
	var payouts []malipo.Payout
	var refunds []malipo.Refund
	type refundJob struct {
		in  malipo.Integration
		pay malipo.Payment
	}
	jobs := map[string]refundJob{}
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		now := s.now()
		ps, err := tx.ClaimStalePayouts(now.Add(-age), limit)
		if err != nil {
			return err
		}
		for i := range ps {
			ps[i].UpdatedAt = now // the lease: no other node takes it for another age
			if err := tx.UpdatePayout(ps[i]); err != nil {
				return err
			}
		}
		rs, err := tx.ClaimStaleRefunds(now.Add(-age), limit)
		if err != nil {
			return err
		}
		for i := range rs {
			rs[i].UpdatedAt = now
			if err := tx.UpdateRefund(rs[i]); err != nil {
				return err
			}
			in, err := tx.GetIntegration(rs[i].IntegrationID)
			if err != nil {
				return err
			}
			pay, err := tx.GetPayment(rs[i].PaymentID)
			if err != nil {
				return err
			}
			jobs[rs[i].ID] = refundJob{in, pay}
		}
		payouts, refunds = ps, rs
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, p := range payouts {
		if _, err := s.sendPayout(ctx, "", p, Idempotency{}); err != nil {
			s.cfg.Logger.Error("resend payout", "payout", p.ID, "err", err)
		}
	}
	for _, r := range refunds {
		j := jobs[r.ID]
		if _, err := s.sendRefund(ctx, j.in, j.pay, r, Idempotency{}); err != nil {
			s.cfg.Logger.Error("resend refund", "refund", r.ID, "err", err)
		}
	}
	return len(payouts) + len(refunds), nil
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
