// Package sandbox is Malipo's built-in offline rails: a simulated
// mobile-money operator whose customers answer push prompts after a delay,
// a simulated card network, payout network and refunds. Outcomes are
// chosen by test phone numbers and test card numbers, listed in the
// README. Like a real operator, the sandbox remembers every transaction by
// the key it was given (in the store, so a restart loses nothing): the
// same key twice is one transaction, Status answers for any key, and
// answers not yet delivered are delivered after a restart.
package sandbox

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// Name is the sandbox's rail name in ledger accounts.
const Name = "sandbox"

// MobileMoney simulates operators: each push is answered by the simulated
// customer after the sandbox's delay (at once, before Push returns, when
// the delay is 0), with the outcome chosen by the number's last four digits
// (see Outcomes). A customer who never answers is given up on by the
// operator after OperatorTimeout.
type MobileMoney struct {
	book  *book
	Delay time.Duration // how long the simulated customer takes to answer
}

// OperatorTimeout is how long the simulated operator waits for a customer
// who never answers before it reports the push expired.
const OperatorTimeout = time.Hour

// Behaviour is what the simulated customer behind a test number does.
type Behaviour struct {
	Suffix string
	Does   string
	Status malipo.PaymentStatus // "" = never answers
	Code   string
	Reason string
	Refuse bool // the operator refuses the push at once
}

// Outcomes maps the last four digits of a number to what happens; any
// other number approves.
var Outcomes = []Behaviour{
	{Suffix: "0000", Does: "approves: the payment succeeds", Status: malipo.PaymentSucceeded},
	{Suffix: "0001", Does: "has too little money: the payment fails", Status: malipo.PaymentFailed, Code: "insufficient_funds", Reason: "The customer's wallet balance is too low"},
	{Suffix: "0002", Does: "declines the prompt: the payment fails", Status: malipo.PaymentFailed, Code: "customer_declined", Reason: "The customer declined the payment"},
	{Suffix: "0003", Does: "never answers: the payment expires", Status: ""},
	{Suffix: "0004", Does: "is not a wallet holder: the operator refuses the push at once", Refuse: true, Code: "invalid_account", Reason: "The number is not registered for mobile money"},
}

// BehaviourOf returns what the customer behind msisdn does.
func BehaviourOf(msisdn string) Behaviour {
	for _, b := range Outcomes {
		if strings.HasSuffix(msisdn, b.Suffix) {
			return b
		}
	}
	return Outcomes[0]
}

// Name implements rails.MobileMoney.
func (m *MobileMoney) Name() string { return Name }

// Push implements rails.MobileMoney. A push with a key seen before is the
// same push: its reference again, and no second prompt.
func (m *MobileMoney) Push(ctx context.Context, p rails.Push) (string, error) {
	b := BehaviourOf(p.MSISDN)
	now := m.book.now()
	st := store.SandboxTransaction{Key: p.Key, Kind: "collection", Reference: reference("SBX", p.Key), Status: "pending",
		Amount: p.Amount, Currency: p.Currency}
	switch {
	case b.Refuse:
		st.Status, st.FailureCode, st.FailureReason, st.Reported = "failed", b.Code, b.Reason, true
	case b.Status == "":
		st.Answer, st.FailureCode, st.FailureReason = "expired", "expired", "The customer did not answer the prompt"
		st.AnswerAt = now.Add(OperatorTimeout)
	default:
		st.Answer, st.FailureCode, st.FailureReason, st.AnswerAt = string(b.Status), b.Code, b.Reason, now.Add(m.Delay)
	}
	got, isNew, err := m.book.open(ctx, st)
	if err != nil {
		return "", fmt.Errorf("sandbox operator: %v", err) // unknown: the gateway asks Status later
	}
	if got.Status == "failed" && got.Answer == "" {
		return "", &malipo.Error{Kind: malipo.KindInvalid, Code: got.FailureCode, Message: got.FailureReason, Param: "phone"}
	}
	if isNew {
		m.book.answerLater(got)
	}
	return got.Reference, nil
}

// Status implements rails.MobileMoney.
func (m *MobileMoney) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	return m.book.status(ctx, key)
}

// Operator implements rails.MobileMoney: the operator of the number's
// range, or "sandbox-<country>" for a range Malipo does not know.
func (m *MobileMoney) Operator(msisdn string) string {
	if op := rails.OperatorOf(msisdn); op != "" {
		return op
	}
	return "sandbox-" + strings.ToLower(malipo.CountryOfMSISDN(msisdn))
}

