// Package shed keeps a node's answers fast when more requests arrive than
// its processors can serve. It watches how long runnable goroutines wait
// for a processor (the Go scheduler's latency, which waiting on a
// database, a rail or a receiver does not inflate) and, while that wait
// is long, refuses a growing share of new requests at once; it also bounds
// the requests under way. Refusing early and cheaply is what keeps the
// latency of the requests it takes low and the memory of the node small;
// queueing everything helps no one.
package shed

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Config tunes a Shedder. Zero fields get the defaults in their comments.
type Config struct {
	// Threshold is the scheduling latency (p99 over a window) beyond
	// which the processors count as overloaded; default 20 ms.
	Threshold time.Duration
	// Window is how often the latency is read and the share of requests
	// refused adjusted; default 100 ms.
	Window time.Duration
	// MaxInFlight bounds the requests under way; default 4096.
	MaxInFlight int
	// Sample returns the scheduling latency p99 since the last call;
	// default reads runtime/metrics.
	Sample func() time.Duration
	// Rand returns uniform numbers in [0, 1); default math/rand/v2.
	Rand func() float64
}

// Shedder decides which requests to take.
type Shedder struct {
	cfg      Config
	over     int           // consecutive windows over the threshold (Adjust's own)
	refuse   atomic.Uint64 // the share of new requests refused, as float64 bits
	inFlight atomic.Int64
	refused  atomic.Int64
}

// Raised by step each window while overloaded. Overloaded means over the
// threshold for persist windows in a row: a collection or a burst that
// passes is not overload. Once it is not, the share is lowered by half a
// step each window while the latency stays near the threshold (the
// refusals may be what keeps it there), and halved each window once it
// is under a quarter of it: the processors then have time to spare, and
// every request refused is one the node could have served. A burst of
// new connections at once, which passes in half a second, used to leave
// the node refusing for a second and more after it had recovered.
const (
	step    = 0.1
	persist = 3
	idle    = 4 // the latency is under Threshold/idle: lower the share fast
)

// maxShare keeps a trickle of requests going through while overloaded, so
// the node can tell when it has recovered.
const maxShare = 0.95

// New returns a Shedder; Run must run for it to adapt.
func New(cfg Config) *Shedder {
	if cfg.Threshold <= 0 {
		cfg.Threshold = 20 * time.Millisecond
	}
	if cfg.Window <= 0 {
		cfg.Window = 100 * time.Millisecond
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4096
	}
	if cfg.Sample == nil {
		cfg.Sample = schedLatency()
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return &Shedder{cfg: cfg}
}

// Run adjusts the share of requests refused every window until ctx ends.
func (s *Shedder) Run(ctx context.Context) {
	tick := time.NewTicker(s.cfg.Window)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.Adjust()
		}
	}
}

// Adjust reads the latency of the window just ended and moves the share
// of requests refused: up while the processors are overloaded, down after.
// One goroutine calls it (Run).
func (s *Shedder) Adjust() {
	share := s.Share()
	latency := s.cfg.Sample()
	if latency > s.cfg.Threshold {
		s.over++
	} else {
		s.over = 0
	}
	switch {
	case s.over >= persist:
		share = min(maxShare, share+step)
	case latency < s.cfg.Threshold/idle && share >= step:
		share /= 2
	default:
		share = max(0, share-step/2)
	}
	s.refuse.Store(floatBits(share))
}

// Share is the share of new requests refused now, in [0, 1).
func (s *Shedder) Share() float64 { return floatFrom(s.refuse.Load()) }

// Refused counts the requests refused since the Shedder was made.
func (s *Shedder) Refused() int64 { return s.refused.Load() }

// Handler lets requests through to next unless the node is overloaded or
// has MaxInFlight under way; a request refused is answered by refuse
// (each face in its own format) with Retry-After. Requests exempt says
// are always let through.
func (s *Shedder) Handler(next http.Handler, refuse func(http.ResponseWriter, *http.Request), exempt func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		if share := s.Share(); n > int64(s.cfg.MaxInFlight) || (share > 0 && s.cfg.Rand() < share) {
			s.refused.Add(1)
			w.Header().Set("Retry-After", "1")
			refuse(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// schedLatency returns a function giving the Go scheduler's latency p99
// since its last call, from runtime/metrics.
func schedLatency() func() time.Duration {
	samples := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	var last []uint64
	return func() time.Duration {
		metrics.Read(samples)
		if samples[0].Value.Kind() != metrics.KindFloat64Histogram {
			return 0
		}
		h := samples[0].Value.Float64Histogram()
		counts := make([]uint64, len(h.Counts))
		var total uint64
		for i, c := range h.Counts {
			if i < len(last) {
				counts[i] = c - last[i]
			} else {
				counts[i] = c
			}
			total += counts[i]
		}
		last = append(last[:0], h.Counts...)
		return p99(counts, h.Buckets, total)
	}
}

// p99 is the 99th percentile of a histogram: the lower bound of the bucket
// that holds it.
func p99(counts []uint64, buckets []float64, total uint64) time.Duration {
	if total == 0 {
		return 0
	}
	want := total - total/100
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= want {
			return time.Duration(max(buckets[i], 0) * float64(time.Second))
		}
	}
	return 0
}

func floatBits(f float64) uint64 { return math.Float64bits(f) }
func floatFrom(b uint64) float64 { return math.Float64frombits(b) }
