package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
		ds, err := tx.LeaseDueDeliveries(now, now.Add(time.Minute), 3, nil)
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, d := range ds {
			if !d.NextAttemptAt.Equal(now.Add(time.Minute)) || d.Lease != 3 {
				t.Errorf("%s leased until %s, lease %d", d.ID, d.NextAttemptAt, d.Lease)
			}
			if diff := cmp.Diff(event("evt_1", "mer_a"), d.Event); diff != "" {
				t.Errorf("%s leased with its event other than written (-want +got):\n%s", d.ID, diff)
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

// testManySettlementsInABatch: a batch whose rows of a table take more
// than one statement (more than chunkSize's 32) still fails only the
// callers whose rows are wrong: a settlement under a lease since lost in
// the first statement's rows, an attempt recorded twice in the last.
func testManySettlementsInABatch(t *testing.T, s store.Store) {
	const n = 70
	now := epoch.Add(time.Minute)
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateEvent(event("evt_1", "mer_a")); err != nil {
			return err
		}
		for i := range n {
			if err := tx.CreateDelivery(delivery(fmt.Sprintf("dlv_%02d", i), epoch)); err != nil {
				return err
			}
		}
		return nil
	})
	var leased []store.Leased
	write(t, s, func(tx store.Tx) error {
		var err error
		leased, err = tx.LeaseDueDeliveries(now, now.Add(time.Minute), n, nil)
		return err
	})
	if len(leased) != n {
		t.Fatalf("leased %d deliveries, want %d", len(leased), n)
	}
	recorded := malipo.Attempt{DeliveryID: leased[n-1].ID, Number: 1, At: now, StatusCode: 200}
	write(t, s, func(tx store.Tx) error { return tx.AddAttempt(recorded) })
	settle := func(d malipo.Delivery) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			d.Status, d.Attempts, d.UpdatedAt = malipo.DeliverySucceeded, 1, now
			if err := tx.SettleDelivery(d); err != nil {
				return err
			}
			return tx.AddAttempt(malipo.Attempt{DeliveryID: d.ID, Number: 1, At: now, StatusCode: 200})
		}
	}
	var fns []func(tx store.Tx) error
	for i, d := range leased[:n-1] {
		if i == 3 {
			d.Lease-- // a lease since taken over
		}
		fns = append(fns, settle(d.Delivery))
	}
	fns = append(fns, func(tx store.Tx) error { return tx.AddAttempt(recorded) })
	errs := inOneBatch(t, s, fns...)
	for i, err := range errs {
		switch i {
		case 3:
			if !errors.Is(err, store.ErrLeaseLost) {
				t.Errorf("settlement under a lost lease: %v, want ErrLeaseLost", err)
			}
		case n - 1:
			wantKind(t, err, malipo.KindConflict)
		default:
			if err != nil {
				t.Errorf("settlement %d: %v", i, err)
			}
		}
	}
	read(t, s, func(tx store.Tx) error {
		for i, d := range leased {
			got, err := tx.GetDelivery(d.ID)
			must(t, err)
			as, err := tx.ListAttempts(d.ID)
			must(t, err)
			want := malipo.DeliverySucceeded
			if i == 3 || i == n-1 {
				want = malipo.DeliveryPending
			}
			if got.Status != want || len(as) != 1 && i != 3 || len(as) != 0 && i == 3 {
				t.Errorf("delivery %d: %s with %d attempts", i, got.Status, len(as))
			}
		}
		return nil
	})
}

// testLeases: a Lease is a write transaction like Transact, all or
// nothing, seen by everything after it, and its claims never overlap a
// batch's.
// leaseDue leases up to n deliveries due at now, for a minute, in a lease
// of their own.
func leaseDue(t *testing.T, s store.Store, now time.Time, n int) []store.Leased {
	t.Helper()
	var leased []store.Leased
	must(t, s.Lease(context.Background(), func(tx store.Tx) error {
		var err error
		leased, err = tx.LeaseDueDeliveries(now, now.Add(time.Minute), n, nil)
		return err
	}))
	return leased
}

