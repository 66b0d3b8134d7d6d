package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// A groupCommitter is a store whose writes queue for committers that
// take them in batches; tests of batching need to see its queue.
type groupCommitter interface {
	Queued() int64
	Committers() int
}

func committersOf(t testing.TB, s store.Store) groupCommitter {
	t.Helper()
	gc, ok := s.(groupCommitter)
	if !ok {
		t.Fatalf("%T does not show its queue (Queued, Committers)", s)
	}
	return gc
}

// Held are writes that wait, each in a batch of its own, until the test
// lets them go: HoldCommitters makes one per committer, so no other write
// runs meanwhile.
type Held struct {
	s        store.Store
	releases []chan struct{}
	released int
	wg       sync.WaitGroup
	mu       sync.Mutex
	errs     []error
}

// HoldCommitters holds every committer of s busy with a write that waits.
// Each is queued only once the one before it runs, so each committer
// takes one alone. Writes still held when the test ends go then, before
// anything cleaned up earlier (the store's Close) runs.
func HoldCommitters(t testing.TB, s store.Store) *Held {
	t.Helper()
	h := &Held{s: s}
	t.Cleanup(func() { h.Release(len(h.releases)) })
	for range committersOf(t, s).Committers() {
		started := h.Hold()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("a committer did not take a held write")
		}
	}
	return h
}

// Hold queues one more write that waits for its turn to be let go, and
// returns a channel closed once it runs.
func (h *Held) Hold() <-chan struct{} {
	release, started := make(chan struct{}), make(chan struct{})
	h.releases = append(h.releases, release)
	// A batch that fails may run again; started closes once.
	start := sync.OnceFunc(func() { close(started) })
	h.wg.Go(func() {
		err := h.s.Transact(context.Background(), func(store.Tx) error {
			start()
			<-release
			return nil
		})
		h.mu.Lock()
		h.errs = append(h.errs, err)
		h.mu.Unlock()
	})
	return started
}

// Release lets go the first n writes held, in the order they were held
// (those already let go count among them).
func (h *Held) Release(n int) {
	for ; h.released < min(n, len(h.releases)); h.released++ {
		close(h.releases[h.released])
	}
}

// Wait lets every write held go, waits for their commits and returns
// their errors.
func (h *Held) Wait() error {
	h.Release(len(h.releases))
	h.wg.Wait()
	return errors.Join(h.errs...)
}

// inOneBatch runs fns as concurrent transactions that queue up, in the
// order given, while every committer is held busy, and then lets one
// committer alone take the whole queue as one batch. It returns each
// one's error.
//
// Why it watches the queue instead of sleeping: on a loaded machine a
// goroutine can start late, and a caller queued after the batch was
// taken lands in another batch, perhaps on another committer that
// commits first.
func inOneBatch(t *testing.T, s store.Store, fns ...func(tx store.Tx) error) []error {
	t.Helper()
	calls := make([]Call, len(fns))
	for k, fn := range fns {
		calls[k].Fn = fn
	}
	return InOneBatch(t, s, calls...)
}

// Call is a write transaction of a batch, and the rows it hints it locks
// first.
type Call struct {
	Fn    func(tx store.Tx) error
	Hints []store.Hint
}

// InOneBatch runs calls as inOneBatch runs its functions.
func InOneBatch(t *testing.T, s store.Store, calls ...Call) []error {
	t.Helper()
	gc := committersOf(t, s)
	held := HoldCommitters(t, s)
	// One more held write waits in the queue, ahead of fns: whichever
	// batch takes it takes them.
	held.Hold()
	waitUntil(t, "the last held write queues", func() bool { return gc.Queued() == 1 })
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for k, c := range calls {
		wg.Go(func() { errs[k] = s.Transact(context.Background(), c.Fn, c.Hints...) })
		waitUntil(t, "a caller queues", func() bool { return gc.Queued() == int64(k+2) })
	}
	// The first committer set free takes the whole queue before any other
	// is; then the rest go.
	held.Release(1)
	waitUntil(t, "one committer takes the queue", func() bool { return gc.Queued() == 0 })
	if err := held.Wait(); err != nil {
		t.Errorf("held writes: %v", err)
	}
	wg.Wait()
	return errs
}

