package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/snapshot"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/storetest"
)

// railStack is a gateway whose sandbox rails sit behind counting wrappers
// that can lose the rail's answer on the way back, as a timeout does: the
// rail acted, Malipo does not know.
type railStack struct {
	*env
	st    store.Store
	sb    *sandbox.Rails
	momo  *countingMoMo
	cards *countingCards
}

type countingMoMo struct {
	rails.MobileMoney
	calls atomic.Int32
	lose  atomic.Bool   // the push arrives; its answer is lost
	drop  atomic.Bool   // the push never arrives
	slow  time.Duration // real time each call takes, so that racing submits overlap
}

var errTimeout = errors.New("read tcp 10.0.0.1:443: i/o timeout")

func (c *countingMoMo) Push(ctx context.Context, p rails.Push) (string, error) {
	c.calls.Add(1)
	time.Sleep(c.slow)
	if c.drop.Load() {
		return "", errTimeout
	}
	ref, err := c.MobileMoney.Push(ctx, p)
	if c.lose.Load() {
		return "", errTimeout
	}
	return ref, err
}

type countingCards struct {
	rails.Cards
	calls atomic.Int32
	lose  atomic.Bool
	slow  time.Duration
}

func (c *countingCards) Authorize(ctx context.Context, ch rails.Charge) (rails.CardResult, error) {
	c.calls.Add(1)
	time.Sleep(c.slow)
	res, err := c.Cards.Authorize(ctx, ch)
	if c.lose.Load() {
		return rails.CardResult{}, errTimeout
	}
	return res, err
}

func (c *countingCards) Authenticate(ctx context.Context, key string, passed bool) (rails.CardResult, error) {
	c.calls.Add(1)
	time.Sleep(c.slow)
	return c.Cards.Authenticate(ctx, key, passed)
}

func newRailStack(t *testing.T, st store.Store, delay, ttl time.Duration) *railStack {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	sbStore := st
	if f, ok := st.(*failingStore); ok {
		sbStore = f.Store // only the gateway's writes fail
	}
	sb := sandbox.New(sbStore, clk, delay, nil)
	set := sb.Set()
	mm, cards := &countingMoMo{MobileMoney: sb.MobileMoney}, &countingCards{Cards: set.Cards}
	set.MobileMoney, set.Cards = rails.OneMobileMoney(mm), cards
	svc := gateway.New(gateway.Config{Store: lockOrder(t, st), Clock: clk, IDs: ids.New(clk.Now, rand.New(rand.NewSource(3))),
		Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: set}, BaseURL: "http://pay.test", PaymentTTL: ttl})
	sb.Connect(svc)
	ctx := context.Background()
	m, err := svc.CreateMerchant(ctx, "Duka", "")
	if err != nil {
		t.Fatal(err)
	}
	integ, _, err := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	return &railStack{env: &env{svc: svc, clock: clk, integ: integ}, st: st, sb: sb, momo: mm, cards: cards}
}

func forEachRailStack(t *testing.T, delay, ttl time.Duration, fn func(t *testing.T, r *railStack)) {
	storetest.Each(t, func(t *testing.T, st store.Store) { fn(t, newRailStack(t, st, delay, ttl)) })
}