// fortyDue stores an event with 40 deliveries due at epoch.
func fortyDue(t *testing.T, s store.Store) {
	t.Helper()
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateEvent(event("evt_1", "mer_a")); err != nil {
			return err
		}
		for i := range 40 {
			if err := tx.CreateDelivery(delivery(fmt.Sprintf("dlv_%02d", i), epoch)); err != nil {
				return err
			}
		}
		return nil
	})
}

func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	fortyDue(t, s)
	now := epoch.Add(time.Second)
	boom := errors.New("boom")
	err := s.Lease(ctx, func(tx store.Tx) error {
		if _, err := tx.LeaseDueDeliveries(now, now.Add(time.Minute), 5, nil); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Lease error = %v, want boom", err)
	}
	read(t, s, func(tx store.Tx) error {
		b, err := tx.Backlog(now)
		must(t, err)
		if b.DeliveriesDue != 40 {
			t.Errorf("after a failed lease %d deliveries due, want 40", b.DeliveriesDue)
		}
		return nil
	})

	leased := leaseDue(t, s, now, 5)
	if len(leased) != 5 {
		t.Fatalf("leased %d deliveries, want 5", len(leased))
	}
	// Seen at once by a batch: it settles the leased delivery under its lease.
	settled := leased[0].Delivery
	settled.Status, settled.Attempts = malipo.DeliverySucceeded, 1
	write(t, s, func(tx store.Tx) error { return tx.SettleDelivery(settled) })
	read(t, s, func(tx store.Tx) error {
		d, err := tx.GetDelivery(settled.ID)
		must(t, err)
		if d.Status != malipo.DeliverySucceeded {
			t.Errorf("a delivery settled under its lease is %s", d.Status)
		}
		b, err := tx.Backlog(now)
		must(t, err)
		if b.DeliveriesDue != 35 {
			t.Errorf("%d deliveries due after leasing 5, want 35", b.DeliveriesDue)
		}
		return nil
	})

	// Leases and batches racing for the rest each take a delivery once.
	claimed := claimRaceVia(t, []txFunc{s.Lease, s.Lease, transactOf(s), transactOf(s)}, func(tx store.Tx) ([]string, error) {
		ds, err := tx.LeaseDueDeliveries(now, now.Add(time.Minute), 2, nil)
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		return ids, err
	})
	if len(claimed) != 35 {
		t.Errorf("the race claimed %d deliveries, want 35", len(claimed))
	}
	for _, d := range leased {
		if claimed[d.ID] != 0 {
			t.Errorf("%s, leased already, was claimed again", d.ID)
		}
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
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

// testGetEvents: events read by ID many at a time, more than one
// statement's worth, in the transaction that wrote them and after.
func testGetEvents(t *testing.T, s store.Store) {
	var want []malipo.Event
	ids := []string{"evt_nope"}
	for i := range 45 {
		e := event(fmt.Sprintf("evt_%02d", i), "mer_a")
		e.ObjectID = fmt.Sprintf("pay_%02d", i)
		want, ids = append(want, e), append(ids, e.ID)
	}
	check := func(tx store.Tx) error {
		got, err := tx.GetEvents(ids)
		if err != nil {
			return err
		}
		slices.SortFunc(got, func(a, b malipo.Event) int { return strings.Compare(a.ID, b.ID) })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetEvents (-want +got):\n%s", diff)
		}
		return nil
	}
	write(t, s, func(tx store.Tx) error {
		for _, e := range want {
			if err := tx.CreateEvent(e); err != nil {
				return err
			}
		}
		return check(tx)
	})
	read(t, s, check)
}

// testLeaseExceptReceivers: a lease leaves alone deliveries to the
// receivers it is told to, whatever the case of their host or the path,
// query or fragment after it, and only those: not a longer host, another
// port or scheme, nor a host that matches only when _ is a wildcard. Told
// some, it takes the newest due first.
func testLeaseExceptReceivers(t *testing.T, s store.Store) {
	now := epoch.Add(time.Minute)
	urls := []struct { // oldest first
		url   string
		alone bool
	}{
		{"https://shop.example", true},
		{"https://shop.example.net/hooks", false},
		{"https://shop.example/hooks", true},
		{"https://shop.example:8443/hooks", false},
		{"https://SHOP.example/Hooks", true},
		{"http://shop.example/hooks", false},
		{"https://shop.example?token=x", true},
		{"https://myxshop.example/ipn", false},
		{"https://shop.example#f", true},
		{"https://other.example/shop.example", false},
		{"https://my_shop.example/ipn", true},
	}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateEvent(event("evt_1", "mer_a")); err != nil {
			return err
		}
		for i, u := range urls {
			d := delivery(fmt.Sprintf("dlv_%02d", i), epoch.Add(time.Duration(i)*time.Second))
			d.URL = u.url
			if err := tx.CreateDelivery(d); err != nil {
				return err
			}
		}
		return nil
	})
	except := []string{"https://shop.example", "https://my_shop.example"}
	lease := func(limit int, except []string) (got []string) {
		write(t, s, func(tx store.Tx) error {
			ds, err := tx.LeaseDueDeliveries(now, now.Add(time.Minute), limit, except)
			for _, d := range ds {
				got = append(got, d.URL)
			}
			return err
		})
		slices.Sort(got)
		return got
	}
	var others, alone []string
	for _, u := range urls {
		if u.alone {
			alone = append(alone, u.url)
		} else {
			others = append(others, u.url)
		}
	}
	newest := slices.Sorted(slices.Values(others[len(others)-2:]))
	if got := lease(2, except); !slices.Equal(got, newest) {
		t.Errorf("leased %q with exceptions, want the two newest others %q", got, newest)
	}
	rest := slices.Sorted(slices.Values(others[:len(others)-2]))
	if got := lease(100, except); !slices.Equal(got, rest) {
		t.Errorf("then leased %q, want the other others %q", got, rest)
	}
	slices.Sort(alone)
	if got := lease(100, nil); !slices.Equal(got, alone) {
		t.Errorf("then without exceptions leased %q, want those left alone %q", got, alone)
	}
}

