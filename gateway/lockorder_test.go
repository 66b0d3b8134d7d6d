package gateway_test

import (
	"context"
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// lockOrder wraps st so that every write transaction the service runs is
// checked for the lock order that keeps two of them from waiting for each
// other (see store.Hint): a rail attempt's payment, payout or refund is
// locked before the attempt. A store locks a transaction's hinted rows
// first, objects before attempts, and then the rows it reads in the order
// it reads them; the check follows the same order. A benchmark gets st
// as it is: it measures the store, not the check.
func lockOrder(t testing.TB, st store.Store) store.Store {
	if _, bench := t.(*testing.B); bench {
		return st
	}
	return &lockOrderStore{Store: st, t: t}
}

type lockOrderStore struct {
	store.Store
	t testing.TB
}

func (s *lockOrderStore) Transact(ctx context.Context, fn func(store.Tx) error, hints ...store.Hint) error {
	return s.Store.Transact(ctx, func(tx store.Tx) error {
		o := &orderedTx{Tx: tx, at: map[string]int{}}
		for _, h := range hints {
			o.lock(h.Payment)
			o.lock(h.Payout)
			o.lock(h.Refund)
		}
		for _, h := range hints {
			o.lock(h.RailAttempt)
		}
		err := fn(o)
		for _, id := range o.order {
			object := malipo.AttemptObject(id)
			if at, ok := o.at[object]; ok && object != "" && at > o.at[id] {
				s.t.Errorf("a transaction locked attempt %s before its object %s (locks in order: %v; hints %+v)", id, object, o.order, hints)
			}
		}
		return err
	}, hints...)
}

// orderedTx records the order in which a transaction first locks rows by
// ID.
type orderedTx struct {
	store.Tx
	order []string
	at    map[string]int
}

func (o *orderedTx) lock(id string) {
	if _, ok := o.at[id]; !ok && id != "" {
		o.at[id] = len(o.order)
		o.order = append(o.order, id)
	}
}

func (o *orderedTx) GetPayment(id string) (malipo.Payment, error) {
	o.lock(id)
	return o.Tx.GetPayment(id)
}

func (o *orderedTx) GetPayout(id string) (malipo.Payout, error) {
	o.lock(id)
	return o.Tx.GetPayout(id)
}

func (o *orderedTx) GetRefund(id string) (malipo.Refund, error) {
	o.lock(id)
	return o.Tx.GetRefund(id)
}

func (o *orderedTx) GetRailAttempt(id string) (malipo.RailAttempt, error) {
	o.lock(id)
	return o.Tx.GetRailAttempt(id)
}
