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
//
// Attempts under way count against the budget until they are known good,
// so that a burst of guesses cannot all slip under it; an attempt that
// finds the budget taken only by attempts under way waits (up to a second)
// for them to be known. An address whose key worked within the last
// minute, with no failure since, is in good standing: its attempts under
// way are not counted ahead (up to 1024 at once), so a merchant's busy
// server may send many requests at once. Passwords are always counted
// ahead.

// Defaults for the authentication throttle (see Config).
const (
	DefaultAuthFailures      = 20
	DefaultAuthFailureRefill = 6 * time.Second
	maxThrottled             = 100_000 // addresses tracked at once, so the table itself cannot be a way to exhaust memory
	goodStanding             = time.Minute
	maxGoodInFlight          = 1024
	maxAuthWait              = time.Second
)

type bucket struct {
	failures  float64 // spent budget, decaying by one per refill interval
	at        time.Time
	ahead     int       // attempts under way counted against the budget
	pending   int       // attempts under way in good standing, not counted
	goodUntil time.Time // the address is in good standing until then
	changed   chan struct{}
}

// resolved wakes the attempts waiting on b; the throttle's lock is held.
func (b *bucket) resolved() {
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
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
// spent its budget; otherwise it counts the attempt (see above) and
// returns done, to be called with the verdict.
func (s *Service) AuthBegin(addr netip.Addr) (done func(failed bool), err error) {
	return s.authBegin(addr, true)
}

// authBegin is AuthBegin; with standing false (passwords), attempts are
// always counted ahead.
func (s *Service) authBegin(addr netip.Addr, standing bool) (done func(failed bool), err error) {
	t := &s.throttle
	k := authKey(addr)
	refused := &malipo.Error{Kind: malipo.KindRateLimited, Code: malipo.CodeTooManyAuthFailures,
		Message: "too many failed authentications from your address: wait a minute before trying again"}
	var timeout <-chan time.Time
	t.mu.Lock()
	for {
		now := s.now()
		b := t.bucket(s, k, now)
		if b == nil { // the table is full: count nothing rather than grow
			t.mu.Unlock()
			return func(bool) {}, nil
		}
		spent := s.spent(b, now)
		if spent >= float64(s.cfg.AuthFailures) {
			t.mu.Unlock()
			return nil, refused
		}
		if standing && spent == 0 && b.goodUntil.After(now) {
			if b.pending >= maxGoodInFlight {
				t.mu.Unlock()
				return nil, &malipo.Error{Kind: malipo.KindRateLimited, Code: malipo.CodeTooManyAuthFailures,
					Message: "too many requests from your address at once: wait for some answers before sending more"}
			}
			b.pending++
			t.mu.Unlock()
			return func(failed bool) { t.resolve(s, b, &b.pending, failed) }, nil
		}
		if spent+float64(b.ahead) < float64(s.cfg.AuthFailures) {
			b.ahead++
			t.mu.Unlock()
			return func(failed bool) { t.resolve(s, b, &b.ahead, failed) }, nil
		}
		// The budget is taken by attempts under way: wait to learn how
		// they end.
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		t.mu.Unlock()
		if timeout == nil {
			timeout = time.After(maxAuthWait)
		}
		select {
		case <-changed:
		case <-timeout:
			return nil, refused
		}
		t.mu.Lock()
	}
}

// bucket returns k's bucket, made if need be, forgetting now and then the
// addresses whose budget is whole again; nil when the table is full.
// The throttle's lock is held.
func (t *throttle) bucket(s *Service, k netip.Prefix, now time.Time) *bucket {
	if t.buckets == nil {
		t.buckets = map[netip.Prefix]*bucket{}
	}
	if now.Sub(t.sweep) > time.Minute || len(t.buckets) >= maxThrottled {
		for key, b := range t.buckets {
			if s.spent(b, now) == 0 && b.ahead == 0 && b.pending == 0 && !b.goodUntil.After(now) {
				delete(t.buckets, key)
			}
		}
		t.sweep = now
	}
	b := t.buckets[k]
	if b == nil {
		if len(t.buckets) >= maxThrottled {
			return nil
		}
		b = &bucket{}
		t.buckets[k] = b
	}
	return b
}

// resolve records how an attempt under way ended: a failure spends the
// budget, a success puts the address in good standing.
func (t *throttle) resolve(s *Service, b *bucket, under *int, failed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	*under--
	now := s.now()
	if failed {
		b.failures, b.at = s.spent(b, now)+1, now
		b.goodUntil = time.Time{}
	} else {
		b.goodUntil = now.Add(goodStanding)
	}
	b.resolved()
}
