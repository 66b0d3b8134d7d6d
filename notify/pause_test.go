package notify

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newReceivers() *receivers {
	return &receivers{failuresToPause: 3, pauseFor: 30 * time.Second, maxPause: 2 * time.Minute}
}

// mustAdmit fails unless an attempt to rcv may go at at, and reports
// whether it is a trial.
func mustAdmit(t *testing.T, r *receivers, rcv string, at time.Time) bool {
	t.Helper()
	trial, err := r.admit(rcv, at)
	if err != nil {
		t.Fatalf("admit at %s: %v", at.Sub(t0), err)
	}
	return trial
}

// mustRefuse fails unless an attempt to rcv at at is refused, and returns
// the refusal.
func mustRefuse(t *testing.T, r *receivers, rcv string, at time.Time) *PausedError {
	t.Helper()
	_, err := r.admit(rcv, at)
	var p *PausedError
	if !errors.As(err, &p) {
		t.Fatalf("admit at %s = %v; want a pause", at.Sub(t0), err)
	}
	return p
}

func TestAReceiverPausesAfterFailuresInARowAndBacksOff(t *testing.T) {
	r := newReceivers()
	const rcv = "https://shop.example"
	at := t0
	for i := range 3 {
		mustAdmit(t, r, rcv, at)
		paused, _ := r.done(rcv, false, unanswered, at)
		if paused != (i == 2) {
			t.Fatalf("failure %d paused = %v", i+1, paused)
		}
	}
	if p := mustRefuse(t, r, rcv, at.Add(29*time.Second)); !p.Until.Equal(t0.Add(30*time.Second)) || p.Failures != 3 || p.Trying {
		t.Errorf("pause = %+v; want until 30 s after the third failure", p)
	}
	if !strings.Contains(mustRefuse(t, r, rcv, at).Error(), "paused until 2026-03-01T09:00:30Z") {
		t.Errorf("the error does not say until when")
	}
	if n := r.paused(at); n != 1 {
		t.Errorf("paused = %d; want 1", n)
	}

	// Each trial that fails pauses it twice as long, up to the longest.
	for _, pause := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 2 * time.Minute} {
		at = at.Add(pause)
		if !mustAdmit(t, r, rcv, at) {
			t.Fatalf("the first attempt after the pause is not a trial")
		}
		if p := mustRefuse(t, r, rcv, at); !p.Trying || !strings.Contains(p.Error(), "one attempt is trying it") {
			t.Errorf("second attempt during a trial = %v; want refused while the trial goes", p)
		}
		r.done(rcv, true, unanswered, at)
	}
	if p := mustRefuse(t, r, rcv, at.Add(2*time.Minute-time.Nanosecond)); !p.Until.Equal(at.Add(2 * time.Minute)) {
		t.Errorf("pause until %s; want the longest, 2 min", p.Until.Sub(at))
	}

	// A trial that gets an answer ends it.
	at = at.Add(2 * time.Minute)
	trial := mustAdmit(t, r, rcv, at)
	if _, resumed := r.done(rcv, trial, answered, at); !resumed {
		t.Errorf("an answered trial did not resume it")
	}
	if mustAdmit(t, r, rcv, at) || r.paused(at) != 0 || len(r.by) != 0 {
		t.Errorf("after an answer: still tracked (%d entries)", len(r.by))
	}
}

func TestAnAnswerInBetweenStartsTheCountAgain(t *testing.T) {
	r := newReceivers()
	const rcv = "https://shop.example"
	for _, o := range []outcome{unanswered, unanswered, answered, unanswered, unanswered, unknown} {
		mustAdmit(t, r, rcv, t0)
		if paused, _ := r.done(rcv, false, o, t0); paused {
			t.Fatalf("paused after an answer two failures ago")
		}
	}
	mustAdmit(t, r, rcv, t0)
}

func TestFailuresOfAttemptsStartedBeforeAPauseDoNotLengthenIt(t *testing.T) {
	r := newReceivers()
	const rcv = "https://shop.example"
	for range 3 {
		r.done(rcv, false, unanswered, t0)
	}
	// Attempts admitted before the pause come back failed during it and
	// after it, before any trial.
	r.done(rcv, false, unanswered, t0.Add(10*time.Second))
	r.done(rcv, false, unanswered, t0.Add(40*time.Second))
	if !mustAdmit(t, r, rcv, t0.Add(40*time.Second)) {
		t.Errorf("no trial once the first pause is over")
	}
}

func TestATrialCutShortLetsAnotherTry(t *testing.T) {
	r := newReceivers()
	const rcv = "https://shop.example"
	for range 3 {
		r.done(rcv, false, unanswered, t0)
	}
	at := t0.Add(30 * time.Second)
	trial := mustAdmit(t, r, rcv, at)
	r.done(rcv, trial, unknown, at)
	if !mustAdmit(t, r, rcv, at) {
		t.Errorf("after a trial cut short, the next attempt is not a trial")
	}
}

func TestReceiversNobodyTriesAreForgotten(t *testing.T) {
	r := newReceivers()
	r.done("https://gone.example", false, unanswered, t0)
	for range 3 {
		r.done("https://deleted.example", false, unanswered, t0)
	}
	r.done("https://other.example", false, unanswered, t0.Add(3*time.Minute))
	if _, ok := r.by["https://other.example"]; !ok || len(r.by) != 1 {
		t.Errorf("tracked after 3 min: %v; want only the receiver that just failed", r.by)
	}
	if n := r.paused(t0.Add(3 * time.Minute)); n != 0 {
		t.Errorf("paused = %d; want 0", n)
	}
}

func TestAReceiverIsItsSchemeAndHost(t *testing.T) {
	for raw, want := range map[string]string{
		"https://Shop.Example/hooks/a?token=x": "https://shop.example",
		"https://shop.example:8443/b":          "https://shop.example:8443",
		"http://shop.example/c":                "http://shop.example",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := receiverOf(u); got != want {
			t.Errorf("receiverOf(%s) = %s; want %s", raw, got, want)
		}
	}
}

// pace reports the attempts finished a second over the last window of at
// least paceWindow, and keeps it until the next window has run.
func TestPaceCountsOverItsWindow(t *testing.T) {
	var p pace
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if r := p.perSecond(at); r != 0 {
		t.Errorf("before any window: %v", r)
	}
	for range 30 {
		p.add()
	}
	if r := p.perSecond(at.Add(paceWindow / 2)); r != 0 {
		t.Errorf("half a window on: %v, want 0 until the window ends", r)
	}
	if r := p.perSecond(at.Add(paceWindow * 3 / 2)); r != 200 {
		t.Errorf("30 attempts in 150 ms: %v a second, want 200", r)
	}
	p.add()
	if r := p.perSecond(at.Add(2 * paceWindow)); r != 200 {
		t.Errorf("within the next window: %v, want the last window's 200", r)
	}
	if r := p.perSecond(at.Add(5 * paceWindow / 2)); r != 10 {
		t.Errorf("1 attempt in 100 ms: %v a second, want 10", r)
	}
}
