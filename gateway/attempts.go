package gateway

import (
	"context"
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
	d := s.cfg.ReconcileAfter
	for i := 1; i < n && d < maxCheckInterval; i++ {
		d *= 2
	}
	return min(d, maxCheckInterval)
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
