package shed

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// While the processors are overloaded the share refused grows a step per
// window, never to all; once they recover it falls back to nothing.
func TestShareFollowsSchedulingLatency(t *testing.T) {
	var latency atomic.Int64
	s := New(Config{Sample: func() time.Duration { return time.Duration(latency.Load()) }})
	s.Adjust()
	if s.Share() != 0 {
		t.Fatalf("share %v with no latency", s.Share())
	}
	latency.Store(int64(50 * time.Millisecond))
	s.Adjust()
	s.Adjust()
	if got := s.Share(); got != 0 {
		t.Errorf("after 2 slow windows (a collection, a burst): share %v, want 0", got)
	}
	for range 3 {
		s.Adjust()
	}
	if got := s.Share(); got < 0.29 || got > 0.31 {
		t.Errorf("after 5 overloaded windows: share %v, want 0.3", got)
	}
	for range 20 {
		s.Adjust()
	}
	if got := s.Share(); got != maxShare {
		t.Errorf("after 25 overloaded windows: share %v, want %v", got, maxShare)
	}
	latency.Store(int64(time.Millisecond))
	for range 30 {
		s.Adjust()
	}
	if s.Share() != 0 {
		t.Errorf("after recovering: share %v", s.Share())
	}
}

// After overload the share falls slowly while the latency stays near the
// threshold, where the refusals may be what holds it there, and fast once
// the processors have time to spare, so a node that has recovered does
// not go on refusing what it could serve.
func TestShareFallsFastOnceTheProcessorsAreIdle(t *testing.T) {
	var latency atomic.Int64
	overloaded := func() *Shedder {
		s := New(Config{Sample: func() time.Duration { return time.Duration(latency.Load()) }})
		latency.Store(int64(50 * time.Millisecond))
		for range 8 {
			s.Adjust() // share 0.6
		}
		if got := s.Share(); got < 0.59 || got > 0.61 {
			t.Fatalf("after 8 overloaded windows: share %v, want 0.6", got)
		}
		return s
	}

	s := overloaded()
	latency.Store(int64(15 * time.Millisecond)) // under the threshold of 20, not under a quarter of it
	for range 4 {
		s.Adjust()
	}
	if got := s.Share(); got < 0.39 || got > 0.41 {
		t.Errorf("4 windows near the threshold: share %v, want 0.4 (half a step each)", got)
	}

	s = overloaded()
	latency.Store(int64(2 * time.Millisecond))
	s.Adjust()
	if got := s.Share(); got < 0.29 || got > 0.31 {
		t.Errorf("1 idle window: share %v, want 0.3 (halved)", got)
	}
	for range 4 {
		s.Adjust()
	}
	if got := s.Share(); got != 0 {
		t.Errorf("5 idle windows: share %v, want 0", got)
	}
}

// Refused requests get the face's answer and Retry-After at once; exempt
// ones always go through; requests beyond MaxInFlight are refused.
func TestHandlerRefusesTheShareAndBeyondTheBound(t *testing.T) {
	var latency atomic.Int64
	rnd := 0.5
	s := New(Config{MaxInFlight: 2, Sample: func() time.Duration { return time.Duration(latency.Load()) }, Rand: func() float64 { return rnd }})
	release := make(chan struct{})
	h := s.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		w.WriteHeader(200)
	}), func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, func(r *http.Request) bool { return r.URL.Path == "/healthz" })
	do := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, nil))
		return rec
	}
	if rec := do("/v1/payments"); rec.Code != 200 {
		t.Fatalf("no load: %d", rec.Code)
	}
	latency.Store(int64(time.Second))
	for range 8 {
		s.Adjust() // share 0.6 (the first two windows do not count)
	}
	if rec := do("/v1/payments"); rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("overloaded, drawn 0.5 < 0.6: %d %v", rec.Code, rec.Header())
	}
	if rec := do("/healthz"); rec.Code != 200 {
		t.Errorf("an exempt request was refused")
	}
	rnd = 0.7
	if rec := do("/v1/payments"); rec.Code != 200 {
		t.Errorf("overloaded, drawn 0.7 ≥ 0.6: %d", rec.Code)
	}
	latency.Store(0)
	for range 20 {
		s.Adjust()
	}
	done := make(chan struct{})
	for range 2 {
		go func() { do("/slow"); done <- struct{}{} }()
	}
	for s.inFlight.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	if rec := do("/v1/payments"); rec.Code != 503 {
		t.Errorf("beyond MaxInFlight: %d", rec.Code)
	}
	close(release)
	<-done
	<-done
	if s.Refused() != 2 {
		t.Errorf("Refused() = %d", s.Refused())
	}
}

// The scheduling latency is read from the runtime, as a p99 per window.
func TestSchedLatencyReadsTheRuntime(t *testing.T) {
	sample := schedLatency()
	sample()
	if d := sample(); d < 0 || d > time.Second {
		t.Errorf("p99 of an idle window: %s", d)
	}
	if got := p99([]uint64{0, 98, 1, 1}, []float64{0, 0.001, 0.002, 0.004, 0.008}, 100); got != 2*time.Millisecond {
		t.Errorf("p99 = %s, want 2ms", got)
	}
}
