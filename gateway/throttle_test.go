package gateway_test

import (
	"math/rand"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/store/storetest"
)

// begins starts n authentications from addr at once and returns, once each
// has its answer, the done functions of those let through and how many
// were refused.
func begins(svc *gateway.Service, addr netip.Addr, n int) (dones []func(bool), refused int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			done, err := svc.AuthBegin(addr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused++
			} else {
				dones = append(dones, done)
			}
		})
	}
	wg.Wait()
	return dones, refused
}

// Attempts under way count against an address's budget until they are
// known: a burst of guesses gets the budget and no more, while a merchant
// whose first requests succeed may then send many at once.
func TestThrottleCountsBurstsUnlessInGoodStanding(t *testing.T) {
	st := storetest.SQLite(t)
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, rand.New(rand.NewSource(3))), AuthFailures: 20})

	// A guesser's burst of 100: 20 go through; the rest wait for them, and
	// are refused once those fail.
	guesser := netip.MustParseAddr("203.0.113.7")
	var through []func(bool)
	var refused int
	var wg sync.WaitGroup
	wg.Go(func() { through, refused = begins(svc, guesser, 20) })
	wg.Wait()
	if len(through) != 20 || refused != 0 {
		t.Fatalf("the first 20: %d through, %d refused", len(through), refused)
	}
	var late []func(bool)
	var lateRefused int
	wg.Go(func() { late, lateRefused = begins(svc, guesser, 80) })
	time.Sleep(50 * time.Millisecond) // they wait
	start := time.Now()
	for _, done := range through {
		done(true)
	}
	wg.Wait()
	if len(late) != 0 || lateRefused != 80 || time.Since(start) > 500*time.Millisecond {
		t.Errorf("after 20 failures: %d more through, %d refused, in %s", len(late), lateRefused, time.Since(start))
	}

	// A merchant's server starts with 200 requests at once: 20 go through,
	// the rest wait; the first success lets them all through.
	merchant := netip.MustParseAddr("198.51.100.1")
	first, _ := begins(svc, merchant, 20)
	var rest []func(bool)
	var restRefused int
	wg.Go(func() { rest, restRefused = begins(svc, merchant, 180) })
	time.Sleep(50 * time.Millisecond)
	first[0](false)
	wg.Wait()
	if len(rest) != 180 || restRefused != 0 {
		t.Fatalf("a merchant's burst after its first success: %d through, %d refused", len(rest), restRefused)
	}
	for _, done := range append(first[1:], rest...) {
		done(false)
	}
	// A failure ends the good standing: attempts are counted ahead again,
	// within what is left of the budget.
	one, _ := begins(svc, merchant, 1)
	one[0](true)
	through, _ = begins(svc, merchant, 19)
	if len(through) != 19 {
		t.Fatalf("after a failure: %d of the 19 left went through", len(through))
	}
	start = time.Now()
	if _, err := svc.AuthBegin(merchant); err == nil || time.Since(start) < 900*time.Millisecond {
		t.Errorf("the 20th under way after a failure: %v after %s; want a refusal after waiting a second", err, time.Since(start))
	}
}
