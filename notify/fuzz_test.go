package notify

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzRetryAfter feeds the Retry-After header of any receiver's answer:
// seconds or an HTTP date. It never holds a delivery less than nothing or
// longer than a day, and reads whole seconds exactly.
func FuzzRetryAfter(f *testing.F) {
	for _, h := range []string{"120", " 5 ", "Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 01 Mar 2026 09:01:00 GMT",
		"-3", "99999999999999999999", "1.5", ""} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		d := retryAfter(h, t0)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("retryAfter(%q) = %s", h, d)
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64); err == nil && n >= 0 && n <= 86400 && d != time.Duration(n)*time.Second {
			t.Fatalf("retryAfter(%q) = %s, want %d s", h, d, n)
		}
	})
}