// testDeliverySettlements: an attempt's outcome settles a delivery only
// while it is pending under the lease and attempt count its settler saw;
// otherwise the settler alone fails with ErrLeaseLost and nothing it wrote
// stands, batched with others or not.
func testDeliverySettlements(t *testing.T, s store.Store) {
	now := epoch.Add(time.Minute)
	names := []string{"a", "b", "c", "d", "e"}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateEvent(event("evt_1", "mer_a")); err != nil {
			return err
		}
		for _, n := range names {
			if err := tx.CreateDelivery(delivery("dlv_"+n, epoch)); err != nil {
				return err
			}
		}
		return nil
	})
	leased := map[string]malipo.Delivery{}
	write(t, s, func(tx store.Tx) error {
		ds, err := tx.LeaseDueDeliveries(now, now.Add(time.Minute), 10, nil)
		for _, d := range ds {
			leased[d.ID] = d.Delivery
		}
		if len(ds) != len(names) {
			t.Fatalf("leased %d deliveries", len(ds))
		}
		done := leased["dlv_d"]
		done.Status = malipo.DeliverySucceeded
		return errors.Join(err, tx.UpdateDelivery(done))
	})
	// settle records attempt 1 of delivery id and settles it as status,
	// under lease.
	settle := func(id string, lease int, status malipo.DeliveryStatus, code int) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			d := leased[id]
			d.Lease, d.Status, d.Attempts, d.UpdatedAt = lease, status, d.Attempts+1, now
			d.NextAttemptAt = now.Add(time.Duration(code) * time.Second)
			if err := tx.AddAttempt(malipo.Attempt{DeliveryID: id, Number: d.Attempts, At: now, StatusCode: code}); err != nil {
				return err
			}
			return tx.SettleDelivery(d)
		}
	}
	errs := inOneBatch(t, s,
		settle("dlv_a", 3, malipo.DeliverySucceeded, 200),
		settle("dlv_b", 2, malipo.DeliverySucceeded, 200), // a lease since taken over
		settle("dlv_c", 3, malipo.DeliveryPending, 503),
		settle("dlv_c", 3, malipo.DeliverySucceeded, 204), // the same attempt settled twice
		settle("dlv_d", 3, malipo.DeliveryFailed, 410),    // finished since
	)
	for i, want := range []error{nil, store.ErrLeaseLost, nil, store.ErrLeaseLost, store.ErrLeaseLost} {
		if !errors.Is(errs[i], want) && errs[i] != want {
			t.Errorf("settlement %d: error %v, want %v", i, errs[i], want)
		}
	}
	// Alone, and read back by the transaction that settled it.
	err := s.Transact(context.Background(), settle("dlv_e", 4, malipo.DeliverySucceeded, 200))
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("settlement under a lease never taken: %v", err)
	}
	write(t, s, func(tx store.Tx) error {
		if err := settle("dlv_e", 3, malipo.DeliveryPending, 500)(tx); err != nil {
			return err
		}
		got, err := tx.GetDelivery("dlv_e")
		if err == nil && (got.Attempts != 1 || !got.NextAttemptAt.Equal(now.Add(500*time.Second))) {
			t.Errorf("own settlement unseen: %+v", got)
		}
		return err
	})

	read(t, s, func(tx store.Tx) error {
		for _, w := range []struct {
			id       string
			status   malipo.DeliveryStatus
			attempts int
			next     time.Time
			codes    []int
		}{
			{"dlv_a", malipo.DeliverySucceeded, 1, now.Add(200 * time.Second), []int{200}},
			{"dlv_b", malipo.DeliveryPending, 0, now.Add(time.Minute), nil},
			{"dlv_c", malipo.DeliveryPending, 1, now.Add(503 * time.Second), []int{503}},
			{"dlv_d", malipo.DeliverySucceeded, 0, now.Add(time.Minute), nil},
			{"dlv_e", malipo.DeliveryPending, 1, now.Add(500 * time.Second), []int{500}},
		} {
			d, err := tx.GetDelivery(w.id)
			must(t, err)
			if d.Status != w.status || d.Attempts != w.attempts || !d.NextAttemptAt.Equal(w.next) || d.Lease != 3 {
				t.Errorf("%s: %s, %d attempts, due %s, lease %d; want %s, %d, %s, 3", w.id, d.Status, d.Attempts, d.NextAttemptAt, d.Lease,
					w.status, w.attempts, w.next)
			}
			as, err := tx.ListAttempts(w.id)
			must(t, err)
			var codes []int
			for _, a := range as {
				codes = append(codes, a.StatusCode)
			}
			if !slices.Equal(codes, w.codes) {
				t.Errorf("%s: attempts answered %v, want %v", w.id, codes, w.codes)
			}
		}
		return nil
	})
}

