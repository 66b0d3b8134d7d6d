package notify_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/storetest"
)

// noClaims is a store on which the dispatcher's claims all fail: only a
// delivery carried to it can be sent.
type noClaims struct{ store.Store }

func (noClaims) Lease(context.Context, func(store.Tx) error) error {
	return errors.New("claims are refused in this test")
}

// runCarrying runs the dispatcher, as run does, once Run takes carried
// deliveries.
func (f *fixture) runCarrying(t *testing.T) (stop func()) {
	stop = f.run(t)
	waitFor(t, "Run to take carried deliveries", func() bool { _, ok := f.disp.Lease("http://nobody.test"); return ok })
	return stop
}

// A delivery written while Run runs is carried to it when its change
// commits: sent, recorded and, refused, retried on its schedule, with no
// claim at all.
func TestADeliveryIsCarriedWithoutAClaim(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		f := newCarryingFixture(t, st, func(c *notify.Config) { c.Store, c.Poll = noClaims{st}, time.Hour })
		rc := newReceiver(t, f.clk, answer(503, "busy"))
		f.endpoint(t, rc.URL)
		f.runCarrying(t)
		ev := f.pay(t, "o-1", malipo.PaymentSucceeded, "")
		waitFor(t, "the carried delivery's attempt to be recorded", func() bool {
			logs := f.deliveries(t, ev.ID)
			return len(logs) == 1 && len(logs[0].Attempts) == 1
		})
		logs := f.deliveries(t, ev.ID)
		d := logs[0].Delivery
		if got := rc.requests(); len(got) != 1 || got[0].header.Get("webhook-id") != ev.ID {
			t.Fatalf("receiver got %+v, want the event once", got)
		}
		if d.Status != malipo.DeliveryPending || d.Attempts != 1 || d.Lease != 1 ||
			!d.NextAttemptAt.Equal(start.Add(notify.DefaultSchedule[1])) || logs[0].Attempts[0].StatusCode != 503 {
			t.Errorf("after the refused attempt: %+v, %+v; want pending, due on its schedule, lease 1", d, logs[0].Attempts)
		}
	})
}

// Carry takes nothing once Run has stopped, nor does Lease promise it: a
// delivery written leased in between is released, due at once for any
// node's claim, and sent once.
func TestACarryRunCannotTakeIsReleased(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		f := newCarryingFixture(t, st, nil)
		rc := newReceiver(t, f.clk, answer(200, ""))
		ep, _ := f.endpoint(t, rc.URL)
		stop := f.runCarrying(t)
		until, _ := f.disp.Lease(rc.URL)
		stop()
		if _, ok := f.disp.Lease(rc.URL); ok {
			t.Error("Lease promises a carry after Run stopped")
		}
		ev := malipo.Event{ID: "evt_1", MerchantID: f.integ.MerchantID, Mode: malipo.ModeTest, Type: malipo.EventPaymentSucceeded,
			ObjectType: "payment", ObjectID: "pay_1", Data: []byte(`{}`), CreatedAt: start}
		d := malipo.Delivery{ID: "dlv_1", EventID: ev.ID, MerchantID: ev.MerchantID, Mode: ev.Mode, EndpointID: ep.ID,
			Flavor: malipo.FlavorNative, URL: ep.URL, Status: malipo.DeliveryPending, NextAttemptAt: until, Lease: 1,
			CreatedAt: start, UpdatedAt: start}
		if err := st.Transact(context.Background(), func(tx store.Tx) error {
			tx.AfterCommit(func() { f.disp.Carry(d, ev, &ep, malipo.Integration{}) })
			if err := tx.CreateEvent(ev); err != nil {
				return err
			}
			return tx.CreateDelivery(d)
		}); err != nil {
			t.Fatal(err)
		}
		other := notify.New(notify.Config{Store: st, Clock: f.clk, Jitter: -1,
			Flavors: map[malipo.Flavor]notify.Flavor{malipo.FlavorNative: native.New(f.svc, nil).Flavor()}})
		if n, err := other.RunDue(context.Background()); n != 1 || err != nil {
			t.Fatalf("another node, at once: RunDue = %d, %v; want the released delivery", n, err)
		}
		if n, _ := other.RunDue(context.Background()); n != 0 || len(rc.requests()) != 1 {
			t.Errorf("sent %d times, and %d more due", len(rc.requests()), n)
		}
	})
}

// Carried deliveries under way are bounded by the workers: past them, a
// change's deliveries are written due now, for a claim.
func TestCarriesAreBoundedByTheWorkers(t *testing.T) {
	st := storetest.SQLite(t)
	f := newCarryingFixture(t, st, func(c *notify.Config) {
		c.Store, c.Poll, c.Workers = noClaims{st}, time.Hour, 1
		c.ReceiverShare = 10 // not stalled by its one attempt under way: only the bound says no
	})
	gate := make(chan struct{})
	rc := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
		<-gate
		return 200, nil, ""
	})
	open := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(open) // before the receiver closes, which waits for its answers
	f.endpoint(t, rc.URL)
	f.runCarrying(t)
	first := f.pay(t, "o-1", malipo.PaymentSucceeded, "")
	waitFor(t, "the first attempt to be under way", func() bool { return len(rc.requests()) == 1 })
	if _, ok := f.disp.Lease(rc.URL); ok {
		t.Error("Lease promises a second carry to a dispatcher of one worker with one carried")
	}
	second := f.pay(t, "o-2", malipo.PaymentSucceeded, "")
	if d := f.deliveries(t, second.ID)[0].Delivery; d.Lease != 0 || d.NextAttemptAt.After(f.clk.Now()) {
		t.Errorf("second delivery %+v, want it written due now, unleased", d)
	}
	open()
	waitFor(t, "the first event to be acknowledged", func() bool {
		return f.deliveries(t, first.ID)[0].Delivery.Status == malipo.DeliverySucceeded
	})
	other := notify.New(notify.Config{Store: st, Clock: f.clk, Jitter: -1,
		Flavors: map[malipo.Flavor]notify.Flavor{malipo.FlavorNative: native.New(f.svc, nil).Flavor()}})
	if n, err := other.RunDue(context.Background()); n != 1 || err != nil || len(rc.requests()) != 2 {
		t.Errorf("a claim sent %d (%v); the receiver got %d requests, want 1 and 2", n, err, len(rc.requests()))
	}
}

// A receiver stalled at its share (its attempts under way unanswered) is
// carried nothing more: its deliveries wait for claims, which leave it
// alone until it answers; other receivers are still carried to.
func TestAStalledReceiverIsCarriedNothing(t *testing.T) {
	st := storetest.SQLite(t)
	f := newCarryingFixture(t, st, func(c *notify.Config) { c.Store, c.Poll, c.Workers, c.ReceiverShare = noClaims{st}, time.Hour, 4, 1 })
	gate := make(chan struct{})
	rc := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
		<-gate
		return 200, nil, ""
	})
	f.endpoint(t, rc.URL)
	f.runCarrying(t)
	t.Cleanup(func() { close(gate) }) // first, so that Run's stop finds the attempt answered
	f.pay(t, "o-1", malipo.PaymentSucceeded, "")
	waitFor(t, "the attempt to be under way", func() bool { return len(rc.requests()) == 1 })
	if _, ok := f.disp.Lease(rc.URL + "/other/path"); ok {
		t.Error("Lease promises a carry to a stalled receiver")
	}
	if _, ok := f.disp.Lease("http://elsewhere.test/hook"); !ok {
		t.Error("Lease refuses a carry to a receiver with nothing under way")
	}
}
