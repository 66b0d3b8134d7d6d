package clock

import (
	"testing"
	"time"
)

func TestFakeRunsTimersInOrder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFake(start)
	var got []int
	var at []time.Time
	c.AfterFunc(2*time.Hour, func() { got = append(got, 2); at = append(at, c.Now()) })
	c.AfterFunc(time.Hour, func() { got = append(got, 1); at = append(at, c.Now()) })
	stopped := c.AfterFunc(90*time.Minute, func() { got = append(got, 99) })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer = false")
	}
	c.Advance(30 * time.Minute)
	if len(got) != 0 {
		t.Fatalf("timers ran early: %v", got)
	}
	c.Advance(3 * time.Hour)
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("ran %v, want [1 2]", got)
	}
	if !at[0].Equal(start.Add(time.Hour)) || !at[1].Equal(start.Add(2*time.Hour)) {
		t.Errorf("timers saw times %v", at)
	}
	if !c.Now().Equal(start.Add(210 * time.Minute)) {
		t.Errorf("Now = %v", c.Now())
	}
}

func TestFakeTimerScheduledFromTimer(t *testing.T) {
	c := NewFake(time.Unix(0, 0))
	n := 0
	var tick func()
	tick = func() {
		n++
		if n < 5 {
			c.AfterFunc(time.Minute, tick)
		}
	}
	c.AfterFunc(time.Minute, tick)
	c.Advance(time.Hour)
	if n != 5 {
		t.Errorf("chained timer ran %d times, want 5", n)
	}
}