// Operators implements rails.MobileMoney.
func (m *MobileMoney) Operators(country string) []string { return rails.OperatorsOf(country) }

// Cards simulates a card network. It remembers each authorisation by its
// key, so that a retried call gets the first answer and Status and Void
// work after a restart.
type Cards struct {
	book *book
}

// CardBehaviour is what the network does for a test card number.
type CardBehaviour struct {
	Number   string
	Decision rails.CardDecision
	Code     string
	Reason   string
}

// DeclinedCards are test numbers the network declines or challenges; every
// other number passing the Luhn check (the KPay seed's test cards among
// them) is approved.
var DeclinedCards = []CardBehaviour{
	{"4000000000000002", rails.CardDeclined, "card_declined", "The card was declined"},
	{"4000000000009995", rails.CardDeclined, "insufficient_funds", "The card has insufficient funds"},
	{"4000000000000069", rails.CardDeclined, "expired_card", "The card has expired"},
	{"5105105105105100", rails.CardDeclined, "do_not_honor", "The issuer declined the card"},
	{"4000000000003220", rails.CardChallenge, "", "3-D Secure authentication required"},
	{"5200000000001096", rails.CardChallenge, "", "3-D Secure authentication required"},
}

// Name implements rails.Cards.
func (c *Cards) Name() string { return Name }

// check validates what the customer typed.
func check(card rails.Card, now time.Time) (expired bool, err error) {
	if !rails.Luhn(card.Number) {
		return false, malipo.Invalid("card_number", "card_number_invalid", "the card number is not valid")
	}
	if err := checkCVV(card.CVV); err != nil {
		return false, err
	}
	if card.Month < 1 || card.Month > 12 || card.Year < 2000 || card.Year > 2100 {
		return false, malipo.Invalid("expiry", "expiry_invalid", "the expiry date is not valid")
	}
	return card.Year < now.Year() || (card.Year == now.Year() && card.Month < int(now.Month())), nil
}

func checkCVV(cvv string) error {
	if len(cvv) < 3 || len(cvv) > 4 || strings.Trim(cvv, "0123456789") != "" {
		return malipo.Invalid("cvv", "cvv_invalid", "the security code must be 3 or 4 digits")
	}
	return nil
}

// behaviour is what the network does for a card number: nil approves.
func behaviour(pan string) *CardBehaviour {
	for i, d := range DeclinedCards {
		if d.Number == pan {
			return &DeclinedCards[i]
		}
	}
	return nil
}

// Authorize implements rails.Cards. A key seen before gets the answer it
// got then.
func (c *Cards) Authorize(ctx context.Context, ch rails.Charge) (rails.CardResult, error) {
	pan := ch.Card.Number
	res := rails.CardResult{Scheme: rails.Scheme(pan), Masked: rails.MaskPAN(pan)}
	expired, err := check(ch.Card, ch.At)
	if err != nil {
		return res, err
	}
	res.Decision = rails.CardApproved
	switch d := behaviour(pan); {
	case expired:
		res.Decision, res.Code, res.Reason = rails.CardDeclined, "expired_card", "The card has expired"
	case d != nil:
		res.Decision, res.Code, res.Reason = d.Decision, d.Code, d.Reason
	}
	return c.record(ctx, ch.Key, ch.Amount, ch.Currency, res)
}

// record keeps the network's answer under key (the first answer, if the
// key was seen before) and returns it.
func (c *Cards) record(ctx context.Context, key string, amount int64, cur malipo.Currency, res rails.CardResult) (rails.CardResult, error) {
	status := map[rails.CardDecision]string{rails.CardApproved: "succeeded", rails.CardDeclined: "failed", rails.CardChallenge: "challenge"}[res.Decision]
	st := store.SandboxTransaction{Key: key, Kind: "card", Reference: reference("SBXC", key), Status: status,
		FailureCode: res.Code, FailureReason: res.Reason, Amount: amount, Currency: cur, Reported: true}
	got, _, err := c.book.open(ctx, st)
	if err != nil {
		return rails.CardResult{}, fmt.Errorf("sandbox card network: %v", err)
	}
	return cardResult(got, res), nil
}

