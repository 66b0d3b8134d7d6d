package gateway

import (
	"context"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// Verify audits the ledger: every entry balances, stored balances equal
// their postings, and every succeeded payment is posted exactly once. A
// rail outcome counts as unapplied once auditGrace has passed since it
// came.
func (s *Service) Verify(ctx context.Context) (malipo.AuditReport, error) {
	var r malipo.AuditReport
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		r, err = tx.Audit(s.now().Add(-auditGrace))
		return err
	})
	return r, err
}

// Balances returns the integration's merchant balances in its mode.
func (s *Service) Balances(ctx context.Context, in malipo.Integration) ([]malipo.Balance, error) {
	var bs []malipo.Balance
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		bs, err = tx.Balances(in.MerchantID, in.Mode)
		return err
	})
	return bs, err
}

// Topup credits a test merchant's available balance from the sandbox, so
// payouts can be tried at once.
func (s *Service) Topup(ctx context.Context, in malipo.Integration, amount int64, currency string) ([]malipo.Balance, error) {
	if in.Mode != malipo.ModeTest {
		return nil, malipo.Errorf(malipo.KindForbidden, "live_mode", "top-ups exist only in test mode")
	}
	cur, err := malipo.ParseCurrency(currency)
	if err != nil {
		return nil, err
	}
	if err := malipo.ValidateAmount(amount, "amount"); err != nil {
		return nil, err
	}
	var bs []malipo.Balance
	err = s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		// Its ID is a ledger entry's like every other's: statements are in
		// the order of their entries' IDs, and a "top_" one sorted above
		// every "led_" one, whatever its time.
		if err := tx.PostEntry(malipo.TopupEntry(s.cfg.IDs.ID("led"), in.MerchantID, cur, amount, s.now())); err != nil {
			return err
		}
		bs, err = tx.Balances(in.MerchantID, in.Mode)
		return err
	})
	return bs, err
}