// waitUntil polls cond until it holds, failing the test after a while.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(100 * time.Microsecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// testBatchFailuresStayTheirs: callers of one batch whose rows collide
// with rows already stored (a ledger entry posted twice, a payment
// reference in use) fail alone, with the error their insert would have
// given, and nothing they wrote is kept; everyone else's work is.
func testBatchFailuresStayTheirs(t *testing.T, s store.Store) {
	m, i := fixture(t, s, "a")
	first := payment(i, "pay_first", "taken")
	first.Status = malipo.PaymentSucceeded
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreatePayment(first); err != nil {
			return err
		}
		return tx.PostEntry(malipo.PaymentEntry("led_first", first, "sandbox", false, epoch))
	})
	good := func(k int) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			p := payment(i, fmt.Sprintf("pay_%02d", k), fmt.Sprintf("r%02d", k))
			p.Status = malipo.PaymentSucceeded
			if err := tx.CreatePayment(p); err != nil {
				return err
			}
			if err := tx.PostEntry(malipo.PaymentEntry(fmt.Sprintf("led_%02d", k), p, "sandbox", false, epoch)); err != nil {
				return err
			}
			e := event(fmt.Sprintf("evt_%02d", k), m.ID)
			if err := tx.CreateEvent(e); err != nil {
				return err
			}
			d := delivery(fmt.Sprintf("dlv_%02d", k), epoch)
			d.EventID = e.ID
			return tx.CreateDelivery(d)
		}
	}
	postedTwice := func(tx store.Tx) error {
		if err := tx.CreateEvent(event("evt_twice", m.ID)); err != nil {
			return err
		}
		return tx.PostEntry(malipo.PaymentEntry("led_twice", first, "sandbox", false, epoch))
	}
	referenceTaken := func(tx store.Tx) error {
		if err := tx.CreateEvent(event("evt_taken", m.ID)); err != nil {
			return err
		}
		return tx.CreatePayment(payment(i, "pay_taken", "taken"))
	}
	var fns []func(tx store.Tx) error
	for k := range 20 {
		fns = append(fns, good(k))
		switch k {
		case 6:
			fns = append(fns, postedTwice)
		case 13:
			fns = append(fns, referenceTaken)
		}
	}
	errs := inOneBatch(t, s, fns...)
	wantErrors(t, errs, map[int]error{7: kind(malipo.KindConflict), 15: malipo.ErrReferenceInUse})
	read(t, s, func(tx store.Tx) error {
		for _, id := range []string{"evt_twice", "evt_taken"} {
			_, err := tx.GetEvent(id)
			wantKind(t, err, malipo.KindNotFound)
		}
		_, err := tx.GetPayment("pay_taken")
		wantKind(t, err, malipo.KindNotFound)
		for k := range 20 {
			ds, err := tx.ListDeliveries(fmt.Sprintf("evt_%02d", k))
			must(t, err)
			if len(ds) != 1 || ds[0].ID != fmt.Sprintf("dlv_%02d", k) {
				t.Errorf("deliveries of evt_%02d = %+v", k, ds)
			}
		}
		bs, err := tx.Balances(m.ID, malipo.ModeTest)
		must(t, err)
		// The first payment and the twenty good ones, 5000 each, no fee.
		if len(bs) != 1 || bs[0].Available != 21*5000 {
			t.Errorf("balances = %+v, want 21 × 5000 available", bs)
		}
		r, err := tx.Audit(epoch)
		must(t, err)
		if r.Entries != 21 || !r.Clean() {
			t.Errorf("audit = %+v", r)
		}
		return nil
	})
}