func (r *railStack) events(t *testing.T) []malipo.Event {
	t.Helper()
	evs, err := r.svc.ListEvents(context.Background(), r.integ, store.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func (r *railStack) eventTypes(t *testing.T) string {
	var types []string
	for _, e := range r.events(t) {
		types = append(types, e.Type)
	}
	return strings.Join(types, ",")
}

func (r *railStack) audit(t *testing.T) malipo.AuditReport {
	t.Helper()
	a, err := r.svc.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (r *railStack) inbox(t *testing.T, attempt string) []malipo.InboxItem {
	t.Helper()
	var items []malipo.InboxItem
	err := r.st.Read(context.Background(), func(tx store.Tx) (err error) {
		items, err = tx.ListInbox(attempt)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func available(t *testing.T, e *env) int64 {
	t.Helper()
	bs, err := e.svc.Balances(context.Background(), e.integ)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, b := range bs {
		n += b.Available
	}
	return n
}

// A merchant cannot cancel a payment whose push the operator holds: the
// customer may be approving it right now.
func TestCancelIsRefusedWhileARailAttemptIsInFlight(t *testing.T) {
	forEachRailStack(t, 5*time.Second, 30*time.Minute, func(t *testing.T, r *railStack) {
		ctx := context.Background()
		p := r.create(t, momo("o-1", "+250788120000"))
		_, _, err := r.svc.CancelPayment(ctx, r.integ, p.ID, gateway.Idempotency{})
		wantCode(t, err, "payment_processing")
		if malipo.KindOf(err) != malipo.KindConflict {
			t.Errorf("kind %s, want conflict (409)", malipo.KindOf(err))
		}
		_, err = r.svc.CancelCheckout(ctx, p.CheckoutToken)
		wantCode(t, err, "payment_processing")
		_, _, err = r.svc.ForceOutcome(ctx, r.integ, p.ID, "failed", gateway.Idempotency{})
		wantCode(t, err, "payment_processing")
		r.clock.Advance(5 * time.Second) // the customer approves
		if got := r.get(t, p.ID); got.Status != malipo.PaymentSucceeded {
			t.Errorf("status %s after approval, want succeeded", got.Status)
		}
		if n := available(t, r.env); n != 10_000 {
			t.Errorf("available %d, want the 10000 the customer paid", n)
		}
		r.verify(t)
	})
}

// A push the operator never received ends its attempt once the reconciler
// asks about it: nothing was charged, so the customer may pay again.
func TestPushNeverReceivedLetsTheCustomerPayAgain(t *testing.T) {
	forEachRailStack(t, 5*time.Second, 30*time.Minute, func(t *testing.T, r *railStack) {
		ctx := context.Background()
		r.momo.drop.Store(true)
		p := r.create(t, momo("o-1", "+250788120000"))
		r.momo.drop.Store(false)
		if p.Status != malipo.PaymentPending || p.InFlightUntil.IsZero() {
			t.Fatalf("after a push with no answer: %+v", p)
		}
		r.clock.Advance(2 * time.Minute)
		if n, err := r.svc.Reconcile(ctx, 10); n != 1 || err != nil {
			t.Fatalf("Reconcile = %d, %v", n, err)
		}
		got := r.get(t, p.ID)
		if got.Status != malipo.PaymentPending || !got.InFlightUntil.IsZero() {
			t.Errorf("once the operator said it never had the push: %s, in flight until %v; want pending, payable", got.Status, got.InFlightUntil)
		}
		var as []malipo.RailAttempt
		err := r.st.Read(ctx, func(tx store.Tx) (err error) { as, err = tx.ListRailAttempts(p.ID); return err })
		if err != nil || len(as) != 1 || as[0].Status != malipo.AttemptFailed || as[0].FailureCode != "not_received" {
			t.Errorf("attempts %+v, %v; want one, failed not_received", as, err)
		}
		paid, err := r.svc.PayWithCard(ctx, p.CheckoutToken, rails.Card{Number: "4111111111111111", Month: 12, Year: 2030, CVV: "123"})
		if err != nil || paid.Status != malipo.PaymentSucceeded {
			t.Fatalf("paying again by card: %+v, %v", paid, err)
		}
		r.verify(t)
	})
}

// Expiry of a processing payment is Malipo giving up waiting, not a
// verdict: the customer's late approval is applied, posted, notified and
// flagged late.
func TestLateSuccessAfterExpiryIsApplied(t *testing.T) {
	forEachRailStack(t, 5*time.Minute, time.Minute, func(t *testing.T, r *railStack) {
		ctx := context.Background()
		p := r.create(t, momo("o-1", "+250788120000"))
		r.clock.Advance(time.Minute)
		if n, err := r.svc.ExpireDue(ctx, 10); n != 1 || err != nil {
			t.Fatalf("ExpireDue = %d, %v", n, err)
		}
		if got := r.get(t, p.ID); got.Status != malipo.PaymentExpired {
			t.Fatalf("status %s after its time, want expired", got.Status)
		}
		r.clock.Advance(5 * time.Minute) // the customer approves late
		got := r.get(t, p.ID)
		if got.Status != malipo.PaymentSucceeded || !got.Late || got.FailureCode != "" {
			t.Errorf("after the late approval: status %s late %v failure %q", got.Status, got.Late, got.FailureCode)
		}
		if n := available(t, r.env); n != 10_000 {
			t.Errorf("available %d, want 10000", n)
		}
		if types := r.eventTypes(t); types != "payment.succeeded,payment.expired" {
			t.Errorf("events %s", types)
		}
		var ev malipo.Payment
		if err := snapshot.Decode(r.events(t)[0].Data, &ev); err != nil || !ev.Late {
			t.Errorf("the payment.succeeded event's payment: late %v, %v", ev.Late, err)
		}
		if items := r.inbox(t, malipo.AttemptID(p.ID, 1)); len(items) != 1 || items[0].Result != malipo.ResultLate {
			t.Errorf("inbox %+v, want one item applied late", items)
		}
		r.verify(t)
	})
}

// A success no payment can take is never dropped: a key Malipo never
// gave, or a payment that ended while its push was unaccounted for, puts
// the money in suspense, listed by the audit; the merchant hears of it.
func TestSuccessNoPaymentCanTakeGoesToSuspense(t *testing.T) {
	forEachRailStack(t, 5*time.Second, 30*time.Minute, func(t *testing.T, r *railStack) {
		ctx := context.Background()
		err := r.svc.Report(ctx, sandbox.Name, rails.Outcome{Key: "pay_nobody-1", Verdict: malipo.VerdictSucceeded,
			Amount: 700, Currency: "XOF", RailReference: "MP9", Raw: []byte(`{"status":"SUCCESSFUL"}`)})
		if err != nil {
			t.Fatal(err)
		}
		a := r.audit(t)
		if !a.Clean() || fmt.Sprint(a.Suspense) != "[suspense:test:suspense:XOF 700]" {
			t.Errorf("audit after money for an unknown key: clean %v, suspense %v", a.Clean(), a.Suspense)
		}
		if items := r.inbox(t, "pay_nobody-1"); len(items) != 1 || items[0].Result != malipo.ResultUnmatched ||
			string(items[0].Body) != `{"status":"SUCCESSFUL"}` {
			t.Errorf("inbox %+v", items)
		}

		// The push reaches the operator but its answer is lost; once the
		// in-flight bound passes the merchant cancels; then the customer's
		// approval comes.
		r.momo.lose.Store(true)
		p := r.create(t, momo("o-1", "+250788120000"))
		r.momo.lose.Store(false)
		if p.Status != malipo.PaymentPending || p.InFlightUntil.IsZero() {
			t.Fatalf("after a lost answer: %+v", p)
		}
		_, _, err = r.svc.CancelPayment(ctx, r.integ, p.ID, gateway.Idempotency{})
		wantCode(t, err, "payment_processing")
		r.clock.Advance(2 * time.Minute) // past the in-flight bound; the sandbox's callback arrived meanwhile
		got := r.get(t, p.ID)
		if got.Status != malipo.PaymentSucceeded {
			t.Fatalf("the operator's callback: %s, want succeeded", got.Status)
		}

		r.momo.lose.Store(true)
		r.sb.Connect(nil) // and this time the callback is lost too
		q := r.create(t, momo("o-2", "+250788120000"))
		r.momo.lose.Store(false)
		r.clock.Advance(2 * time.Minute)
		c, _, err := r.svc.CancelPayment(ctx, r.integ, q.ID, gateway.Idempotency{})
		if err != nil || c.Status != malipo.PaymentCancelled {
			t.Fatalf("cancel once nothing is in flight: %+v, %v", c, err)
		}
		if n, err := r.svc.Reconcile(ctx, 10); n != 1 || err != nil {
			t.Fatalf("Reconcile = %d, %v", n, err)
		}
		if got := r.get(t, q.ID); got.Status != malipo.PaymentCancelled {
			t.Errorf("a cancelled payment became %s", got.Status)
		}
		a = r.audit(t)
		if !a.Clean() || fmt.Sprint(a.Suspense) != "[suspense:test:suspense:RWF 10000 suspense:test:suspense:XOF 700]" {
			t.Errorf("audit: clean %v, suspense %v", a.Clean(), a.Suspense)
		}
		if types := r.eventTypes(t); !strings.HasPrefix(types, "payment.unmatched,payment.cancelled,") {
			t.Errorf("events %s, want payment.unmatched after the cancellation", types)
		}
		var u malipo.Unmatched
		if err := snapshot.Decode(r.events(t)[0].Data, &u); err != nil || u.PaymentID != q.ID || u.Amount != 10000 ||
			u.PaymentStatus != malipo.PaymentCancelled {
			t.Errorf("payment.unmatched data %v", u)
		}
	})
}

// Two attempts of one payment that both collect: the second success waits
// in suspense instead of crediting the merchant twice.
func TestSecondSuccessGoesToSuspense(t *testing.T) {
	forEachRailStack(t, 5*time.Second, 30*time.Minute, func(t *testing.T, r *railStack) {
		ctx := context.Background()
		r.sb.Connect(nil) // callbacks lost
		r.momo.lose.Store(true)
		p := r.create(t, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "o-1", Method: "mobile_money", Phone: "+2250707120000"})
		r.clock.Advance(2 * time.Minute)
		// The customer gives up waiting and pays by card.
		if got, err := r.svc.PayWithCard(ctx, p.CheckoutToken, rails.Card{Number: "4111111111111111", Month: 12, Year: 2030, CVV: "123"}); err != nil ||
			got.Status != malipo.PaymentSucceeded {
			t.Fatalf("card: %+v, %v", got, err)
		}
		if n, _ := r.svc.Reconcile(ctx, 10); n != 1 {
			t.Fatalf("reconciled %d attempts, want the push", n)
		}
		if n := available(t, r.env); n != 5000 {
			t.Errorf("available %d: the merchant was credited twice", n)
		}
		if a := r.audit(t); !a.Clean() || fmt.Sprint(a.Suspense) != "[suspense:test:suspense:XOF 5000]" {
			t.Errorf("audit: %+v", a)
		}
	})
}

// The same outcome reported twice is recorded twice and applied once.
func TestSameOutcomeTwiceChangesNothing(t *testing.T) {
	forEachRailStack(t, 5*time.Second, 30*time.Minute, func(t *testing.T, r *railStack) {
		ctx := context.Background()
		p := r.create(t, momo("o-1", "+250788120000"))
		r.clock.Advance(5 * time.Second)
		key := malipo.AttemptID(p.ID, 1)
		again := rails.Outcome{Key: key, Verdict: malipo.VerdictSucceeded, Amount: 10_000, Currency: "RWF"}
		for range 2 {
			if err := r.svc.Report(ctx, sandbox.Name, again); err != nil {
				t.Fatal(err)
			}
		}
		items := r.inbox(t, key)
		if len(items) != 3 || items[0].Result != malipo.ResultApplied || items[1].Result != malipo.ResultDuplicate || items[2].Result != malipo.ResultDuplicate {
			t.Errorf("inbox %+v", items)
		}
		if n := available(t, r.env); n != 10_000 {
			t.Errorf("available %d, want 10000", n)
		}
		if types := r.eventTypes(t); types != "payment.succeeded" {
			t.Errorf("events %s", types)
		}
		// A contradiction is kept for a person, and the audit says so.
		r.svc.Report(ctx, sandbox.Name, rails.Outcome{Key: key, Verdict: malipo.VerdictFailed, FailureCode: "insufficient_funds"})
		if a := r.audit(t); a.Clean() || len(a.InboxConflicting) != 1 {
			t.Errorf("audit after a contradicting outcome: %+v", a)
		}
		if got := r.get(t, p.ID); got.Status != malipo.PaymentSucceeded {
			t.Errorf("a contradiction changed the payment: %s", got.Status)
		}
	})
}

// failingStore fails the next write whose transaction it is told to fail,
// as a database hiccup would, and every write hinted with the rail attempt
// it is told to poison, as a fault that lasts would.
type failingStore struct {
	store.Store
	failNext atomic.Bool
	poison   atomic.Value // a rail attempt's key
}

func (f *failingStore) Transact(ctx context.Context, fn func(store.Tx) error, hints ...store.Hint) error {
	poisoned := slices.ContainsFunc(hints, func(h store.Hint) bool { return h.RailAttempt != "" && h.RailAttempt == f.poison.Load() })
	if f.failNext.CompareAndSwap(true, false) || poisoned {
		return f.Store.Transact(ctx, func(tx store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			return errors.New("the database went away")
		}, hints...)
	}
	return f.Store.Transact(ctx, fn, hints...)
}

// An outcome that cannot be applied at once is kept, listed by the audit
// as waiting for its retry (which does not fail the audit), and applied
// later.
func TestOutcomeNotAppliedAtFirstIsKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, raw store.Store) {
		st := &failingStore{Store: raw}
		r := newRailStack(t, st, 5*time.Second, 30*time.Minute)
		ctx := context.Background()
		p := r.create(t, momo("o-1", "+250788120000"))
		st.failNext.Store(true)
		r.clock.Advance(5 * time.Second) // the callback arrives as the database fails
		if got := r.get(t, p.ID); got.Status != malipo.PaymentProcessing {
			t.Fatalf("status %s, want processing until the outcome is applied", got.Status)
		}
		a := r.audit(t)
		if !a.Clean() || len(a.InboxRetrying) != 1 {
			t.Fatalf("audit with an outcome waiting for its retry: %+v", a)
		}
		if n, _ := r.svc.ApplyInbox(ctx, 10); n != 0 {
			t.Errorf("applied %d before the retry delay", n)
		}
		r.clock.Advance(4 * time.Second)
		if n, _ := r.svc.ApplyInbox(ctx, 10); n != 0 {
			t.Errorf("applied %d before the retry delay", n)
		}
		r.clock.Advance(time.Second) // 5 s after it was kept
		if n, err := r.svc.ApplyInbox(ctx, 10); n != 1 || err != nil {
			t.Fatalf("ApplyInbox = %d, %v", n, err)
		}
		if got := r.get(t, p.ID); got.Status != malipo.PaymentSucceeded {
			t.Errorf("status %s after the retry", got.Status)
		}
		r.verify(t)
	})
}

// An outcome whose application keeps failing is tried again less and less
// often, up to hourly, and holds back none of the others.
func TestAnOutcomeThatKeepsFailingHoldsNoneBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, raw store.Store) {
		st := &failingStore{Store: raw}
		r := newRailStack(t, st, 24*time.Hour, 48*time.Hour) // the test reports the outcomes itself
		ctx := context.Background()
		stuck, other := r.create(t, momo("o-1", "+250788120000")), r.create(t, momo("o-2", "+250788120000"))
		stuckKey, otherKey := malipo.AttemptID(stuck.ID, 1), malipo.AttemptID(other.ID, 1)
		st.poison.Store(stuckKey)
		report := func(key string) {
			t.Helper()
			if err := r.svc.Report(ctx, sandbox.Name, rails.Outcome{Key: key, Verdict: malipo.VerdictSucceeded}); err != nil {
				t.Fatal(err)
			}
		}
		came := r.clock.Now()
		report(stuckKey)
		r.clock.Advance(time.Second)
		st.failNext.Store(true)
		report(otherKey)
		r.clock.Advance(6 * time.Second) // both due
		if n, _ := r.svc.ApplyInbox(ctx, 1); n != 0 {
			t.Fatalf("applied %d of the stuck outcome", n)
		}
		if n, err := r.svc.ApplyInbox(ctx, 1); n != 1 || err != nil {
			t.Fatalf("ApplyInbox after the stuck outcome failed again = %d, %v; want the other applied", n, err)
		}
		if got := r.get(t, other.ID); got.Status != malipo.PaymentSucceeded {
			t.Errorf("the other payment is %s", got.Status)
		}
		if a := r.audit(t); !a.Clean() || !slices.Equal(a.InboxRetrying, []string{r.inbox(t, stuckKey)[0].ID}) {
			t.Errorf("audit while the stuck outcome is within its minute: %+v", a)
		}
		// The stuck one waits 5 s after its first try, then twice as long
		// after each, and at most an hour; a minute after it came, the
		// audit fails on it.
		for tries := 2; tries <= 12; tries++ {
			if a, since := r.audit(t), r.clock.Now().Sub(came); a.Clean() != (since < time.Minute) || len(a.InboxUnapplied)+len(a.InboxRetrying) != 1 {
				t.Errorf("audit %s after the stuck outcome came: %+v", since, a)
			}
			items := r.inbox(t, stuckKey)
			if len(items) != 1 || items[0].Tries != tries || items[0].Error == "" || !items[0].AppliedAt.IsZero() {
				t.Fatalf("the stuck outcome after %d tries: %+v", tries, items)
			}
			wait := items[0].RetryAt.Sub(r.clock.Now())
			if want := min(5*time.Second<<(tries-1), time.Hour); wait != want {
				t.Fatalf("after %d tries the stuck outcome waits %s, want %s", tries, wait, want)
			}
			r.clock.Advance(wait - time.Microsecond)
			if n, _ := r.svc.ApplyInbox(ctx, 10); n != 0 || r.inbox(t, stuckKey)[0].Tries != tries {
				t.Fatalf("the stuck outcome was tried before its wait ended")
			}
			r.clock.Advance(time.Microsecond)
			if tries == 12 {
				st.poison.Store("")
				if n, err := r.svc.ApplyInbox(ctx, 10); n != 1 || err != nil {
					t.Fatalf("ApplyInbox once the fault is gone = %d, %v", n, err)
				}
				break
			}
			if n, _ := r.svc.ApplyInbox(ctx, 10); n != 0 {
				t.Fatalf("applied %d of the stuck outcome", n)
			}
		}
		if got := r.get(t, stuck.ID); got.Status != malipo.PaymentSucceeded {
			t.Errorf("the stuck payment is %s once its outcome applied", got.Status)
		}
		r.verify(t)
	})
}

