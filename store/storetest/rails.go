package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

func attempt(objectID string, n int, status malipo.AttemptStatus, next time.Time) malipo.RailAttempt {
	return malipo.RailAttempt{ID: malipo.AttemptID(objectID, n), ObjectType: "payment", ObjectID: objectID, Number: n,
		MerchantID: "mer_a", Mode: malipo.ModeTest, Rail: "sandbox", Method: "mobile_money", Status: status,
		NextCheckAt: next, CreatedAt: epoch, UpdatedAt: epoch}
}

func testRailAttempts(t *testing.T, s store.Store) {
	a := attempt("pay_1", 1, malipo.AttemptSending, epoch.Add(time.Minute))
	write(t, s, func(tx store.Tx) error { return tx.CreateRailAttempt(a) })
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.CreateRailAttempt(a) })
	wantKind(t, err, malipo.KindConflict)

	write(t, s, func(tx store.Tx) error {
		got, err := tx.GetRailAttempt(a.ID)
		if err != nil {
			return err
		}
		got.Status, got.RailReference, got.Checks = malipo.AttemptPending, "MP123", 2
		got.Finish(malipo.AttemptFailed, "customer_declined", "The customer declined", epoch.Add(2*time.Minute))
		a = got
		if err := tx.UpdateRailAttempt(got); err != nil {
			return err
		}
		return tx.CreateRailAttempt(attempt("pay_1", 2, malipo.AttemptPending, epoch.Add(time.Minute)))
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetRailAttempt(a.ID)
		must(t, err)
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("attempt (-want +got):\n%s", diff)
		}
		list, err := tx.ListRailAttempts("pay_1")
		must(t, err)
		if len(list) != 2 || list[0].Number != 1 || list[1].Number != 2 {
			t.Errorf("ListRailAttempts = %+v", list)
		}
		_, err = tx.GetRailAttempt("pay_nope-1")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})

	// Attempts without a verdict whose check is due are claimed once each.
	write(t, s, func(tx store.Tx) error {
		for n := range 30 {
			st := malipo.AttemptPending
			switch n % 3 {
			case 1:
				st = malipo.AttemptSending
			case 2:
				st = malipo.AttemptSucceeded // final: never claimed
			}
			if err := tx.CreateRailAttempt(attempt(fmt.Sprintf("po_%02d", n), 1, st, epoch.Add(time.Duration(n)*time.Minute))); err != nil {
				return err
			}
		}
		return nil
	})
	now := epoch.Add(20 * time.Minute)
	claimed := claimRace(t, s, func(tx store.Tx) ([]string, error) {
		as, err := tx.ClaimDueRailAttempts(now, 4)
		var ids []string
		for _, a := range as {
			a.NextCheckAt = now.Add(time.Hour) // the lease
			if err := tx.UpdateRailAttempt(a); err != nil {
				return nil, err
			}
			ids = append(ids, a.ID)
		}
		return ids, err
	})
	// po_00..po_20 are due; a third of them are final; pay_1-2 is due too.
	if len(claimed) != 15 {
		t.Errorf("claimed %d attempts, want 15: %v", len(claimed), claimed)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
	if claimed["po_02-1"] != 0 || claimed["po_21-1"] != 0 || claimed["pay_1-1"] != 0 {
		t.Errorf("claimed a final or not yet due attempt: %v", claimed)
	}
}

