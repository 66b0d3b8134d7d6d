// Package storetest is the conformance suite every store.Store must pass.
// The sqlite and postgres packages run it against a real file and a real
// server, so the two engines cannot drift apart.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// Opener returns a fresh, empty, migrated store; the test closes it.
type Opener func(t *testing.T) store.Store

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"MerchantsAndIntegrations", testMerchantsAndIntegrations},
		{"Payments", testPayments},
		{"ListPayments", testListPayments},
		{"ListPaymentsByCreation", testListPaymentsByCreation},
		{"ReferenceUnique", testReferenceUnique},
		{"ClaimExpired", testClaimExpired},
		{"Ledger", testLedger},
		{"Audit", testAudit},
		{"Idempotency", testIdempotency},
		{"IdempotencyInOneBatch", testIdempotencyInOneBatch},
		{"HintedIdempotencyKeys", testHintedIdempotencyKeys},
		{"RollbackOnError", testRollbackOnError},
		{"Shedding", testShedding},
		{"HeldCommittersRefuse", testHeldCommittersRefuse},
		{"HotBalances", testHotBalances},
		{"GroupCommit", testGroupCommit},
		{"BatchFailuresStayTheirs", testBatchFailuresStayTheirs},
		{"BatchesObserved", testBatchesObserved},
		{"LongestBatchTimed", testLongestBatchTimed},
		{"OwnWritesSeen", testOwnWritesSeen},
		{"RepeatedReads", testRepeatedReads},
		{"PaymentUpdatesInABatch", testPaymentUpdatesInABatch},
		{"HintedPayments", testHintedPayments},
		{"HintedReadAhead", testHintedReadAhead},
		{"LeaseReadAhead", testLeaseReadAhead},
		{"PanicIsolated", testPanicIsolated},
		{"AfterCommit", testAfterCommit},
		{"Events", testEvents},
		{"GetEvents", testGetEvents},
		{"Endpoints", testEndpoints},
		{"Deliveries", testDeliveries},
		{"DeliverySettlements", testDeliverySettlements},
		{"LeaseExceptReceivers", testLeaseExceptReceivers},
		{"ManySettlementsInABatch", testManySettlementsInABatch},
		{"Leases", testLeases},
		{"GiveBackDeliveries", testGiveBackDeliveries},
		{"Backlog", testBacklog},
		{"CardSetupsAndTokens", testCards},
		{"Payouts", testPayouts},
		{"Refunds", testRefunds},
		{"HintedPayoutsAndRefunds", testHintedPayoutsAndRefunds},
		{"RailAttempts", testRailAttempts},
		{"Inbox", testInbox},
		{"RailOutcomesInABatch", testRailOutcomesInABatch},
		{"HintedRailAttempts", testHintedRailAttempts},
		{"RailAttemptsCreatedInABatch", testRailAttemptsCreatedInABatch},
		{"SandboxTransactions", testSandboxTransactions},
		{"SandboxTransactionsInABatch", testSandboxTransactionsInABatch},
		{"BalancesWithinTransaction", testBalancesWithinTransaction},
		{"SpendingLock", testSpendingLock},
		{"PayoutsInABatch", testPayoutsInABatch},
		{"NUL", testNUL},
		{"LiveRails", testLiveRails},
		{"UsersAndSessions", testUsersAndSessions},
		{"ListMerchantsAndIntegrations", testListMerchantsAndIntegrations},
		{"SearchPayments", testSearchPayments},
		{"MovementsAndRefunds", testMovementsAndRefunds},
		{"PaymentStats", testPaymentStats},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	must(t, s.Transact(context.Background(), fn))
}

func read(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	must(t, s.Read(context.Background(), fn))
}

// fixture makes a merchant with one native test integration.
func fixture(t *testing.T, s store.Store, id string) (malipo.Merchant, malipo.Integration) {
	t.Helper()
	m := malipo.Merchant{ID: "mer_" + id, Name: "Shop " + id, LogoURL: "https://shop.example/" + id + ".png", CreatedAt: epoch}
	i := malipo.Integration{ID: "int_" + id, MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest,
		Config: map[string]string{}, Fee: malipo.FeeRule{BasisPoints: 150, Fixed: 0}, CreatedAt: epoch,
		Rules: malipo.Rules{Fees: map[string]malipo.FeeRule{"card": {BasisPoints: 290}}, SettlementDelay: time.Hour, MaxPayout: 5000}}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateMerchant(m); err != nil {
			return err
		}
		return tx.CreateIntegration(i)
	})
	return m, i
}

