package postgres_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/postgres"
	"github.com/malipo/malipo/store/postgres/pgtest"
	"github.com/malipo/malipo/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return pgtest.Open(t) })
}

// A lease runs at once, outside the group committer: with every committer
// busy in a batch that does not end, it still commits, while a write
// queued beside it waits.
func TestALeaseDoesNotWaitForTheCommitters(t *testing.T) {
	s := pgtest.Open(t)
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	held := storetest.HoldCommitters(t, s)
	queued := make(chan error, 1)
	go func() {
		queued <- s.Transact(ctx, func(tx store.Tx) error { _, err := tx.CountMerchants(); return err })
	}()

	leased := make(chan error, 1)
	go func() {
		leased <- s.Lease(ctx, func(tx store.Tx) error {
			_, err := tx.LeaseDueDeliveries(time.Now(), time.Now().Add(time.Minute), 10, nil)
			return err
		})
	}()
	select {
	case err := <-leased:
		if err != nil {
			t.Fatalf("lease: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a lease waited for the committers")
	}
	select {
	case err := <-queued:
		t.Fatalf("a write ran while every committer was busy (%v): the test blocked nothing", err)
	default:
	}
	if err := held.Wait(); err != nil {
		t.Error(err)
	}
	if err := <-queued; err != nil {
		t.Error(err)
	}
}

// A lease runs on the lease pool's connections, which commit
// asynchronously: while one is under way, its transaction shows in
// pg_stat_activity under their name (its last statement is the lease's,
// or a read ahead for the deliveries it leased).
func TestALeaseRunsOnTheLeasePool(t *testing.T) {
	url, name := pgtest.Database(t)
	ctx := context.Background()
	s, admin := openBeside(t, url)
	inLease := func() (n int) {
		err := admin.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND application_name = $2 AND state = 'idle in transaction' AND query LIKE '%FROM deliveries WHERE%'`,
			name, postgres.LeaseApplicationName).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	started, release := make(chan struct{}), make(chan struct{})
	leased := make(chan error, 1)
	go func() {
		leased <- s.Lease(ctx, func(tx store.Tx) error {
			_, err := tx.LeaseDueDeliveries(time.Now(), time.Now().Add(time.Minute), 10, nil)
			close(started)
			<-release
			return err
		})
	}()
	<-started
	n := inLease()
	close(release)
	if err := <-leased; err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d lease transactions under way on %q connections, want 1", n, postgres.LeaseApplicationName)
	}
}

// A batch locks its callers' hinted payments at its start, in one
// statement: while its first caller runs, the payment the second will
// read is held already.
func TestHintedPaymentsAreLockedAhead(t *testing.T) {
	ctx := context.Background()
	s, other := openBeside(t, pgtest.URL(t))
	in := intA
	seed(t, s, func(tx store.Tx) error {
		for _, id := range []string{"pay_a", "pay_b"} {
			p := malipo.Payment{ID: id, MerchantID: in.MerchantID, IntegrationID: in.ID, Mode: in.Mode, Amount: 5000, Currency: "XOF",
				Reference: id, Status: malipo.PaymentPending, CheckoutToken: "tok_" + id}
			if err := tx.CreatePayment(p); err != nil {
				return err
			}
		}
		return nil
	})
	var whileFirst error
	read := func(id string) func(tx store.Tx) error {
		return func(tx store.Tx) error { _, err := tx.GetPayment(id); return err }
	}
	errs := storetest.InOneBatch(t, s,
		storetest.Call{Hints: []store.Hint{{Payment: "pay_a"}}, Fn: func(tx store.Tx) error {
			_, whileFirst = other.ExecContext(ctx, `SELECT id FROM payments WHERE id = 'pay_b' FOR UPDATE NOWAIT`)
			return read("pay_a")(tx)
		}},
		storetest.Call{Hints: []store.Hint{{Payment: "pay_b"}}, Fn: read("pay_b")},
	)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var pgErr *pgconn.PgError
	if !errors.As(whileFirst, &pgErr) || pgErr.Code != "55P03" {
		t.Errorf("locking pay_b elsewhere while the batch's first caller ran: %v, want lock_not_available (55P03)", whileFirst)
	}
}

// So are its callers' hinted payouts and refunds: while its first caller
// runs, the payout and the refund the second will read are held already.
func TestHintedPayoutsAndRefundsAreLockedAhead(t *testing.T) {
	ctx := context.Background()
	s, other := openBeside(t, pgtest.URL(t))
	in := intA
	pay := malipo.Payment{ID: "pay_a", MerchantID: in.MerchantID, IntegrationID: in.ID, Mode: in.Mode, Amount: 5000, Currency: "XOF",
		Reference: "pay_a", Status: malipo.PaymentSucceeded, CheckoutToken: "tok_a"}
	po := malipo.Payout{ID: "po_b", MerchantID: in.MerchantID, IntegrationID: in.ID, Mode: in.Mode, Amount: 1000, Currency: "XOF",
		Reference: "po_b", Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: "+2250707120009"},
		Status: malipo.PayoutQueued}
	re := malipo.Refund{ID: "re_b", PaymentID: pay.ID, MerchantID: in.MerchantID, IntegrationID: in.ID, Mode: in.Mode, Amount: 1000,
		Currency: "XOF", Status: malipo.RefundPending}
	seed(t, s, func(tx store.Tx) error {
		if err := tx.CreatePayment(pay); err != nil {
			return err
		}
		if err := tx.CreatePayout(po); err != nil {
			return err
		}
		return tx.CreateRefund(re)
	})
	var payoutHeld, refundHeld error
	errs := storetest.InOneBatch(t, s,
		storetest.Call{Fn: func(tx store.Tx) error {
			_, payoutHeld = other.ExecContext(ctx, `SELECT id FROM payouts WHERE id = 'po_b' FOR UPDATE NOWAIT`)
			_, refundHeld = other.ExecContext(ctx, `SELECT id FROM refunds WHERE id = 're_b' FOR UPDATE NOWAIT`)
			return nil
		}},
		storetest.Call{Hints: []store.Hint{{Payout: po.ID, Refund: re.ID}}, Fn: func(tx store.Tx) error {
			if _, err := tx.GetPayout(po.ID); err != nil {
				return err
			}
			_, err := tx.GetRefund(re.ID)
			return err
		}},
	)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for what, err := range map[string]error{"the payout": payoutHeld, "the refund": refundHeld} {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
			t.Errorf("locking %s elsewhere while the batch's first caller ran: %v, want lock_not_available (55P03)", what, err)
		}
	}
}

// A caller alone locks its hinted rows in one order, a payout before its
// rail attempt, and waits for a row another transaction holds without
// holding the rows after it. Were the attempt taken while the payout was
// held elsewhere, a holder that takes the two in the same order would
// find the attempt taken and wait for it while holding the payout: two
// nodes finishing the same payout would deadlock.
func TestHintedRowsAloneAreLockedInOrder(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.Database(t) // of its own: the only lock waits in it are this test's
	s, other := openBeside(t, url)
	in := intA
	po := malipo.Payout{ID: "po_b", MerchantID: in.MerchantID, IntegrationID: in.ID, Mode: in.Mode, Amount: 1000, Currency: "XOF",
		Reference: "po_b", Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: "+2250707120009"},
		Status: malipo.PayoutQueued}
	a := malipo.RailAttempt{ID: malipo.AttemptID(po.ID, 1), ObjectType: "payout", ObjectID: po.ID, Number: 1, MerchantID: in.MerchantID,
		Mode: in.Mode, Rail: "sandbox", Method: malipo.MethodPayout, Status: malipo.AttemptPending}
	seed(t, s, func(tx store.Tx) error {
		if err := tx.CreatePayout(po); err != nil {
			return err
		}
		return tx.CreateRailAttempt(a)
	})
	holder := holding(t, other, `SELECT id FROM payouts WHERE id = 'po_b' FOR UPDATE`)
	done := make(chan error, 1)
	go func() {
		done <- s.Transact(ctx, func(tx store.Tx) error {
			if _, err := tx.GetRailAttempt(a.ID); err != nil {
				return err
			}
			_, err := tx.GetPayout(po.ID)
			return err
		}, store.Hint{RailAttempt: a.ID, Payout: po.ID})
	}()
	for waiting := 0; waiting == 0; {
		select {
		case err := <-done:
			t.Fatalf("the caller ran while the payout was held: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		err := other.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := holder.ExecContext(ctx, `SELECT id FROM rail_attempts WHERE id = 'po_b-1' FOR UPDATE NOWAIT`); err != nil {
		t.Errorf("the attempt, while the caller alone waited for its payout: %v, want it free", err)
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("the caller, once the payout was let go: %v", err)
	}
}

// A sandbox transaction hinted while another transaction holds its row is
// not taken for missing. A caller alone waits for it and reads it once the
// other lets it go; a batch of several skips it in its locking read, and
// its caller reads it when it asks.
func TestHintedSandboxRowHeldElsewhereIsThere(t *testing.T) {
	ctx := context.Background()
	st := store.SandboxTransaction{Key: "pay_a-1", Kind: "collection", Reference: "SBX-A", Status: "pending", Amount: 5000, Currency: "XOF"}
	const lock = `SELECT key FROM sandbox_transactions WHERE key = 'pay_a-1' FOR UPDATE`
	read := func(tx store.Tx) error {
		got, err := tx.GetSandboxTransaction(st.Key)
		if err == nil && got.Reference != st.Reference {
			t.Errorf("read %+v", got)
		}
		return err
	}
	open := func(t *testing.T) (store.Store, *sql.DB) {
		s, other := openBeside(t, pgtest.URL(t))
		if err := s.Transact(ctx, func(tx store.Tx) error { return tx.CreateSandboxTransaction(st) }); err != nil {
			t.Fatal(err)
		}
		return s, other
	}
	t.Run("alone", func(t *testing.T) {
		s, other := open(t)
		holder := holding(t, other, lock)
		letGo := time.AfterFunc(300*time.Millisecond, func() { holder.Rollback() })
		defer letGo.Stop()
		if err := s.Transact(ctx, read, store.Hint{SandboxKey: st.Key}); err != nil {
			t.Errorf("a sandbox transaction held elsewhere, hinted: %v, want it read once let go", err)
		}
	})
	t.Run("in a batch", func(t *testing.T) {
		s, other := open(t)
		holder := holding(t, other, lock)
		var missing atomic.Bool // told so by any run of the caller (a batch may run it again)
		errs := storetest.InOneBatch(t, s,
			storetest.Call{Fn: func(tx store.Tx) error { holder.Rollback(); return nil }}, // after the batch's locking read
			storetest.Call{Hints: []store.Hint{{SandboxKey: st.Key}}, Fn: func(tx store.Tx) error {
				err := read(tx)
				if malipo.KindOf(err) == malipo.KindNotFound {
					missing.Store(true)
				}
				return err
			}},
		)
		for _, err := range errs {
			if err != nil {
				t.Errorf("a sandbox transaction held elsewhere, hinted in a batch: %v, want it read", err)
			}
		}
		if missing.Load() {
			t.Error("a sandbox transaction held elsewhere, hinted in a batch, was taken for missing")
		}
	})
}

// A batch looks up its callers' hinted idempotency keys at its start, in
// one statement: a key put elsewhere while its first caller runs is not
// seen by the second caller's lookup, as it would be if the lookup went
// when asked for (read committed). The second caller's insert of it then
// fails on the unique index, and the batch runs again, where the lookup
// finds it: the race ends as it would without the hint.
func TestHintedIdempotencyKeysAreReadAhead(t *testing.T) {
	ctx := context.Background()
	s, other := openBeside(t, pgtest.URL(t))
	hint := func(k string) []store.Hint { return []store.Hint{{IdempotencyScope: "int_a", IdempotencyKey: k}} }
	lookThenPut := func(k string, found *[]bool) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			_, err := tx.GetIdempotency("int_a", k)
			if *found = append(*found, err == nil); err == nil || malipo.KindOf(err) != malipo.KindNotFound {
				return err
			}
			return tx.PutIdempotency(store.Idempotency{Scope: "int_a", Key: k, RequestHash: "h", Result: []byte(`{}`)})
		}
	}
	var putElsewhere error
	var firstFound, secondFound []bool
	errs := storetest.InOneBatch(t, s,
		storetest.Call{Hints: hint("k1"), Fn: func(tx store.Tx) error {
			if firstFound == nil {
				_, putElsewhere = other.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, result, created_at) VALUES ('int_a', 'k2', 'h', '{}', 0)`)
			}
			return lookThenPut("k1", &firstFound)(tx)
		}},
		storetest.Call{Hints: hint("k2"), Fn: lookThenPut("k2", &secondFound)},
	)
	if putElsewhere != nil {
		t.Fatal(putElsewhere)
	}
	for n, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", n, err)
		}
	}
	if !slices.Equal(secondFound, []bool{false, true}) {
		t.Errorf("the second caller's lookups found %v, want not at first (read ahead), then found when the batch ran again", secondFound)
	}
}