// Twenty submits of one payment at once reach the rail once.
func TestOneRailCallPerAttempt(t *testing.T) {
	forEachRailStack(t, 5*time.Second, 30*time.Minute, func(t *testing.T, r *railStack) {
		ctx := context.Background()
		r.momo.slow, r.cards.slow = 20*time.Millisecond, 20*time.Millisecond
		race := func(name string, submit func() error) {
			t.Helper()
			var wg sync.WaitGroup
			var refused atomic.Int32
			for range 20 {
				wg.Go(func() {
					if err := submit(); malipo.AsError(err).Code == "payment_processing" || malipo.AsError(err).Code == "payment_final" {
						refused.Add(1)
					} else if err != nil {
						t.Errorf("%s: %v", name, err)
					}
				})
			}
			wg.Wait()
			if refused.Load() != 19 {
				t.Errorf("%s: %d submits refused, want 19", name, refused.Load())
			}
		}
		card := rails.Card{Number: "4111111111111111", Month: 12, Year: 2030, CVV: "123"}
		p := r.create(t, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "card"})
		race("card", func() error { _, err := r.svc.PayWithCard(ctx, p.CheckoutToken, card); return err })
		if n := r.cards.calls.Load(); n != 1 {
			t.Errorf("card network called %d times, want 1", n)
		}

		q := r.create(t, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "momo"})
		race("mobile money", func() error {
			_, err := r.svc.PayWithMobileMoney(ctx, q.CheckoutToken, "+2250707120000", "")
			return err
		})
		if n := r.momo.calls.Load(); n != 1 {
			t.Errorf("operator called %d times, want 1", n)
		}

		tds := r.create(t, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "3ds"})
		if got, err := r.svc.PayWithCard(ctx, tds.CheckoutToken, rails.Card{Number: "4000000000003220", Month: 12, Year: 2030, CVV: "123"}); err != nil || got.NextAction != malipo.NextActionThreeDSecure {
			t.Fatalf("3-D Secure card: %+v, %v", got, err)
		}
		before := r.cards.calls.Load()
		race("3-D Secure", func() error {
			_, err := r.svc.AuthenticateCard(ctx, tds.CheckoutToken, true)
			if malipo.AsError(err).Code == "no_authentication_pending" {
				return errProcessingLike
			}
			return err
		})
		if n := r.cards.calls.Load() - before; n != 1 {
			t.Errorf("3-D Secure answered to the network %d times, want 1", n)
		}

		before = r.momo.calls.Load()
		var wg sync.WaitGroup
		ids := make([]string, 20)
		for i := range 20 {
			wg.Go(func() {
				p, _, err := r.svc.CreatePayment(ctx, r.integ, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "v1",
					Method: "mobile_money", Phone: "+2250707120000"}, gateway.Idempotency{Key: "k", RequestHash: "h"})
				if err != nil {
					t.Errorf("create: %v", err)
				}
				ids[i] = p.ID
			})
		}
		wg.Wait()
		if n := r.momo.calls.Load() - before; n != 1 || ids[0] == "" || strings.Count(strings.Join(ids, ","), ids[0]) != 20 {
			t.Errorf("20 creates with one key: %d pushes, payments %v", n, ids)
		}
		r.clock.Advance(5 * time.Second)
		r.verify(t)
	})
}