func payment(i malipo.Integration, id, ref string) malipo.Payment {
	return malipo.Payment{
		ID: id, MerchantID: i.MerchantID, IntegrationID: i.ID, Mode: i.Mode, Amount: 5000, Currency: "XOF",
		Reference: ref, Description: "Chaussures", Customer: malipo.Customer{Name: "Awa", Email: "awa@example.com", Phone: "+2250707120000"},
		Channels: []malipo.Channel{malipo.ChannelMobileMoney, malipo.ChannelCard}, Metadata: map[string]string{"order": "42"},
		Status: malipo.PaymentPending, CheckoutToken: "tok_" + id, CreatedAt: epoch, UpdatedAt: epoch,
		ExpiresAt: epoch.Add(30 * time.Minute), ReturnURL: "https://shop.example/r", Lang: "fr",
		Items: []malipo.Item{{Name: "Chaussures", Quantity: 2, UnitPrice: 2000, Total: 4000}, {Name: "Livraison", Description: "Abidjan",
			Quantity: 1, UnitPrice: 1000, Total: 1000}},
		Taxes: []malipo.Tax{{Name: "TVA", Amount: 0}}, LockPhone: true, FaceData: []byte(`{"store":{"name":"Choco"}}`),
		Details: []malipo.Detail{{Label: "Matricule", Value: "24OPO25"}}, Store: malipo.Store{Name: "Choco", LogoURL: "https://choco.example/l.png"},
	}
}

func wantKind(t *testing.T, err error, kind malipo.Kind) {
	t.Helper()
	if malipo.KindOf(err) != kind {
		t.Fatalf("error = %v (kind %s), want kind %s", err, malipo.KindOf(err), kind)
	}
}

func testMerchantsAndIntegrations(t *testing.T, s store.Store) {
	m, i := fixture(t, s, "a")
	i.Config = map[string]string{"secret": "x"}
	key := malipo.APIKey{Hash: "abc123", IntegrationID: i.ID, Hint: "sk_test_…1234", CreatedAt: epoch}
	write(t, s, func(tx store.Tx) error { return tx.CreateAPIKey(key) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetMerchant(m.ID)
		must(t, err)
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("merchant (-want +got):\n%s", diff)
		}
		gk, err := tx.GetAPIKey("abc123")
		must(t, err)
		if diff := cmp.Diff(key, gk); diff != "" {
			t.Errorf("api key (-want +got):\n%s", diff)
		}
		gi, err := tx.GetIntegration(gk.IntegrationID)
		must(t, err)
		if gi.ID != i.ID || gi.Fee.BasisPoints != 150 || gi.Flavor != malipo.FlavorNative || !gi.CreatedAt.Equal(epoch) ||
			!cmp.Equal(gi.Rules, i.Rules) {
			t.Errorf("GetIntegration = %+v", gi)
		}
		n, err := tx.CountMerchants()
		must(t, err)
		if n != 1 {
			t.Errorf("CountMerchants = %d, want 1", n)
		}
		_, err = tx.GetAPIKey("nope")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
	// Rolling: a new key, the others expire at a time (never later than
	// they already would).
	newKey := malipo.APIKey{Hash: "def456", IntegrationID: i.ID, Hint: "sk_test_…5678", CreatedAt: epoch.Add(time.Hour)}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateAPIKey(newKey); err != nil {
			return err
		}
		if err := tx.ExpireAPIKeys(i.ID, epoch.Add(2*time.Hour), "def456"); err != nil {
			return err
		}
		return tx.ExpireAPIKeys(i.ID, epoch.Add(3*time.Hour), "def456")
	})
	read(t, s, func(tx store.Tx) error {
		keys, err := tx.ListAPIKeys(i.ID)
		must(t, err)
		if len(keys) != 2 || keys[0].Hash != "abc123" || !keys[0].ExpiresAt.Equal(epoch.Add(2*time.Hour)) || !keys[1].ExpiresAt.IsZero() {
			t.Errorf("keys after a roll: %+v", keys)
		}
		if keys[0].Works(epoch.Add(2*time.Hour)) || !keys[0].Works(epoch.Add(time.Hour)) {
			t.Errorf("Works: %+v", keys[0])
		}
		_, err = tx.GetMerchant("mer_nope")
		wantKind(t, err, malipo.KindNotFound)
		_, err = tx.GetIntegration("int_nope")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.CreateMerchant(m) })
	wantKind(t, err, malipo.KindConflict)
}

