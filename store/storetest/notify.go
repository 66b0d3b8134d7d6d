package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

func event(id, merchant string) malipo.Event {
	return malipo.Event{ID: id, MerchantID: merchant, Mode: malipo.ModeTest, Type: malipo.EventPaymentSucceeded,
		ObjectType: "payment", ObjectID: "pay_1", Data: []byte(`{"ID":"pay_1"}`), CreatedAt: epoch}
}

func testEvents(t *testing.T, s store.Store) {
	write(t, s, func(tx store.Tx) error {
		for i := 0; i < 5; i++ {
			e := event(fmt.Sprintf("evt_%d", i), "mer_a")
			if i == 2 {
				e.ObjectID = "pay_evt_2"
			}
			if i == 4 {
				e.Type = malipo.EventPaymentFailed
			}
			if err := tx.CreateEvent(e); err != nil {
				return err
			}
		}
		return tx.CreateEvent(event("evt_other", "mer_b"))
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetEvent("evt_1")
		must(t, err)
		if diff := cmp.Diff(event("evt_1", "mer_a"), got); diff != "" { // evt_1 is as event makes it
			t.Errorf("event (-want +got):\n%s", diff)
		}
		_, err = tx.GetEvent("evt_nope")
		wantKind(t, err, malipo.KindNotFound)
		page, err := tx.ListEvents(store.EventFilter{MerchantID: "mer_a", Mode: malipo.ModeTest, Limit: 2, StartingAfter: "evt_4"})
		must(t, err)
		if len(page) != 2 || page[0].ID != "evt_3" || page[1].ID != "evt_2" {
			t.Errorf("page = %+v", page)
		}
		failed, err := tx.ListEvents(store.EventFilter{MerchantID: "mer_a", Mode: malipo.ModeTest, Type: malipo.EventPaymentFailed})
		must(t, err)
		if len(failed) != 1 || failed[0].ID != "evt_4" {
			t.Errorf("type filter = %+v", failed)
		}
		one, err := tx.ListEvents(store.EventFilter{MerchantID: "mer_a", Mode: malipo.ModeTest, ObjectID: "pay_evt_2"})
		must(t, err)
		if len(one) != 1 || one[0].ID != "evt_2" {
			t.Errorf("object filter = %+v", one)
		}
		return nil
	})
}

func testEndpoints(t *testing.T, s store.Store) {
	ep := malipo.Endpoint{ID: "we_1", MerchantID: "mer_a", Mode: malipo.ModeTest, URL: "https://shop.example/hooks",
		Events: []string{malipo.EventPaymentSucceeded, "payment.*"}, Secrets: []malipo.EndpointSecret{{Secret: "whsec_a"}}, CreatedAt: epoch}
	write(t, s, func(tx store.Tx) error { return tx.CreateEndpoint(ep) })
	ep.Secrets = append(ep.Secrets, malipo.EndpointSecret{Secret: "whsec_old", ExpiresAt: epoch.Add(time.Hour)})
	ep.Disabled, ep.DisabledReason = true, "410 Gone"
	write(t, s, func(tx store.Tx) error { return tx.UpdateEndpoint(ep) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetEndpoint("we_1")
		must(t, err)
		if diff := cmp.Diff(ep, got); diff != "" {
			t.Errorf("endpoint (-want +got):\n%s", diff)
		}
		list, err := tx.ListEndpoints("mer_a", malipo.ModeTest)
		must(t, err)
		if len(list) != 1 {
			t.Errorf("list = %+v", list)
		}
		live, err := tx.ListEndpoints("mer_a", malipo.ModeLive)
		must(t, err)
		if len(live) != 0 {
			t.Errorf("live list = %+v", live)
		}
		return nil
	})
	write(t, s, func(tx store.Tx) error { return tx.DeleteEndpoint("we_1") })
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.DeleteEndpoint("we_1") })
	wantKind(t, err, malipo.KindNotFound)
}

func delivery(id string, due time.Time) malipo.Delivery {
	return malipo.Delivery{ID: id, EventID: "evt_1", MerchantID: "mer_a", Mode: malipo.ModeTest, EndpointID: "we_1", Lease: 2,
		IntegrationID: "int_a", Flavor: malipo.FlavorNative, URL: "https://shop.example/hooks", Status: malipo.DeliveryPending,
		NextAttemptAt: due, CreatedAt: epoch, UpdatedAt: epoch}
}

