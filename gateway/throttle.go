package gateway

import (
	"net/netip"
	"sync"
	"time"

	"github.com/malipo/malipo"
)

// How failed authentications are throttled.
//
// Each client address has a budget of failures that refills slowly (a
// token bucket). While its budget is spent, every authentication from that
// address is refused with 429 before any key is looked at, so guessing
// keys, passwords or iPay hashes goes no faster than the refill; other
// addresses, and good keys that do not fail, never wait. IPv6 clients are
// counted per /64, which one subscriber usually holds whole. The budget is
// per node: n nodes allow n times as many guesses.

// Defaults for the authentication throttle (see Config).
const (
	DefaultAuthFailures      = 20
	DefaultAuthFailureRefill = 6 * time.Second
	maxThrottled             = 100_000 // addresses tracked at once, so the table itself cannot be a way to exhaust memory
)

type bucket struct {
	failures float64 // spent budget, decaying by one per refill interval
	at       time.Time
}

type throttle struct {
	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
	sweep   time.Time
}

// authKey is what the throttle counts an address under.
func authKey(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	if addr.Is4() || !addr.IsValid() {
		return netip.PrefixFrom(addr, addr.BitLen())
	}
	p, _ := addr.Prefix(64)
	return p
}

// spent returns a bucket's spent budget at now.
func (s *Service) spent(b *bucket, now time.Time) float64 {
	return max(0, b.failures-float64(now.Sub(b.at))/float64(s.cfg.AuthFailureRefill))
}

// AuthBegin is called before a request's credentials are checked. It
// refuses, with a rate_limited error, an address whose failures have
// spent its budget; otherwise it counts the attempt as a failure ahead of
// time (so that many attempts at once cannot all slip under the budget)
// and returns done, to be called with the verdict: done(false) gives the
// count back.
func (s *Service) AuthBegin(addr netip.Addr) (done func(failed bool), err error) {
	t := &s.throttle
	now := s.now()
	k := authKey(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	if b := t.buckets[k]; b != nil && s.spent(b, now) >= float64(s.cfg.AuthFailures) {
		return nil, &malipo.Error{Kind: malipo.KindRateLimited, Code: malipo.CodeTooManyAuthFailures,
			Message: "too many failed authentications from your address: wait a minute before trying again"}
	}
	if t.buckets == nil {
		t.buckets = map[netip.Prefix]*bucket{}
	}
	if now.Sub(t.sweep) > time.Minute || len(t.buckets) >= maxThrottled {
		for key, b := range t.buckets { // forget addresses whose budget is whole again
			if s.spent(b, now) == 0 {
				delete(t.buckets, key)
			}
		}
		t.sweep = now
	}
	b := t.buckets[k]
	if b == nil {
		if len(t.buckets) >= maxThrottled {
			return func(bool) {}, nil
		}
		b = &bucket{}
		t.buckets[k] = b
	}
	b.failures, b.at = s.spent(b, now)+1, now
	return func(failed bool) {
		if failed {
			return
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		b.failures = max(0, b.failures-1)
	}, nil
}
