package gateway

import (
	"context"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// How money reaches a rail exactly once.
//
// Every call to a rail is an attempt, claimed in a short transaction
// before the call is made: the attempt gets a number and an ID (the
// object's ID and that number), which is the idempotency key the rail is
// given, and the object is marked in flight. A second submit while one is
// in flight is refused with payment_processing instead of reaching the
// rail. After the call, a second transaction records what the rail said.
// If the call's outcome is unknown (a timeout, a node that stopped in
// between), the attempt stays "sending" and the reconciler asks the rail
// about that key; it never sends a payment attempt again blindly.

// Defaults for the attempt timings (see Config).
const (
	DefaultRailTimeout    = 30 * time.Second
	DefaultReconcileAfter = time.Minute
	// maxCheckInterval caps the reconciler's backoff.
	maxCheckInterval = time.Hour
)

// inFlightFor is how long a claimed attempt keeps its object in flight:
// the rail call's timeout and half as much again to record its answer.
func (s *Service) inFlightFor() time.Duration { return s.cfg.RailTimeout * 3 / 2 }

// firstCheck is when the reconciler first asks about an attempt made at
// now: never while its rail call may still be under way.
func (s *Service) firstCheck(now time.Time) time.Time {
	return now.Add(max(s.cfg.ReconcileAfter, s.inFlightFor()))
}

// backoff is how long the reconciler waits before asking again after its
// nth question: doubling from ReconcileAfter, at most an hour.
func (s *Service) backoff(n int) time.Duration {
	return doubling(s.cfg.ReconcileAfter, n, maxCheckInterval)
}

// doubling is the nth wait of a backoff that starts at first and doubles
// after each try, up to most.
func doubling(first time.Duration, n int, most time.Duration) time.Duration {
	d := first
	for i := 1; i < n && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}

// newAttempt is attempt number n of an object, claimed now.
func (s *Service) newAttempt(objectType, objectID string, n int, merchantID string, mode malipo.Mode, rail, method string) malipo.RailAttempt {
	now := s.now()
	return malipo.RailAttempt{ID: malipo.AttemptID(objectID, n), ObjectType: objectType, ObjectID: objectID, Number: n,
		MerchantID: merchantID, Mode: mode, Rail: rail, Method: method, Status: malipo.AttemptSending,
		NextCheckAt: s.firstCheck(now), CreatedAt: now, UpdatedAt: now}
}

// railCall is the context a rail call runs under: not cut short when the
// customer's browser or the merchant's client goes away (an abandoned call
// is an unknown outcome), but bounded by the rail timeout.
func (s *Service) railCall(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RailTimeout)
}

// callResult says how far a rail call got.
type callResult int

const (
	callAccepted callResult = iota // the rail took it
	callRefused                    // the rail said no: a final answer
	callNotSent                    // it never reached the rail
	callUnknown                    // it may or may not have reached the rail
)

// classify reads a rail call's error (see the rails package).
func classify(err error) callResult {
	switch {
	case err == nil:
		return callAccepted
	case malipo.KindOf(err) == malipo.KindUnavailable:
		return callNotSent
	case malipo.KindOf(err) != malipo.KindInternal:
		return callRefused
	}
	return callUnknown
}

// statusOf is the part of every rail the reconciler uses.
type statusOf interface {
	Name() string
	Status(ctx context.Context, key, reference string) (rails.Outcome, error)
}

// railOf finds the rail an attempt went to: by its mode, method and the
// rail's name.
func (s *Service) railOf(a malipo.RailAttempt) statusOf {
	set := s.cfg.Rails[a.Mode]
	switch a.Method {
	case string(malipo.ChannelMobileMoney):
		if set.MobileMoney != nil {
			if r, ok := set.MobileMoney.Named(a.Rail); ok {
				return r
			}
		}
	case string(malipo.ChannelCard):
		if set.Cards != nil && set.Cards.Name() == a.Rail {
			return set.Cards
		}
	case malipo.MethodPayout:
		if set.Payouts != nil {
			if r, ok := set.Payouts.Named(a.Rail); ok {
				return r
			}
		}
	case malipo.MethodRefund:
		if set.Refunds != nil && set.Refunds.Name() == a.Rail {
			return set.Refunds
		}
	case string(malipo.ChannelBank):
		if set.Banks != nil && set.Banks.Name() == a.Rail {
			return set.Banks
		}
	}
	return nil
}

// modeOfRail is the mode whose rails include one named rail.
func (s *Service) modeOfRail(rail string) malipo.Mode {
	for mode, set := range s.cfg.Rails {
		if set.MobileMoney != nil {
			if _, ok := set.MobileMoney.Named(rail); ok {
				return mode
			}
		}
		if set.Payouts != nil {
			if _, ok := set.Payouts.Named(rail); ok {
				return mode
			}
		}
		for _, r := range []interface{ Name() string }{set.Cards, set.Refunds, set.Banks} {
			if r != nil && r.Name() == rail {
				return mode
			}
		}
	}
	return malipo.ModeTest
}

// RailAttempts lists the rail attempts of one of the integration's
// payments, payouts or refunds, oldest first.
func (s *Service) RailAttempts(ctx context.Context, in malipo.Integration, objectID string) ([]malipo.RailAttempt, error) {
	var out []malipo.RailAttempt
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) error {
		as, err := tx.ListRailAttempts(objectID)
		for _, a := range as {
			if a.MerchantID == in.MerchantID && a.Mode == in.Mode {
				out = append(out, a)
			}
		}
		return err
	})
	return out, err
}