var errProcessingLike = &malipo.Error{Kind: malipo.KindConflict, Code: "payment_processing", Message: "answered already"}

// An approval the payment can no longer take is voided: the customer is
// not charged.
func TestApprovalThePaymentCannotTakeIsVoided(t *testing.T) {
	forEachRailStack(t, 5*time.Second, 30*time.Minute, func(t *testing.T, r *railStack) {
		ctx := context.Background()
		p := r.create(t, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "o-1"})
		r.cards.lose.Store(true)
		got, err := r.svc.PayWithCard(ctx, p.CheckoutToken, rails.Card{Number: "4111111111111111", Month: 12, Year: 2030, CVV: "123"})
		r.cards.lose.Store(false)
		if err != nil || got.Status != malipo.PaymentPending || got.InFlightUntil.IsZero() {
			t.Fatalf("after a lost answer: %+v, %v", got, err)
		}
		r.clock.Advance(2 * time.Minute)
		if c, _, err := r.svc.CancelPayment(ctx, r.integ, p.ID, gateway.Idempotency{}); err != nil || c.Status != malipo.PaymentCancelled {
			t.Fatalf("cancel: %+v, %v", c, err)
		}
		if n, _ := r.svc.Reconcile(ctx, 10); n != 1 {
			t.Fatalf("reconciled %d", n)
		}
		o, _ := r.sb.Cards.Status(ctx, malipo.AttemptID(p.ID, 1), "")
		if o.Verdict != malipo.VerdictFailed || o.FailureCode != "voided" {
			t.Errorf("the card network's view of the authorisation: %+v, want voided", o)
		}
		if a := r.audit(t); !a.Clean() || len(a.Suspense) != 0 {
			t.Errorf("audit: %+v", a)
		}
		if n := available(t, r.env); n != 0 {
			t.Errorf("available %d, want 0", n)
		}
	})
}