// cardResult is the answer the network gives for what it recorded.
func cardResult(st store.SandboxTransaction, shown rails.CardResult) rails.CardResult {
	res := rails.CardResult{RailReference: st.Reference, Scheme: shown.Scheme, Masked: shown.Masked}
	switch st.Status {
	case "succeeded":
		res.Decision = rails.CardApproved
	case "challenge":
		res.Decision, res.Reason = rails.CardChallenge, "3-D Secure authentication required"
	default:
		res.Decision, res.Code, res.Reason = rails.CardDeclined, st.FailureCode, st.FailureReason
	}
	return res
}

// Authenticate implements rails.Cards: the simulated issuer approves a
// challenged authorisation whose customer passed 3-D Secure.
func (c *Cards) Authenticate(ctx context.Context, key string, passed bool) (rails.CardResult, error) {
	st, found, err := c.book.update(ctx, key, func(st *store.SandboxTransaction) bool {
		if st.Status != "challenge" {
			return false // answered already: the same answer again
		}
		st.Status = "succeeded"
		if !passed {
			st.Status, st.FailureCode, st.FailureReason = "failed", "authentication_failed", "3-D Secure authentication failed"
		}
		return true
	})
	if err != nil {
		return rails.CardResult{}, fmt.Errorf("sandbox card network: %v", err)
	}
	if !found {
		return rails.CardResult{}, malipo.Invalid("card", "authentication_unknown", "the card network has no authentication pending for this payment")
	}
	return cardResult(st, rails.CardResult{}), nil
}

// Void implements rails.Cards.
func (c *Cards) Void(ctx context.Context, key string) error {
	_, _, err := c.book.update(ctx, key, func(st *store.SandboxTransaction) bool {
		if st.Status != "succeeded" && st.Status != "challenge" {
			return false
		}
		st.Status, st.FailureCode, st.FailureReason = "voided", "voided", "The authorisation was voided"
		return true
	})
	return err
}

// Status implements rails.Cards.
func (c *Cards) Status(ctx context.Context, key, reference string) (rails.Outcome, error) {
	return c.book.status(ctx, key)
}

// The sandbox keeps no cards: its network token carries the test
// behaviour of the card it stands for (the index into DeclinedCards, or
// "ok"), which is all a later charge needs, and survives restarts.
const tokenPrefix = "sbxnt_"

// Tokenize implements rails.Cards.
func (c *Cards) Tokenize(ctx context.Context, card rails.Card, at time.Time) (rails.StoredCard, error) {
	expired, err := check(card, at)
	if err != nil {
		return rails.StoredCard{}, err
	}
	if expired {
		return rails.StoredCard{}, malipo.Invalid("expiry", "expired_card", "the card has expired")
	}
	tag := "ok"
	for i, d := range DeclinedCards {
		if d.Number == card.Number {
			tag = strconv.Itoa(i)
		}
	}
	return rails.StoredCard{NetworkToken: tokenPrefix + tag + "_" + rand.Text()[:12],
		Scheme: rails.Scheme(card.Number), Masked: rails.MaskPAN(card.Number), ExpMonth: card.Month, ExpYear: card.Year}, nil
}

// AuthorizeToken implements rails.Cards. Stored cards are charged without
// a challenge, even the 3-D Secure test cards.
func (c *Cards) AuthorizeToken(ctx context.Context, ch rails.TokenCharge) (rails.CardResult, error) {
	res := rails.CardResult{}
	if err := checkCVV(ch.CVV); err != nil {
		return res, err
	}
	tag, _, ok := strings.Cut(strings.TrimPrefix(ch.NetworkToken, tokenPrefix), "_")
	if !ok || !strings.HasPrefix(ch.NetworkToken, tokenPrefix) {
		return res, malipo.Invalid("card_token", "card_token_invalid", "the card token is not the sandbox's")
	}
	res.Decision = rails.CardApproved
	if ch.ExpYear < ch.At.Year() || (ch.ExpYear == ch.At.Year() && ch.ExpMonth < int(ch.At.Month())) {
		res.Decision, res.Code, res.Reason = rails.CardDeclined, "expired_card", "The card has expired"
	} else if i, err := strconv.Atoi(tag); err == nil && i >= 0 && i < len(DeclinedCards) && DeclinedCards[i].Decision == rails.CardDeclined {
		res.Decision, res.Code, res.Reason = rails.CardDeclined, DeclinedCards[i].Code, DeclinedCards[i].Reason
	}
	return c.record(ctx, ch.Key, ch.Amount, ch.Currency, res)
}