// A merchant's spending lock holds across nodes: a transaction alone in its
// batch waits for the lock another node's transaction holds, and takes it
// once that one ends.
func TestSpendingLockWaitsForAnotherNode(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	first, _ := openBeside(t, url)
	second, _ := openBeside(t, url)
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let) // before the stores close: a failed test leaves no caller waiting
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- first.Transact(ctx, func(tx store.Tx) error {
			if err := tx.LockSpending("mer_a", malipo.ModeTest); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-firstDone:
		t.Fatalf("the first node could not take the lock: %v", err)
	}
	secondDone := make(chan error, 1)
	go func() {
		secondDone <- second.Transact(ctx, func(tx store.Tx) error { return tx.LockSpending("mer_a", malipo.ModeTest) })
	}()
	select {
	case err := <-secondDone:
		t.Fatalf("the second node took the lock while the first held it (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	let()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-secondDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second node never took the lock")
	}
}

// A payout's checks read ahead (store.Spend) are read under the spending
// lock: while another node holds it and spends, a batch's callers wait
// for it (a caller sharing its batch finds the lock taken and runs again
// alone) and then see what the other node left, too little for them. Read
// before the lock, the balance would show money already spent, and a
// caller would spend it again.
func TestSpendingChecksReadUnderTheLock(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	first, _ := openBeside(t, url)
	second, _ := openBeside(t, url)
	in := intA
	avail := malipo.MerchantAvailable(in.MerchantID, in.Mode, "KES")
	seed(t, first, func(tx store.Tx) error {
		return tx.PostEntry(malipo.TopupEntry("top_a", in.MerchantID, "KES", 10_000, time.Now()))
	})
	spend := func(id string, amount int64) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			if err := tx.LockSpending(in.MerchantID, in.Mode); err != nil {
				return err
			}
			have, err := tx.AccountBalance(avail)
			if err != nil {
				return err
			}
			if have < amount {
				return &malipo.Error{Kind: malipo.KindInsufficientFunds, Code: "insufficient_funds", Message: "not enough"}
			}
			return tx.PostEntry(malipo.NewEntry(id, "spend", "spend", id, time.Now(),
				malipo.Posting{Account: avail, Currency: "KES", Amount: -amount},
				malipo.Posting{Account: malipo.Fees(in.Mode, "KES"), Currency: "KES", Amount: amount}))
		}
	}
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let)
	firstDone := make(chan error, 1)
	go func() {
		spendMost := spend("led_first", 9_950)
		firstDone <- first.Transact(ctx, func(tx store.Tx) error {
			if err := tx.LockSpending(in.MerchantID, in.Mode); err != nil {
				return err
			}
			close(held)
			<-release
			return spendMost(tx)
		})
	}()
	select {
	case <-held:
	case err := <-firstDone:
		t.Fatalf("the first node could not take the lock: %v", err)
	}
	hint := []store.Hint{{Spend: store.Spend{MerchantID: in.MerchantID, Mode: in.Mode, Balance: avail}}}
	letGo := time.AfterFunc(500*time.Millisecond, let)
	defer letGo.Stop()
	start := time.Now()
	errs := storetest.InOneBatch(t, second,
		storetest.Call{Hints: hint, Fn: spend("led_second_1", 100)},
		storetest.Call{Hints: hint, Fn: spend("led_second_2", 100)})
	if waited := time.Since(start); waited < 400*time.Millisecond {
		t.Errorf("the second node's batch ended after %s, before the first node let the lock go", waited)
	}
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	spent := 0
	for _, err := range errs {
		switch {
		case err == nil:
			spent++
		case malipo.KindOf(err) != malipo.KindInsufficientFunds:
			t.Errorf("a spend on the second node: %v", err)
		}
	}
	if spent != 0 {
		t.Errorf("%d spends of 100 went through on the second node after the first left 50, want none", spent)
	}
	err := second.Read(ctx, func(tx store.Tx) error {
		have, err := tx.AccountBalance(avail)
		if err == nil && have != 50 {
			t.Errorf("the balance is %d, want 50", have)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A write transaction runs by hand on its connection, so that its BEGIN
// and COMMIT travel with other statements: however it fails, the
// connection goes back to the pool outside any transaction.
func TestFailedTransactionsLeaveNoConnectionInOne(t *testing.T) {
	ctx := context.Background()
	const app = "malipo-by-hand-test"
	s, other := openBeside(t, pgtest.URL(t)+"&application_name="+app)
	in := intA
	pay := malipo.Payment{ID: "pay_a", MerchantID: in.MerchantID, IntegrationID: in.ID, Mode: in.Mode, Amount: 5000, Currency: "XOF",
		Reference: "pay_a", Status: malipo.PaymentPending, CheckoutToken: "tok_a"}
	seed(t, s, func(tx store.Tx) error { return tx.CreatePayment(pay) })
	missing := pay
	missing.ID = "pay_missing"
	updateMissing := func(tx store.Tx) error { return tx.UpdatePayment(missing) }
	failures := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"the caller's own error after a read", func(tx store.Tx) error {
			if _, err := tx.GetPayment(pay.ID); err != nil {
				return err
			}
			return errors.New("changed its mind")
		}},
		{"a read of nothing", func(tx store.Tx) error { _, err := tx.GetPayment(missing.ID); return err }},
		{"an update of nothing, at commit", updateMissing},
		{"a duplicate, at commit", func(tx store.Tx) error { return tx.CreatePayment(pay) }},
		{"a panic", func(tx store.Tx) error { tx.GetPayment(pay.ID); panic("boom") }},
	}
	openInside := func(after string) {
		t.Helper()
		var open int
		err := other.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'`, app).Scan(&open)
		if err != nil {
			t.Fatal(err)
		}
		if open != 0 {
			t.Errorf("after %s: %d connections idle inside a transaction", after, open)
		}
	}
	for _, f := range failures {
		if err := s.Transact(ctx, f.fn); err == nil {
			t.Errorf("%s: no error", f.name)
		}
		openInside(f.name)
	}
	errs := storetest.InOneBatch(t, s,
		storetest.Call{Fn: func(tx store.Tx) error { _, err := tx.GetPayment(pay.ID); return err }},
		storetest.Call{Fn: updateMissing},
	)
	if errs[0] != nil || errs[1] == nil {
		t.Errorf("a batch with one failing caller: %v, want only the second to fail", errs)
	}
	openInside("a batch with one failing caller")
}

// intA is the test integration, of merchant mer_a, that seed makes.
var intA = malipo.Integration{ID: "int_a", MerchantID: "mer_a", Flavor: malipo.FlavorNative, Mode: malipo.ModeTest, Config: map[string]string{}}

// seed makes merchant mer_a and intA in s, and what write writes, in one
// transaction.
func seed(t *testing.T, s store.Store, write func(tx store.Tx) error) {
	t.Helper()
	err := s.Transact(context.Background(), func(tx store.Tx) error {
		if err := tx.CreateMerchant(malipo.Merchant{ID: intA.MerchantID, Name: "Duka"}); err != nil {
			return err
		}
		if err := tx.CreateIntegration(intA); err != nil {
			return err
		}
		return write(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// holding begins a transaction on db that runs lock (a locking read) and
// holds what it locked until it ends, at the latest when the test does.
func holding(t *testing.T, db *sql.DB, lock string) *sql.Tx {
	t.Helper()
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec(lock); err != nil {
		t.Fatal(err)
	}
	return tx
}

// openBeside opens the store at url and, beside it, a plain connection
// pool to the same database for a test to look or get in its way; both
// close when the test ends.
func openBeside(t *testing.T, url string) (store.Store, *sql.DB) {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return s, db
}

// A pooler in front of PostgreSQL, or a DISCARD ALL, can drop the
// statements a connection has prepared. The transaction that next uses
// one fails (SQLSTATE 26000) before it commits anything; the committer
// runs it again, and the statements are prepared again: the caller sees
// its write committed, once.
func TestDroppedStatementsArePreparedAgain(t *testing.T) {
	ctx := context.Background()
	s, db := openBeside(t, pgtest.URL(t))
	seed(t, s, func(store.Tx) error { return nil })
	// The first two payments inserted drop every statement their
	// session has prepared, as a pooler would between two transactions.
	_, err := db.ExecContext(ctx, `CREATE SEQUENCE drops;
		CREATE FUNCTION drop_statements() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('drops') <= 2 THEN
				EXECUTE 'DEALLOCATE ALL';
			END IF;
			RETURN NULL;
		END $$;
		CREATE TRIGGER drop_statements AFTER INSERT ON payments FOR EACH STATEMENT EXECUTE FUNCTION drop_statements()`)
	if err != nil {
		t.Fatal(err)
	}
	aborted := s.(interface{ Aborts() int64 }).Aborts()
	const n = 4
	for i := range n {
		id := fmt.Sprintf("pay_%d", i)
		pay := malipo.Payment{ID: id, MerchantID: intA.MerchantID, IntegrationID: intA.ID, Mode: intA.Mode, Amount: 5000,
			Currency: "XOF", Reference: id, Status: malipo.PaymentPending, CheckoutToken: "tok_" + id}
		if err := s.Transact(ctx, func(tx store.Tx) error { return tx.CreatePayment(pay) }); err != nil {
			t.Fatalf("payment %d, after its connection's statements were dropped: %v", i, err)
		}
		// A hinted read goes with the BEGIN through pgx's own cache of
		// statements, which the drop leaves stale too.
		err := s.Transact(ctx, func(tx store.Tx) error {
			pay.Status = malipo.PaymentFailed
			if _, err := tx.GetPayment(id); err != nil {
				return err
			}
			return tx.UpdatePayment(pay)
		}, store.Hint{Payment: id})
		if err != nil {
			t.Fatalf("payment %d read ahead and failed, after its connection's statements were dropped: %v", i, err)
		}
	}
	if again := s.(interface{ Aborts() int64 }).Aborts() - aborted; again == 0 {
		t.Error("no transaction met a dropped statement: the test did not test it")
	}
	var payments int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM payments`).Scan(&payments); err != nil {
		t.Fatal(err)
	}
	if payments != n {
		t.Errorf("%d payments, want %d", payments, n)
	}
}

// A database that restarts, fails over or ends a session (an
// administrator, an idle timeout) leaves the pool's connections dead,
// and the next batch on each fails at once. Whatever the batch had sent,
// none of its COMMIT had run: it runs again on another connection, and
// no caller hears of it. Each kind of batch is checked: a caller alone
// whose BEGIN, writes and COMMIT are one pipeline, a caller alone whose
// hinted read goes with the BEGIN, a batch of several, and a lease; and
// a read-only transaction, which changes nothing and runs again too.
func TestConnectionsEndedByTheDatabaseFailNoCaller(t *testing.T) {
	ctx := context.Background()
	const app = "malipo-ended-test"
	s, other := openBeside(t, pgtest.URL(t)+"&application_name="+app)
	seed(t, s, func(store.Tx) error { return nil })
	read := func(tx store.Tx) error { _, err := tx.GetMerchant(intA.MerchantID); return err }
	// end has the database end the store's connections, each used just
	// before, twice: pgx pings a connection before it hands it out again
	// if it is idle for over a second, or handed out for the first time
	// since it was opened, and only those would be found dead before a
	// batch met them.
	end := func() {
		t.Helper()
		for range 2 {
			if err := s.Transact(ctx, read); err != nil {
				t.Fatal(err)
			}
			if err := s.Lease(ctx, read); err != nil {
				t.Fatal(err)
			}
			if err := s.Read(ctx, read); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		err := other.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
			WHERE application_name = $1 AND pid <> pg_backend_pid()`, app).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("the store had no connection to end")
		}
	}
	payment := func(id string) malipo.Payment {
		return malipo.Payment{ID: id, MerchantID: intA.MerchantID, IntegrationID: intA.ID, Mode: intA.Mode, Amount: 5000,
			Currency: "XOF", Reference: id, Status: malipo.PaymentPending, CheckoutToken: "tok_" + id}
	}
	create := func(id string) func(tx store.Tx) error {
		return func(tx store.Tx) error { return tx.CreatePayment(payment(id)) }
	}
	cases := []struct {
		name string
		run  func(round int) error
	}{
		{"a create alone", func(round int) error {
			return s.Transact(ctx, create(fmt.Sprintf("pay_alone_%d", round)))
		}},
		{"a hinted read and update alone", func(round int) error {
			id := fmt.Sprintf("pay_alone_%d", round)
			return s.Transact(ctx, func(tx store.Tx) error {
				p, err := tx.GetPayment(id)
				if err != nil {
					return err
				}
				p.Status = malipo.PaymentFailed
				return tx.UpdatePayment(p)
			}, store.Hint{Payment: id})
		}},
		{"a batch of two creates", func(round int) error {
			errs := storetest.InOneBatch(t, s, storetest.Call{Fn: create(fmt.Sprintf("pay_first_%d", round))},
				storetest.Call{Fn: create(fmt.Sprintf("pay_second_%d", round))})
			return errors.Join(errs...)
		}},
		{"a lease", func(int) error { return s.Lease(ctx, read) }},
		{"a read", func(int) error { return s.Read(ctx, read) }},
	}
	aborts := func() int64 { return s.(interface{ Aborts() int64 }).Aborts() }
	met := make([]int, len(cases))
	const rounds = 3
	for round := range rounds {
		for i, c := range cases {
			end()
			before := aborts()
			if err := c.run(round); err != nil {
				t.Fatalf("round %d, %s, on an ended connection: %v", round, c.name, err)
			}
			if aborts() > before {
				met[i]++
			}
		}
	}
	for i, c := range cases {
		if met[i] == 0 {
			t.Errorf("%s never met an ended connection in %d rounds: the test did not test it", c.name, rounds)
		}
	}
	var payments, failed int
	err := other.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'failed') FROM payments`).Scan(&payments, &failed)
	if err != nil {
		t.Fatal(err)
	}
	if payments != 3*rounds || failed != rounds {
		t.Errorf("%d payments, %d of them failed; want %d and %d", payments, failed, 3*rounds, rounds)
	}
}

// A COMMIT sent on a connection that is lost before its answer arrives
// may have committed: the batch is not run again (its work would then be
// done twice), and its callers are told it failed. A proxy between the
// store and the database lets the COMMIT through, lets the database
// commit, and cuts the connection before the answer comes back.
func TestACommitWithoutAnAnswerIsNotRunAgain(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, other := openBeside(t, url)
	seed(t, s, func(store.Tx) error { return nil })
	proxy := cuttingProxy(t, url)
	s2, err := postgres.Open(ctx, proxy.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	aborts := s2.Aborts()
	proxy.cutAfterCommit.Store(true)
	pay := malipo.Payment{ID: "pay_once", MerchantID: intA.MerchantID, IntegrationID: intA.ID, Mode: intA.Mode, Amount: 5000,
		Currency: "XOF", Reference: "pay_once", Status: malipo.PaymentPending, CheckoutToken: "tok_once"}
	err = s2.Transact(ctx, func(tx store.Tx) error { return tx.CreatePayment(pay) })
	if err == nil {
		t.Fatal("a COMMIT whose answer was lost: no error")
	}
	if !proxy.cut.Load() {
		t.Fatalf("the proxy cut nothing: %v", err)
	}
	if again := s2.Aborts() - aborts; again != 0 {
		t.Errorf("the batch ran again %d times after its COMMIT was sent", again)
	}
	var n int
	if err := other.QueryRowContext(ctx, `SELECT count(*) FROM payments WHERE id = $1`, pay.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d payments committed, want the one the COMMIT committed", n)
	}
}

// proxy forwards connections to a PostgreSQL server, and cuts one:
//   - once cutAfterCommit is set, the first time a client sends a
//     COMMIT, the server's answers stop reaching that client, and after
//     the server has had time to run what it was sent, both sides are
//     closed;
//   - once cutAfterCommitAnswer is set, the first time the server
//     answers a COMMIT, that answer reaches the client and then both
//     sides are closed, before the server says it is ready again;
//   - once fatalForCommitAnswer is set, the first time the server
//     answers a COMMIT, the client gets a FATAL error in its place, as
//     from a server told to stop just after it committed, and then both
//     sides are closed.
type proxy struct {
	url                                                             string
	cutAfterCommit, cutAfterCommitAnswer, fatalForCommitAnswer, cut atomic.Bool
}

func cuttingProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := neturl.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &proxy{}
	server := u.Host
	u.Host = ln.Addr().String()
	p.url = u.String()
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(client, server)
		}
	}()
	return p
}

func (p *proxy) serve(client net.Conn, server string) {
	defer client.Close()
	db, err := net.Dial("tcp", server)
	if err != nil {
		return
	}
	defer db.Close()
	var muted atomic.Bool
	go func() {
		defer client.Close()
		answers := bufio.NewReader(db)
		for {
			msg, err := nextMessage(answers)
			if err != nil {
				return
			}
			if muted.Load() {
				continue
			}
			// CommandComplete ('C') tagged COMMIT.
			commitAnswer := msg[0] == 'C' && bytes.Equal(msg[5:], []byte("COMMIT\x00"))
			if commitAnswer && p.fatalForCommitAnswer.Load() && p.cut.CompareAndSwap(false, true) {
				client.Write(fatal)
				db.Close()
				return
			}
			if _, err := client.Write(msg); err != nil {
				return
			}
			if commitAnswer && p.cutAfterCommitAnswer.Load() && p.cut.CompareAndSwap(false, true) {
				db.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if p.cutAfterCommit.Load() && bytes.Contains(buf[:n], []byte("COMMIT")) && p.cut.CompareAndSwap(false, true) {
				muted.Store(true)
				time.AfterFunc(200*time.Millisecond, func() { client.Close(); db.Close() })
			}
			if _, err := db.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// fatal is the ErrorResponse of a server told to stop (SQLSTATE 57P01).
var fatal = func() []byte {
	fields := "SFATAL\x00VFATAL\x00C57P01\x00Mterminating connection due to administrator command\x00\x00"
	msg := []byte{'E', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(msg[1:], uint32(4+len(fields)))
	return append(msg, fields...)
}()

// nextMessage reads one message of the server's: its type, its length and
// the rest. The first bytes a server sends (SSL refused, 'N') are a byte
// alone, and the proxy's clients do not ask for SSL.
func nextMessage(r *bufio.Reader) ([]byte, error) {
	head := make([]byte, 5)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	msg := make([]byte, 1+binary.BigEndian.Uint32(head[1:]))
	copy(msg, head)
	_, err := io.ReadFull(r, msg[5:])
	return msg, err
}

// A COMMIT answered before the connection was lost has committed: its
// callers are told so, though the server never said it was ready again.
func TestACommitAnsweredBeforeTheConnectionWasLostSucceeds(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, other := openBeside(t, url)
	seed(t, s, func(store.Tx) error { return nil })
	proxy := cuttingProxy(t, url)
	s2, err := postgres.Open(ctx, proxy.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	proxy.cutAfterCommitAnswer.Store(true)
	pay := malipo.Payment{ID: "pay_answered", MerchantID: intA.MerchantID, IntegrationID: intA.ID, Mode: intA.Mode, Amount: 5000,
		Currency: "XOF", Reference: "pay_answered", Status: malipo.PaymentPending, CheckoutToken: "tok_answered"}
	if err := s2.Transact(ctx, func(tx store.Tx) error { return tx.CreatePayment(pay) }); err != nil {
		t.Errorf("a COMMIT answered, then the connection lost: %v", err)
	}
	if !proxy.cut.Load() {
		t.Fatal("the proxy cut nothing")
	}
	var n int
	if err := other.QueryRowContext(ctx, `SELECT count(*) FROM payments WHERE id = $1`, pay.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d payments committed, want 1", n)
	}
	// The next batch finds the connection gone and takes another.
	if err := s2.Transact(ctx, func(tx store.Tx) error { _, err := tx.GetMerchant(intA.MerchantID); return err }); err != nil {
		t.Errorf("the next batch: %v", err)
	}
}

// A server told to stop just after it committed answers the COMMIT with
// a FATAL error, not with its tag: the work may be durable, so the batch
// is not run again, though the error is the server's own answer.
func TestAFatalErrorAnsweringACommitIsNotRunAgain(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, other := openBeside(t, url)
	seed(t, s, func(store.Tx) error { return nil })
	proxy := cuttingProxy(t, url)
	s2, err := postgres.Open(ctx, proxy.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	aborts := s2.Aborts()
	proxy.fatalForCommitAnswer.Store(true)
	pay := malipo.Payment{ID: "pay_fatal", MerchantID: intA.MerchantID, IntegrationID: intA.ID, Mode: intA.Mode, Amount: 5000,
		Currency: "XOF", Reference: "pay_fatal", Status: malipo.PaymentPending, CheckoutToken: "tok_fatal"}
	if err := s2.Transact(ctx, func(tx store.Tx) error { return tx.CreatePayment(pay) }); err == nil {
		t.Error("a COMMIT answered with a FATAL error: no error")
	}
	if !proxy.cut.Load() {
		t.Fatal("the proxy cut nothing")
	}
	if again := s2.Aborts() - aborts; again != 0 {
		t.Errorf("the batch ran again %d times after its COMMIT was answered with a FATAL error", again)
	}
	var n int
	if err := other.QueryRowContext(ctx, `SELECT count(*) FROM payments WHERE id = $1`, pay.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d payments committed, want 1", n)
	}
}

// A connection can be found lost after the driver has already said so to
// database/sql, which then hands it out no more: a batch rerun with
// savepoints, whose caller's read met the ended connection and whose
// ROLLBACK TO SAVEPOINT was then refused as a bad connection. The batch
// runs again on another connection, and every caller's work commits.
func TestABatchWhoseConnectionEndsBetweenSavepointsRunsAgain(t *testing.T) {
	ctx := context.Background()
	const app = "malipo-savepoint-test"
	s, other := openBeside(t, pgtest.URL(t)+"&application_name="+app)
	seed(t, s, func(store.Tx) error { return nil })
	read := func(tx store.Tx) error { _, err := tx.GetMerchant(intA.MerchantID); return err }
	var aCalls, bCalls atomic.Int32
	errs := storetest.InOneBatch(t, s,
		// Fails its first run, so that the batch runs again with a
		// savepoint around each caller.
		storetest.Call{Fn: func(tx store.Tx) error {
			if aCalls.Add(1) == 1 {
				return errors.New("not this time")
			}
			return tx.CreatePayment(malipo.Payment{ID: "pay_a", MerchantID: intA.MerchantID, IntegrationID: intA.ID, Mode: intA.Mode,
				Amount: 5000, Currency: "XOF", Reference: "pay_a", Status: malipo.PaymentPending, CheckoutToken: "tok_a"})
		}},
		// Has the database end the batch's connection the first time it
		// runs, then reads on it.
		storetest.Call{Fn: func(tx store.Tx) error {
			if bCalls.Add(1) == 1 {
				if _, err := other.ExecContext(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
					WHERE application_name = $1 AND pid <> pg_backend_pid()`, app); err != nil {
					return err
				}
			}
			return read(tx)
		}},
	)
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("a batch whose connection ended between savepoints: %v", errs)
	}
	if aCalls.Load() < 3 || bCalls.Load() < 2 {
		t.Fatalf("the callers ran %d and %d times: the batch never ran again after a savepoint on an ended connection", aCalls.Load(), bCalls.Load())
	}
	var n int
	if err := other.QueryRowContext(ctx, `SELECT count(*) FROM payments`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d payments, want 1", n)
	}
}
