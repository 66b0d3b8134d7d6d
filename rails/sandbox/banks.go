package sandbox

import (
	"context"
	"fmt"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// Banks simulates bank transfers: the customer authorises the debit with
// the bank, which answers after the sandbox's delay. The last four digits
// of the account decide what happens, as a phone number's do for mobile
// money (see Outcomes): 0001 has too little money, 0002 refuses, 0003
// never answers, 0004 is no account at that bank; any other pays.
type Banks struct{ m *MobileMoney }

// Name implements rails.Banks: the sandbox is one rail.
func (b *Banks) Name() string { return Name }

// Debit implements rails.Banks. A debit with a key seen before is the
// same debit.
func (b *Banks) Debit(ctx context.Context, d rails.Debit) (string, error) {
	if d.Account == "" {
		return "", malipo.Invalid("account", "parameter_missing", "the account number is required")
	}
	be := BehaviourOf(d.Account)
	now := b.m.book.now()
	st := store.SandboxTransaction{Key: d.Key, Kind: "collection", Reference: reference("SBB", d.Key), Status: "pending",
		Amount: d.Amount, Currency: d.Currency}
	switch {
	case be.Refuse:
		st.Status, st.FailureCode, st.FailureReason, st.Reported = "failed", "invalid_account", "The bank has no such account", true
	case be.Status == "":
		st.Answer, st.FailureCode, st.FailureReason = "expired", "expired", "The customer did not authorise the transfer"
		st.AnswerAt = now.Add(OperatorTimeout)
	default:
		reason := be.Reason
		if be.Code == "customer_declined" {
			reason = "The customer refused the transfer"
		}
		st.Answer, st.FailureCode, st.FailureReason, st.AnswerAt = string(be.Status), be.Code, reason, now.Add(b.m.Delay)
	}
	got, isNew, err := b.m.book.open(ctx, st)
	if err != nil {
		return "", fmt.Errorf("sandbox bank: %v", err) // unknown: the gateway asks Status later
	}
	if got.Status == "failed" && got.Answer == "" {
		return "", &malipo.Error{Kind: malipo.KindInvalid, Code: got.FailureCode, Message: got.FailureReason, Param: "account"}
	}
	if isNew {
		b.m.book.answerLater(got)
	}
	return got.Reference, nil
}

// Status implements rails.Banks.
func (b *Banks) Status(ctx context.Context, key, _ string) (rails.Outcome, error) {
	return b.m.book.status(ctx, key)
}