// testRailOutcomesInABatch: rail attempts' updates and inbox items are
// held for the batch, and still each caller sees its own and the earlier
// callers' writes, and fails alone: an update of an attempt that is not
// there, an inbox item recorded twice.
func testRailOutcomesInABatch(t *testing.T, s store.Store) {
	taken := malipo.InboxItem{ID: "ib_taken", Rail: "sandbox", Mode: malipo.ModeTest, AttemptID: "pay_0-1", Source: "callback",
		Verdict: malipo.VerdictSucceeded, ReceivedAt: epoch}
	write(t, s, func(tx store.Tx) error {
		for i := range 4 {
			if err := tx.CreateRailAttempt(attempt(fmt.Sprintf("pay_%d", i), 1, malipo.AttemptPending, epoch)); err != nil {
				return err
			}
		}
		return tx.CreateInboxItem(taken)
	})
	item := func(id, attempt string) malipo.InboxItem {
		it := taken
		it.ID, it.AttemptID = id, attempt
		return it
	}
	finish := func(id string, to malipo.AttemptStatus, at time.Duration) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			a, err := tx.GetRailAttempt(id)
			if err != nil {
				return err
			}
			a.Finish(to, "", "", epoch.Add(at))
			if err := tx.UpdateRailAttempt(a); err != nil {
				return err
			}
			return tx.CreateInboxItem(item("ib_"+id, id))
		}
	}
	var seen malipo.AttemptStatus
	errs := inOneBatch(t, s,
		finish("pay_0-1", malipo.AttemptSucceeded, time.Second),
		func(tx store.Tx) error { // an attempt that is not there
			a := attempt("pay_9", 1, malipo.AttemptSucceeded, epoch)
			if err := tx.CreateInboxItem(item("ib_lost", a.ID)); err != nil {
				return err
			}
			return tx.UpdateRailAttempt(a)
		},
		func(tx store.Tx) error { return tx.CreateInboxItem(taken) }, // recorded twice
		func(tx store.Tx) error { // reads what the first caller wrote
			a, err := tx.GetRailAttempt("pay_0-1")
			seen = a.Status
			return err
		},
		func(tx store.Tx) error { // updated twice: the last stands
			if err := finish("pay_1-1", malipo.AttemptFailed, time.Second)(tx); err != nil {
				return err
			}
			a, err := tx.GetRailAttempt("pay_1-1")
			if err != nil {
				return err
			}
			a.FailureCode = "second"
			return tx.UpdateRailAttempt(a)
		},
		finish("pay_2-1", malipo.AttemptSucceeded, 2*time.Second),
	)
	for i, err := range errs {
		switch i {
		case 1:
			wantKind(t, err, malipo.KindNotFound)
		case 2:
			wantKind(t, err, malipo.KindConflict)
		default:
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
		}
	}
	if seen != malipo.AttemptSucceeded {
		t.Errorf("a later caller read the attempt as %s, want the earlier caller's succeeded", seen)
	}
	read(t, s, func(tx store.Tx) error {
		for _, want := range []struct {
			id     string
			status malipo.AttemptStatus
			items  int
		}{
			{"pay_0-1", malipo.AttemptSucceeded, 2},
			{"pay_1-1", malipo.AttemptFailed, 1},
			{"pay_2-1", malipo.AttemptSucceeded, 1},
			{"pay_3-1", malipo.AttemptPending, 0},
		} {
			a, err := tx.GetRailAttempt(want.id)
			must(t, err)
			items, err := tx.ListInbox(want.id)
			must(t, err)
			if a.Status != want.status || len(items) != want.items {
				t.Errorf("%s is %s with %d inbox items, want %s with %d", want.id, a.Status, len(items), want.status, want.items)
			}
		}
		if a, err := tx.GetRailAttempt("pay_1-1"); err != nil || a.FailureCode != "second" {
			t.Errorf("pay_1-1's failure code %q (%v), want the second update's", a.FailureCode, err)
		}
		_, err := tx.GetInboxItem("ib_lost")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
}

func testInbox(t *testing.T, s store.Store) {
	// Kept after its first try failed, due 5 s after it came.
	item := malipo.InboxItem{ID: "ib_1", Rail: "mtn-ug", Mode: malipo.ModeLive, AttemptID: "pay_1-1", Source: "callback",
		Verdict: malipo.VerdictSucceeded, RailReference: "MP1", Amount: 5000, Currency: "UGX",
		Body: []byte(`{"status":"SUCCESSFUL"}`), ReceivedAt: epoch, Error: "the database went away", Tries: 1,
		RetryAt: epoch.Add(5 * time.Second)}
	// Received after it, but due before it.
	second := item
	second.ID, second.Source, second.ReceivedAt, second.RetryAt = "ib_2", "status", epoch.Add(time.Second), epoch.Add(3*time.Second)
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateInboxItem(item); err != nil {
			return err
		}
		return tx.CreateInboxItem(second)
	})
	claim := func(now time.Time, limit int) []malipo.InboxItem {
		t.Helper()
		var claimed []malipo.InboxItem
		write(t, s, func(tx store.Tx) (err error) {
			claimed, err = tx.ClaimUnappliedInbox(now, limit)
			return err
		})
		return claimed
	}
	if claimed := claim(epoch.Add(2*time.Second), 10); len(claimed) != 0 {
		t.Errorf("ClaimUnappliedInbox before either is due = %+v", claimed)
	}
	if claimed := claim(epoch.Add(3*time.Second), 10); len(claimed) != 1 || !cmp.Equal(claimed[0], second) {
		t.Errorf("ClaimUnappliedInbox when ib_2 is due = %+v, want ib_2 as written", claimed)
	}
	if claimed := claim(epoch.Add(time.Minute), 1); len(claimed) != 1 || claimed[0].ID != "ib_2" {
		t.Errorf("ClaimUnappliedInbox of one = %+v, want ib_2, due longest", claimed)
	}
	if claimed := claim(epoch.Add(time.Minute), 10); !cmp.Equal(claimed, []malipo.InboxItem{second, item}) {
		t.Errorf("ClaimUnappliedInbox = %+v, want ib_2 then ib_1 as written", claimed)
	}
	write(t, s, func(tx store.Tx) error {
		got, err := tx.GetInboxItem("ib_1")
		if err != nil {
			return err
		}
		got.AppliedAt, got.Result, got.Error = epoch.Add(time.Minute), malipo.ResultApplied, ""
		item = got
		if err := tx.UpdateInboxItem(got); err != nil {
			return err
		}
		// ib_2 fails again, and waits longer.
		if got, err = tx.GetInboxItem("ib_2"); err != nil {
			return err
		}
		got.Error, got.Tries, got.RetryAt = "still away", 2, epoch.Add(time.Hour)
		second = got
		return tx.UpdateInboxItem(got)
	})
	read(t, s, func(tx store.Tx) error {
		list, err := tx.ListInbox("pay_1-1")
		must(t, err)
		if !cmp.Equal(list, []malipo.InboxItem{item, second}) {
			t.Errorf("ListInbox = %+v", list)
		}
		// ib_2 came at epoch + 1 s: within a grace ending before that it
		// is retrying, and the audit is clean; after, it is unapplied.
		r, err := tx.Audit(epoch.Add(time.Second - time.Microsecond))
		must(t, err)
		if r.Inbox != 2 || len(r.InboxUnapplied) != 0 || !cmp.Equal(r.InboxRetrying, []string{"ib_2"}) || !r.Clean() {
			t.Errorf("audit with an outcome within its grace: %+v", r)
		}
		r, err = tx.Audit(epoch.Add(time.Second))
		must(t, err)
		if r.Inbox != 2 || !cmp.Equal(r.InboxUnapplied, []string{"ib_2"}) || len(r.InboxRetrying) != 0 || r.Clean() {
			t.Errorf("audit with an unapplied outcome: %+v", r)
		}
		return nil
	})
	if claimed := claim(epoch.Add(time.Hour-time.Microsecond), 10); len(claimed) != 0 {
		t.Errorf("ClaimUnappliedInbox before ib_2's next try = %+v", claimed)
	}
	if claimed := claim(epoch.Add(time.Hour), 10); len(claimed) != 1 || !cmp.Equal(claimed[0], second) {
		t.Errorf("ClaimUnappliedInbox after applying ib_1 = %+v, want ib_2 as updated", claimed)
	}
}