func testPayments(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	p := payment(i, "pay_01", "order-1")
	write(t, s, func(tx store.Tx) error { return tx.CreatePayment(p) })
	read(t, s, func(tx store.Tx) error {
		for name, get := range map[string]func() (malipo.Payment, error){
			"id":        func() (malipo.Payment, error) { return tx.GetPayment(p.ID) },
			"reference": func() (malipo.Payment, error) { return tx.PaymentByReference(i.ID, "order-1") },
		} {
			got, err := get()
			must(t, err)
			if diff := cmp.Diff(p, got); diff != "" {
				t.Errorf("by %s (-want +got):\n%s", name, diff)
			}
		}
		_, err := tx.GetPayment("pay_nope")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
	write(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(p.ID)
		if err != nil {
			return err
		}
		got.Method, got.Phone, got.RailReference, got.Fee = malipo.ChannelMobileMoney, "+2250707120000", "rail-1", 75
		got.NextAction = malipo.NextActionThreeDSecure
		got.Account, got.Customer.Name = "00012345678", "Awa" // set at checkout: kept by the update too
		if err := got.Transition(malipo.PaymentSucceeded, epoch.Add(time.Minute)); err != nil {
			return err
		}
		p = got
		return tx.UpdatePayment(got)
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(p.ID)
		must(t, err)
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("after update (-want +got):\n%s", diff)
		}
		return nil
	})
	missing := payment(i, "pay_missing", "x")
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.UpdatePayment(missing) })
	wantKind(t, err, malipo.KindNotFound)
}

// Lists are newest first by creation time, then by ID: a payment
// created later is listed first even if its ID sorts before (IDs are
// minted in creation order, but a store does not rely on it), and a page
// starting after a payment goes on from its place in that order.
func testListPaymentsByCreation(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	write(t, s, func(tx store.Tx) error {
		for n, id := range []string{"pay_c", "pay_b", "pay_a", "pay_d"} {
			p := payment(i, id, "ref-"+id)
			p.CreatedAt = epoch.Add(time.Duration(min(n, 2)) * time.Second) // pay_a and pay_d at once
			if err := tx.CreatePayment(p); err != nil {
				return err
			}
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		var all []string
		after := ""
		for range 5 {
			page, err := tx.ListPayments(store.PaymentFilter{MerchantID: i.MerchantID, Mode: malipo.ModeTest, Limit: 1, StartingAfter: after})
			must(t, err)
			if len(page) == 0 {
				break
			}
			all, after = append(all, page[0].ID), page[0].ID
		}
		if want := []string{"pay_d", "pay_a", "pay_b", "pay_c"}; !slices.Equal(all, want) {
			t.Errorf("paged one by one: %v, want %v", all, want)
		}
		from := epoch.Add(time.Second)
		got, err := tx.ListPayments(store.PaymentFilter{MerchantID: i.MerchantID, Mode: malipo.ModeTest, CreatedFrom: from, StartingAfter: "pay_d"})
		must(t, err)
		if ids := paymentIDs(got); !slices.Equal(ids, []string{"pay_a", "pay_b"}) {
			t.Errorf("created from a second on, after pay_d: %v, want [pay_a pay_b]", ids)
		}
		return nil
	})
}

func paymentIDs(ps []malipo.Payment) []string {
	ids := make([]string, len(ps))
	for n, p := range ps {
		ids[n] = p.ID
	}
	return ids
}

func testListPayments(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	_, other := fixture(t, s, "b")
	write(t, s, func(tx store.Tx) error {
		for n := 0; n < 25; n++ {
			p := payment(i, fmt.Sprintf("pay_%02d", n), fmt.Sprintf("ref-%02d", n))
			if n%5 == 0 {
				p.Status = malipo.PaymentFailed
			}
			if err := tx.CreatePayment(p); err != nil {
				return err
			}
		}
		return tx.CreatePayment(payment(other, "pay_other", "ref-00"))
	})
	read(t, s, func(tx store.Tx) error {
		var all []string
		after := ""
		for {
			page, err := tx.ListPayments(store.PaymentFilter{MerchantID: i.MerchantID, Mode: malipo.ModeTest, Limit: 10, StartingAfter: after})
			must(t, err)
			all = append(all, paymentIDs(page)...)
			if len(page) < 10 {
				break
			}
			after = page[len(page)-1].ID
		}
		if len(all) != 25 || all[0] != "pay_24" || all[24] != "pay_00" {
			t.Errorf("paged list = %v", all)
		}
		if page, err := tx.ListPayments(store.PaymentFilter{MerchantID: i.MerchantID, Mode: malipo.ModeTest, StartingAfter: "pay_other"}); err != nil || len(page) != 0 {
			t.Errorf("after another merchant's payment: %d payments, %v; want none", len(page), err)
		}
		failed := malipo.PaymentFailed
		got, err := tx.ListPayments(store.PaymentFilter{MerchantID: i.MerchantID, Mode: malipo.ModeTest, Status: &failed, Limit: 100})
		must(t, err)
		if len(got) != 5 {
			t.Errorf("failed filter returned %d, want 5", len(got))
		}
		ref := "ref-00"
		got, err = tx.ListPayments(store.PaymentFilter{MerchantID: i.MerchantID, Mode: malipo.ModeTest, Reference: &ref, Limit: 100})
		must(t, err)
		if len(got) != 1 || got[0].ID != "pay_00" {
			t.Errorf("reference filter returned %v", got)
		}
		return nil
	})
}

func testReferenceUnique(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	_, other := fixture(t, s, "b")
	write(t, s, func(tx store.Tx) error { return tx.CreatePayment(payment(i, "pay_1", "same")) })
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.CreatePayment(payment(i, "pay_2", "same")) })
	wantKind(t, err, malipo.KindConflict)
	if !errors.Is(err, malipo.ErrReferenceInUse) {
		t.Errorf("%v, want reference_in_use", err)
	}
	// Another integration may reuse the reference.
	write(t, s, func(tx store.Tx) error { return tx.CreatePayment(payment(other, "pay_3", "same")) })

	// Racing creators: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for n := 0; n < 20; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Transact(context.Background(), func(tx store.Tx) error {
				return tx.CreatePayment(payment(i, fmt.Sprintf("pay_race_%02d", n), "race"))
			})
			if err == nil {
				wins.Add(1)
			} else if malipo.KindOf(err) != malipo.KindConflict {
				t.Errorf("racing create: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d racing creators won, want 1", wins.Load())
	}
}

