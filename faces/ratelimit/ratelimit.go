// Package ratelimit counts each caller's requests per second, for the
// provider faces whose providers refuse floods (CinetPay's and ClickPay's
// 429).
package ratelimit

import (
	"sync"
	"time"
)

// PerSecond allows each key Limit requests per clock second.
type PerSecond struct {
	Limit int

	mu     sync.Mutex
	second int64
	counts map[string]int
}

// Allow counts one request for key at now and reports whether it is
// within the limit.
func (l *PerSecond) Allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := now.Unix(); s != l.second || l.counts == nil {
		l.second, l.counts = s, map[string]int{}
	}
	l.counts[key]++
	return l.counts[key] <= l.Limit
}