func testDeliveries(t *testing.T, s store.Store) {
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateEvent(event("evt_1", "mer_a")); err != nil {
			return err
		}
		for i := 0; i < 30; i++ {
			d := delivery(fmt.Sprintf("dlv_%02d", i), epoch.Add(time.Duration(i)*time.Second))
			if i == 7 {
				d.Status = malipo.DeliverySucceeded
			}
			if err := tx.CreateDelivery(d); err != nil {
				return err
			}
		}
		return nil
	})
	// Workers racing to claim never take the same delivery twice.
	now := epoch.Add(19*time.Second + time.Millisecond) // dlv_00..dlv_19 are due
	claimed := claimRace(t, s, func(tx store.Tx) ([]string, error) {
		ds, err := tx.LeaseDueDeliveries(now, now.Add(time.Minute), 3)
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, d := range ds {
			if !d.NextAttemptAt.Equal(now.Add(time.Minute)) || d.Lease != 3 {
				t.Errorf("%s leased until %s, lease %d", d.ID, d.NextAttemptAt, d.Lease)
			}
			ids = append(ids, d.ID)
		}
		return ids, nil
	})
	if len(claimed) != 19 || claimed["dlv_07"] != 0 || claimed["dlv_20"] != 0 {
		t.Errorf("claimed %d deliveries: %v", len(claimed), claimed)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
	a := malipo.Attempt{DeliveryID: "dlv_00", Number: 1, At: epoch, StatusCode: 503, Latency: 1500 * time.Microsecond, Response: "busy", Error: ""}
	write(t, s, func(tx store.Tx) error { return tx.AddAttempt(a) })
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.AddAttempt(a) })
	wantKind(t, err, malipo.KindConflict)
	read(t, s, func(tx store.Tx) error {
		as, err := tx.ListAttempts("dlv_00")
		must(t, err)
		if diff := cmp.Diff([]malipo.Attempt{a}, as); diff != "" {
			t.Errorf("attempts (-want +got):\n%s", diff)
		}
		ds, err := tx.ListDeliveries("evt_1")
		must(t, err)
		if len(ds) != 30 {
			t.Errorf("ListDeliveries = %d", len(ds))
		}
		d, err := tx.GetDelivery("dlv_05")
		must(t, err)
		if !d.NextAttemptAt.Equal(now.Add(time.Minute)) {
			t.Errorf("lease not kept: %v", d.NextAttemptAt)
		}
		return nil
	})
}

func testBacklog(t *testing.T, s store.Store) {
	now := epoch.Add(time.Hour)
	read(t, s, func(tx store.Tx) error {
		b, err := tx.Backlog(now)
		must(t, err)
		if b != (store.Backlog{}) {
			t.Errorf("empty store: %+v", b)
		}
		return nil
	})
	write(t, s, func(tx store.Tx) error {
		must(t, tx.CreateEvent(event("evt_1", "mer_a")))
		done := delivery("dlv_done", epoch)
		done.Status = malipo.DeliverySucceeded
		for _, d := range []malipo.Delivery{done, delivery("dlv_old", epoch.Add(time.Minute)),
			delivery("dlv_due", now), delivery("dlv_later", now.Add(time.Second))} {
			must(t, tx.CreateDelivery(d))
		}
		sending := attempt("pay_1", 1, malipo.AttemptSending, now)
		sending.CreatedAt = epoch.Add(2 * time.Minute)
		pending := attempt("pay_2", 1, malipo.AttemptPending, now)
		pending.CreatedAt = epoch.Add(3 * time.Minute)
		finished := attempt("pay_3", 1, malipo.AttemptSucceeded, now)
		for _, a := range []malipo.RailAttempt{sending, pending, finished} {
			must(t, tx.CreateRailAttempt(a))
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		b, err := tx.Backlog(now)
		must(t, err)
		want := store.Backlog{DeliveriesDue: 2, OldestDeliveryDue: epoch.Add(time.Minute),
			AttemptsInFlight: 2, OldestAttemptSentAt: epoch.Add(2 * time.Minute)}
		if diff := cmp.Diff(want, b); diff != "" {
			t.Errorf("backlog (-want +got):\n%s", diff)
		}
		return nil
	})
}
