package notify

import (
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/malipo/malipo/store"
)

// inFlight counts this node's attempts under way per receiver (a URL's
// scheme and host), claimed and not yet finished, so that a claim can
// take the deliveries of receivers holding many workers last.
//
// Claims take the oldest due deliveries first. Without this, a receiver
// that answers slowly, with a backlog, would hold every worker while other
// merchants' newer deliveries waited behind its whole backlog; with it,
// each worker that frees goes to them first, newest first (see
// store.Tx's LeaseDueDeliveries). When only busy receivers
// have deliveries due they take the rest of the claim, and claims stop
// looking for others for a moment (othersIdle), since looking scans every
// due delivery.
//
// A receiver is answering while it has answered an attempt (with any
// status) in the last stallAfter. One that is not (it was not seen lately,
// or it stopped answering) gets at most its share of a claim, the rest
// given back at once, and once busy it is stalled: it takes no more until
// it answers. A receiver that starts hanging with a backlog due thus holds
// about its share of the workers, not every worker, for the timeout it
// takes the pause to learn of it, and the others' deliveries that fall due
// meanwhile find workers free. A receiver that answers is held back only
// until its first answer.
type inFlight struct {
	mu sync.Mutex
	n  map[string]*receiverLoad
	// now is the real time (stalls are measured in it, not a test's
	// fake clock).
	now func() time.Time
}

// stallAfter is how long a receiver may go without answering an attempt
// and still count as answering.
const stallAfter = time.Second

// receiverLoad is one receiver's attempts under way, and when it last
// answered one (zero: not yet).
type receiverLoad struct {
	n          int
	lastAnswer time.Time
}

// answering reports whether the receiver answered an attempt lately.
func (l *receiverLoad) answering(now time.Time) bool {
	return !l.lastAnswer.IsZero() && now.Sub(l.lastAnswer) <= stallAfter
}

func (l *receiverLoad) stalled(share int, now time.Time) bool {
	return l.n >= share && !l.answering(now)
}

// receiverOfURL is the receiver of a delivery's URL, or "" if it has none.
func receiverOfURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return receiverOf(u)
}

func (f *inFlight) start(rcv string) {
	if rcv == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]*receiverLoad{}
	}
	l := f.n[rcv]
	if l == nil {
		l = &receiverLoad{}
		f.n[rcv] = l
	}
	l.n++
}

// finish counts an attempt of rcv finished, answered (with any status)
// or not, and reports whether an answer ended a stall at share (so a
// claim may now give it more).
func (f *inFlight) finish(rcv string, share int, answered bool) (unstalled bool) {
	if rcv == "" {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.n[rcv]
	if l == nil {
		return false
	}
	now := f.now()
	if answered {
		unstalled = l.stalled(share, now)
		l.lastAnswer = now
	}
	l.n-- // kept at none: when it answered last still counts
	return unstalled
}

// isBusy reports whether rcv has at least share attempts under way (its
// deliveries claimed and not finished, those claimed ahead included).
func (f *inFlight) isBusy(rcv string, share int) bool {
	if rcv == "" {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.n[rcv]
	return l != nil && l.n >= share
}

// isStalled reports whether rcv is stalled at share: that many attempts
// under way and no answer lately.
func (f *inFlight) isStalled(rcv string, share int) bool {
	if rcv == "" {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.n[rcv]
	return l != nil && l.stalled(share, f.now())
}

// busy lists, sorted, the receivers with at least share attempts under
// way, and those of them that are stalled. It forgets receivers with none
// under way that have not answered lately: there is nothing left to know
// of them.
func (f *inFlight) busy(share int) (busy, stalled []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for rcv, l := range f.n {
		if l.n <= 0 && !l.answering(now) {
			delete(f.n, rcv)
			continue
		}
		if l.n >= share {
			busy = append(busy, rcv)
			if l.stalled(share, now) {
				stalled = append(stalled, rcv)
			}
		}
	}
	slices.Sort(busy)
	slices.Sort(stalled)
	return busy, stalled
}

// limit keeps, of deliveries just leased, at most what brings each
// receiver not answering lately to share attempts under way, with the
// receiver of each kept (receivers[i] is keep[i]'s), and returns the IDs
// of the rest, to be given back.
func (f *inFlight) limit(leased []store.Leased, share int) (keep []store.Leased, receivers, back []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	room := map[string]int{}
	for _, l := range leased {
		rcv := receiverOfURL(l.URL)
		load := f.n[rcv]
		if rcv == "" || load != nil && load.answering(now) {
			keep, receivers = append(keep, l), append(receivers, rcv)
			continue
		}
		left, ok := room[rcv]
		if !ok {
			left = share
			if load != nil {
				left -= load.n
			}
		}
		if left <= 0 {
			back = append(back, l.ID)
			continue
		}
		room[rcv] = left - 1
		keep, receivers = append(keep, l), append(receivers, rcv)
	}
	return keep, receivers, back
}