// testGiveBackDeliveries: deliveries leased and given back in the same
// transaction are due again when told, under a newer lease, and the next
// lease takes them; the rest stay leased.
func testGiveBackDeliveries(t *testing.T, s store.Store) {
	ctx := context.Background()
	fortyDue(t, s)
	now := epoch.Add(time.Second)
	var kept, back []malipo.Delivery
	must(t, s.Lease(ctx, func(tx store.Tx) error {
		leased, err := tx.LeaseDueDeliveries(now, now.Add(time.Minute), 40, nil)
		if err != nil {
			return err
		}
		kept, back = nil, nil
		var ids []string
		for i, l := range leased {
			if i < 5 {
				kept = append(kept, l.Delivery)
				continue
			}
			back = append(back, l.Delivery)
			ids = append(ids, l.ID)
		}
		return tx.GiveBackDeliveries(ids, now)
	}))
	if len(kept) != 5 || len(back) != 35 {
		t.Fatalf("kept %d and gave back %d, want 5 and 35", len(kept), len(back))
	}
	read(t, s, func(tx store.Tx) error {
		for _, d := range kept {
			got, err := tx.GetDelivery(d.ID)
			must(t, err)
			if got.Lease != d.Lease || !got.NextAttemptAt.Equal(now.Add(time.Minute)) {
				t.Errorf("kept %s: lease %d due %s, want lease %d due %s", d.ID, got.Lease, got.NextAttemptAt, d.Lease, now.Add(time.Minute))
			}
		}
		for _, d := range back {
			got, err := tx.GetDelivery(d.ID)
			must(t, err)
			if got.Lease != d.Lease+1 || !got.NextAttemptAt.Equal(now) || got.Status != malipo.DeliveryPending {
				t.Errorf("given back %s: lease %d due %s (%s), want lease %d due %s", d.ID, got.Lease, got.NextAttemptAt, got.Status, d.Lease+1, now)
			}
		}
		return nil
	})
	if again := leaseDue(t, s, now, 40); len(again) != 35 {
		t.Errorf("the next lease took %d, want the 35 given back", len(again))
	}
}

