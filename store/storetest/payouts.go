package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

func payout(i malipo.Integration, id, ref, account string, at time.Time) malipo.Payout {
	return malipo.Payout{ID: id, MerchantID: i.MerchantID, IntegrationID: i.ID, Mode: i.Mode, Amount: 1000, Fee: 10, Currency: "KES",
		Reference: ref, Destination: malipo.Destination{Type: malipo.DestinationPaybill, Account: account, Name: "KPLC",
			AccountReference: "ACC-1"}, Narration: "Electricity", Status: malipo.PayoutQueued, CreatedAt: at, UpdatedAt: at}
}

func testPayouts(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	p := payout(i, "po_1", "pay-1", "888880", epoch)
	write(t, s, func(tx store.Tx) error {
		for _, x := range []malipo.Payout{p, payout(i, "po_2", "pay-2", "888880", epoch.Add(2*time.Hour)),
			payout(i, "po_3", "pay-3", "888880", epoch.Add(3*time.Hour)), payout(i, "po_4", "pay-4", "222222", epoch.Add(3*time.Hour))} {
			if err := tx.CreatePayout(x); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.CreatePayout(payout(i, "po_9", "pay-1", "1", epoch)) })
	if e := malipo.AsError(err); e.Kind != malipo.KindConflict || !errors.Is(err, malipo.ErrReferenceInUse) {
		t.Errorf("duplicate reference: %v", err)
	}
	write(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayout("po_3")
		if err != nil {
			return err
		}
		got.FailureCode, got.RailReference = "invalid_account", "R1"
		if err := got.Transition(malipo.PayoutFailed, epoch.Add(4*time.Hour)); err != nil {
			return err
		}
		return tx.UpdatePayout(got)
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayout("po_1")
		must(t, err)
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("payout (-want +got):\n%s", diff)
		}
		byRef, err := tx.PayoutByReference(i.ID, "pay-2")
		must(t, err)
		if byRef.ID != "po_2" {
			t.Errorf("by reference: %s", byRef.ID)
		}
		// po_3 failed and po_1 is outside the window: one payout counts.
		n, err := tx.CountPayoutsTo(i.ID, "888880", epoch.Add(time.Hour))
		must(t, err)
		if n != 1 {
			t.Errorf("CountPayoutsTo = %d, want 1", n)
		}
		list, err := tx.ListPayouts(store.PayoutFilter{MerchantID: i.MerchantID, Mode: malipo.ModeTest, Limit: 2, StartingAfter: "po_4"})
		must(t, err)
		if len(list) != 2 || list[0].ID != "po_3" || list[1].ID != "po_2" {
			t.Errorf("ListPayouts = %v", list)
		}
		_, err = tx.GetPayout("po_nope")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
}

func testRefunds(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	p := payment(i, "pay_1", "o-1")
	p.Status, p.CompletedAt, p.AvailableAt = malipo.PaymentSucceeded, epoch, epoch.Add(time.Hour)
	r := malipo.Refund{ID: "re_1", PaymentID: p.ID, MerchantID: i.MerchantID, IntegrationID: i.ID, Mode: i.Mode, Amount: 1000,
		Currency: "XOF", Reason: "requested_by_customer", Status: malipo.RefundPending, CreatedAt: epoch, UpdatedAt: epoch}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreatePayment(p); err != nil {
			return err
		}
		return tx.CreateRefund(r)
	})
	write(t, s, func(tx store.Tx) error {
		got, err := tx.GetRefund("re_1")
		if err != nil {
			return err
		}
		got.Status, got.RailReference, got.CompletedAt = malipo.RefundSucceeded, "RF1", epoch.Add(time.Minute)
		r = got
		pay, err := tx.GetPayment(p.ID)
		if err != nil {
			return err
		}
		pay.AmountRefunded = 1000
		if err := tx.UpdatePayment(pay); err != nil {
			return err
		}
		return tx.UpdateRefund(got)
	})
	read(t, s, func(tx store.Tx) error {
		list, err := tx.ListRefunds(p.ID)
		must(t, err)
		if len(list) != 1 || !cmp.Equal(list[0], r) {
			t.Errorf("ListRefunds = %+v, want %+v", list, r)
		}
		pay, err := tx.GetPayment(p.ID)
		must(t, err)
		if pay.AmountRefunded != 1000 || !pay.AvailableAt.Equal(epoch.Add(time.Hour)) || !pay.SettledAt.IsZero() {
			t.Errorf("payment after refund: %+v", pay)
		}
		return nil
	})
	// The payment becomes available an hour after it succeeded.
	var early, due []malipo.Payment
	write(t, s, func(tx store.Tx) (err error) {
		early, err = tx.ClaimUnsettledPayments(epoch.Add(59*time.Minute), 10)
		return err
	})
	write(t, s, func(tx store.Tx) (err error) {
		due, err = tx.ClaimUnsettledPayments(epoch.Add(time.Hour), 10)
		return err
	})
	if len(early) != 0 || len(due) != 1 {
		t.Errorf("unsettled: %d early, %d due; want 0 and 1", len(early), len(due))
	}
}
