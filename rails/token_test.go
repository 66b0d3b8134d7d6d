package rails_test

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/malipo/malipo/rails"
)

func TestTokenIsKeptUntilItsRenewal(t *testing.T) {
	var tok rails.Token
	var fetches atomic.Int32
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	fetch := func() (string, time.Time, error) {
		n := fetches.Add(1)
		time.Sleep(10 * time.Millisecond)
		return string(rune('a' + n)), now.Add(time.Minute), nil
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if v, err := tok.Get(now, fetch); v != "b" || err != nil {
				t.Errorf("Get = %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches for 10 concurrent callers, want 1", n)
	}
	if v, _ := tok.Get(now.Add(time.Minute), fetch); v != "c" {
		t.Errorf("at its renewal: %q, want a new token", v)
	}
	tok.Forget()
	if v, _ := tok.Get(now, fetch); v != "d" {
		t.Errorf("after Forget: %q, want a new token", v)
	}
	if _, err := tok.Get(now.Add(time.Hour), func() (string, time.Time, error) { return "", time.Time{}, errors.New("refused") }); err == nil {
		t.Error("a refused fetch gave a token")
	}
}

func TestExpiresIn(t *testing.T) {
	for raw, want := range map[string]time.Duration{`3599`: 3599 * time.Second, `"180"`: 180 * time.Second, `""`: time.Hour,
		`0`: time.Hour, `-5`: time.Hour, `"soon"`: time.Hour, ``: time.Hour} {
		if got := rails.ExpiresIn(json.RawMessage(raw), time.Hour); got != want {
			t.Errorf("ExpiresIn(%s) = %s, want %s", raw, got, want)
		}
	}
}
