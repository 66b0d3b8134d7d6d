// Package notify delivers events to merchants. The gateway writes events
// and their deliveries in the same transaction as the state change; the
// Dispatcher here claims due deliveries (or takes those its own node just
// wrote, leased to it, once they commit), asks the delivery's Flavor to build
// the request, sends it through a client that cannot be pointed at private
// networks in live mode, records every attempt and schedules the next one.
// It pauses its attempts to a receiver that stops answering, and claims a
// receiver's deliveries last while it holds many workers, so that one
// hanging or slow server cannot hold every worker. Nothing here runs
// inside a request handler.
package notify

import (
	"errors"
	"net/http"
	"time"

	"github.com/malipo/malipo"
)

// Message is everything a flavor may need to render one delivery.
type Message struct {
	Event    malipo.Event
	Delivery malipo.Delivery
	// Integration is the integration whose flavor and secrets apply; zero
	// for deliveries to a native webhook endpoint.
	Integration malipo.Integration
	// Endpoint is the native webhook endpoint, when the delivery goes to one.
	Endpoint *malipo.Endpoint
	// Now is the time of this attempt, for timestamps and signatures.
	Now time.Time
}

// Request is what a flavor wants sent.
type Request struct {
	Method string // default POST
	URL    string // default the delivery's URL
	Header http.Header
	Body   []byte
}

// Flavor is one wire protocol's way of notifying: how to build (and sign)
// the request for a delivery, and which answers acknowledge it. Every face
// provides one for its integrations.
type Flavor interface {
	Build(m Message) (Request, error)
	Acknowledged(status int, body []byte) bool
}

// ErrSkip, wrapped in a Build error, says the flavor sends nothing for
// this event (ClickPay's IPN exists for received money only, say): the
// delivery ends at once, failed, with the reason as its only attempt.
var ErrSkip = errors.New("not sent")

// DefaultSchedule is when each attempt is made: the first at once, each
// next one this long after the previous failed. The eleven attempts span a
// little over four days; after the last the delivery is failed.
var DefaultSchedule = []time.Duration{
	0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour, 24 * time.Hour,
}

// Acknowledged2xx is the usual rule: any 2xx answer acknowledges.
func Acknowledged2xx(status int) bool { return status >= 200 && status < 300 }
