package bench

import (
	"testing"
	"time"
)

// Ticks come no earlier than due, every one of them: those a busy
// consumer was not ready for come at once afterwards instead of being
// dropped, so the rate asked is the rate offered on average.
func TestPaceTicksAtDueTimeAndDropsNone(t *testing.T) {
	const rate, n = 200, 40 // one every 5 ms, 195 ms in all
	start := time.Now()
	tick := Pace(start, rate, n)
	for i := range n {
		<-tick
		if due := start.Add(time.Duration(i) * time.Second / rate); time.Now().Before(due) {
			t.Fatalf("tick %d came %s before it was due", i, due.Sub(time.Now()))
		}
		if i == 0 {
			time.Sleep(150 * time.Millisecond) // busy: thirty ticks fall due meanwhile
		}
	}
	// Due by 195 ms; a ticker would have taken 150 + 39 × 5 = 345.
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Errorf("%d ticks at %d a second, 150 ms of them busy, took %s", n, rate, took)
	}
	select {
	case <-tick:
		t.Error("a tick beyond n")
	case <-time.After(50 * time.Millisecond):
	}
}

// A schedule that started in the past delivers its late ticks at once.
func TestPaceLateTicksGoAtOnce(t *testing.T) {
	start := time.Now().Add(-time.Minute)
	tick := Pace(start, 10, 100) // all due by 10 s after start
	began := time.Now()
	for i := range 100 {
		select {
		case <-tick:
		case <-time.After(2 * time.Second):
			t.Fatalf("tick %d of 100 never came", i)
		}
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("100 overdue ticks took %s", took)
	}
}