// testOwnWritesSeen: a transaction sees what it wrote, and rows that
// refer to rows it wrote can be written after them, alone or in a batch.
func testOwnWritesSeen(t *testing.T, s store.Store) {
	m, i := fixture(t, s, "a")
	fn := func(k int) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			p := payment(i, fmt.Sprintf("pay_%d", k), fmt.Sprintf("r%d", k))
			p.Status = malipo.PaymentSucceeded
			if err := tx.CreatePayment(p); err != nil {
				return err
			}
			if got, err := tx.PaymentByReference(i.ID, p.Reference); err != nil || got.ID != p.ID {
				return fmt.Errorf("payment by reference = %v, %v", got.ID, err)
			}
			if err := tx.CreateRefund(malipo.Refund{ID: fmt.Sprintf("re_%d", k), PaymentID: p.ID, MerchantID: m.ID, IntegrationID: i.ID,
				Mode: i.Mode, Amount: 1000, Currency: "XOF", Status: malipo.RefundPending, CreatedAt: epoch, UpdatedAt: epoch}); err != nil {
				return err
			}
			ledger := fmt.Sprintf("led_%d", k)
			if err := tx.PostEntry(malipo.PaymentEntry(ledger, p, "sandbox", false, epoch)); err != nil {
				return err
			}
			if es, err := tx.ListEntries(p.ID); err != nil || len(es) != 1 || es[0].ID != ledger {
				return fmt.Errorf("entries = %+v, %v", es, err)
			}
			e := event(fmt.Sprintf("evt_%d", k), m.ID)
			if err := tx.CreateEvent(e); err != nil {
				return err
			}
			if _, err := tx.GetEvent(e.ID); err != nil {
				return err
			}
			d := delivery(fmt.Sprintf("dlv_%d", k), epoch)
			d.EventID = e.ID
			if err := tx.CreateDelivery(d); err != nil {
				return err
			}
			return tx.AddAttempt(malipo.Attempt{DeliveryID: d.ID, Number: 1, At: epoch, StatusCode: 200})
		}
	}
	write(t, s, fn(0))
	for n, err := range inOneBatch(t, s, fn(1), fn(2), fn(3)) {
		if err != nil {
			t.Errorf("caller %d: %v", n, err)
		}
	}
	read(t, s, func(tx store.Tx) error {
		for k := range 4 {
			as, err := tx.ListAttempts(fmt.Sprintf("dlv_%d", k))
			must(t, err)
			rs, err := tx.ListRefunds(fmt.Sprintf("pay_%d", k))
			must(t, err)
			if len(as) != 1 || len(rs) != 1 {
				t.Errorf("payment %d: attempts %+v, refunds %+v", k, as, rs)
			}
		}
		return nil
	})
}

