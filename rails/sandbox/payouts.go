package sandbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
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

// Payouts simulates sending money: the network answers after the
// sandbox's delay. A payout sent again with the same key is paid once.
type Payouts struct {
	book  *book
	Delay time.Duration // how long the network takes to answer
}

// Name implements rails.Payouts.
func (p *Payouts) Name() string { return Name }

// Send implements rails.Payouts.
func (p *Payouts) Send(ctx context.Context, req rails.PayoutRequest) (string, error) {
	st := store.SandboxTransaction{Key: req.Key, Kind: "payout", Reference: reference("SBXP", req.Key), Status: "pending",
		Answer: "succeeded", Amount: req.Amount, Currency: req.Currency, AnswerAt: p.book.now().Add(p.Delay)}
	for _, b := range PayoutOutcomes {
		if !strings.HasSuffix(req.Destination.Account, b.Suffix) {
			continue
		}
		st.FailureCode, st.FailureReason = b.Code, b.Reason
		if st.Answer = "failed"; b.Refuse {
			st.Status, st.Answer, st.Reported = "failed", "", true
		}
	}
	got, isNew, err := p.book.open(ctx, st)
	if err != nil {
		return "", fmt.Errorf("sandbox payout network: %v", err)
	}
	if got.Status == "failed" && got.Answer == "" {
		return "", &malipo.Error{Kind: malipo.KindInvalid, Code: got.FailureCode, Message: got.FailureReason}
	}
	if isNew {
		p.book.answerLater(got)
	}
	return got.Reference, nil
}

// Status implements rails.Payouts.
func (p *Payouts) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	return p.book.status(ctx, key)
}

// Refunds simulates paying customers back: every refund succeeds at once.
type Refunds struct {
	book *book
}

// Name implements rails.Refunds.
func (r *Refunds) Name() string { return Name }

// Refund implements rails.Refunds. A refund sent again with the same key
// is paid once.
func (r *Refunds) Refund(ctx context.Context, req rails.RefundRequest) (string, error) {
	st := store.SandboxTransaction{Key: req.Key, Kind: "refund", Reference: reference("SBXR", req.Key), Status: "succeeded",
		Amount: req.Amount, Currency: req.Currency, Reported: true}
	got, _, err := r.book.open(ctx, st)
	if err != nil {
		return "", fmt.Errorf("sandbox refunds: %v", err)
	}
	return got.Reference, nil
}

// Status implements rails.Refunds.
func (r *Refunds) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	return r.book.status(ctx, key)
}
