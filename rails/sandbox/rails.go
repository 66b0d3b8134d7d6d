package sandbox

import (
	"log/slog"
	"time"

	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
)

// Sinks take the sandbox's late answers: the gateway service.
type Sinks interface {
	rails.Sink
	rails.PayoutSink
}

// Rails is the whole sandbox: an operator, a card network, a payout
// network and refunds. The gateway needs the rails and the rails answer
// to the gateway, so they are made first and connected after.
type Rails struct {
	MobileMoney *MobileMoney
	Cards       *Cards
	Payouts     *Payouts
	Refunds     *Refunds
}

// New returns sandbox rails whose customers and payout network answer
// after delay (at once when delay is 0).
func New(clk clock.Clock, delay time.Duration, logger *slog.Logger) *Rails {
	return &Rails{
		MobileMoney: &MobileMoney{Clock: clk, Delay: delay, Logger: logger},
		Cards:       &Cards{Clock: clk},
		Payouts:     &Payouts{Clock: clk, Delay: delay, Logger: logger},
		Refunds:     &Refunds{},
	}
}

// Set is the rails as the gateway takes them.
func (r *Rails) Set() rails.Set {
	return rails.Set{MobileMoney: r.MobileMoney, Cards: r.Cards, Payouts: r.Payouts, Refunds: r.Refunds}
}

// Connect sends the rails' late answers to s.
func (r *Rails) Connect(s Sinks) { r.MobileMoney.Sink, r.Payouts.Sink = s, s }