func testClaimExpired(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	write(t, s, func(tx store.Tx) error {
		for n := 0; n < 40; n++ {
			p := payment(i, fmt.Sprintf("pay_%02d", n), fmt.Sprintf("r%02d", n))
			p.ExpiresAt = epoch.Add(time.Duration(n) * time.Minute)
			if n%2 == 1 {
				p.Status = malipo.PaymentProcessing
			}
			if n == 3 {
				p.Status = malipo.PaymentSucceeded // final: never claimed
			}
			if err := tx.CreatePayment(p); err != nil {
				return err
			}
		}
		return nil
	})
	now := epoch.Add(29*time.Minute + 30*time.Second) // payments 0..29 are due
	claimed := claimRace(t, s, func(tx store.Tx) ([]string, error) {
		ps, err := tx.ClaimExpiredPayments(now, 4)
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, p := range ps {
			if err := p.Transition(malipo.PaymentExpired, now); err != nil {
				return nil, err
			}
			if err := tx.UpdatePayment(p); err != nil {
				return nil, err
			}
			ids = append(ids, p.ID)
		}
		return ids, nil
	})
	if len(claimed) != 29 {
		t.Errorf("claimed %d payments, want 29 (0..29 less the succeeded one)", len(claimed))
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
	if claimed["pay_03"] != 0 || claimed["pay_30"] != 0 {
		t.Errorf("claimed a final or not yet due payment")
	}
}

func testLedger(t *testing.T, s store.Store) {
	m, i := fixture(t, s, "a")
	p := payment(i, "pay_1", "r1")
	p.Fee = 75
	p.Status = malipo.PaymentSucceeded
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreatePayment(p); err != nil {
			return err
		}
		return tx.PostEntry(malipo.PaymentEntry("led_1", p, "sandbox", false, epoch))
	})
	err := s.Transact(context.Background(), func(tx store.Tx) error {
		return tx.PostEntry(malipo.PaymentEntry("led_2", p, "sandbox", false, epoch))
	})
	wantKind(t, err, malipo.KindConflict)
	err = s.Transact(context.Background(), func(tx store.Tx) error {
		return tx.PostEntry(malipo.Entry{ID: "led_bad", Kind: "x", RefType: "x", RefID: "x",
			Postings: []malipo.Posting{{Account: "a", Currency: "XOF", Amount: 1}, {Account: "b", Currency: "XOF", Amount: -2}}})
	})
	if err == nil {
		t.Fatal("unbalanced entry was posted")
	}
	read(t, s, func(tx store.Tx) error {
		bs, err := tx.Balances(m.ID, malipo.ModeTest)
		must(t, err)
		want := []malipo.Balance{{Currency: "XOF", Available: 4925}}
		if diff := cmp.Diff(want, bs); diff != "" {
			t.Errorf("balances (-want +got):\n%s", diff)
		}
		live, err := tx.Balances(m.ID, malipo.ModeLive)
		must(t, err)
		if len(live) != 0 {
			t.Errorf("test payment shows in live balances: %v", live)
		}
		for acct, want := range map[malipo.Account]int64{
			malipo.Fees(malipo.ModeTest, "XOF"): 75, malipo.RailClearing("sandbox", malipo.ModeTest, "XOF"): -5000, "nothing": 0,
		} {
			got, err := tx.AccountBalance(acct)
			must(t, err)
			if got != want {
				t.Errorf("balance of %s = %d, want %d", acct, got, want)
			}
		}
		r, err := tx.Audit(epoch)
		must(t, err)
		if !r.Clean() || r.Entries != 1 || r.Payments != 1 || r.Accounts != 3 {
			t.Errorf("audit = %+v", r)
		}
		return nil
	})
}

