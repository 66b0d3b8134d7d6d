// Package sandbox is Malipo's built-in offline rails: a simulated
// mobile-money operator whose customers answer push prompts after a delay,
// and a simulated card network. Outcomes are chosen by test phone numbers
// and test card numbers, listed in the README.
package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
)

// Name is the sandbox's rail name in ledger accounts.
const Name = "sandbox"

// MobileMoney simulates operators: each push is answered by the simulated
// customer after Delay (at once, before Push returns, when Delay is 0),
// with the outcome chosen by the number's last four digits (see Outcomes).
type MobileMoney struct {
	Clock  clock.Clock
	Delay  time.Duration
	Sink   rails.Sink
	Logger *slog.Logger

	mu  sync.Mutex
	seq int
}

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

// Push implements rails.MobileMoney.
func (m *MobileMoney) Push(ctx context.Context, p rails.Push) (string, error) {
	b := BehaviourOf(p.MSISDN)
	if b.Refuse {
		return "", &malipo.Error{Kind: malipo.KindInvalid, Code: b.Code, Message: b.Reason, Param: "phone"}
	}
	m.mu.Lock()
	m.seq++
	ref := fmt.Sprintf("SBX%d%06d", m.Clock.Now().Unix()%1_000_000, m.seq)
	m.mu.Unlock()
	if b.Status == "" {
		return ref, nil // the customer never answers; expiry ends the payment
	}
	answer := func() {
		o := rails.Outcome{PaymentID: p.PaymentID, Status: b.Status, FailureCode: b.Code, FailureReason: b.Reason, RailReference: ref}
		if err := m.Sink.Settle(context.Background(), o); err != nil && m.Logger != nil {
			m.Logger.Warn("sandbox outcome not applied", "payment", p.PaymentID, "err", err)
		}
	}
	if m.Delay <= 0 {
		answer() // a customer who answers at once: the operator settles before it replies
		return ref, nil
	}
	m.Clock.AfterFunc(m.Delay, answer)
	return ref, nil
}

// operators are a few real number prefixes, so the sandbox shows
// plausible operator names and checkout pages offer a real choice.
var operators = []struct{ prefix, operator, country string }{
	{"+25078", "mtn-rw", "RW"}, {"+25079", "mtn-rw", "RW"}, {"+25072", "airtel-rw", "RW"}, {"+25073", "airtel-rw", "RW"},
	{"+2547", "mpesa-ke", "KE"}, {"+2541", "mpesa-ke", "KE"}, {"+25473", "airtel-ke", "KE"},
	{"+22507", "orange-ci", "CI"}, {"+22505", "mtn-ci", "CI"}, {"+22501", "moov-ci", "CI"},
	{"+22177", "orange-sn", "SN"}, {"+22178", "orange-sn", "SN"}, {"+22176", "free-sn", "SN"}, {"+22170", "expresso-sn", "SN"},
	{"+2289", "t-money-tg", "TG"}, {"+22997", "mtn-bj", "BJ"}, {"+2376", "mtn-cm", "CM"}, {"+2557", "mpesa-tz", "TZ"},
	{"+2567", "mtn-ug", "UG"},
}

// Operator implements rails.MobileMoney: the longest matching prefix wins.
func (m *MobileMoney) Operator(msisdn string) string {
	best, op := 0, ""
	for _, p := range operators {
		if strings.HasPrefix(msisdn, p.prefix) && len(p.prefix) > best {
			best, op = len(p.prefix), p.operator
		}
	}
	if op != "" {
		return op
	}
	return "sandbox-" + strings.ToLower(malipo.CountryOfMSISDN(msisdn))
}

// Operators implements rails.MobileMoney.
func (m *MobileMoney) Operators(country string) []string {
	var out []string
	for _, p := range operators {
		if p.country == country && !slices.Contains(out, p.operator) {
			out = append(out, p.operator)
		}
	}
	return out
}

// Cards simulates a card network.
type Cards struct {
	Clock clock.Clock

	mu  sync.Mutex
	seq int
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

func (c *Cards) reference() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return fmt.Sprintf("SBXC%06d", c.seq)
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

// Authorize implements rails.Cards.
func (c *Cards) Authorize(ctx context.Context, ch rails.Charge) (rails.CardResult, error) {
	pan := ch.Card.Number
	res := rails.CardResult{Scheme: rails.Scheme(pan), Masked: rails.MaskPAN(pan)}
	expired, err := check(ch.Card, ch.At)
	if err != nil {
		return res, err
	}
	if expired {
		res.Decision, res.Code, res.Reason = rails.CardDeclined, "expired_card", "The card has expired"
		return res, nil
	}
	res.RailReference = c.reference()
	if d := behaviour(pan); d != nil {
		res.Decision, res.Code, res.Reason = d.Decision, d.Code, d.Reason
		return res, nil
	}
	res.Decision = rails.CardApproved
	return res, nil
}

// Authenticate implements rails.Cards: the simulated issuer approves a
// challenged payment whose customer passed 3-D Secure.
func (c *Cards) Authenticate(ctx context.Context, reference string, passed bool) (rails.CardResult, error) {
	res := rails.CardResult{RailReference: reference, Decision: rails.CardApproved}
	if !passed {
		res.Decision, res.Code, res.Reason = rails.CardDeclined, "authentication_failed", "3-D Secure authentication failed"
	}
	return res, nil
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
	return rails.StoredCard{NetworkToken: tokenPrefix + tag + "_" + strings.TrimPrefix(c.reference(), "SBXC"),
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
	if ch.ExpYear < ch.At.Year() || (ch.ExpYear == ch.At.Year() && ch.ExpMonth < int(ch.At.Month())) {
		res.Decision, res.Code, res.Reason = rails.CardDeclined, "expired_card", "The card has expired"
		return res, nil
	}
	res.RailReference, res.Decision = c.reference(), rails.CardApproved
	if i, err := strconv.Atoi(tag); err == nil && i >= 0 && i < len(DeclinedCards) && DeclinedCards[i].Decision == rails.CardDeclined {
		res.Decision, res.Code, res.Reason = rails.CardDeclined, DeclinedCards[i].Code, DeclinedCards[i].Reason
	}
	return res, nil
}
