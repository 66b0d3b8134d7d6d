package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

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
	release := make(chan struct{})
	var released sync.Once
	unblock := func() { released.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the store's Close, which waits for them
	var blocked []chan error
	for range postgres.Dialect.Committers {
		// One at a time: a committer running a batch takes no more units,
		// so each next one goes to a committer still free.
		started, done := make(chan struct{}), make(chan error, 1)
		go func() {
			done <- s.Transact(ctx, func(tx store.Tx) error {
				close(started)
				<-release
				return nil
			})
		}()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("a committer did not take a write")
		}
		blocked = append(blocked, done)
	}
	queued := make(chan error, 1)
	go func() {
		queued <- s.Transact(ctx, func(tx store.Tx) error { _, err := tx.CountMerchants(); return err })
	}()

	leased := make(chan error, 1)
	go func() {
		leased <- s.Lease(ctx, func(tx store.Tx) error {
			_, err := tx.LeaseDueDeliveries(time.Now(), time.Now().Add(time.Minute), 10)
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
	unblock()
	for _, done := range append(blocked, queued) {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
