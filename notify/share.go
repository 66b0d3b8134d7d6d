package notify

import (
	"net/url"
	"slices"
	"sync"
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
type inFlight struct {
	mu sync.Mutex
	n  map[string]int
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
		f.n = map[string]int{}
	}
	f.n[rcv]++
}

func (f *inFlight) finish(rcv string) {
	if rcv == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[rcv]--; f.n[rcv] <= 0 {
		delete(f.n, rcv)
	}
}

// busy lists, sorted, the receivers with at least share attempts under way.
func (f *inFlight) busy(share int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for rcv, n := range f.n {
		if n >= share {
			out = append(out, rcv)
		}
	}
	slices.Sort(out)
	return out
}