// testRepeatedReads: what a transaction reads of integrations and
// endpoints follows its own writes, is not changed by a caller changing
// what it got, and forgets what a caller whose work was undone wrote.
func testRepeatedReads(t *testing.T, s store.Store) {
	m, i := fixture(t, s, "a")
	ep := malipo.Endpoint{ID: "we_1", MerchantID: m.ID, Mode: malipo.ModeTest, URL: "https://shop.example/hooks",
		Secrets: []malipo.EndpointSecret{{Secret: "whsec_a"}}, CreatedAt: epoch}
	write(t, s, func(tx store.Tx) error {
		got, err := tx.GetIntegration(i.ID)
		must(t, err)
		got.Config["changed"] = "by the caller"
		got.Rules.Fees["card"] = malipo.FeeRule{BasisPoints: 1}
		again, err := tx.GetIntegration(i.ID)
		must(t, err)
		if diff := cmp.Diff(i, again); diff != "" {
			t.Errorf("integration read again (-want +got):\n%s", diff)
		}
		again.NotifyURL = "https://shop.example/notify"
		must(t, tx.UpdateIntegration(again))
		if got, err := tx.GetIntegration(i.ID); err != nil || got.NotifyURL != again.NotifyURL {
			t.Errorf("after update: %+v, %v", got, err)
		}
		eps, err := tx.ListEndpoints(m.ID, malipo.ModeTest)
		must(t, err)
		if len(eps) != 0 {
			t.Errorf("endpoints = %+v", eps)
		}
		must(t, tx.CreateEndpoint(ep))
		eps, err = tx.ListEndpoints(m.ID, malipo.ModeTest)
		must(t, err)
		if len(eps) != 1 {
			t.Fatalf("endpoints after create = %+v", eps)
		}
		eps[0].Secrets[0].Secret = "changed by the caller"
		eps, err = tx.ListEndpoints(m.ID, malipo.ModeTest)
		must(t, err)
		if diff := cmp.Diff([]malipo.Endpoint{ep}, eps); diff != "" {
			t.Errorf("endpoints read again (-want +got):\n%s", diff)
		}
		return nil
	})
	boom := errors.New("boom")
	var seen [][]malipo.Endpoint
	look := func(tx store.Tx) error {
		eps, err := tx.ListEndpoints(m.ID, malipo.ModeTest)
		seen = append(seen, eps)
		return err
	}
	undone := func(tx store.Tx) error {
		if err := tx.CreateEndpoint(malipo.Endpoint{ID: "we_2", MerchantID: m.ID, Mode: malipo.ModeTest, URL: "https://shop.example/undone",
			CreatedAt: epoch}); err != nil {
			return err
		}
		if _, err := tx.ListEndpoints(m.ID, malipo.ModeTest); err != nil {
			return err
		}
		return boom
	}
	errs := inOneBatch(t, s, look, undone, look)
	if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] != nil {
		t.Fatalf("errors = %v", errs)
	}
	for _, eps := range seen {
		if len(eps) != 1 || eps[0].ID != "we_1" {
			t.Errorf("a caller saw endpoints %+v, want only we_1", eps)
		}
	}
}

// testPaymentUpdatesInABatch: a payment's update is seen by every later
// read in its batch (by ID, by list, by the expiry claim, which must not
// take a payment that has just succeeded), the last of two updates
// stands, and an update of a payment that is not there fails its caller
// alone.
func testPaymentUpdatesInABatch(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	write(t, s, func(tx store.Tx) error {
		for _, id := range []string{"pay_a", "pay_b", "pay_late"} {
			p := payment(i, id, "r_"+id)
			if id == "pay_late" {
				p.ExpiresAt = epoch.Add(-time.Minute) // due for expiry
			}
			if err := tx.CreatePayment(p); err != nil {
				return err
			}
		}
		return nil
	})
	succeed := func(id string) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			p, err := tx.GetPayment(id)
			if err != nil {
				return err
			}
			p.Status, p.UpdatedAt = malipo.PaymentProcessing, epoch.Add(time.Second)
			if err := tx.UpdatePayment(p); err != nil {
				return err
			}
			p.Status, p.CompletedAt, p.UpdatedAt = malipo.PaymentSucceeded, epoch.Add(2*time.Second), epoch.Add(2*time.Second)
			return tx.UpdatePayment(p)
		}
	}
	var seen malipo.PaymentStatus
	var listed []malipo.PaymentStatus
	var claimed []malipo.Payment
	// A batch in which every caller's work stands: one transaction, no
	// savepoints, so each read below runs after the held updates.
	errs := inOneBatch(t, s,
		succeed("pay_late"),
		func(tx store.Tx) (err error) { // right after, before anything else writes what is held
			claimed, err = tx.ClaimExpiredPayments(epoch, 10)
			return err
		},
		succeed("pay_a"),
		func(tx store.Tx) error { // reads by ID what an earlier caller updated
			p, err := tx.GetPayment("pay_a")
			seen = p.Status
			return err
		},
		func(tx store.Tx) error {
			ps, err := tx.ListPayments(store.PaymentFilter{MerchantID: i.MerchantID, Mode: i.Mode, Limit: 10})
			for _, p := range ps {
				listed = append(listed, p.Status)
			}
			return err
		},
	)
	// A batch in which one caller updates a payment that is not there.
	errs = append(errs, inOneBatch(t, s,
		func(tx store.Tx) error { return tx.UpdatePayment(payment(i, "pay_missing", "r_missing")) },
		succeed("pay_b"),
	)...)
	wantErrors(t, errs, map[int]error{5: kind(malipo.KindNotFound)})
	if seen != malipo.PaymentSucceeded {
		t.Errorf("a later caller read pay_a as %s, want succeeded", seen)
	}
	// Newest first: pay_late, pay_b (not yet succeeded), pay_a.
	if diff := cmp.Diff([]malipo.PaymentStatus{malipo.PaymentSucceeded, malipo.PaymentPending, malipo.PaymentSucceeded}, listed); diff != "" {
		t.Errorf("statuses listed after two successes (-want +got):\n%s", diff)
	}
	if len(claimed) != 0 {
		t.Errorf("the expiry claim took %+v, which had just succeeded", claimed)
	}
	read(t, s, func(tx store.Tx) error {
		for _, id := range []string{"pay_a", "pay_b", "pay_late"} {
			p, err := tx.GetPayment(id)
			must(t, err)
			if p.Status != malipo.PaymentSucceeded || !p.CompletedAt.Equal(epoch.Add(2*time.Second)) {
				t.Errorf("%s is %s, completed %s", id, p.Status, p.CompletedAt)
			}
		}
		return nil
	})
}