func testAudit(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	unposted := payment(i, "pay_unposted", "r1")
	unposted.Status = malipo.PaymentSucceeded
	failed := payment(i, "pay_failed", "r2")
	failed.Status = malipo.PaymentFailed
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreatePayment(unposted); err != nil {
			return err
		}
		if err := tx.CreatePayment(failed); err != nil {
			return err
		}
		return tx.PostEntry(malipo.PaymentEntry("led_1", failed, "sandbox", false, epoch))
	})
	read(t, s, func(tx store.Tx) error {
		r, err := tx.Audit(epoch)
		must(t, err)
		if r.Clean() {
			t.Fatal("audit is clean with a succeeded payment unposted and a failed one posted")
		}
		if diff := cmp.Diff([]string{"pay_unposted"}, r.PaymentNotPosted); diff != "" {
			t.Errorf("PaymentNotPosted (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"pay_failed"}, r.PostedNotPaid); diff != "" {
			t.Errorf("PostedNotPaid (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testIdempotency(t *testing.T, s store.Store) {
	r := store.Idempotency{Scope: "int_a", Key: "k1", RequestHash: "h1", Result: []byte(`{"id":"pay_1"}`), CreatedAt: epoch}
	write(t, s, func(tx store.Tx) error { return tx.PutIdempotency(r) })
	err := s.Transact(context.Background(), func(tx store.Tx) error { return tx.PutIdempotency(r) })
	wantKind(t, err, malipo.KindConflict)
	write(t, s, func(tx store.Tx) error {
		other := r
		other.Scope = "int_b" // keys are per integration
		other.CreatedAt = epoch.Add(48 * time.Hour)
		return tx.PutIdempotency(other)
	})
	write(t, s, func(tx store.Tx) error { return tx.SetIdempotencyResult("int_a", "k1", []byte(`{"id":"pay_1","v":2}`)) })
	r.Result = []byte(`{"id":"pay_1","v":2}`)
	err = s.Transact(context.Background(), func(tx store.Tx) error { return tx.SetIdempotencyResult("int_a", "nope", nil) })
	wantKind(t, err, malipo.KindNotFound)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency("int_a", "k1")
		must(t, err)
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("idempotency (-want +got):\n%s", diff)
		}
		_, err = tx.GetIdempotency("int_a", "k2")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
	var n int
	write(t, s, func(tx store.Tx) (err error) {
		n, err = tx.DeleteIdempotencyBefore(epoch.Add(24 * time.Hour))
		return err
	})
	if n != 1 {
		t.Errorf("deleted %d keys, want 1", n)
	}
}

// testIdempotencyInOneBatch: callers of one batch that use the same key
// see each other's, in the order they queued: a key written by an earlier
// caller is found by a later one's lookup, and a later caller's insert of
// it fails alone with a conflict. This is what keeps one request sent
// twice at once from being carried out twice, however the batch writes
// its rows.
func testIdempotencyInOneBatch(t *testing.T, s store.Store) {
	key := func(k, hash string) store.Idempotency {
		return store.Idempotency{Scope: "int_a", Key: k, RequestHash: hash, Result: []byte(`{"by":"` + hash + `"}`), CreatedAt: epoch}
	}
	lookThenPut := func(r store.Idempotency, found *string) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			prior, err := tx.GetIdempotency(r.Scope, r.Key)
			switch {
			case err == nil:
				*found = prior.RequestHash
				return nil
			case malipo.KindOf(err) != malipo.KindNotFound:
				return err
			}
			return tx.PutIdempotency(r)
		}
	}
	var firstFound, secondFound string
	errs := InOneBatch(t, s,
		Call{Fn: lookThenPut(key("k1", "first"), &firstFound)},
		Call{Fn: lookThenPut(key("k1", "second"), &secondFound)},
		Call{Fn: func(tx store.Tx) error { return tx.PutIdempotency(key("k1", "third")) }},
		Call{Fn: lookThenPut(key("k2", "other"), new(string))},
	)
	must(t, errs[0])
	must(t, errs[1])
	wantKind(t, errs[2], malipo.KindConflict)
	must(t, errs[3])
	if firstFound != "" || secondFound != "first" {
		t.Errorf("the first caller found %q and the second %q; want nothing, then the first's key", firstFound, secondFound)
	}
	read(t, s, func(tx store.Tx) error {
		for k, want := range map[string]string{"k1": "first", "k2": "other"} {
			got, err := tx.GetIdempotency("int_a", k)
			must(t, err)
			if got.RequestHash != want || string(got.Result) != `{"by":"`+want+`"}` {
				t.Errorf("key %s holds %q %s, want %q's", k, got.RequestHash, got.Result, want)
			}
		}
		return nil
	})
}

// testHintedIdempotencyKeys: hinted keys change nothing a lookup sees. In
// one batch whose callers hint the keys they look up, a stored key reads
// as stored, whatever an earlier caller did to what it read; a later
// caller's lookup sees what an earlier one did to the key (put it, whether
// it looked it up first or not; replaced its result; deleted it as
// expired) and not what a caller whose work was undone did; a key the
// store refuses fails only its own caller, as the lookup would without a
// hint. Each run of the batch sees the same.
func testHintedIdempotencyKeys(t *testing.T, s store.Store) {
	key := func(k, hash string, at time.Time) store.Idempotency {
		return store.Idempotency{Scope: "int_a", Key: k, RequestHash: hash, Result: []byte(`{"by":"` + hash + `"}`), CreatedAt: at}
	}
	old := epoch.Add(-48 * time.Hour)
	write(t, s, func(tx store.Tx) error {
		for _, r := range []store.Idempotency{key("stored", "stored", epoch), key("replaced", "replaced", epoch), key("expired", "expired", old)} {
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
		}
		return nil
	})
	// What each run of the batch found, by lookup: the batch runs again
	// (with savepoints) since some callers fail, and every run must see
	// the same.
	seen := map[string][]string{}
	lookAs := func(name, k string) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			r, err := tx.GetIdempotency("int_a", k)
			switch {
			case err == nil:
				seen[name] = append(seen[name], r.RequestHash+" "+string(r.Result))
				if !r.CreatedAt.Equal(epoch) || r.Scope != "int_a" || r.Key != k {
					t.Errorf("key %s reads as %+v", k, r)
				}
			case malipo.KindOf(err) == malipo.KindNotFound:
				seen[name] = append(seen[name], "nothing")
				return nil
			}
			return err
		}
	}
	lookThenPut := func(name string, r store.Idempotency) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			if err := lookAs(name, r.Key)(tx); err != nil {
				return err
			}
			if found := seen[name]; found[len(found)-1] != "nothing" {
				return nil
			}
			return tx.PutIdempotency(r)
		}
	}
	hint := func(k string) []store.Hint { return []store.Hint{{IdempotencyScope: "int_a", IdempotencyKey: k}} }
	changedMind := errors.New("changed its mind")
	errs := InOneBatch(t, s,
		// stored: looked up twice; the first caller changes what it was
		// given, which the second must not see.
		Call{Hints: hint("stored"), Fn: func(tx store.Tx) error {
			r, err := tx.GetIdempotency("int_a", "stored")
			if err == nil {
				copy(r.Result, "scribbled")
			}
			return err
		}},
		Call{Hints: hint("stored"), Fn: lookAs("stored", "stored")},
		// new: put by the first caller, found by the second; the third's
		// insert of it fails alone.
		Call{Hints: hint("new"), Fn: lookThenPut("new, first", key("new", "first", epoch))},
		Call{Hints: hint("new"), Fn: lookThenPut("new, second", key("new", "second", epoch))},
		Call{Hints: hint("new"), Fn: func(tx store.Tx) error { return tx.PutIdempotency(key("new", "third", epoch)) }},
		// blind: put without a lookup, then looked up.
		Call{Hints: hint("blind"), Fn: func(tx store.Tx) error { return tx.PutIdempotency(key("blind", "blind", epoch)) }},
		Call{Hints: hint("blind"), Fn: lookAs("blind", "blind")},
		// replaced: its result replaced, then looked up.
		Call{Hints: hint("replaced"), Fn: func(tx store.Tx) error {
			return tx.SetIdempotencyResult("int_a", "replaced", []byte(`{"by":"again"}`))
		}},
		Call{Hints: hint("replaced"), Fn: lookAs("replaced", "replaced")},
		// expired: deleted as expired, then looked up.
		Call{Hints: hint("expired"), Fn: func(tx store.Tx) error {
			_, err := tx.DeleteIdempotencyBefore(epoch.Add(-24 * time.Hour))
			return err
		}},
		Call{Hints: hint("expired"), Fn: lookAs("expired", "expired")},
		// undone: put by a caller that then fails, so the next finds none.
		Call{Hints: hint("undone"), Fn: func(tx store.Tx) error {
			if err := lookThenPut("undone, first", key("undone", "first", epoch))(tx); err != nil {
				return err
			}
			return changedMind
		}},
		Call{Hints: hint("undone"), Fn: lookThenPut("undone, second", key("undone", "second", epoch))},
		Call{Hints: hint("bad\x00"), Fn: lookAs("bad", "bad\x00")},
	)
	wantErrors(t, errs, map[int]error{4: kind(malipo.KindConflict), 11: changedMind, 13: kind(malipo.KindInvalid)})
	want := map[string]string{
		"stored":         `stored {"by":"stored"}`,
		"new, first":     "nothing",
		"new, second":    `first {"by":"first"}`,
		"blind":          `blind {"by":"blind"}`,
		"replaced":       `replaced {"by":"again"}`,
		"expired":        "nothing",
		"undone, first":  "nothing",
		"undone, second": "nothing",
	}
	sameInEachRun(t, "lookup", seen, want)
	read(t, s, func(tx store.Tx) error {
		r, err := tx.GetIdempotency("int_a", "undone")
		must(t, err)
		if r.RequestHash != "second" {
			t.Errorf("undone holds %q's key, want the second caller's", r.RequestHash)
		}
		return nil
	})
}