// testLeaseReadAhead: a lease may read ahead the integrations and
// endpoints of the deliveries it leases; what its function reads is
// still what is stored, as its own writes leave it: a merchant whose
// endpoints are all gone has none, one written in the lease is seen.
func testLeaseReadAhead(t *testing.T, s store.Store) {
	_, ia := fixture(t, s, "a")
	_, ib := fixture(t, s, "b")
	write(t, s, func(tx store.Tx) error {
		for _, e := range []malipo.Event{event("evt_1", ia.MerchantID), event("evt_2", ib.MerchantID)} {
			if err := tx.CreateEvent(e); err != nil {
				return err
			}
		}
		toA := delivery("dlv_a", epoch) // to we_1, which is stored
		toB := delivery("dlv_b", epoch) // to an endpoint deleted since
		toB.EventID, toB.MerchantID, toB.IntegrationID, toB.EndpointID = "evt_2", ib.MerchantID, ib.ID, "we_gone"
		toNotifyURL := toB // to the integration's notify_url
		toNotifyURL.ID, toNotifyURL.EndpointID = "dlv_n", ""
		for _, d := range []malipo.Delivery{toA, toB, toNotifyURL} {
			if err := tx.CreateDelivery(d); err != nil {
				return err
			}
		}
		return tx.CreateEndpoint(endpointOf("we_1", ia))
	})
	got := lookups{}
	now := epoch.Add(time.Second)
	must(t, s.Lease(context.Background(), func(tx store.Tx) error {
		leased, err := tx.LeaseDueDeliveries(now, now.Add(time.Minute), 10, nil)
		if err != nil {
			return err
		}
		if len(leased) != 3 {
			t.Errorf("leased %d deliveries, want 3", len(leased))
		}
		if err := got.look(tx, "a", ia); err != nil {
			return err
		}
		if err := got.look(tx, "b", ib); err != nil {
			return err
		}
		if err := tx.CreateEndpoint(endpointOf("we_b", ib)); err != nil {
			return err
		}
		return got.look(tx, "b, after a write", ib)
	}))
	got.want(t, lookups{
		"a":                {[]malipo.Endpoint{endpointOf("we_1", ia)}, ia},
		"b":                {nil, ib},
		"b, after a write": {[]malipo.Endpoint{endpointOf("we_b", ib)}, ib},
	})
}