// A lost callback is made good by the reconciler's status query.
func TestReconcilerFinishesWhatTheCallbackMissed(t *testing.T) {
	forEachRailStack(t, 5*time.Second, 30*time.Minute, func(t *testing.T, r *railStack) {
		ctx := context.Background()
		r.sb.Connect(nil)
		p := r.create(t, momo("o-1", "+250788120001")) // fails: insufficient funds
		r.clock.Advance(30 * time.Second)
		if n, _ := r.svc.Reconcile(ctx, 10); n != 0 {
			t.Errorf("asked before ReconcileAfter: %d", n)
		}
		r.clock.Advance(time.Minute)
		if n, err := r.svc.Reconcile(ctx, 10); n != 1 || err != nil {
			t.Fatalf("Reconcile = %d, %v", n, err)
		}
		got := r.get(t, p.ID)
		if got.Status != malipo.PaymentFailed || got.FailureCode != "insufficient_funds" {
			t.Errorf("after the status query: %s %s", got.Status, got.FailureCode)
		}
		if items := r.inbox(t, malipo.AttemptID(p.ID, 1)); len(items) != 1 || items[0].Source != "status" {
			t.Errorf("inbox %+v", items)
		}
		r.verify(t)
	})
}

// lostCallbacks is a sink that drops whatever the sandbox reports, as a
// network does with a callback sent once: only Malipo's own questions
// finish a transaction.
type lostCallbacks struct{}

