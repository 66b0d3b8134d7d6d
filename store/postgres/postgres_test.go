package postgres_test

import (
	"context"
	"database/sql"
	"errors"
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