// testHintedPayments: hints change nothing a transaction sees. In one
// batch, a hinted payment reads as stored; a later caller's read of it
// sees an earlier caller's update, whether that caller read it first or
// wrote it blind, and not the update of a caller whose work was undone; a
// hint naming a payment that is not there, or an ID the store refuses,
// fails only its own caller, as the read would without a hint.
func testHintedPayments(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	ids := []string{"pay_a", "pay_b", "pay_c", "pay_d"}
	stored := map[string]malipo.Payment{}
	write(t, s, func(tx store.Tx) error {
		for _, id := range ids {
			if err := tx.CreatePayment(payment(i, id, "r_"+id)); err != nil {
				return err
			}
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		for _, id := range ids {
			p, err := tx.GetPayment(id)
			must(t, err)
			stored[id] = p
		}
		return nil
	})
	hint := func(id string) []store.Hint { return []store.Hint{{Payment: id}} }
	seen := map[string]malipo.Payment{}
	readAs := func(name, id string) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			p, err := tx.GetPayment(id)
			seen[name] = p
			return err
		}
	}
	succeeded := func(p malipo.Payment) malipo.Payment {
		p.Status, p.CompletedAt, p.UpdatedAt = malipo.PaymentSucceeded, epoch.Add(time.Minute), epoch.Add(time.Minute)
		return p
	}
	changedMind := errors.New("changed its mind")
	errs := InOneBatch(t, s,
		Call{Hints: hint("pay_a"), Fn: func(tx store.Tx) error {
			if err := readAs("a", "pay_a")(tx); err != nil {
				return err
			}
			p := seen["a"]
			p.Items[0].Name = "changed in place, never written"
			return nil
		}},
		Call{Hints: hint("pay_a"), Fn: readAs("a again", "pay_a")},
		// pay_b: read, then updated; a later hinted read sees the update.
		Call{Hints: hint("pay_b"), Fn: func(tx store.Tx) error {
			p, err := tx.GetPayment("pay_b")
			if err != nil {
				return err
			}
			return tx.UpdatePayment(succeeded(p))
		}},
		Call{Hints: hint("pay_b"), Fn: readAs("b", "pay_b")},
		// pay_c: hinted by both; the first writes it without reading it.
		Call{Hints: hint("pay_c"), Fn: func(tx store.Tx) error { return tx.UpdatePayment(succeeded(stored["pay_c"])) }},
		Call{Hints: hint("pay_c"), Fn: readAs("c", "pay_c")},
		// pay_d: updated by a caller that then fails.
		Call{Hints: hint("pay_d"), Fn: func(tx store.Tx) error {
			p, err := tx.GetPayment("pay_d")
			if err != nil {
				return err
			}
			if err := tx.UpdatePayment(succeeded(p)); err != nil {
				return err
			}
			return changedMind
		}},
		Call{Hints: hint("pay_d"), Fn: readAs("d", "pay_d")},
		Call{Hints: hint("pay_missing"), Fn: readAs("missing", "pay_missing")},
		Call{Hints: hint("pay_\x00"), Fn: readAs("bad", "pay_\x00")},
	)
	wantErrors(t, errs, map[int]error{6: changedMind, 8: kind(malipo.KindNotFound), 9: kind(malipo.KindInvalid)})
	for name, want := range map[string]malipo.Payment{
		"a": stored["pay_a"], "a again": stored["pay_a"], "b": succeeded(stored["pay_b"]),
		"c": succeeded(stored["pay_c"]), "d": stored["pay_d"],
	} {
		if name == "a" {
			want.Items = append([]malipo.Item(nil), want.Items...)
			want.Items[0].Name = "changed in place, never written"
		}
		if diff := cmp.Diff(want, seen[name]); diff != "" {
			t.Errorf("read %q (-want +got):\n%s", name, diff)
		}
	}
}