// SettleDue makes up to limit collections available whose settlement
// delay has passed, and reports how many.
func (s *Service) SettleDue(ctx context.Context, limit int) (int, error) {
	var n int
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		now := s.now()
		ps, err := tx.ClaimUnsettledPayments(now, limit)
		if err != nil {
			return err
		}
		n = len(ps)
		for _, p := range ps {
			if err := tx.PostEntry(malipo.SettlementEntry(s.cfg.IDs.ID("led"), p, now)); err != nil {
				return err
			}
			p.SettledAt = now
			if err := tx.UpdatePayment(p); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// Buckets a merchant's money sits in, per currency.
const (
	BucketAvailable = "available"
	BucketPending   = "pending"
	BucketReserved  = "reserved"
)

// BalanceTransactions is a statement of one of the merchant's balances:
// every movement of the bucket (available unless named) in currency,
// newest first, each with the balance after it, startingAfter an entry ID
// for the next page.
func (s *Service) BalanceTransactions(ctx context.Context, in malipo.Integration, currency, bucket, startingAfter string, limit int) ([]malipo.Movement, error) {
	return s.Statement(ctx, in, currency, bucket, store.MovementFilter{StartingAfter: startingAfter, Limit: limit})
}

// Statement is BalanceTransactions with every filter: creation-time bounds
// too.
func (s *Service) Statement(ctx context.Context, in malipo.Integration, currency, bucket string, f store.MovementFilter) ([]malipo.Movement, error) {
	limit := f.Limit
	if err := checkPage(&limit); err != nil {
		return nil, err
	}
	cur, err := malipo.ParseCurrency(currency)
	if err != nil {
		return nil, err
	}
	var account malipo.Account
	switch bucket {
	case "", BucketAvailable:
		account = malipo.MerchantAvailable(in.MerchantID, in.Mode, cur)
	case BucketPending:
		account = malipo.MerchantPending(in.MerchantID, in.Mode, cur)
	case BucketReserved:
		account = malipo.MerchantReserved(in.MerchantID, in.Mode, cur)
	default:
		return nil, malipo.Invalid("bucket", "parameter_invalid", "bucket is available, pending or reserved")
	}
	var out []malipo.Movement
	err = s.cfg.Store.Read(ctx, func(tx store.Tx) error {
		f.Account, f.Limit = account, limit
		if out, err = tx.ListMovements(f); err != nil || len(out) == 0 {
			return err
		}
		balance, err := tx.AccountBalance(account)
		if err != nil {
			return err
		}
		// The balance after the page's first movement is today's less
		// everything posted after it.
		since, err := tx.SumMovementsSince(account, out[0].EntryID)
		if err != nil {
			return err
		}
		balance -= since - out[0].Amount
		for i := range out {
			out[i].BalanceAfter = balance
			balance -= out[i].Amount
		}
		return nil
	})
	return out, err
}

// Stats are a merchant's last days of payments in one currency, every day
// present (oldest first), and its failures by code and operator.
type Stats struct {
	Currency  malipo.Currency
	Days      []malipo.DayStats
	Failures  []malipo.FailureStats
	Payments  int
	Succeeded int
	Volume    int64
}

// PaymentStats counts the integration's merchant's payments in currency
// over the days days up to today (UTC), in the integration's mode.
func (s *Service) PaymentStats(ctx context.Context, in malipo.Integration, currency string, days int) (Stats, error) {
	if days < 1 || days > maxStatsDays {
		return Stats{}, malipo.Invalid("days", "parameter_invalid", "between 1 and 366 days")
	}
	today := s.now().UTC().Truncate(24 * time.Hour)
	return s.PaymentStatsBetween(ctx, in, currency, today.AddDate(0, 0, 1-days), today)
}

// maxStatsDays bounds the days one report of payment statistics covers.
const maxStatsDays = 366

// PaymentStatsBetween is PaymentStats over the UTC days first to last,
// both included (any time of day in them will do): a month's report.
func (s *Service) PaymentStatsBetween(ctx context.Context, in malipo.Integration, currency string, first, last time.Time) (Stats, error) {
	cur, err := malipo.ParseCurrency(currency)
	if err != nil {
		return Stats{}, err
	}
	from, last := first.UTC().Truncate(24*time.Hour), last.UTC().Truncate(24*time.Hour)
	if last.Before(from) || last.Sub(from) >= maxStatsDays*24*time.Hour {
		return Stats{}, malipo.Invalid("to", "parameter_invalid", "a report covers 1 to 366 days, to no earlier than from")
	}
	st := Stats{Currency: cur}
	var got []malipo.DayStats
	err = s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		got, st.Failures, err = tx.PaymentStats(in.MerchantID, in.Mode, cur, from, last.AddDate(0, 0, 1))
		return err
	})
	byDay := map[time.Time]malipo.DayStats{}
	for _, d := range got {
		byDay[d.Day] = d
	}
	for d := from; !d.After(last); d = d.AddDate(0, 0, 1) {
		day := byDay[d]
		day.Day = d
		st.Days = append(st.Days, day)
		st.Payments, st.Succeeded, st.Volume = st.Payments+day.Payments, st.Succeeded+day.Succeeded, st.Volume+day.Volume
	}
	return st, err
}

// Entries lists the ledger entries of one of the merchant's payments,
// payouts or refunds (in the integration's mode), oldest first.
func (s *Service) Entries(ctx context.Context, in malipo.Integration, refID string) ([]malipo.Entry, error) {
	var out []malipo.Entry
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) error {
		if strings.HasPrefix(refID, "pay_") {
			if _, err := owned(tx, in, refID); err != nil {
				return err
			}
		} else if strings.HasPrefix(refID, "po_") {
			p, err := tx.GetPayout(refID)
			if err := ownedBy(in, p.MerchantID, p.Mode, err, "payout", refID); err != nil {
				return err
			}
		} else {
			return malipo.ErrNotFound
		}
		var err error
		out, err = tx.ListEntries(refID)
		return err
	})
	return out, err
}
