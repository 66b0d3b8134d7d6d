package gateway

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/sqlite"
)

// testStore counts a store's reads, and fails the next application of a
// rail's outcome when told to, as a database hiccup would.
type testStore struct {
	store.Store
	reads       atomic.Int64
	failOutcome atomic.Bool
}

func (c *testStore) Read(ctx context.Context, fn func(tx store.Tx) error) error {
	c.reads.Add(1)
	return c.Store.Read(ctx, fn)
}

func (c *testStore) Transact(ctx context.Context, fn func(tx store.Tx) error, hints ...store.Hint) error {
	if len(hints) > 0 && hints[0].RailAttempt != "" && c.failOutcome.CompareAndSwap(true, false) {
		return errors.New("the database went away")
	}
	return c.Store.Transact(ctx, fn, hints...)
}

// awaiting is a service whose sandbox payout network answers after 10 s
// on a fake clock, a funded merchant's test integration, and a payout
// sent and not answered yet.
func awaiting(t *testing.T) (*Service, *clock.Fake, *testStore, malipo.Integration, malipo.Payout) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "await.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	counted := &testStore{Store: st}
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	sb := sandbox.New(counted, clk, 0, nil)
	sb.Payouts.Delay = 10 * time.Second
	svc := New(Config{Store: counted, Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: "http://pay.test",
		Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
	sb.Connect(svc)
	m, err := svc.CreateMerchant(ctx, "Duka", "")
	if err != nil {
		t.Fatal(err)
	}
	in, _, err := svc.CreateIntegration(ctx, IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Topup(ctx, in, 100_000, "XOF"); err != nil {
		t.Fatal(err)
	}
	p, _, err := svc.CreatePayout(ctx, in, PayoutInput{Amount: 10_000, Currency: "XOF", Reference: "po-1",
		Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: "+2250707120009"}}, Idempotency{})
	if err != nil || p.Status != malipo.PayoutProcessing {
		t.Fatalf("payout: %+v, %v", p, err)
	}
	return svc, clk, counted, in, p
}

// awaitInBackground calls AwaitPayout for p, with its polling slowed to
// an hour, and returns once it waits: what it returns comes on the
// channel.
func awaitInBackground(t *testing.T, svc *Service, in malipo.Integration, p malipo.Payout) <-chan malipo.Payout {
	t.Helper()
	svc.poll = backoff{first: time.Hour, max: time.Hour}
	got := make(chan malipo.Payout, 1)
	go func() {
		p, err := svc.AwaitPayout(context.Background(), in, p.ID, 24*time.Hour)
		if err != nil {
			t.Error(err)
		}
		got <- p
	}()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		svc.ended.mu.Lock()
		n := len(svc.ended.waiting[p.ID])
		svc.ended.mu.Unlock()
		if n == 1 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatal("AwaitPayout never waited")
		}
	}
}

// wantSucceeded waits for what AwaitPayout returns: the payout succeeded,
// and nobody left waiting.
func wantSucceeded(t *testing.T, svc *Service, got <-chan malipo.Payout) {
	t.Helper()
	select {
	case done := <-got:
		if done.Status != malipo.PayoutSucceeded {
			t.Errorf("AwaitPayout returned the payout %s, want succeeded", done.Status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AwaitPayout was not told of the payout's outcome")
	}
	svc.ended.mu.Lock()
	defer svc.ended.mu.Unlock()
	if len(svc.ended.waiting) != 0 {
		t.Errorf("waiters left behind: %v", svc.ended.waiting)
	}
}

// AwaitPayout is told when its payout's outcome is applied on this node:
// with its polling slowed to an hour, it still returns once the sandbox
// network's answer comes.
func TestAwaitPayoutIsToldOfItsOutcome(t *testing.T) {
	svc, clk, _, in, p := awaiting(t)
	got := awaitInBackground(t, svc, in, p)
	clk.Advance(10 * time.Second) // the sandbox network answers
	wantSucceeded(t, svc, got)
}

// So it is when the outcome could not be applied at first, and is applied
// later from the inbox.
func TestAwaitPayoutIsToldOfAnOutcomeAppliedLater(t *testing.T) {
	svc, clk, st, in, p := awaiting(t)
	got := awaitInBackground(t, svc, in, p)
	st.failOutcome.Store(true)
	clk.Advance(10 * time.Second) // the answer comes as the database fails
	if st.failOutcome.Load() {
		t.Fatal("no outcome was applied")
	}
	clk.Advance(time.Minute)
	if n, err := svc.ApplyInbox(context.Background(), 10); n != 1 || err != nil {
		t.Fatalf("ApplyInbox = %d, %v", n, err)
	}
	wantSucceeded(t, svc, got)
}

// Waiting for an outcome that is not applied on this node, AwaitPayout
// still looks, but less and less often: a few reads a second, not fifty.
func TestAwaitPayoutPollsLessAndLess(t *testing.T) {
	svc, _, counted, in, p := awaiting(t)
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	before := counted.reads.Load()
	got, err := svc.AwaitPayout(ctx, in, p.ID, 24*time.Hour)
	reads := counted.reads.Load() - before
	if err != nil || got.Status != malipo.PayoutProcessing {
		t.Fatalf("AwaitPayout: %+v, %v", got, err)
	}
	// 0, 20, 60, 140, 300, 620 and 1,120 ms: seven.
	if reads < 4 || reads > 10 {
		t.Errorf("AwaitPayout read the store %d times in 1.2 s, want about seven", reads)
	}
}
