package rails

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Token keeps an operator's access token until it is due for renewal.
// The zero value is empty and ready to use.
type Token struct {
	mu      sync.Mutex
	value   string
	renewAt time.Time
}

// Get returns the kept token if now is before its renewal, or asks fetch
// for a new one, which says when that one is due for renewal. Callers
// arriving during a fetch wait for it rather than fetch again.
func (t *Token) Get(now time.Time, fetch func() (token string, renewAt time.Time, err error)) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.value != "" && now.Before(t.renewAt) {
		return t.value, nil
	}
	value, renewAt, err := fetch()
	if err != nil {
		return "", err
	}
	t.value, t.renewAt = value, renewAt
	return value, nil
}

// Forget drops the kept token: the operator no longer takes it.
func (t *Token) Forget() {
	t.mu.Lock()
	t.value = ""
	t.mu.Unlock()
}

// ExpiresIn reads a token answer's expires_in, which operators write as a
// number of seconds or as a string of one ("3599"); fallback when it is
// missing or not positive.
func ExpiresIn(raw json.RawMessage, fallback time.Duration) time.Duration {
	secs, err := strconv.Atoi(strings.Trim(strings.TrimSpace(string(raw)), `"`))
	if err != nil || secs <= 0 {
		return fallback
	}
	return time.Duration(secs) * time.Second
}
