package storetest

import (
	"context"
	"errors"
	"fmt"
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
	missing := p
	missing.ID = "po_missing"
	err = s.Transact(context.Background(), func(tx store.Tx) error { return tx.UpdatePayout(missing) })
	wantKind(t, err, malipo.KindNotFound)
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

// testPayoutsInABatch: payouts created in one batch, and their checks
// read ahead (store.Spend), see what they would see each alone. In one
// batch whose callers hint their checks, a later caller's balance,
// reference and count see what an earlier caller did (a payout created
// without a lookup, its money reserved; a payout's status changed) and
// not what a caller whose work was undone did; a reference the store
// refuses, or one taken before the batch or in it, and an update of a
// payout that is not there, fail only their callers. Each run of the
// batch sees the same.
func testPayoutsInABatch(t *testing.T, s store.Store) {
	m, in := fixture(t, s, "a")
	avail := malipo.MerchantAvailable(m.ID, in.Mode, "KES")
	write(t, s, func(tx store.Tx) error {
		if err := tx.PostEntry(malipo.TopupEntry("top_a", m.ID, "KES", 10_000, epoch)); err != nil {
			return err
		}
		if err := tx.CreatePayout(payout(in, "po_kept", "kept", "131313", epoch)); err != nil {
			return err
		}
		return tx.CreatePayout(payout(in, "po_stored", "stored", "111111", epoch))
	})
	since := epoch.Add(-time.Hour)
	hint := func(ref, dest string) []store.Hint {
		return []store.Hint{{Spend: store.Spend{MerchantID: m.ID, Mode: in.Mode, Balance: avail, IntegrationID: in.ID, Reference: ref,
			Destination: dest, Since: since}}}
	}
	// What each run of the batch found, by check.
	seen := map[string][]string{}
	check := func(name, ref, dest string) Call {
		return Call{Hints: hint(ref, dest), Fn: func(tx store.Tx) (err error) {
			defer func() {
				if err != nil { // a run that failed here is seen too
					seen[name] = append(seen[name], err.Error())
				}
			}()
			if err := tx.LockSpending(m.ID, in.Mode); err != nil {
				return err
			}
			balance, err := tx.AccountBalance(avail)
			if err != nil {
				return err
			}
			found := "none"
			p, err := tx.PayoutByReference(in.ID, ref)
			switch {
			case err == nil:
				found = p.ID + " " + string(p.Status)
			case malipo.KindOf(err) != malipo.KindNotFound:
				return err
			}
			n, err := tx.CountPayoutsTo(in.ID, dest, since)
			if err != nil {
				return err
			}
			seen[name] = append(seen[name], fmt.Sprintf("balance %d, %s, %d to %s", balance, found, n, dest))
			return nil
		}}
	}
	changedMind := errors.New("changed its mind")
	createIn := func(id, ref, dest string, then error) Call {
		return Call{Fn: func(tx store.Tx) error {
			p := payout(in, id, ref, dest, epoch)
			if err := tx.CreatePayout(p); err != nil {
				return err
			}
			if err := tx.PostEntry(malipo.PayoutReserveEntry("led_"+id, p, epoch)); err != nil {
				return err
			}
			return then
		}}
	}
	errs := InOneBatch(t, s,
		check("kept", "kept", "131313"),
		check("first", "first", "777777"),
		// created without a lookup, then checked.
		createIn("po_x", "x", "444444", nil),
		check("created", "x", "444444"),
		// failed, then checked: it no longer counts.
		Call{Fn: func(tx store.Tx) error {
			p, err := tx.GetPayout("po_stored")
			if err != nil {
				return err
			}
			p.Status, p.FailureCode = malipo.PayoutFailed, "invalid_account"
			return tx.UpdatePayout(p)
		}},
		check("failed", "stored", "111111"),
		// created by a caller that then fails: nothing to see.
		createIn("po_undone", "undone", "555555", changedMind),
		check("undone", "undone", "555555"),
		check("bad", "bad\x00", "666666"),
		// a reference taken before the batch, and one taken in it.
		createIn("po_dup", "stored", "888888", nil),
		createIn("po_x2", "x", "888888", nil),
		// a payout that is not there, updated.
		Call{Fn: func(tx store.Tx) error { return tx.UpdatePayout(payout(in, "po_missing", "missing", "999999", epoch)) }},
	)
	wantErrors(t, errs, map[int]error{6: changedMind, 8: kind(malipo.KindInvalid), 9: malipo.ErrReferenceInUse, 10: malipo.ErrReferenceInUse,
		11: kind(malipo.KindNotFound)})
	want := map[string]string{
		"kept":    "balance 10000, po_kept queued, 1 to 131313",
		"first":   "balance 10000, none, 0 to 777777",
		"created": "balance 8990, po_x queued, 1 to 444444",
		"failed":  "balance 8990, po_stored failed, 0 to 111111",
		"undone":  "balance 8990, none, 0 to 555555",
	}
	sameInEachRun(t, "check", seen, want)
}

// testHintedPayoutsAndRefunds: payouts and refunds hinted (store.Hint),
// and refunds created and updated in a batch, read as they would alone.
// In one batch, a later caller sees an update an earlier one made without
// reading first, and a refund an earlier one created, of a payment
// created in the batch too; a payout that is not there is not found; a
// refund created twice, and an update of one that is not there, fail
// only their callers. Each run of the batch sees the same.
func testHintedPayoutsAndRefunds(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	p := payment(i, "pay_1", "o-1")
	p.Status, p.CompletedAt = malipo.PaymentSucceeded, epoch
	refundOf := func(p malipo.Payment, id string) malipo.Refund {
		return malipo.Refund{ID: id, PaymentID: p.ID, MerchantID: i.MerchantID, IntegrationID: i.ID, Mode: i.Mode, Amount: 1000,
			Currency: "XOF", Status: malipo.RefundPending, CreatedAt: epoch, UpdatedAt: epoch}
	}
	refund := func(id string, status malipo.RefundStatus) malipo.Refund {
		r := refundOf(p, id)
		r.Status = status
		return r
	}
	paid := payment(i, "pay_2", "o-2")
	paid.Status, paid.CompletedAt = malipo.PaymentSucceeded, epoch
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreatePayment(p); err != nil {
			return err
		}
		for _, id := range []string{"po_0", "po_1"} {
			if err := tx.CreatePayout(payout(i, id, id, "111111", epoch)); err != nil {
				return err
			}
		}
		for _, id := range []string{"re_0", "re_1"} {
			if err := tx.CreateRefund(refund(id, malipo.RefundPending)); err != nil {
				return err
			}
		}
		return nil
	})
	seen := map[string][]string{}
	readPayout := func(id string) Call {
		return Call{Hints: []store.Hint{{Payout: id}}, Fn: func(tx store.Tx) error {
			got, err := tx.GetPayout(id)
			switch {
			case err == nil:
				seen[id] = append(seen[id], string(got.Status))
			case malipo.KindOf(err) == malipo.KindNotFound:
				seen[id] = append(seen[id], "nothing")
				return nil
			default:
				seen[id] = append(seen[id], err.Error())
			}
			return err
		}}
	}
	readRefund := func(id string) Call {
		return Call{Hints: []store.Hint{{Refund: id}}, Fn: func(tx store.Tx) error {
			got, err := tx.GetRefund(id)
			if err != nil {
				seen[id] = append(seen[id], err.Error()) // a run that failed here is seen too
				return err
			}
			seen[id] = append(seen[id], string(got.Status))
			return nil
		}}
	}
	processing := payout(i, "po_1", "po_1", "111111", epoch)
	processing.Status = malipo.PayoutProcessing
	errs := InOneBatch(t, s,
		readPayout("po_0"),
		Call{Fn: func(tx store.Tx) error { return tx.UpdatePayout(processing) }},
		readPayout("po_1"),
		readRefund("re_0"),
		Call{Fn: func(tx store.Tx) error { return tx.UpdateRefund(refund("re_1", malipo.RefundSucceeded)) }},
		readRefund("re_1"),
		readPayout("po_missing"),
		// a payment and its refund, created by two callers, then read.
		Call{Fn: func(tx store.Tx) error { return tx.CreatePayment(paid) }},
		Call{Fn: func(tx store.Tx) error { return tx.CreateRefund(refundOf(paid, "re_new")) }},
		readRefund("re_new"),
		Call{Fn: func(tx store.Tx) error { return tx.CreateRefund(refund("re_0", malipo.RefundPending)) }},
		Call{Fn: func(tx store.Tx) error { return tx.UpdateRefund(refund("re_missing", malipo.RefundFailed)) }},
	)
	wantErrors(t, errs, map[int]error{10: kind(malipo.KindConflict), 11: kind(malipo.KindNotFound)})
	sameInEachRun(t, "read", seen, map[string]string{"po_0": "queued", "po_1": "processing", "re_0": "pending", "re_1": "succeeded",
		"po_missing": "nothing", "re_new": "pending"})
}
