package sqlite_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/sqlstore"
	"github.com/malipo/malipo/store/storetest"
)

// While writes stand in the committer's queue (over 64 waiting, and the
// latest taken waited longer than the target), a request's first write is
// refused at once; unmarked work still queues; once the queue drains,
// requests are taken again. SQLite has one committer, which the test
// holds.
func TestStandingQueueRefusesNewRequests(t *testing.T) {
	st := storetest.SQLite(t).(*sqlstore.DB)
	st.SetQueueTarget(20 * time.Millisecond)
	ctx := context.Background()
	hold := func() (running, release chan struct{}, done chan error) {
		running, release, done = make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- st.Transact(ctx, func(store.Tx) error { close(running); <-release; return nil })
		}()
		return running, release, done
	}
	runningA, releaseA, doneA := hold()
	<-runningA
	runningB, releaseB, doneB := hold() // queued behind A
	time.Sleep(40 * time.Millisecond)   // B waits longer than the target
	close(releaseA)
	<-runningB // the committer took B after its wait, and is held again
	if st.Overloaded() {
		t.Fatal("overloaded with nothing queued")
	}

	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if err := st.Transact(ctx, func(store.Tx) error { return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	for deadline := time.Now().Add(5 * time.Second); !st.Overloaded(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("100 queued writes behind a held committer do not count as overloaded")
		}
	}
	start := time.Now()
	err := st.Transact(store.Shedding(ctx), func(store.Tx) error { return nil })
	if !errors.Is(err, malipo.ErrBusy) || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("a new request while the queue stands: %v after %s", err, time.Since(start))
	}
	if st.Shed() != 1 {
		t.Errorf("Shed() = %d", st.Shed())
	}

	close(releaseB)
	wg.Wait()
	if err := errors.Join(<-doneA, <-doneB); err != nil {
		t.Fatal(err)
	}
	if err := st.Transact(store.Shedding(ctx), func(store.Tx) error { return nil }); err != nil {
		t.Errorf("a request once the queue drained: %v", err)
	}
}

// The committer empties its queue into one large batch, so a node whose
// writes wait in slow batches can have a short queue: many writes pending
// while the latest batch's newest write took longer than the target to
// commit counts as overload too.
func TestSlowBatchesRefuseNewRequests(t *testing.T) {
	st := storetest.SQLite(t).(*sqlstore.DB)
	st.SetQueueTarget(20 * time.Millisecond)
	ctx := context.Background()
	runningA, releaseA := make(chan struct{}), make(chan struct{})
	doneA := make(chan error, 1)
	go func() {
		doneA <- st.Transact(ctx, func(store.Tx) error { close(runningA); <-releaseA; return nil })
	}()
	<-runningA
	// C heads the next batch and holds it; 99 more wait in the queue.
	runningC, releaseC := make(chan struct{}), make(chan struct{})
	doneC := make(chan error, 1)
	go func() {
		doneC <- st.Transact(ctx, func(store.Tx) error { close(runningC); <-releaseC; return nil })
	}()
	time.Sleep(10 * time.Millisecond)
	var wg sync.WaitGroup
	for range 99 {
		wg.Go(func() {
			if err := st.Transact(ctx, func(store.Tx) error { return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(40 * time.Millisecond) // A's batch takes longer than the target
	close(releaseA)
	<-runningC // the committer took the whole queue into C's batch
	if !st.Overloaded() {
		t.Fatal("100 writes pending behind a batch slower than the target do not count as overloaded")
	}
	if err := st.Transact(store.Shedding(ctx), func(store.Tx) error { return nil }); !errors.Is(err, malipo.ErrBusy) {
		t.Fatalf("a new request while batches are slow: %v", err)
	}
	close(releaseC)
	wg.Wait()
	if err := errors.Join(<-doneA, <-doneC); err != nil {
		t.Fatal(err)
	}
	if err := st.Transact(store.Shedding(ctx), func(store.Tx) error { return nil }); err != nil {
		t.Errorf("a request once the writes are done: %v", err)
	}
}