func testSandboxTransactions(t *testing.T, s store.Store) {
	st := store.SandboxTransaction{Key: "pay_1-1", Kind: "collection", Reference: "SBX1", Status: "pending", Answer: "failed",
		FailureCode: "customer_declined", FailureReason: "declined", Amount: 5000, Currency: "XOF", AnswerAt: epoch.Add(3 * time.Second),
		CreatedAt: epoch}
	write(t, s, func(tx store.Tx) error { return tx.CreateSandboxTransaction(st) })
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.CreateSandboxTransaction(st) })
	wantKind(t, err, malipo.KindConflict)
	var due []store.SandboxTransaction
	write(t, s, func(tx store.Tx) (err error) {
		due, err = tx.ClaimDueSandboxTransactions(epoch.Add(time.Second), 10)
		return err
	})
	if len(due) != 0 {
		t.Errorf("claimed an answer not yet due: %+v", due)
	}
	write(t, s, func(tx store.Tx) (err error) {
		due, err = tx.ClaimDueSandboxTransactions(epoch.Add(3*time.Second), 10)
		return err
	})
	if len(due) != 1 || !cmp.Equal(due[0], st) {
		t.Errorf("ClaimDueSandboxTransactions = %+v, want the transaction as written", due)
	}
	write(t, s, func(tx store.Tx) error {
		got, err := tx.GetSandboxTransaction(st.Key)
		if err != nil {
			return err
		}
		got.Status, got.Reported = got.Answer, true
		st = got
		return tx.UpdateSandboxTransaction(got)
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetSandboxTransaction(st.Key)
		must(t, err)
		if diff := cmp.Diff(st, got); diff != "" {
			t.Errorf("after update (-want +got):\n%s", diff)
		}
		_, err = tx.GetSandboxTransaction("nope")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
	write(t, s, func(tx store.Tx) (err error) {
		due, err = tx.ClaimDueSandboxTransactions(epoch.Add(time.Hour), 10)
		return err
	})
	if len(due) != 0 {
		t.Errorf("claimed a reported answer again: %+v", due)
	}
}

// testSandboxTransactionsInABatch: the sandbox's records, hinted, created
// and updated in one batch, read as they would alone. A later caller sees
// what an earlier one wrote (an update made without reading first, a
// record created where none was), and not what a caller whose work was
// undone wrote; a key not there is not found; a
// record created twice, an update of one that is not there and a key the
// store refuses fail only their callers. Each run of the batch sees the
// same.
func testSandboxTransactionsInABatch(t *testing.T, s store.Store) {
	record := func(key, status string) store.SandboxTransaction {
		return store.SandboxTransaction{Key: key, Kind: "collection", Reference: "SBX-" + key, Status: status, Amount: 5000,
			Currency: "XOF", AnswerAt: epoch, CreatedAt: epoch}
	}
	write(t, s, func(tx store.Tx) error {
		for _, key := range []string{"sb_read", "sb_blind", "sb_undone"} {
			if err := tx.CreateSandboxTransaction(record(key, "pending")); err != nil {
				return err
			}
		}
		return nil
	})
	seen := map[string][]string{}
	readAs := func(name, key string) Call {
		return Call{Hints: []store.Hint{{SandboxKey: key}}, Fn: func(tx store.Tx) error {
			got, err := tx.GetSandboxTransaction(key)
			switch {
			case err == nil:
				seen[name] = append(seen[name], got.Status)
			case malipo.KindOf(err) == malipo.KindNotFound:
				seen[name] = append(seen[name], "nothing")
				return nil
			default:
				seen[name] = append(seen[name], err.Error()) // a run that failed here is seen too
			}
			return err
		}}
	}
	update := func(key, status string, then error) Call {
		return Call{Fn: func(tx store.Tx) error {
			if err := tx.UpdateSandboxTransaction(record(key, status)); err != nil {
				return err
			}
			return then
		}}
	}
	changedMind := errors.New("changed its mind")
	errs := InOneBatch(t, s,
		readAs("read", "sb_read"),
		update("sb_blind", "succeeded", nil),
		readAs("blind", "sb_blind"),
		Call{Fn: func(tx store.Tx) error { return tx.CreateSandboxTransaction(record("sb_new", "challenge")) }},
		readAs("new", "sb_new"),
		update("sb_undone", "failed", changedMind),
		readAs("undone", "sb_undone"),
		Call{Fn: func(tx store.Tx) error { return tx.CreateSandboxTransaction(record("sb_read", "pending")) }},
		update("sb_missing", "failed", nil),
		readAs("bad", "bad\x00"),
		readAs("absent", "sb_absent"),
	)
	wantErrors(t, errs, map[int]error{5: changedMind, 7: kind(malipo.KindConflict), 8: kind(malipo.KindNotFound), 9: kind(malipo.KindInvalid)})
	sameInEachRun(t, "read", seen, map[string]string{"read": "pending", "blind": "succeeded", "new": "challenge", "undone": "pending",
		"absent": "nothing"})
}

// testBalancesWithinTransaction: a transaction sees the balances its own
// entries moved, and a caller whose work fails leaves none of its changes.
func testBalancesWithinTransaction(t *testing.T, s store.Store) {
	m, _ := fixture(t, s, "a")
	avail := malipo.MerchantAvailable(m.ID, malipo.ModeTest, "XOF")
	write(t, s, func(tx store.Tx) error {
		if err := tx.PostEntry(malipo.TopupEntry("top_1", m.ID, "XOF", 1000, epoch)); err != nil {
			return err
		}
		n, err := tx.AccountBalance(avail)
		if err != nil || n != 1000 {
			t.Errorf("balance after a top-up in the same transaction = %d, %v; want 1000", n, err)
		}
		bs, err := tx.Balances(m.ID, malipo.ModeTest)
		if err != nil || len(bs) != 1 || bs[0].Available != 1000 {
			t.Errorf("balances in the same transaction = %+v, %v", bs, err)
		}
		return nil
	})
	failed := s.Transact(context.Background(), func(tx store.Tx) error {
		if err := tx.PostEntry(malipo.TopupEntry("top_2", m.ID, "XOF", 500, epoch)); err != nil {
			return err
		}
		return malipo.Invalid("x", "refused", "changed my mind")
	})
	wantKind(t, failed, malipo.KindInvalid)
	read(t, s, func(tx store.Tx) error {
		n, err := tx.AccountBalance(avail)
		must(t, err)
		if n != 1000 {
			t.Errorf("balance = %d after a failed top-up, want 1000", n)
		}
		r, err := tx.Audit(epoch)
		must(t, err)
		if !r.Clean() {
			t.Errorf("audit: %+v", r)
		}
		return nil
	})
}

// testSpendingLock: callers that lock a balance before spending from it
// never spend the same money twice, however many race.
func testSpendingLock(t *testing.T, s store.Store) {
	var merchants []malipo.Merchant
	for _, id := range []string{"a", "b", "c"} {
		m, _ := fixture(t, s, id)
		merchants = append(merchants, m)
		write(t, s, func(tx store.Tx) error { return tx.PostEntry(malipo.TopupEntry("top_"+id, m.ID, "XOF", 500, epoch)) })
	}
	var spent atomic.Int32
	var wg sync.WaitGroup
	for g := range 30 {
		m := merchants[g%3]
		wg.Go(func() {
			for k := range 10 { // one after another: batches of the group committer race each other
				n := g*10 + k
				err := s.Transact(context.Background(), func(tx store.Tx) error {
					avail := malipo.MerchantAvailable(m.ID, malipo.ModeTest, "XOF")
					if err := tx.LockSpending(m.ID, malipo.ModeTest); err != nil {
						return err
					}
					have, err := tx.AccountBalance(avail)
					if err != nil {
						return err
					}
					if have < 10 {
						return &malipo.Error{Kind: malipo.KindInsufficientFunds, Code: "insufficient_funds", Message: "no"}
					}
					return tx.PostEntry(malipo.NewEntry(fmt.Sprintf("led_%d", n), "spend", "spend", fmt.Sprint(n), epoch,
						malipo.Posting{Account: avail, Currency: "XOF", Amount: -10},
						malipo.Posting{Account: malipo.Fees(malipo.ModeTest, "XOF"), Currency: "XOF", Amount: 10}))
				})
				switch {
				case err == nil:
					spent.Add(1)
				case malipo.KindOf(err) != malipo.KindInsufficientFunds:
					t.Errorf("spend: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if spent.Load() != 150 {
		t.Errorf("%d spends went through, want 150 (3 merchants × 500 / 10)", spent.Load())
	}
	read(t, s, func(tx store.Tx) error {
		for _, m := range merchants {
			n, err := tx.AccountBalance(malipo.MerchantAvailable(m.ID, malipo.ModeTest, "XOF"))
			must(t, err)
			if n != 0 {
				t.Errorf("%s has %d left, want 0", m.ID, n)
			}
		}
		r, err := tx.Audit(epoch)
		must(t, err)
		if !r.Clean() {
			t.Errorf("audit: %+v", r)
		}
		return nil
	})
}

// testNUL: text PostgreSQL cannot store is bad input on both engines, and
// changes nothing.
func testNUL(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	p := payment(i, "pay_1", "order-1")
	p.Description = "bad\x00text"
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.CreatePayment(p) })
	wantKind(t, err, malipo.KindInvalid)
	if !strings.Contains(err.Error(), "NUL") {
		t.Errorf("error %q does not say why", err)
	}
	p.Description = "caf\xe9" // Latin-1, not UTF-8
	err = s.Transact(context.Background(), func(tx store.Tx) error { return tx.CreatePayment(p) })
	wantKind(t, err, malipo.KindInvalid)
	err = s.Read(context.Background(), func(tx store.Tx) error {
		_, err := tx.GetPayment("pay_\x00")
		return err
	})
	wantKind(t, err, malipo.KindInvalid)
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetPayment("pay_1")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
}

// testClosed: a store that is closing refuses new work with an error,
// never a panic, and finishes what was queued.
func testClosed(t *testing.T, s store.Store) {
	fixture(t, s, "a")
	var wg sync.WaitGroup
	var done atomic.Int32
	for range 20 {
		wg.Go(func() {
			err := s.Transact(context.Background(), func(tx store.Tx) error {
				_, err := tx.CountMerchants()
				return err
			})
			if err == nil {
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err := s.Transact(context.Background(), func(tx store.Tx) error { return nil })
	if err == nil {
		t.Fatal("a closed store took a transaction")
	}
	if err := s.Lease(context.Background(), func(tx store.Tx) error { return nil }); err == nil {
		t.Fatal("a closed store took a lease")
	}
	if done.Load() != 20 {
		t.Errorf("%d of 20 transactions queued before the close committed", done.Load())
	}
}

func testLiveRails(t *testing.T, s store.Store) {
	momo := malipo.Rail{ID: "rail_1", Kind: "mtn-momo", Name: "mtn-ug", Mode: malipo.ModeLive, Countries: []string{"UG"},
		Operators: []string{"mtn-ug"}, Currencies: []malipo.Currency{"UGX"}, Position: 2, Sealed: "v1:abcd:xyz", CreatedAt: epoch}
	mpesa := malipo.Rail{ID: "rail_2", Kind: "mpesa", Name: "mpesa-ke", Mode: malipo.ModeLive, Countries: []string{"KE"},
		Operators: []string{"mpesa-ke"}, Currencies: []malipo.Currency{"KES"}, Position: 1, Sealed: "v1:abcd:uvw", CreatedAt: epoch}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateRail(momo); err != nil {
			return err
		}
		return tx.CreateRail(mpesa)
	})
	dup := momo
	dup.ID = "rail_3"
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.CreateRail(dup) })
	wantKind(t, err, malipo.KindConflict)
	momo.Sealed, momo.Position, momo.Countries = "v1:efgh:new", 0, []string{"UG", "RW"}
	write(t, s, func(tx store.Tx) error { return tx.UpdateRail(momo) })
	read(t, s, func(tx store.Tx) error {
		list, err := tx.ListRails()
		must(t, err)
		if diff := cmp.Diff([]malipo.Rail{momo, mpesa}, list); diff != "" {
			t.Errorf("rails (-want +got):\n%s", diff)
		}
		return nil
	})
}

// testRailAttemptsCreatedInABatch: callers of one batch see the attempts
// earlier callers created, read by ID (hinted or not) or listed, and may
// update them, all in the batch's first run; an attempt whose ID or whose
// object and number are taken fails its caller alone, with a conflict,
// and an attempt created by a caller whose work is undone is not kept.
func testRailAttemptsCreatedInABatch(t *testing.T, s store.Store) {
	stored := attempt("pay_s", 1, malipo.AttemptSending, epoch)
	write(t, s, func(tx store.Tx) error { return tx.CreateRailAttempt(stored) })
	a, b := attempt("pay_a", 1, malipo.AttemptSending, epoch), attempt("pay_b", 1, malipo.AttemptSending, epoch)
	create := func(as ...malipo.RailAttempt) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			for _, a := range as {
				if err := tx.CreateRailAttempt(a); err != nil {
					return err
				}
			}
			return nil
		}
	}
	// Each caller of the first batch succeeds, so it runs once: a read or
	// a write that failed would be hidden by the batch's second run, with
	// each caller's rows written in its own savepoint.
	runs := make([]int, 5)
	counted := func(n int, fn func(tx store.Tx) error) Call {
		return Call{Fn: func(tx store.Tx) error { runs[n]++; return fn(tx) }}
	}
	var readA, readB malipo.RailAttempt
	var listed []malipo.RailAttempt
	hintedB := counted(3, func(tx store.Tx) (err error) {
		readB, err = tx.GetRailAttempt(b.ID)
		return err
	})
	// b is hinted: looked for at the batch's start, before it is created.
	hintedB.Hints = []store.Hint{{RailAttempt: b.ID}}
	errs := InOneBatch(t, s,
		counted(0, create(a)),
		counted(1, func(tx store.Tx) error {
			got, err := tx.GetRailAttempt(a.ID)
			if err != nil {
				return err
			}
			readA = got
			got.Status, got.RailReference = malipo.AttemptPending, "REF-A"
			return tx.UpdateRailAttempt(got)
		}),
		counted(2, create(b)),
		hintedB,
		counted(4, func(tx store.Tx) (err error) {
			listed, err = tx.ListRailAttempts(a.ObjectID)
			return err
		}),
	)
	wantErrors(t, errs, nil)
	if !slices.Equal(runs, []int{1, 1, 1, 1, 1}) {
		t.Errorf("the callers ran %v times, want once each", runs)
	}
	wantA := a
	wantA.Status, wantA.RailReference = malipo.AttemptPending, "REF-A"
	if diff := cmp.Diff(a, readA); diff != "" {
		t.Errorf("a as read by the next caller (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(b, readB); diff != "" {
		t.Errorf("b as read, hinted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]malipo.RailAttempt{wantA}, listed); diff != "" {
		t.Errorf("pay_a's attempts as listed (-want +got):\n%s", diff)
	}

	sameNumber := stored
	sameNumber.ID = "att_other"
	changedMind := errors.New("changed its mind")
	errs = InOneBatch(t, s,
		// Taken: stored's ID, then stored's object and number.
		Call{Fn: create(attempt("pay_c", 1, malipo.AttemptSending, epoch), stored)},
		Call{Fn: create(sameNumber)},
		Call{Fn: func(tx store.Tx) error {
			if err := create(attempt("pay_d", 1, malipo.AttemptSending, epoch))(tx); err != nil {
				return err
			}
			return changedMind
		}},
		Call{Fn: create(attempt("pay_e", 1, malipo.AttemptSending, epoch))},
	)
	wantKind(t, errs[0], malipo.KindConflict)
	wantKind(t, errs[1], malipo.KindConflict)
	if !errors.Is(errs[2], changedMind) {
		t.Errorf("the caller that changed its mind: %v", errs[2])
	}
	must(t, errs[3])
	read(t, s, func(tx store.Tx) error {
		for id, want := range map[string]*malipo.RailAttempt{a.ID: &wantA, b.ID: &b, stored.ID: &stored,
			"pay_c-1": nil, "pay_d-1": nil, "att_other": nil, "pay_e-1": new(malipo.RailAttempt)} {
			got, err := tx.GetRailAttempt(id)
			switch {
			case want == nil:
				if malipo.KindOf(err) != malipo.KindNotFound {
					t.Errorf("attempt %s: %v, want none", id, err)
				}
			case err != nil:
				t.Errorf("attempt %s: %v", id, err)
			case want.ID != "":
				if diff := cmp.Diff(*want, got); diff != "" {
					t.Errorf("attempt %s (-want +got):\n%s", id, diff)
				}
			}
		}
		return nil
	})
}

// testHintedRailAttempts: as testHintedPayments, for rail attempts.
func testHintedRailAttempts(t *testing.T, s store.Store) {
	stored := map[string]malipo.RailAttempt{}
	write(t, s, func(tx store.Tx) error {
		for _, id := range []string{"pay_a", "pay_b", "pay_c"} {
			a := attempt(id, 1, malipo.AttemptPending, epoch)
			stored[a.ID] = a
			if err := tx.CreateRailAttempt(a); err != nil {
				return err
			}
		}
		return nil
	})
	hint := func(id string) []store.Hint { return []store.Hint{{RailAttempt: id}} }
	seen := map[string]malipo.RailAttempt{}
	readAs := func(name, id string) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			a, err := tx.GetRailAttempt(id)
			seen[name] = a
			return err
		}
	}
	succeeded := func(a malipo.RailAttempt) malipo.RailAttempt {
		a.Finish(malipo.AttemptSucceeded, "", "", epoch.Add(time.Minute))
		return a
	}
	errs := InOneBatch(t, s,
		Call{Hints: hint("pay_a-1"), Fn: readAs("a", "pay_a-1")},
		Call{Hints: hint("pay_a-1"), Fn: readAs("a again", "pay_a-1")},
		Call{Hints: hint("pay_b-1"), Fn: func(tx store.Tx) error {
			a, err := tx.GetRailAttempt("pay_b-1")
			if err != nil {
				return err
			}
			return tx.UpdateRailAttempt(succeeded(a))
		}},
		Call{Hints: hint("pay_b-1"), Fn: readAs("b", "pay_b-1")},
		Call{Hints: hint("pay_c-1"), Fn: func(tx store.Tx) error { return tx.UpdateRailAttempt(succeeded(stored["pay_c-1"])) }},
		Call{Hints: hint("pay_c-1"), Fn: readAs("c", "pay_c-1")},
		Call{Hints: hint("pay_missing-1"), Fn: readAs("missing", "pay_missing-1")},
	)
	wantErrors(t, errs, map[int]error{6: kind(malipo.KindNotFound)})
	for name, want := range map[string]malipo.RailAttempt{
		"a": stored["pay_a-1"], "a again": stored["pay_a-1"], "b": succeeded(stored["pay_b-1"]), "c": succeeded(stored["pay_c-1"]),
	} {
		if diff := cmp.Diff(want, seen[name]); diff != "" {
			t.Errorf("read %q (-want +got):\n%s", name, diff)
		}
	}
}