// testHintedReadAhead: a batch of hinted payments may read their
// integrations and their merchants' endpoints ahead; what its callers
// read is still what is stored, as their own and earlier callers'
// writes left it: a merchant with no endpoints has none, an endpoint or
// integration written earlier in the batch is read as written.
func testHintedReadAhead(t *testing.T, s store.Store) {
	_, ia := fixture(t, s, "a")
	_, ib := fixture(t, s, "b")
	write(t, s, func(tx store.Tx) error {
		for _, p := range []malipo.Payment{payment(ia, "pay_a1", "r_a1"), payment(ia, "pay_a2", "r_a2"), payment(ib, "pay_b1", "r_b1")} {
			if err := tx.CreatePayment(p); err != nil {
				return err
			}
		}
		return tx.CreateEndpoint(endpointOf("we_1", ia))
	})
	got := lookups{}
	look := func(name string, i malipo.Integration) func(tx store.Tx) error {
		return func(tx store.Tx) error { return got.look(tx, name, i) }
	}
	hint := func(id string) []store.Hint { return []store.Hint{{Payment: id}} }
	renamed := ia
	renamed.NotifyURL = "https://shop.example/renamed"
	errs := InOneBatch(t, s,
		Call{Hints: hint("pay_a1"), Fn: look("a first", ia)},
		Call{Hints: hint("pay_b1"), Fn: look("b", ib)},
		Call{Hints: hint("pay_a2"), Fn: func(tx store.Tx) error {
			if err := tx.CreateEndpoint(endpointOf("we_2", ia)); err != nil {
				return err
			}
			if err := tx.UpdateIntegration(renamed); err != nil {
				return err
			}
			return got.look(tx, "a, after its own writes", ia)
		}},
		Call{Hints: hint("pay_a1"), Fn: look("a, after another's writes", ia)},
	)
	wantErrors(t, errs, nil)
	got.want(t, lookups{
		"a first":                   {[]malipo.Endpoint{endpointOf("we_1", ia)}, ia},
		"b":                         {nil, ib},
		"a, after its own writes":   {[]malipo.Endpoint{endpointOf("we_1", ia), endpointOf("we_2", ia)}, renamed},
		"a, after another's writes": {[]malipo.Endpoint{endpointOf("we_1", ia), endpointOf("we_2", ia)}, renamed},
	})
}

// lookups are what transactions read of a merchant's endpoints and an
// integration, by name: the reads a store may answer from what it read
// ahead.
type lookups map[string]lookup

