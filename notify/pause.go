package notify

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// receivers keeps, per receiver, whether this node is pausing its
// attempts to it. A receiver is a URL's scheme and host: one merchant's
// server, whatever path each delivery names.
//
// Attempts to a receiver that hangs each hold a worker for the whole
// timeout, and claims take the oldest due deliveries first, so without a
// pause one such receiver with a backlog keeps every worker waiting, wave
// after wave, while everyone else's notifications wait behind it. Only
// attempts that got no answer at all count: a receiver that answers, even
// 500, costs a worker no longer than it takes to answer.
type receivers struct {
	failuresToPause    int
	pauseFor, maxPause time.Duration

	mu sync.Mutex
	by map[string]*receiver
	// swept is when entries nobody has tried for a long while were last
	// dropped.
	swept time.Time
}

// receiver is what this node knows of one receiver that has failed to
// answer since it last answered.
type receiver struct {
	failures int       // attempts in a row that got no answer
	pauses   int       // pauses since it last answered
	until    time.Time // attempts wait until then; a trial may go after
	trying   bool      // a trial attempt is under way
	last     time.Time // its last failure
}

// outcome is what an attempt learned of its receiver.
type outcome int

const (
	answered   outcome = iota // it answered, with any status
	unanswered                // it timed out, refused or dropped the connection
	unknown                   // the attempt was cut short by this node
)

// PausedError is the error of an attempt not sent because its receiver
// is paused.
type PausedError struct {
	Receiver string
	Failures int
	Until    time.Time
	Trying   bool // the pause is over and a trial attempt is under way
}

func (e *PausedError) Error() string {
	if e.Trying {
		return fmt.Sprintf("not sent: %s did not answer the last %d attempts; one attempt is trying it before the rest are sent", e.Receiver, e.Failures)
	}
	return fmt.Sprintf("not sent: %s did not answer the last %d attempts; attempts to it are paused until %s",
		e.Receiver, e.Failures, e.Until.UTC().Format(time.RFC3339))
}

// receiverOf is the receiver of a request URL: its scheme and host.
func receiverOf(u *url.URL) string {
	return u.Scheme + "://" + strings.ToLower(u.Host)
}

// admit says whether an attempt to rcv may be sent at now. It returns a
// *PausedError if not; trial reports that the attempt is the one trying
// a receiver whose pause is over.
func (r *receivers) admit(rcv string, now time.Time) (trial bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.by[rcv]
	if e == nil || e.pauses == 0 {
		return false, nil
	}
	if now.Before(e.until) || e.trying {
		return false, &PausedError{Receiver: rcv, Failures: e.failures, Until: e.until, Trying: !now.Before(e.until)}
	}
	e.trying = true
	return true, nil
}

// done counts an admitted attempt's outcome. It reports whether the
// attempt paused the receiver (paused) or ended its pause (resumed).
func (r *receivers) done(rcv string, trial bool, o outcome, now time.Time) (paused, resumed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweep(now)
	e := r.by[rcv]
	if e != nil && trial {
		e.trying = false
	}
	switch o {
	case answered:
		if e != nil {
			delete(r.by, rcv)
			return false, e.pauses > 0
		}
	case unanswered:
		if e == nil {
			e = &receiver{}
			if r.by == nil {
				r.by = map[string]*receiver{}
			}
			r.by[rcv] = e
		}
		e.failures++
		e.last = now
		// A failure counts towards a new pause only once the last pause
		// is over: attempts admitted before it began still come back.
		if e.failures >= r.failuresToPause && !now.Before(e.until) && (e.pauses == 0 || trial) {
			e.pauses++
			e.until = now.Add(min(r.pauseFor<<min(e.pauses-1, 20), r.maxPause))
			return true, false
		}
	}
	return false, false
}

// sweep drops, at most once a minute, receivers nobody has tried for
// longer than the longest pause since their last failure: a deleted
// endpoint's receiver would otherwise stay forever.
func (r *receivers) sweep(now time.Time) {
	if now.Sub(r.swept) < time.Minute {
		return
	}
	r.swept = now
	for k, e := range r.by {
		if !e.trying && now.Sub(e.last) > r.maxPause && now.After(e.until) {
			delete(r.by, k)
		}
	}
}

// paused counts the receivers paused at now, or being tried.
func (r *receivers) paused(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.by {
		if e.pauses > 0 && (now.Before(e.until) || e.trying) {
			n++
		}
	}
	return n
}