func (lostCallbacks) Report(context.Context, string, rails.Outcome) error { return nil }

// A live rail's callback is a hint: Malipo asks the rail before it believes
// it. A forged success changes nothing while the operator says pending; a
// forged failure does not stop a success the operator confirms; a callback
// naming a transaction Malipo never sent, or another rail's, is kept and
// otherwise ignored.
func TestCallbacksAreConfirmedBeforeTheyAreApplied(t *testing.T) {
	forEachRailStack(t, 5*time.Minute, 30*time.Minute, func(t *testing.T, r *railStack) {
		ctx := context.Background()
		r.sb.Connect(lostCallbacks{})
		p := r.create(t, momo("o-1", "+250788120000"))
		key := malipo.AttemptID(p.ID, 1)
		forged := rails.Outcome{Key: key, Verdict: malipo.VerdictSucceeded, Raw: []byte(`{"status":"SUCCESSFUL"}`)}
		if err := r.svc.Hint(ctx, "sandbox", forged); err != nil {
			t.Fatal(err)
		}
		if got := r.get(t, p.ID); got.Status != malipo.PaymentProcessing {
			t.Fatalf("status %s after a callback the operator does not confirm, want processing", got.Status)
		}
		for _, bad := range []struct{ rail, key string }{{"sandbox", "pay_nope-1"}, {"mtn-ug", key}} {
			if err := r.svc.Hint(ctx, bad.rail, rails.Outcome{Key: bad.key, Verdict: malipo.VerdictSucceeded}); err != nil {
				t.Fatal(err)
			}
		}
		if n := available(t, r.env); n != 0 {
			t.Fatalf("available %d before the customer paid, want 0", n)
		}

		r.clock.Advance(5 * time.Minute) // the customer approves; the operator's callback is lost
		if got := r.get(t, p.ID); got.Status != malipo.PaymentProcessing {
			t.Fatalf("status %s with the callback lost, want processing", got.Status)
		}
		forged.Verdict = malipo.VerdictFailed // the callback comes at last, garbled
		if err := r.svc.Hint(ctx, "sandbox", forged); err != nil {
			t.Fatal(err)
		}
		if got := r.get(t, p.ID); got.Status != malipo.PaymentSucceeded {
			t.Fatalf("status %s after a callback the operator confirms as paid, want succeeded", got.Status)
		}
		if n := available(t, r.env); n != 10_000 {
			t.Errorf("available %d, want 10000", n)
		}
		var sources []string
		for _, it := range r.inbox(t, key) {
			sources = append(sources, it.Source+"/"+string(it.Result))
		}
		if got := strings.Join(sources, ","); got != "callback/hint,callback/hint,callback/hint,status/applied" {
			t.Errorf("inbox of the attempt: %s", got)
		}
		if len(r.inbox(t, "pay_nope-1")) != 1 {
			t.Errorf("a callback about an unknown transaction was not kept")
		}
		r.verify(t)
	})
}
