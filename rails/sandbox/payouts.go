package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
)

// PayoutBehaviour is what the simulated network does with a payout to an
// account ending in Suffix.
type PayoutBehaviour struct {
	Suffix string
	Does   string
	Code   string
	Reason string
	Refuse bool // refused at once, before any money moves
}

// PayoutOutcomes maps the last four digits of a destination account to
// what happens; any other account receives the money.
var PayoutOutcomes = []PayoutBehaviour{
	{Suffix: "0001", Does: "cannot receive more money: the payout fails", Code: "recipient_limit_exceeded", Reason: "The recipient's account cannot receive this amount"},
	{Suffix: "0004", Does: "does not exist: the rail refuses the payout at once", Code: "invalid_account", Reason: "The destination account does not exist", Refuse: true},
}

// Payouts simulates sending money: the rail answers after Delay.
type Payouts struct {
	Clock  clock.Clock
	Delay  time.Duration
	Sink   rails.PayoutSink
	Logger *slog.Logger

	mu   sync.Mutex
	seq  int
	sent map[string]string // payout ID → reference: a payout sent twice is paid once
}

// Name implements rails.Payouts.
func (p *Payouts) Name() string { return Name }

// Send implements rails.Payouts.
func (p *Payouts) Send(ctx context.Context, req rails.PayoutRequest) (string, error) {
	var b *PayoutBehaviour
	for i := range PayoutOutcomes {
		if strings.HasSuffix(req.Destination.Account, PayoutOutcomes[i].Suffix) {
			b = &PayoutOutcomes[i]
		}
	}
	if b != nil && b.Refuse {
		return "", &malipo.Error{Kind: malipo.KindInvalid, Code: b.Code, Message: b.Reason}
	}
	p.mu.Lock()
	if ref, ok := p.sent[req.PayoutID]; ok {
		p.mu.Unlock()
		return ref, nil // a resend: the rail already has it
	}
	p.seq++
	ref := fmt.Sprintf("SBXP%06d", p.seq)
	if p.sent == nil {
		p.sent = map[string]string{}
	}
	p.sent[req.PayoutID] = ref
	p.mu.Unlock()
	p.Clock.AfterFunc(p.Delay, func() {
		o := rails.PayoutOutcome{PayoutID: req.PayoutID, Status: malipo.PayoutSucceeded, RailReference: ref}
		if b != nil {
			o.Status, o.FailureCode, o.FailureReason = malipo.PayoutFailed, b.Code, b.Reason
		}
		if err := p.Sink.SettlePayout(context.Background(), o); err != nil && p.Logger != nil {
			p.Logger.Warn("sandbox payout outcome not applied", "payout", req.PayoutID, "err", err)
		}
	})
	return ref, nil
}

// Refunds simulates paying customers back: every refund succeeds at once.
type Refunds struct {
	mu   sync.Mutex
	seq  int
	done map[string]string // refund ID → reference: a refund sent twice is paid once
}

// Name implements rails.Refunds.
func (r *Refunds) Name() string { return Name }

// Refund implements rails.Refunds.
func (r *Refunds) Refund(ctx context.Context, req rails.RefundRequest) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref, ok := r.done[req.RefundID]; ok {
		return ref, nil
	}
	r.seq++
	ref := fmt.Sprintf("SBXR%06d", r.seq)
	if r.done == nil {
		r.done = map[string]string{}
	}
	r.done[req.RefundID] = ref
	return ref, nil
}
