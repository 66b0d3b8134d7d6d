package gateway

import (
	"context"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// Verify audits the ledger: every entry balances, stored balances equal
// their postings, and every succeeded payment is posted exactly once.
func (s *Service) Verify(ctx context.Context) (malipo.AuditReport, error) {
	var r malipo.AuditReport
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		r, err = tx.Audit()
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
		if err := tx.PostEntry(malipo.TopupEntry(s.cfg.IDs.ID("top"), in.MerchantID, cur, amount, s.now())); err != nil {
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
