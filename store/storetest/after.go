package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// testAfterCommit: what a transaction function asks to run after commit
// runs once its work is committed and seen by others, once however often
// the function ran, and never for work that was undone.
func testAfterCommit(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	ctx := context.Background()
	seen := func(id string) bool {
		err := s.Read(ctx, func(tx store.Tx) error {
			_, err := tx.GetPayment(id)
			return err
		})
		return err == nil
	}

	t.Run("alone", func(t *testing.T) {
		var ran, committed atomic.Int32
		must(t, s.Transact(ctx, func(tx store.Tx) error {
			tx.AfterCommit(func() {
				ran.Add(1)
				if seen("pay_alone") {
					committed.Add(1)
				}
			})
			return tx.CreatePayment(payment(i, "pay_alone", "alone"))
		}))
		if ran.Load() != 1 || committed.Load() != 1 {
			t.Errorf("ran %d times, %d of them after the payment was committed; want once, after", ran.Load(), committed.Load())
		}
	})

	t.Run("failed", func(t *testing.T) {
		var ran atomic.Int32
		boom := errors.New("boom")
		err := s.Transact(ctx, func(tx store.Tx) error {
			tx.AfterCommit(func() { ran.Add(1) })
			return boom
		})
		if !errors.Is(err, boom) || ran.Load() != 0 {
			t.Errorf("Transact = %v, ran %d times; want boom, never", err, ran.Load())
		}
	})

	t.Run("lease and read", func(t *testing.T) {
		var leased, read, readFailed atomic.Int32
		must(t, s.Lease(ctx, func(tx store.Tx) error {
			tx.AfterCommit(func() { leased.Add(1) })
			return tx.CreatePayment(payment(i, "pay_lease", "lease"))
		}))
		must(t, s.Read(ctx, func(tx store.Tx) error {
			tx.AfterCommit(func() { read.Add(1) })
			return nil
		}))
		s.Read(ctx, func(tx store.Tx) error {
			tx.AfterCommit(func() { readFailed.Add(1) })
			return errors.New("boom")
		})
		if leased.Load() != 1 || read.Load() != 1 || readFailed.Load() != 0 {
			t.Errorf("after a lease ran %d times, after a read %d, after a failed read %d; want 1, 1, 0",
				leased.Load(), read.Load(), readFailed.Load())
		}
	})

	// In one batch a caller whose reference is taken fails only when the
	// batch writes its held rows, after every caller ran: the batch runs
	// again, each caller in a savepoint. The others' functions run twice;
	// what they asked for runs once.
	t.Run("batch run again", func(t *testing.T) {
		must(t, s.Transact(ctx, func(tx store.Tx) error { return tx.CreatePayment(payment(i, "pay_taken", "taken")) }))
		const callers = 6
		var runs, ran [callers]atomic.Int32
		var fns []func(tx store.Tx) error
		for k := range callers {
			fns = append(fns, func(tx store.Tx) error {
				runs[k].Add(1)
				tx.AfterCommit(func() { ran[k].Add(1) })
				ref := fmt.Sprintf("batch-%d", k)
				if k == 3 {
					ref = "taken"
				}
				if k == 4 {
					tx.AfterCommit(func() { ran[k].Add(1) }) // both run
				}
				return tx.CreatePayment(payment(i, fmt.Sprintf("pay_batch_%d", k), ref))
			})
		}
		errs := inOneBatch(t, s, fns...)
		wantErrors(t, errs, map[int]error{3: malipo.ErrReferenceInUse})
		if runs[0].Load() < 2 {
			t.Fatalf("the first caller ran %d times: the batch did not run again, so this shows nothing", runs[0].Load())
		}
		for k := range callers {
			want := int32(1)
			switch k {
			case 3:
				want = 0
			case 4:
				want = 2
			}
			if got := ran[k].Load(); got != want {
				t.Errorf("caller %d (ran %d times): what it asked ran %d times, want %d", k, runs[k].Load(), got, want)
			}
		}
	})
}