type lookup struct {
	Endpoints   []malipo.Endpoint
	Integration malipo.Integration
}

// look reads i's merchant's endpoints and i, as name.
func (l lookups) look(tx store.Tx, name string, i malipo.Integration) error {
	eps, err := tx.ListEndpoints(i.MerchantID, i.Mode)
	if err != nil {
		return err
	}
	in, err := tx.GetIntegration(i.ID)
	l[name] = lookup{eps, in}
	return err
}

func (l lookups) want(t *testing.T, want lookups) {
	t.Helper()
	for name, w := range want {
		if diff := cmp.Diff(w, l[name]); diff != "" {
			t.Errorf("read %q (-want +got):\n%s", name, diff)
		}
	}
}

// testLongestBatchTimed: a batching store says how long the batch it runs
// now has run, so that one stuck shows; and nothing once it is done.
func testLongestBatchTimed(t *testing.T, s store.Store) {
	clock, ok := s.(store.BatchClock)
	if !ok {
		t.Fatalf("%T does not time its batches (LongestBatch)", s)
	}
	if d := clock.LongestBatch(); d != 0 {
		t.Fatalf("no batch running, yet the longest has run %v", d)
	}
	begun := time.Now()
	// Stuck, as a batch may be where no timeout reaches.
	held := HoldCommitters(t, s)
	const stuck = 100 * time.Millisecond
	waitUntil(t, "the held batches are said to have run 100 ms", func() bool { return clock.LongestBatch() >= stuck })
	if d := clock.LongestBatch(); d > time.Since(begun) {
		t.Errorf("the batch is said to have run %v, longer than the %v since it was queued", d, time.Since(begun))
	}
	if err := held.Wait(); err != nil {
		t.Fatal(err)
	}
	// The committer clears its clock once its callers have their answers,
	// a moment after.
	waitUntil(t, "the batches done are no longer timed", func() bool { return clock.LongestBatch() == 0 })
}

