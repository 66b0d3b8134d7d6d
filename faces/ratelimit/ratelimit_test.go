package ratelimit

import (
	"testing"
	"time"
)

func TestPerSecond(t *testing.T) {
	l := &PerSecond{Limit: 2}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if !l.Allow("a", now) || !l.Allow("a", now.Add(500*time.Millisecond)) || l.Allow("a", now.Add(900*time.Millisecond)) {
		t.Error("the third call within a second was allowed, or an earlier one refused")
	}
	if !l.Allow("b", now) {
		t.Error("keys share a count")
	}
	if !l.Allow("a", now.Add(time.Second)) {
		t.Error("a new second does not start afresh")
	}
}