func testRollbackOnError(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	boom := errors.New("boom")
	err := s.Transact(context.Background(), func(tx store.Tx) error {
		if err := tx.CreatePayment(payment(i, "pay_1", "r1")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Transact error = %v, want boom", err)
	}
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetPayment("pay_1")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
}

// testGroupCommit runs many concurrent transactions, every third of which
// fails after writing: each caller must see exactly its own outcome.
func testGroupCommit(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	const n = 300
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for k := 0; k < n; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = s.Transact(context.Background(), func(tx store.Tx) error {
				if err := tx.CreatePayment(payment(i, fmt.Sprintf("pay_%03d", k), fmt.Sprintf("r%03d", k))); err != nil {
					return err
				}
				if k%3 == 0 {
					return boom
				}
				return nil
			})
		}()
	}
	wg.Wait()
	var want []string
	for k, err := range errs {
		if k%3 == 0 {
			if !errors.Is(err, boom) {
				t.Errorf("unit %d: error %v, want boom", k, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("unit %d: %v", k, err)
		}
		want = append(want, fmt.Sprintf("pay_%03d", k))
	}
	read(t, s, func(tx store.Tx) error {
		ps, err := tx.ListPayments(store.PaymentFilter{MerchantID: i.MerchantID, Mode: malipo.ModeTest, Limit: 1000})
		must(t, err)
		got := paymentIDs(ps)
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("committed payments (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testPanicIsolated(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	err := s.Transact(context.Background(), func(tx store.Tx) error {
		if err := tx.CreatePayment(payment(i, "pay_1", "r1")); err != nil {
			return err
		}
		panic("bug")
	})
	if err == nil {
		t.Fatal("panicking transaction returned nil")
	}
	write(t, s, func(tx store.Tx) error { return tx.CreatePayment(payment(i, "pay_2", "r2")) })
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetPayment("pay_1")
		wantKind(t, err, malipo.KindNotFound)
		_, err = tx.GetPayment("pay_2")
		must(t, err)
		return nil
	})
}

// claimRace has three workers run claim, each call in a transaction of
// its own, until a call claims nothing, and counts how often each ID was
// claimed: a store that hands one row to two workers counts it twice.
func claimRace(t *testing.T, s store.Store, claim func(tx store.Tx) ([]string, error)) map[string]int {
	t.Helper()
	tr := transactOf(s)
	return claimRaceVia(t, []txFunc{tr, tr, tr}, claim)
}

// txFunc is a store's way of running a write transaction: Transact or
// Lease.
type txFunc func(ctx context.Context, fn func(store.Tx) error) error

// transactOf is s's Transact, without hints.
func transactOf(s store.Store) txFunc {
	return func(ctx context.Context, fn func(store.Tx) error) error { return s.Transact(ctx, fn) }
}

// claimRaceVia is claimRace with one worker per runner, each claiming
// through its own.
func claimRaceVia(t *testing.T, runners []txFunc, claim func(tx store.Tx) ([]string, error)) map[string]int {
	t.Helper()
	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	for _, run := range runners {
		wg.Go(func() {
			for {
				var got int
				err := run(context.Background(), func(tx store.Tx) error {
					ids, err := claim(tx)
					if err != nil {
						return err
					}
					got = len(ids)
					mu.Lock()
					for _, id := range ids {
						claimed[id]++
					}
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				if got == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	return claimed
}

// testShedding: a request's first write that waited in the queue too
// long is refused without running; its later writes, and unmarked work, always
// run.
func testShedding(t *testing.T, s store.Store) {
	_, i := fixture(t, s, "a")
	tuned, ok := s.(interface{ SetQueueTarget(time.Duration) })
	if !ok {
		t.Fatal("the store cannot be told its queue target")
	}
	tuned.SetQueueTarget(time.Nanosecond) // every first write waits too long
	ctx := store.Shedding(context.Background())
	ran := false
	err := s.Transact(ctx, func(tx store.Tx) error {
		ran = true
		return tx.CreatePayment(payment(i, "pay_1", "r1"))
	})
	if !errors.Is(err, malipo.ErrBusy) || malipo.KindOf(err) != malipo.KindUnavailable {
		t.Fatalf("first write past its deadline: %v", err)
	}
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetPayment("pay_1")
		wantKind(t, err, malipo.KindNotFound)
		return nil
	})
	if ran {
		t.Error("the refused write ran")
	}
	// Unmarked work runs, and so does the same request's next write: it
	// may follow a rail call.
	write(t, s, func(tx store.Tx) error { return tx.CreatePayment(payment(i, "pay_2", "r2")) })
	must(t, s.Transact(ctx, func(tx store.Tx) error { return tx.CreatePayment(payment(i, "pay_3", "r3")) }))
	// A request taken promptly runs.
	tuned.SetQueueTarget(time.Minute)
	must(t, s.Transact(store.Shedding(context.Background()), func(tx store.Tx) error { return tx.CreatePayment(payment(i, "pay_4", "r4")) }))
}

// testHotBalances: many payments of one merchant succeed at once, from as
// many committers as the store runs, all posting to the same accounts.
// Balances are exact however they are spread, and the audit agrees.
func testHotBalances(t *testing.T, s store.Store) {
	m, i := fixture(t, s, "a")
	const n = 200
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() {
			p := payment(i, fmt.Sprintf("pay_%03d", k), fmt.Sprintf("r%d", k))
			p.Fee, p.Status = 10, malipo.PaymentSucceeded
			err := s.Transact(context.Background(), func(tx store.Tx) error {
				if err := tx.CreatePayment(p); err != nil {
					return err
				}
				return tx.PostEntry(malipo.PaymentEntry(fmt.Sprintf("led_%03d", k), p, "sandbox", false, epoch))
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	read(t, s, func(tx store.Tx) error {
		bs, err := tx.Balances(m.ID, malipo.ModeTest)
		must(t, err)
		if want := []malipo.Balance{{Currency: "XOF", Available: n * 4990}}; !cmp.Equal(want, bs) {
			t.Errorf("balances = %v, want %v", bs, want)
		}
		for acct, want := range map[malipo.Account]int64{
			malipo.Fees(malipo.ModeTest, "XOF"): n * 10, malipo.RailClearing("sandbox", malipo.ModeTest, "XOF"): -n * 5000,
		} {
			if got, err := tx.AccountBalance(acct); err != nil || got != want {
				t.Errorf("balance of %s = %d, %v; want %d", acct, got, err, want)
			}
		}
		r, err := tx.Audit(epoch)
		must(t, err)
		if !r.Clean() || r.Accounts != 3 {
			t.Errorf("audit: %+v", r)
		}
		return nil
	})
}