// testHeldCommittersRefuse: while every committer has been held in its
// batch for longer than a request's first write may wait (4× the queue
// target), with writes pending behind them, a request's first write is
// refused at once instead of queueing behind batches that may never end;
// once they end, requests are taken again. Before, a stuck committer let
// the queue fill to three-quarters of its capacity first, each request
// holding a goroutine until its client gave up.
func testHeldCommittersRefuse(t *testing.T, s store.Store) {
	tuned, ok := s.(interface{ SetQueueTarget(time.Duration) })
	if !ok {
		t.Fatal("the store cannot be told its queue target")
	}
	tuned.SetQueueTarget(10 * time.Millisecond) // first writes may wait 40 ms
	ctx := context.Background()
	held := HoldCommitters(t, s)
	var wg sync.WaitGroup
	for range 70 { // more than the 64 pending that make a standing queue
		wg.Go(func() {
			if err := s.Transact(ctx, func(store.Tx) error { return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	gc := committersOf(t, s)
	waitUntil(t, "70 writes queued behind the held committers", func() bool { return gc.Queued() >= 70 })
	time.Sleep(50 * time.Millisecond) // the committers held past 40 ms
	refused := make(chan error, 1)
	go func() { refused <- s.Transact(store.Shedding(ctx), func(store.Tx) error { return nil }) }()
	select {
	case err := <-refused:
		if !errors.Is(err, malipo.ErrBusy) {
			t.Errorf("a request while every committer is held: %v, want busy", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a request waited 5 s behind committers held, not refused")
	}
	if err := held.Wait(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	must(t, s.Transact(store.Shedding(ctx), func(store.Tx) error { return nil }))
}

// endpointOf is a webhook endpoint of i's merchant.
func endpointOf(id string, i malipo.Integration) malipo.Endpoint {
	return malipo.Endpoint{ID: id, MerchantID: i.MerchantID, Mode: i.Mode, URL: "https://shop.example/" + id,
		Events: []string{"payment.*"}, Secrets: []malipo.EndpointSecret{{Secret: "whsec_" + id}}, CreatedAt: epoch}
}

// testBatchesObserved: a batching store reports each batch its committers
// run, once, with its writes (a caller failing on its own among them), how
// long its oldest write waited and how long the database took; a failing
// caller does not make the batch count as failed.
func testBatchesObserved(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	obs, ok := s.(store.BatchObserver)
	if !ok {
		t.Fatalf("%T does not report its batches (ObserveBatches)", s)
	}
	var (
		mu      sync.Mutex
		batches []store.Batch
	)
	obs.ObserveBatches(func(b store.Batch) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, b)
	})
	t.Cleanup(func() { obs.ObserveBatches(nil) })

	// The batch's oldest write is the one InOneBatch holds in the queue
	// while its callers queue behind it: it waits at least as long as
	// they take to queue, and then the pause below.
	const pause = 30 * time.Millisecond
	boom := errors.New("boom")
	begun := time.Now()
	errs := inOneBatch(t, s,
		func(tx store.Tx) error { return tx.CreatePayment(payment(i, "pay_obs1", "obs1")) },
		func(tx store.Tx) error { time.Sleep(pause); return boom },
		func(tx store.Tx) error { return tx.CreatePayment(payment(i, "pay_obs2", "obs2")) },
	)
	within := time.Since(begun)
	if !errors.Is(errs[1], boom) || errs[0] != nil || errs[2] != nil {
		t.Fatalf("callers' errors %v, want nil, boom, nil", errs)
	}
	mu.Lock()
	defer mu.Unlock()
	var found []store.Batch
	for _, b := range batches {
		if b.Writes == 4 { // the held write and the three callers
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("batches of four writes reported: %+v (all: %+v), want one", found, batches)
	}
	b := found[0]
	if b.Failed {
		t.Errorf("the batch counts as failed for a caller's own error: %+v", b)
	}
	// The batch ran the sleeping caller (twice: once to find who fails,
	// once with savepoints), so the database's part took at least that.
	if b.Took < 2*pause || b.Took > within {
		t.Errorf("batch took %v, want between %v and %v", b.Took, 2*pause, within)
	}
	if b.Waited <= 0 || b.Waited+b.Took > within {
		t.Errorf("batch's oldest write waited %v (took %v), want more than nothing and within the %v the whole took", b.Waited, b.Took, within)
	}
	for _, b := range batches {
		if b.Writes < 1 || b.Took < 0 || b.Waited < 0 {
			t.Errorf("a batch reported as %+v", b)
		}
	}
}

// sameInEachRun checks that each of a batch's reads (what) found want's
// answer in every run of the batch: a batch whose callers fail runs
// again, and a later run must not hide a wrong answer in the first.
// seen is what each read found, a run to an element.
func sameInEachRun(t *testing.T, what string, seen map[string][]string, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if found := seen[name]; len(found) == 0 || slices.ContainsFunc(found, func(f string) bool { return f != w }) {
			t.Errorf("the %s %q found %q in the batch's runs, want %q in each", what, name, found, w)
		}
	}
}

// wantErrors checks what each caller of a batch got: for a caller want
// names, the error named (errors.Is), or any of its kind where it names
// a kind; nil for every other.
func wantErrors(t *testing.T, errs []error, want map[int]error) {
	t.Helper()
	for n, err := range errs {
		w, named := want[n]
		k, isKind := w.(kind)
		switch {
		case !named && err != nil:
			t.Errorf("caller %d: %v", n, err)
		case isKind && malipo.KindOf(err) != malipo.Kind(k):
			t.Errorf("caller %d: %v, want an error of kind %s", n, err, string(k))
		case named && !isKind && !errors.Is(err, w):
			t.Errorf("caller %d: %v, want %v", n, err, w)
		}
	}
}

// kind stands for any error of its kind, in wantErrors.
type kind malipo.Kind

func (k kind) Error() string { return "an error of kind " + string(k) }