// beginAttempt starts the next rail attempt of p: numbered, in flight,
// and with the last attempt's failure cleared. The caller stores both.
func (s *Service) beginAttempt(p *malipo.Payment, rail string) malipo.RailAttempt {
	now := s.now()
	p.Attempt++
	p.InFlightUntil, p.UpdatedAt = now.Add(s.inFlightFor()), now
	p.FailureCode, p.FailureReason = "", ""
	return s.newAttempt("payment", p.ID, p.Attempt, p.MerchantID, p.Mode, rail, string(p.Method))
}

// recordSent records what a rail answered a request whose outcome
// arrives later (a push, a bank debit): accepted, the payment is
// processing; refused, it failed; not sent, the customer may try again;
// unknown, the reconciler asks soon.
func (s *Service) recordSent(ctx context.Context, scope string, p malipo.Payment, a malipo.RailAttempt, idem Idempotency,
	ref string, pushErr error) (malipo.Payment, error) {
	res := classify(pushErr)
	if res == callUnknown || res == callNotSent {
		s.cfg.Logger.WarnContext(ctx, "rail request not confirmed", "payment", p.ID, "attempt", a.ID, "err", pushErr)
	}
	out, _, err := s.recordAttempt(ctx, scope, a.ID, idem, func(tx store.Tx, p *malipo.Payment, a *malipo.RailAttempt, current bool) (bool, error) {
		now := s.now()
		switch res {
		case callAccepted:
			a.Status, a.RailReference, a.UpdatedAt = malipo.AttemptPending, ref, now
			a.NextCheckAt = now.Add(s.cfg.ReconcileAfter) // the call is over: ask if no callback comes
			if current && p.Status == malipo.PaymentPending {
				p.RailReference, p.InFlightUntil = ref, time.Time{}
				return false, p.Transition(malipo.PaymentProcessing, now)
			}
		case callRefused:
			e := malipo.AsError(pushErr)
			a.Finish(malipo.AttemptFailed, e.Code, e.Message, now)
			if current && !p.Status.Final() {
				p.FailureCode, p.FailureReason = e.Code, e.Message
				return false, s.finish(tx, p, malipo.PaymentFailed, "")
			}
		case callNotSent:
			a.Finish(malipo.AttemptFailed, "rail_unavailable", malipo.AsError(pushErr).Message, now)
			if current {
				p.InFlightUntil = time.Time{} // nothing reached the operator: the customer may try again
			}
		case callUnknown:
			a.NextCheckAt = now.Add(s.cfg.ReconcileAfter) // the call is over: ask soon what became of it
			if current {
				p.InFlightUntil = a.NextCheckAt // in flight until the reconciler has asked
			}
		}
		return false, nil
	})
	return out, err
}

// attemptHint hints the rail attempt key and the payment, payout or
// refund it is for: applying a rail's word on an attempt reads both.
// Every transaction that locks an attempt and then its object passes it,
// so that the store locks the object first, as those that read a payment
// and then its attempt do (see store.Hint): two nodes applying words on
// one attempt never wait for each other's rows. The object's ID is the
// attempt's up to its number (malipo.AttemptID), and its prefix says what
// it is.
func attemptHint(key string) store.Hint {
	h := store.Hint{RailAttempt: key}
	switch id := malipo.AttemptObject(key); {
	case strings.HasPrefix(id, paymentKind+"_"):
		h.Payment = id
	case strings.HasPrefix(id, payoutKind+"_"):
		h.Payout = id
	case strings.HasPrefix(id, refundKind+"_"):
		h.Refund = id
	}
	return h
}

// recordAttempt records, in one transaction, what a rail said to one of a
// payment's attempts: change moves the attempt and the payment on (current
// says whether the attempt is the payment's latest) and asks for the
// authorisation to be voided when the payment cannot take it. An attempt
// already given its verdict (its outcome came first, by callback or by the
// reconciler) is left as it is.
func (s *Service) recordAttempt(ctx context.Context, scope, key string, idem Idempotency,
	change func(tx store.Tx, p *malipo.Payment, a *malipo.RailAttempt, current bool) (void bool, err error)) (malipo.Payment, bool, error) {
	var out malipo.Payment
	var void bool
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		a, err := tx.GetRailAttempt(key)
		if err != nil {
			return err
		}
		p, err := tx.GetPayment(a.ObjectID)
		if err != nil {
			return err
		}
		void = false
		if !a.Status.Final() {
			wasFinal := p.Status.Final()
			if void, err = change(tx, &p, &a, p.Attempt == a.Number); err != nil {
				return err
			}
			if err := tx.UpdateRailAttempt(a); err != nil {
				return err
			}
			if !wasFinal && !p.Status.Final() { // a payment that became final was stored by complete
				p.UpdatedAt = s.now()
				if err := tx.UpdatePayment(p); err != nil {
					return err
				}
			}
		}
		out = p
		return rememberAgain(tx, scope, idem, p)
	}, attemptHint(key))
	return out, void, err
}

// railFor is the name of the rail that takes a payment by its method:
// the card network, or the mobile-money rail serving its number.
func (s *Service) railFor(p malipo.Payment) (string, error) {
	set := s.cfg.Rails[p.Mode]
	if p.Method == malipo.ChannelCard {
		c, err := s.cards(p.Mode)
		if err != nil {
			return "", err
		}
		return c.Name(), nil
	}
	if set.MobileMoney == nil {
		return "", malipo.Errorf(malipo.KindUnavailable, "rail_unavailable", "no payment rail is configured for %s mode", p.Mode)
	}
	mm, err := set.MobileMoney.For(p.Phone, p.Operator, p.Currency)
	if err != nil {
		return "", err
	}
	return mm.Name(), nil
}

// railName is the rail a payment's money came through, for its posting.
func (s *Service) railName(p malipo.Payment) string {
	name, err := s.railFor(p)
	if err != nil {
		return "unknown"
	}
	return name
}
