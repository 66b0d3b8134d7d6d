package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/storetest"
	"github.com/malipo/malipo/webhook"
)

var start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// received is one request the receiver got, with the fake time it came at.
type received struct {
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is a real HTTP server on loopback whose answers a test decides.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(at time.Time, r *http.Request) (int, http.Header, string)
}

func newReceiver(t *testing.T, clk clock.Clock, answer func(at time.Time, r *http.Request) (int, http.Header, string)) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		at := clk.Now()
		rc.mu.Lock()
		rc.got = append(rc.got, received{at: at, header: r.Header.Clone(), body: b})
		rc.mu.Unlock()
		status, h, body := rc.answer(at, r)
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func answer(status int, body string) func(time.Time, *http.Request) (int, http.Header, string) {
	return func(time.Time, *http.Request) (int, http.Header, string) { return status, nil, body }
}

// run runs the dispatcher until the stop it returns is called, or the
// test ends; stop returns once Run has.
func (f *fixture) run(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.disp.Run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// waitFor waits up to ten seconds for cond, polling, and fails the test
// saying what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// fixture is a gateway, the native API and a dispatcher over one store,
// all on a fake clock, with jitter off so attempt times are exact.
type fixture struct {
	st    store.Store
	clk   *clock.Fake
	svc   *gateway.Service
	disp  *notify.Dispatcher
	integ malipo.Integration
	creds gateway.Credentials
}

func newFixture(t *testing.T, st store.Store, tweak func(*notify.Config)) *fixture {
	return buildFixture(t, st, tweak, false)
}

// newCarryingFixture is newFixture with the dispatcher as the gateway's
// courier, as a node runs them: deliveries written while Run runs are
// carried to it (see Dispatcher.Carry).
func newCarryingFixture(t *testing.T, st store.Store, tweak func(*notify.Config)) *fixture {
	return buildFixture(t, st, tweak, true)
}

func buildFixture(t *testing.T, st store.Store, tweak func(*notify.Config), carry bool) *fixture {
	clk := clock.NewFake(start)
	sb := sandbox.New(st, clk, time.Second, nil)
	flavors := map[malipo.Flavor]notify.Flavor{}
	cfg := notify.Config{Store: st, Clock: clk, Flavors: flavors, Jitter: -1, Timeout: 2 * time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	disp := notify.New(cfg)
	gcfg := gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, rand.New(rand.NewSource(3))),
		BaseURL: "http://pay.test", Wake: disp.Wake,
		Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}}
	if carry {
		gcfg.Courier = disp
	}
	svc := gateway.New(gcfg)
	sb.Connect(svc)
	flavors[malipo.FlavorNative] = native.New(svc, nil).Flavor()
	ctx := context.Background()
	m, err := svc.CreateMerchant(ctx, "Duka", "")
	if err != nil {
		t.Fatal(err)
	}
	integ, creds, err := svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, clk: clk, svc: svc, disp: disp, integ: integ, creds: creds}
}

func (f *fixture) endpoint(t *testing.T, url string, events ...string) (malipo.Endpoint, string) {
	t.Helper()
	in := gateway.EndpointInput{URL: &url}
	if events != nil {
		in.Events = &events
	}
	ep, secret, _, err := f.svc.CreateEndpoint(context.Background(), f.integ, in, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	return ep, secret
}

// pay makes a payment reach status to, which records one event.
func (f *fixture) pay(t *testing.T, ref string, to malipo.PaymentStatus, notifyURL string) malipo.Event {
	t.Helper()
	ctx := context.Background()
	p, _, err := f.svc.CreatePayment(ctx, f.integ, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: ref, NotifyURL: notifyURL}, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.ForceOutcome(ctx, f.integ, p.ID, string(to), gateway.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	evs, err := f.svc.ListEvents(ctx, f.integ, store.EventFilter{Limit: 1})
	if err != nil || len(evs) != 1 || evs[0].ObjectID != p.ID {
		t.Fatalf("latest event = %+v, %v; want one for %s", evs, err, p.ID)
	}
	return evs[0]
}

func (f *fixture) deliveries(t *testing.T, eventID string) []gateway.DeliveryLog {
	t.Helper()
	logs, err := f.svc.EventDeliveries(context.Background(), f.integ, eventID)
	if err != nil {
		t.Fatal(err)
	}
	return logs
}

// drive makes every attempt due until the clock would pass until, moving
// the fake clock straight to each next due time.
func (f *fixture) drive(t *testing.T, eventID string, until time.Time) {
	t.Helper()
	for {
		if _, err := f.disp.RunDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		var next time.Time
		for _, l := range f.deliveries(t, eventID) {
			if l.Delivery.Status == malipo.DeliveryPending && (next.IsZero() || l.Delivery.NextAttemptAt.Before(next)) {
				next = l.Delivery.NextAttemptAt
			}
		}
		if next.IsZero() || next.After(until) {
			return
		}
		if next.After(f.clk.Now()) {
			f.clk.Set(next)
		}
	}
}

// scheduled is when each attempt of the default schedule falls, counted
// from the event.
func scheduled() []time.Duration {
	var at []time.Duration
	var sum time.Duration
	for _, d := range notify.DefaultSchedule {
		sum += d
		at = append(at, sum)
	}
	return at
}

func TestReceiverDownForThreeDaysThenRecovers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		recovers := start.Add(72 * time.Hour)
		rc := newReceiver(t, f.clk, func(at time.Time, _ *http.Request) (int, http.Header, string) {
			if at.Before(recovers) {
				return 500, nil, "down for maintenance"
			}
			return 200, nil, "ok"
		})
		_, secret := f.endpoint(t, rc.URL)
		ev := f.pay(t, "order-1", malipo.PaymentSucceeded, "")
		f.drive(t, ev.ID, start.Add(10*24*time.Hour))

		logs := f.deliveries(t, ev.ID)
		if len(logs) != 1 || logs[0].Delivery.Status != malipo.DeliverySucceeded {
			t.Fatalf("deliveries = %+v, want one succeeded", logs)
		}
		want := scheduled()
		// The first attempt at or after 72 h is the tenth, 75h35m05s in.
		var n int
		for n = range want {
			if !start.Add(want[n]).Before(recovers) {
				break
			}
		}
		got := rc.requests()
		if len(got) != n+1 || len(logs[0].Attempts) != n+1 {
			t.Fatalf("receiver got %d requests and %d attempts were recorded, want %d", len(got), len(logs[0].Attempts), n+1)
		}
		for i, r := range got {
			if !r.at.Equal(start.Add(want[i])) {
				t.Errorf("attempt %d at %v, want %v", i+1, r.at.Sub(start), want[i])
			}
			if id := r.header.Get("webhook-id"); id != ev.ID {
				t.Errorf("attempt %d webhook-id = %q, want the event id %q on every retry", i+1, id, ev.ID)
			}
			// The signature is fresh for each attempt: an independent
			// verifier accepts it at the time it was sent.
			if err := webhook.Verify(secret, r.header, r.body, 5*time.Minute, r.at); err != nil {
				t.Errorf("attempt %d: %v", i+1, err)
			}
			a := logs[0].Attempts[i]
			if a.Number != i+1 || !a.At.Equal(r.at) {
				t.Errorf("recorded attempt %+v, want number %d at %v", a, i+1, r.at)
			}
			if i < n && (a.StatusCode != 500 || a.Response != "down for maintenance") {
				t.Errorf("attempt %d recorded as %d %q", i+1, a.StatusCode, a.Response)
			}
		}
		if last := logs[0].Attempts[n]; last.StatusCode != 200 || last.Response != "ok" {
			t.Errorf("last attempt = %+v", last)
		}
		var body struct {
			ID, Type string
			Data     struct {
				Object struct{ ID, Status, Reference string }
			}
		}
		if err := json.Unmarshal(got[0].body, &body); err != nil || body.ID != ev.ID || body.Type != malipo.EventPaymentSucceeded ||
			body.Data.Object.ID != ev.ObjectID || body.Data.Object.Status != "succeeded" || body.Data.Object.Reference != "order-1" {
			t.Errorf("body = %s (%v)", got[0].body, err)
		}
	})
}

func TestReceiverNeverRecovers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		rc := newReceiver(t, f.clk, answer(503, "no"))
		f.endpoint(t, rc.URL)
		ev := f.pay(t, "order-1", malipo.PaymentFailed, "")
		f.drive(t, ev.ID, start.Add(30*24*time.Hour))

		want := scheduled()
		got := rc.requests()
		if len(got) != len(want) {
			t.Fatalf("receiver got %d attempts, want exactly %d", len(got), len(want))
		}
		for i, r := range got {
			if !r.at.Equal(start.Add(want[i])) {
				t.Errorf("attempt %d at %v, want %v", i+1, r.at.Sub(start), want[i])
			}
		}
		if last := want[len(want)-1]; last <= 4*24*time.Hour {
			t.Errorf("the schedule ends %v after the event, want past 4 days", last)
		}
		logs := f.deliveries(t, ev.ID)
		if len(logs) != 1 || logs[0].Delivery.Status != malipo.DeliveryFailed || logs[0].Delivery.Attempts != len(want) ||
			len(logs[0].Attempts) != len(want) {
			t.Fatalf("delivery = %+v with %d attempts, want failed after %d", logs[0].Delivery, len(logs[0].Attempts), len(want))
		}
		// Nothing more is ever sent.
		f.clk.Advance(30 * 24 * time.Hour)
		if n, err := f.disp.RunDue(context.Background()); err != nil || n != 0 {
			t.Errorf("RunDue after the end = %d, %v", n, err)
		}
	})
}

func TestJitterSpreadsRetries(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), func(c *notify.Config) {
		c.Jitter = 0.1
		c.Rand = func() float64 { return 0.999 } // the most a delay can grow
	})
	rc := newReceiver(t, f.clk, answer(500, ""))
	f.endpoint(t, rc.URL)
	ev := f.pay(t, "order-1", malipo.PaymentFailed, "")
	f.drive(t, ev.ID, start.Add(20*time.Minute))
	got := rc.requests()
	if len(got) != 3 {
		t.Fatalf("%d attempts in the first 20 minutes, want 3", len(got))
	}
	if d := got[2].at.Sub(got[1].at); d <= 5*time.Minute || d > 5*time.Minute+30*time.Second {
		t.Errorf("third attempt %v after the second, want a little over 5 minutes", d)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), nil)
	calls := 0
	rc := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
		calls++
		if calls == 1 {
			return 429, http.Header{"Retry-After": {"3600"}}, "slow down"
		}
		return 204, nil, ""
	})
	f.endpoint(t, rc.URL)
	ev := f.pay(t, "order-1", malipo.PaymentSucceeded, "")
	f.drive(t, ev.ID, start.Add(24*time.Hour))
	got := rc.requests()
	if len(got) != 2 || got[1].at.Sub(got[0].at) != time.Hour {
		t.Fatalf("attempts at %v, want the second one hour after the first", got)
	}
	if logs := f.deliveries(t, ev.ID); logs[0].Delivery.Status != malipo.DeliverySucceeded {
		t.Errorf("delivery = %+v", logs[0].Delivery)
	}
}

func TestGoneDisablesTheEndpoint(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), nil)
	gone := newReceiver(t, f.clk, answer(410, "gone"))
	ok := newReceiver(t, f.clk, answer(200, ""))
	ep, _ := f.endpoint(t, gone.URL)
	f.endpoint(t, ok.URL)
	first := f.pay(t, "order-1", malipo.PaymentSucceeded, "")
	f.drive(t, first.ID, start.Add(24*time.Hour))
	if n := len(gone.requests()); n != 1 {
		t.Errorf("the gone endpoint got %d requests, want 1", n)
	}
	got, err := f.svc.GetEndpoint(context.Background(), f.integ, ep.ID)
	if err != nil || !got.Disabled || !strings.Contains(got.DisabledReason, "410") {
		t.Fatalf("endpoint = %+v, %v; want disabled for its 410", got, err)
	}
	if l := f.deliveries(t, first.ID); l[0].Delivery.Status != malipo.DeliveryFailed || l[1].Delivery.Status != malipo.DeliverySucceeded {
		t.Errorf("deliveries = %s, %s; want the gone one failed, the other succeeded", l[0].Delivery.Status, l[1].Delivery.Status)
	}
	// A later event is not even queued for it.
	second := f.pay(t, "order-2", malipo.PaymentSucceeded, "")
	if logs := f.deliveries(t, second.ID); len(logs) != 1 || logs[0].Delivery.URL != ok.URL {
		t.Errorf("second event deliveries = %+v, want only the healthy endpoint", logs)
	}
}

func TestDisabledEndpointsPendingDeliveriesAreDropped(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), nil)
	rc := newReceiver(t, f.clk, answer(200, ""))
	ep, _ := f.endpoint(t, rc.URL)
	ev := f.pay(t, "order-1", malipo.PaymentSucceeded, "")
	off := true
	if _, err := f.svc.UpdateEndpoint(context.Background(), f.integ, ep.ID, gateway.EndpointInput{Disabled: &off}); err != nil {
		t.Fatal(err)
	}
	f.drive(t, ev.ID, start.Add(time.Hour))
	if n := len(rc.requests()); n != 0 {
		t.Errorf("a disabled endpoint got %d requests", n)
	}
	l := f.deliveries(t, ev.ID)[0]
	if l.Delivery.Status != malipo.DeliveryFailed || len(l.Attempts) != 1 || !strings.Contains(l.Attempts[0].Error, "disabled") {
		t.Errorf("delivery = %+v %+v, want failed, saying why", l.Delivery, l.Attempts)
	}
	// Re-enabled, a redelivery reaches it.
	on := false
	if _, err := f.svc.UpdateEndpoint(context.Background(), f.integ, ep.ID, gateway.EndpointInput{Disabled: &on}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Redeliver(context.Background(), f.integ, ev.ID, gateway.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	f.drive(t, ev.ID, f.clk.Now())
	if n := len(rc.requests()); n != 1 {
		t.Errorf("after re-enabling and redelivering the endpoint got %d requests, want 1", n)
	}
}

// A deleted endpoint's pending deliveries fail at once, saying why; the
// merchant's other endpoints still get theirs.
func TestDeletedEndpointsPendingDeliveriesAreDropped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		gone := newReceiver(t, f.clk, answer(200, ""))
		kept := newReceiver(t, f.clk, answer(200, ""))
		ep, _ := f.endpoint(t, gone.URL)
		f.endpoint(t, kept.URL)
		ev := f.pay(t, "order-1", malipo.PaymentSucceeded, "")
		if err := f.svc.DeleteEndpoint(context.Background(), f.integ, ep.ID); err != nil {
			t.Fatal(err)
		}
		f.drive(t, ev.ID, start.Add(time.Hour))
		if n, m := len(gone.requests()), len(kept.requests()); n != 0 || m != 1 {
			t.Errorf("the deleted endpoint got %d requests and the other %d, want 0 and 1", n, m)
		}
		for _, l := range f.deliveries(t, ev.ID) {
			if l.Delivery.EndpointID != ep.ID {
				continue
			}
			if l.Delivery.Status != malipo.DeliveryFailed || len(l.Attempts) != 1 || !strings.Contains(l.Attempts[0].Error, "deleted") {
				t.Errorf("delivery = %+v %+v, want failed, saying why", l.Delivery, l.Attempts)
			}
		}
	})
}

func TestNotifyURLUsesTheIntegrationSecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		rc := newReceiver(t, f.clk, answer(200, ""))
		ev := f.pay(t, "order-1", malipo.PaymentCancelled, rc.URL+"/orders/1/paid?token=abc")
		f.drive(t, ev.ID, start.Add(time.Hour))
		got := rc.requests()
		if len(got) != 1 {
			t.Fatalf("got %d requests", len(got))
		}
		wh, err := standardwebhooks.NewWebhook(f.creds["webhook_secret"])
		if err != nil {
			t.Fatal(err)
		}
		// The fake clock is months from the real one, so the reference
		// library checks the signature only; webhook.Verify checks the age.
		if err := wh.VerifyIgnoringTimestamp(got[0].body, got[0].header); err != nil {
			t.Errorf("the reference verifier refuses the notify_url notification: %v", err)
		}
		if !strings.Contains(string(got[0].body), `"type":"payment.cancelled"`) {
			t.Errorf("body = %s", got[0].body)
		}
	})
}

func TestRotationSignsWithBothSecrets(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), nil)
	rc := newReceiver(t, f.clk, answer(200, ""))
	ep, oldSecret := f.endpoint(t, rc.URL)
	_, newSecret, err := f.svc.RotateEndpointSecret(context.Background(), f.integ, ep.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ev := f.pay(t, "order-1", malipo.PaymentSucceeded, "")
	f.drive(t, ev.ID, start.Add(time.Minute))
	f.clk.Advance(2 * time.Hour)
	if _, _, err := f.svc.Redeliver(context.Background(), f.integ, ev.ID, gateway.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	f.drive(t, ev.ID, f.clk.Now())
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("got %d requests, want the delivery and the redelivery", len(got))
	}
	for _, s := range []string{oldSecret, newSecret} {
		if err := webhook.Verify(s, got[0].header, got[0].body, time.Minute, got[0].at); err != nil {
			t.Errorf("during the overlap, secret %s…: %v", s[:10], err)
		}
	}
	if n := len(strings.Fields(got[1].header.Get("webhook-signature"))); n != 1 {
		t.Errorf("after the overlap %d signatures, want only the new secret's", n)
	}
	if err := webhook.Verify(oldSecret, got[1].header, got[1].body, time.Minute, got[1].at); err == nil {
		t.Error("the retired secret still verifies")
	}
	if got[1].header.Get("webhook-id") != ev.ID {
		t.Errorf("a redelivery must carry the same webhook-id")
	}
}

func TestRedirectsAreNotFollowedAndAnswersAreCapped(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), nil)
	target := newReceiver(t, f.clk, answer(200, ""))
	redirect := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
		return 307, http.Header{"Location": {target.URL}}, ""
	})
	huge := newReceiver(t, f.clk, answer(500, strings.Repeat("x", 3<<20)))
	f.endpoint(t, redirect.URL)
	f.endpoint(t, huge.URL)
	ev := f.pay(t, "order-1", malipo.PaymentSucceeded, "")
	f.drive(t, ev.ID, start)
	if n := len(target.requests()); n != 0 {
		t.Errorf("the redirect was followed (%d requests)", n)
	}
	for _, l := range f.deliveries(t, ev.ID) {
		a := l.Attempts[0]
		switch l.Delivery.URL {
		case redirect.URL:
			if a.StatusCode != 307 || l.Delivery.Status != malipo.DeliveryPending {
				t.Errorf("redirect attempt = %+v, delivery %s", a, l.Delivery.Status)
			}
		case huge.URL:
			if a.StatusCode != 500 || len(a.Response) != notify.ResponseKeepBytes {
				t.Errorf("huge answer kept %d bytes (status %d), want %d", len(a.Response), a.StatusCode, notify.ResponseKeepBytes)
			}
		}
	}
}

func TestSlowReceiverTimesOut(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), func(c *notify.Config) { c.Timeout = 200 * time.Millisecond })
	release := make(chan struct{})
	rc := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
		<-release
		return 200, nil, ""
	})
	defer close(release)
	f.endpoint(t, rc.URL)
	ev := f.pay(t, "order-1", malipo.PaymentSucceeded, "")
	f.drive(t, ev.ID, start)
	l := f.deliveries(t, ev.ID)[0]
	if len(l.Attempts) != 1 || l.Attempts[0].StatusCode != 0 || !strings.Contains(l.Attempts[0].Error, "Timeout") ||
		l.Delivery.Status != malipo.DeliveryPending {
		t.Errorf("attempt = %+v, delivery %s; want a timeout and a retry", l.Attempts, l.Delivery.Status)
	}
}

func TestClientRefusesPrivateAddressesInLiveMode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	// "localhost" passes no literal-address check: it is refused only
	// because the dialer checks the address the name resolved to.
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, u := range []string{srv.URL, byName} {
		_, err := notify.NewClient(malipo.ModeLive, time.Second, 1).Post(u, "application/json", nil)
		var blocked *notify.BlockedError
		if !errorsAs(err, &blocked) {
			t.Errorf("live POST %s: err = %v, want a BlockedError", u, err)
		}
		res, err := notify.NewClient(malipo.ModeTest, time.Second, 1).Post(u, "application/json", nil)
		if err != nil {
			t.Errorf("test POST %s: %v", u, err)
		} else {
			res.Body.Close()
		}
	}
	// Link-local (cloud metadata) is refused even in test mode.
	_, err := notify.NewClient(malipo.ModeTest, time.Second, 1).Get("http://169.254.169.254/latest/meta-data/")
	var blocked *notify.BlockedError
	if !errorsAs(err, &blocked) {
		t.Errorf("metadata address in test mode: err = %v, want a BlockedError", err)
	}
}

func TestLiveEndpointsMayNotNamePrivateAddresses(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), nil)
	m, _ := f.svc.CreateMerchant(context.Background(), "Live shop", "")
	live, _, err := f.svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorNative, Mode: malipo.ModeLive})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://127.0.0.1:9000/hook", "http://localhost/hook", "http://10.0.0.5/hook", "http://[::1]/hook", "http://169.254.169.254/"} {
		_, _, _, err := f.svc.CreateEndpoint(context.Background(), live, gateway.EndpointInput{URL: &u}, gateway.Idempotency{})
		if e := malipo.AsError(err); e.Kind != malipo.KindInvalid || e.Code != "url_not_allowed" {
			t.Errorf("live endpoint %s: %v, want url_not_allowed", u, err)
		}
	}
	if _, _, err := f.svc.CreatePayment(context.Background(), live, gateway.PaymentInput{Amount: 100, Currency: "XOF", Reference: "r",
		NotifyURL: "http://192.168.1.10/ipn"}, gateway.Idempotency{}); malipo.AsError(err).Code != "url_not_allowed" {
		t.Errorf("live payment with a private notify_url: %v", err)
	}
	u := "http://127.0.0.1:9000/hook"
	if _, _, _, err := f.svc.CreateEndpoint(context.Background(), f.integ, gateway.EndpointInput{URL: &u}, gateway.Idempotency{}); err != nil {
		t.Errorf("test mode must allow loopback: %v", err)
	}
}

func TestTwoNodesSendEachDeliveryOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, func(c *notify.Config) { c.Workers = 8 })
		other := notify.New(notify.Config{Store: st, Clock: f.clk, Jitter: -1, Workers: 8,
			Flavors: map[malipo.Flavor]notify.Flavor{malipo.FlavorNative: native.New(f.svc, nil).Flavor()}})
		rc := newReceiver(t, f.clk, answer(200, ""))
		f.endpoint(t, rc.URL)
		const n = 60
		for i := range n {
			f.pay(t, "order-"+strconv.Itoa(i), malipo.PaymentSucceeded, "")
		}
		var wg sync.WaitGroup
		for _, d := range []*notify.Dispatcher{f.disp, other} {
			wg.Go(func() {
				if _, err := d.RunDue(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		seen := map[string]int{}
		for _, r := range rc.requests() {
			seen[r.header.Get("webhook-id")]++
		}
		if len(seen) != n {
			t.Errorf("%d distinct events delivered, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("event %s sent %d times", id, c)
			}
		}
	})
}

func TestRunSendsAsSoonAsWoken(t *testing.T) {
	// Polling is set to an hour: only the gateway's wake can explain a
	// prompt delivery.
	f := newFixture(t, storetest.SQLite(t), func(c *notify.Config) { c.Poll = time.Hour })
	rc := newReceiver(t, f.clk, answer(200, ""))
	f.endpoint(t, rc.URL)
	stop := f.run(t)
	time.Sleep(50 * time.Millisecond) // let Run find nothing and wait
	ev := f.pay(t, "order-1", malipo.PaymentSucceeded, "")
	waitFor(t, "the event's delivery", func() bool { return len(rc.requests()) == 1 })
	// Sent again on request: the redelivery wakes it too.
	waitFor(t, "its attempt to be recorded", func() bool { return f.deliveries(t, ev.ID)[0].Delivery.Status == malipo.DeliverySucceeded })
	if _, _, err := f.svc.Redeliver(context.Background(), f.integ, ev.ID, gateway.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the event's redelivery", func() bool { return len(rc.requests()) == 2 })
	stop()
	if len(rc.requests()) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(rc.requests()))
	}
}

// slowStore makes the fake clock move while a claim is in the store: before
// the claim runs (it waited for a connection or a lock) or after (its
// commit was slow), once armed.
type slowStore struct {
	store.Store
	clk           *clock.Fake
	before, after time.Duration
	armed         atomic.Bool
}

func (s *slowStore) Lease(ctx context.Context, fn func(store.Tx) error) error {
	armed := s.armed.CompareAndSwap(true, false)
	if armed {
		s.clk.Advance(s.before)
	}
	err := s.Store.Lease(ctx, fn)
	if armed {
		s.clk.Advance(s.after)
	}
	return err
}

// A claim that waited long in the queue still gets a whole lease: while
// its holder sends, another node finds nothing to claim.
func TestALeaseStartsWhenTheClaimCommits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		slow := &slowStore{Store: st}
		var other *notify.Dispatcher
		f := newFixture(t, st, func(c *notify.Config) { c.Store = slow })
		slow.clk = f.clk
		other = notify.New(notify.Config{Store: st, Clock: f.clk, Jitter: -1, Timeout: 2 * time.Second,
			Flavors: map[malipo.Flavor]notify.Flavor{malipo.FlavorNative: native.New(f.svc, nil).Flavor()}})
		var sentByOther int
		rc := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
			if sentByOther == 0 {
				sentByOther = -1
				// While the first node's attempt is under way, the other
				// node looks for due deliveries.
				n, err := other.RunDue(context.Background())
				if err != nil {
					t.Error(err)
				}
				sentByOther = n
			}
			return 200, nil, ""
		})
		f.endpoint(t, rc.URL)
		f.pay(t, "o-1", malipo.PaymentSucceeded, "")
		slow.before = time.Minute // far longer than the 9 s lease
		slow.armed.Store(true)
		if _, err := f.disp.RunDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := len(rc.requests()); got != 1 || sentByOther != 0 {
			t.Errorf("%d requests, %d by the other node; want the event sent once", got, sentByOther)
		}
	})
}

// A claim whose commit took most of its lease is not attempted under it,
// since another node could claim the delivery midway: it is given back,
// due at once, claimed again under a whole new lease and sent once.
func TestNoAttemptStartsWithLessLeaseThanItsTimeout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		slow := &slowStore{Store: st}
		f := newFixture(t, st, func(c *notify.Config) { c.Store = slow })
		slow.clk = f.clk
		other := notify.New(notify.Config{Store: st, Clock: f.clk, Jitter: -1, Timeout: 2 * time.Second,
			Flavors: map[malipo.Flavor]notify.Flavor{malipo.FlavorNative: native.New(f.svc, nil).Flavor()}})
		var leaseAtRequest []int
		var ev malipo.Event
		rc := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
			for _, l := range f.deliveries(t, ev.ID) {
				leaseAtRequest = append(leaseAtRequest, l.Delivery.Lease)
			}
			return 200, nil, ""
		})
		f.endpoint(t, rc.URL)
		ev = f.pay(t, "o-1", malipo.PaymentSucceeded, "")
		slow.after = 8 * time.Second // of a 9 s lease; an attempt may take 2 s
		slow.armed.Store(true)
		if _, err := f.disp.RunDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Claimed (1), its lease renewed (2) before it went.
		if !slices.Equal(leaseAtRequest, []int{2}) {
			t.Errorf("the delivery's lease at each request: %v, want one request under lease 2", leaseAtRequest)
		}
		logs := f.deliveries(t, ev.ID)
		if logs[0].Delivery.Status != malipo.DeliverySucceeded || len(logs[0].Attempts) != 1 {
			t.Errorf("delivery %+v", logs[0])
		}
		if n, _ := other.RunDue(context.Background()); n != 0 {
			t.Errorf("another node then found %d to send, want none", n)
		}
	})
}

// An attempt made under a lease another node has since taken is logged,
// but does not move the delivery on behind the new holder's back.
func TestAStaleAttemptDoesNotRescheduleTheDelivery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		other := notify.New(notify.Config{Store: st, Clock: f.clk, Jitter: -1, Timeout: 2 * time.Second,
			Flavors: map[malipo.Flavor]notify.Flavor{malipo.FlavorNative: native.New(f.svc, nil).Flavor()}})
		first := true
		rc := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
			if first {
				// The first node stalls past its lease; the other claims
				// the delivery and its receiver is still down.
				first = false
				f.clk.Advance(10 * time.Second)
				other.RunDue(context.Background())
			}
			return 503, nil, ""
		})
		f.endpoint(t, rc.URL)
		ev := f.pay(t, "o-1", malipo.PaymentSucceeded, "")
		f.disp.RunDue(context.Background())
		logs := f.deliveries(t, ev.ID)
		d := logs[0].Delivery
		// The other node's failure set the next attempt 5 s on; the stale
		// one, recorded after it, must not have moved it.
		if len(logs[0].Attempts) != 2 || d.Attempts != 2 || !d.NextAttemptAt.Equal(logs[0].Attempts[0].At.Add(5*time.Second)) {
			t.Errorf("delivery %+v, attempts %+v", d, logs[0].Attempts)
		}
	})
}

// runUntilFirstRequest runs the dispatcher until the receiver has the first
// request, then tells it to stop, and returns once Run has returned.
func runUntilFirstRequest(t *testing.T, f *fixture, arrived <-chan struct{}) time.Duration {
	t.Helper()
	stop := f.run(t)
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the receiver")
	}
	stopped := time.Now()
	stop()
	return time.Since(stopped)
}

// A node told to stop finishes the attempts under way within its grace,
// and records them.
func TestStopFinishesAttemptsUnderWay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, func(c *notify.Config) { c.Grace = 5 * time.Second })
		arrived := make(chan struct{}, 1)
		rc := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
			arrived <- struct{}{}
			time.Sleep(300 * time.Millisecond) // still answering when the stop comes
			return 200, nil, ""
		})
		f.endpoint(t, rc.URL)
		ev := f.pay(t, "o-1", malipo.PaymentSucceeded, "")
		runUntilFirstRequest(t, f, arrived)
		logs := f.deliveries(t, ev.ID)
		if len(logs) != 1 || logs[0].Delivery.Status != malipo.DeliverySucceeded || len(logs[0].Attempts) != 1 {
			t.Errorf("after the stop: %+v", logs)
		}
	})
}

// An attempt still unanswered when the grace ends is cut, and its delivery
// released: another node sends it at once, not after the lease.
func TestStopReleasesWhatItCannotFinish(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, func(c *notify.Config) { c.Grace = 100 * time.Millisecond; c.Timeout = 10 * time.Second })
		arrived := make(chan struct{}, 1)
		var hang atomic.Bool
		hang.Store(true)
		rc := newReceiver(t, f.clk, func(_ time.Time, r *http.Request) (int, http.Header, string) {
			if hang.Load() {
				arrived <- struct{}{}
				<-r.Context().Done() // until the sender gives up
			}
			return 200, nil, ""
		})
		f.endpoint(t, rc.URL)
		ev := f.pay(t, "o-1", malipo.PaymentSucceeded, "")
		if took := runUntilFirstRequest(t, f, arrived); took > 3*time.Second {
			t.Errorf("stopping took %s with a grace of 100ms", took)
		}
		logs := f.deliveries(t, ev.ID)
		if len(logs) != 1 || logs[0].Delivery.Status != malipo.DeliveryPending || len(logs[0].Attempts) != 0 ||
			logs[0].Delivery.NextAttemptAt.After(f.clk.Now()) {
			t.Fatalf("after the stop: %+v", logs)
		}
		hang.Store(false)
		other := notify.New(notify.Config{Store: st, Clock: f.clk, Jitter: -1, Timeout: 2 * time.Second,
			Flavors: map[malipo.Flavor]notify.Flavor{malipo.FlavorNative: native.New(f.svc, nil).Flavor()}})
		if n, err := other.RunDue(context.Background()); n != 1 || err != nil {
			t.Fatalf("another node, at once: RunDue = %d, %v", n, err)
		}
		if logs := f.deliveries(t, ev.ID); logs[0].Delivery.Status != malipo.DeliverySucceeded || len(logs[0].Attempts) != 1 {
			t.Errorf("after the other node: %+v", logs[0])
		}
	})
}

// A node claims as many deliveries again as it has workers, ahead, so
// that no worker waits for a claim's commit; told to stop, it gives back
// at once those no worker started, due now for another node, while the
// attempts under way finish: it neither sends them nor leaves them to
// wait out their leases.
func TestStopGivesBackDeliveriesClaimedAhead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		const workers = 2
		f := newFixture(t, st, func(c *notify.Config) { c.Workers, c.Poll, c.Grace = workers, 10*time.Millisecond, 5*time.Second })
		gate := make(chan struct{})
		var first atomic.Bool
		rc := newReceiver(t, f.clk, func(_ time.Time, r *http.Request) (int, http.Header, string) {
			if first.CompareAndSwap(false, true) {
				return 200, nil, "" // answered: the receiver is not held to its share
			}
			select {
			case <-gate:
			case <-r.Context().Done():
			}
			return 200, nil, ""
		})
		f.pay(t, "first", malipo.PaymentSucceeded, rc.URL)
		stop := f.run(t)
		waitFor(t, "a first answer", func() bool { return len(rc.requests()) == 1 })
		var events []malipo.Event
		for i := range 12 {
			events = append(events, f.pay(t, fmt.Sprintf("a-%d", i), malipo.PaymentSucceeded, rc.URL))
		}
		leases := func() (claimed, givenBack int) {
			for _, ev := range events {
				for _, l := range f.deliveries(t, ev.ID) {
					switch {
					case l.Delivery.Lease == 1:
						claimed++
					case l.Delivery.Lease == 2 && l.Delivery.Status == malipo.DeliveryPending && !l.Delivery.NextAttemptAt.After(f.clk.Now()):
						givenBack++
					}
				}
			}
			return claimed, givenBack
		}
		waitFor(t, "two attempts under way and two deliveries claimed ahead", func() bool {
			claimed, _ := leases()
			return len(rc.requests()) == 1+workers && claimed == 2*workers
		})
		stopped := time.Now()
		returned := make(chan struct{})
		go func() { stop(); close(returned) }() // Run returns only once the gate opens
		waitFor(t, "the deliveries claimed ahead to be given back", func() bool {
			_, givenBack := leases()
			return givenBack == workers
		})
		if took := time.Since(stopped); took > time.Second {
			t.Errorf("the deliveries claimed ahead were given back %s after the stop, want at once, not after the attempts under way (5 s grace)", took)
		}
		close(gate)
		<-returned
		sent := 0
		for _, ev := range events {
			for _, l := range f.deliveries(t, ev.ID) {
				if l.Delivery.Status == malipo.DeliverySucceeded && len(l.Attempts) == 1 {
					sent++
				}
			}
		}
		if got := len(rc.requests()) - 1; got != workers || sent != workers {
			t.Errorf("the receiver got %d requests and %d deliveries were recorded sent, want the %d under way", got, sent, workers)
		}
	})
}

// While attempts finish fast, a node claims further ahead than as many
// as its workers, up to three times as many, so that its workers do not
// wait through a claim's commit; while they are slow, only as many ahead
// as its workers, each of which then waits about one attempt at most.
func TestFastAttemptsAreClaimedFurtherAhead(t *testing.T) {
	const workers = 2
	// mostClaimed sends deliveries to a receiver answering each in
	// answerIn, and reports the most claimed and not done at any time.
	mostClaimed := func(t *testing.T, st store.Store, deliveries int, answerIn time.Duration) int {
		f := newFixture(t, st, func(c *notify.Config) { c.Workers, c.Poll = workers, 10*time.Millisecond })
		rc := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
			time.Sleep(answerIn)
			return 200, nil, ""
		})
		for i := range deliveries {
			f.pay(t, fmt.Sprintf("p-%d", i), malipo.PaymentSucceeded, rc.URL)
		}
		stop := f.run(t)
		most := 0
		waitFor(t, "every delivery sent", func() bool {
			most = max(most, notify.ClaimedNotDone(f.disp))
			return len(rc.requests()) >= deliveries
		})
		stop()
		return most
	}
	storetest.Each(t, func(t *testing.T, st store.Store) {
		if most := mostClaimed(t, st, 400, 0); most <= 2*workers || most > 4*workers {
			t.Errorf("answered at once: at most %d claimed and not done, want more than %d and at most %d", most, 2*workers, 4*workers)
		}
	})
	// Two workers, 100 ms an attempt: two attempts in 100 ms, no more than
	// the workers.
	storetest.Each(t, func(t *testing.T, st store.Store) {
		if most := mostClaimed(t, st, 16, 100*time.Millisecond); most > 2*workers {
			t.Errorf("answered in 100 ms: at most %d claimed and not done, want at most %d", most, 2*workers)
		}
	})
}

// A delivery whose lease ran short while it waited for a worker is
// leased again and sent at once, not attempted under its old lease nor
// left to wait it out.
func TestADeliveryWhoseLeaseRanShortIsRenewed(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), func(c *notify.Config) { c.Workers, c.Poll = 1, 10*time.Millisecond })
	arrived := make(chan struct{}, 10)
	rc := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
		arrived <- struct{}{}
		time.Sleep(300 * time.Millisecond)
		return 200, nil, ""
	})
	f.pay(t, "first", malipo.PaymentSucceeded, rc.URL)
	f.run(t)
	<-arrived
	time.Sleep(400 * time.Millisecond) // answered: the receiver is not held to its share
	f.pay(t, "running", malipo.PaymentSucceeded, rc.URL)
	ev := f.pay(t, "ahead", malipo.PaymentSucceeded, rc.URL)
	<-arrived // "running" is under way
	waitFor(t, "the second delivery to be claimed ahead", func() bool {
		logs := f.deliveries(t, ev.ID)
		return len(logs) == 1 && logs[0].Delivery.Lease == 1
	})
	if len(rc.requests()) != 2 {
		t.Fatalf("the receiver got %d requests while the second delivery waited, want 2", len(rc.requests()))
	}
	// Its lease (2×2 s + 5 s) has 2 s left when the worker frees: less
	// than an attempt (2 s) and its record (1 s) may take.
	f.clk.Advance(7 * time.Second)
	waitFor(t, "the second delivery to be sent", func() bool {
		logs := f.deliveries(t, ev.ID)
		return len(logs) == 1 && logs[0].Delivery.Status == malipo.DeliverySucceeded
	})
	if logs := f.deliveries(t, ev.ID); logs[0].Delivery.Lease != 2 || len(logs[0].Attempts) != 1 {
		t.Errorf("sent under lease %d with %d attempts, want lease 2 (claimed, renewed) and 1 attempt",
			logs[0].Delivery.Lease, len(logs[0].Attempts))
	}
}

// A receiver's deliveries claimed ahead while it is busy wait behind
// another receiver's: a worker that frees takes the other's first, not
// the busy receiver's whole queue before it.
func TestAnotherReceiverGoesBeforeABusyOnesQueue(t *testing.T) {
	const workers = 8 // a share is 2
	f := newFixture(t, storetest.SQLite(t), func(c *notify.Config) { c.Workers, c.Poll, c.Timeout = workers, 10*time.Millisecond, 5*time.Second })
	var mu sync.Mutex
	slowStarted := 0
	slow := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
		mu.Lock()
		slowStarted++
		n := slowStarted
		mu.Unlock()
		// Staggered, so that workers free one at a time while the
		// others' queue stands.
		time.Sleep(150*time.Millisecond + time.Duration(n%workers)*20*time.Millisecond)
		return 200, nil, ""
	})
	slowAtFast := -1
	fast := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
		mu.Lock()
		defer mu.Unlock()
		slowAtFast = slowStarted
		return 200, nil, ""
	})
	for i := range 200 {
		f.pay(t, fmt.Sprintf("s-%d", i), malipo.PaymentSucceeded, slow.URL)
	}
	f.run(t)
	waitFor(t, "the slow receiver to answer its way to a steady queue", func() bool { return len(slow.requests()) >= 3*workers })
	ev := f.pay(t, "f-1", malipo.PaymentSucceeded, fast.URL+"/ipn")
	// Counted from the claim: until then the fast delivery waits in the
	// store, where claims find it as the busy receiver's backlog allows.
	var slowAtClaim int
	waitFor(t, "the fast receiver's delivery to be claimed", func() bool {
		if logs := f.deliveries(t, ev.ID); len(logs) == 1 && logs[0].Delivery.Lease > 0 {
			mu.Lock()
			slowAtClaim = slowStarted
			mu.Unlock()
			return true
		}
		return false
	})
	waitFor(t, "the fast receiver's request", func() bool { return len(fast.requests()) == 1 })
	mu.Lock()
	defer mu.Unlock()
	// A worker freeing as the claim commits may take a slow delivery
	// first; a queue of them ahead would be about workers more.
	if n := slowAtFast - slowAtClaim; n > 2 {
		t.Errorf("%d of the slow receiver's attempts started between the fast delivery's claim and its attempt, want at most 2", n)
	}
}

// Attempts reuse their connections to a busy receiver: with more workers
// than a transport keeps idle by default, each round of attempts dials no
// new ones.
func TestConnectionsToABusyReceiverAreReused(t *testing.T) {
	const workers, rounds = 128, 3
	f := newFixture(t, storetest.SQLite(t), func(c *notify.Config) { c.Workers = workers })
	var mu sync.Mutex
	dialled, arrived := 0, 0
	gate := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Each request waits for the round's others, so that a round
		// needs workers connections at once.
		mu.Lock()
		arrived++
		g := gate
		if arrived == workers {
			close(gate)
			gate, arrived = make(chan struct{}), 0
		}
		mu.Unlock()
		select {
		case <-g:
		case <-time.After(5 * time.Second):
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			dialled++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	f.endpoint(t, srv.URL)
	for i := range workers * rounds {
		f.pay(t, fmt.Sprintf("o-%d", i), malipo.PaymentSucceeded, "")
	}
	n, err := f.disp.RunDue(context.Background())
	if err != nil || n != workers*rounds {
		t.Fatalf("RunDue made %d attempts (%v), want %d", n, err, workers*rounds)
	}
	mu.Lock()
	defer mu.Unlock()
	if dialled > workers {
		t.Errorf("%d rounds of %d attempts dialled %d connections, want at most %d", rounds, workers, dialled, workers)
	}
}

func TestAHangingReceiverDoesNotHoldTheWorkers(t *testing.T) {
	const workers = 4
	f := newFixture(t, storetest.SQLite(t), func(c *notify.Config) {
		c.Workers, c.Timeout, c.FailuresToPause = workers, 200*time.Millisecond, workers
	})
	hangs := newReceiver(t, f.clk, func(_ time.Time, r *http.Request) (int, http.Header, string) {
		<-r.Context().Done()
		return 200, nil, ""
	})
	answers := newReceiver(t, f.clk, answer(200, "ok"))
	// The hanging receiver's backlog is older: claims take it first.
	var behind []malipo.Event
	for i := range 5 * workers {
		behind = append(behind, f.pay(t, fmt.Sprintf("h-%d", i), malipo.PaymentSucceeded, hangs.URL+"/ipn?token=x"))
	}
	f.clk.Advance(time.Millisecond)
	for i := range 5 {
		f.pay(t, fmt.Sprintf("a-%d", i), malipo.PaymentSucceeded, answers.URL)
	}
	n, err := f.disp.RunDue(context.Background())
	if err != nil || n != 5*workers+5 {
		t.Fatalf("RunDue made %d attempts (%v), want %d", n, err, 5*workers+5)
	}
	// As many attempts as pause it waited out the timeout (a share of the
	// workers at a time); the rest of the backlog was not sent, and the
	// other receiver got everything.
	if got := len(hangs.requests()); got != workers {
		t.Errorf("the hanging receiver got %d requests, want %d: as many as pause it", got, workers)
	}
	if got := len(answers.requests()); got != 5 {
		t.Errorf("the answering receiver got %d requests, want 5", got)
	}
	sent := 0
	for _, ev := range behind {
		l := f.deliveries(t, ev.ID)[0]
		if len(l.Attempts) != 1 || l.Delivery.Status != malipo.DeliveryPending || !l.Delivery.NextAttemptAt.Equal(f.clk.Now().Add(5*time.Second)) {
			t.Fatalf("delivery %+v with attempts %+v; want one attempt, due again on the schedule", l.Delivery, l.Attempts)
		}
		a := l.Attempts[0]
		if strings.Contains(a.Error, "Timeout") {
			sent++
			continue
		}
		want := fmt.Sprintf("not sent: %s did not answer the last %d attempts; attempts to it are paused until %s",
			hangs.URL, workers, f.clk.Now().Add(30*time.Second).Format(time.RFC3339))
		if a.Error != want || a.StatusCode != 0 {
			t.Errorf("attempt = %+v; want %q", a, want)
		}
	}
	if sent != workers {
		t.Errorf("%d attempts timed out, want %d", sent, workers)
	}
	if p := f.disp.Paused(); p != 1 {
		t.Errorf("Paused() = %d, want 1", p)
	}
}

func TestAPausedReceiverIsTriedAloneThenResumes(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), func(c *notify.Config) {
		c.Workers, c.FailuresToPause, c.PauseFor = 1, 2, time.Minute
	})
	var up atomic.Bool
	var mu sync.Mutex
	var got []time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, f.clk.Now().Sub(start))
		mu.Unlock()
		if !up.Load() { // down: the connection drops without an answer
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	var evs []malipo.Event
	for i := range 3 {
		evs = append(evs, f.pay(t, fmt.Sprintf("o-%d", i), malipo.PaymentSucceeded, srv.URL))
	}
	ctx := context.Background()
	// One at a time (one worker): two fail and pause it for a minute,
	// the third is not sent; at 5 s none is; at 5m05s one trial fails and
	// pauses it for two; at 35m05s, up again, the trial gets an answer and
	// the other two go at once.
	for _, step := range []struct {
		at     time.Duration
		paused int
	}{{0, 1}, {5 * time.Second, 1}, {5*time.Minute + 5*time.Second, 1}, {35*time.Minute + 5*time.Second, 0}} {
		f.clk.Set(start.Add(step.at))
		if step.paused == 0 {
			up.Store(true)
		}
		if _, err := f.disp.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		if p := f.disp.Paused(); p != step.paused {
			t.Errorf("at %s Paused() = %d, want %d", step.at, p, step.paused)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []time.Duration{0, 0, 5*time.Minute + 5*time.Second, 35*time.Minute + 5*time.Second, 35*time.Minute + 5*time.Second, 35*time.Minute + 5*time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests at %v, want %v", got, want)
	}
	paused := 0
	for _, ev := range evs {
		l := f.deliveries(t, ev.ID)[0]
		if l.Delivery.Status != malipo.DeliverySucceeded || len(l.Attempts) != 4 || l.Attempts[3].StatusCode != http.StatusNoContent {
			t.Errorf("delivery %s with attempts %+v; want the fourth acknowledged", l.Delivery.Status, l.Attempts)
		}
		for _, a := range l.Attempts {
			if strings.HasPrefix(a.Error, "not sent: "+srv.URL+" did not answer the last") {
				paused++
			}
		}
	}
	// Not sent: the third at once, all three at 5 s, two at 5m05s.
	if paused != 6 {
		t.Errorf("%d attempts recorded as not sent, want 6", paused)
	}
}

func TestAReceiverThatAnswersIsNeverPaused(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), func(c *notify.Config) { c.FailuresToPause = 2 })
	rc := newReceiver(t, f.clk, answer(500, "oops"))
	for i := range 4 {
		f.pay(t, fmt.Sprintf("o-%d", i), malipo.PaymentSucceeded, rc.URL)
	}
	for _, at := range []time.Duration{0, 5 * time.Second} {
		f.clk.Set(start.Add(at))
		if _, err := f.disp.RunDue(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(rc.requests()); got != 8 || f.disp.Paused() != 0 {
		t.Errorf("receiver got %d requests (paused %d), want 8: every attempt sent", got, f.disp.Paused())
	}
}

// A receiver that answers slowly, with the older backlog, does not keep
// the workers from others: each worker that frees goes first to a
// receiver holding fewer than its share (here one of four workers).
func TestASlowReceiverWaitsBehindTheOthers(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), func(c *notify.Config) { c.Workers, c.Poll = 4, 10*time.Millisecond })
	var mu sync.Mutex
	slowGot := 0
	slow := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
		mu.Lock()
		slowGot++
		n := slowGot
		mu.Unlock()
		// Staggered, so that as one answers the others are still under way.
		time.Sleep(150*time.Millisecond + time.Duration(n%4)*40*time.Millisecond)
		return 200, nil, "ok"
	})
	var slowAtLast atomic.Int64
	fastGot := 0
	fast := newReceiver(t, f.clk, func(time.Time, *http.Request) (int, http.Header, string) {
		mu.Lock()
		defer mu.Unlock()
		if fastGot++; fastGot == 5 {
			slowAtLast.Store(int64(slowGot))
		}
		return 200, nil, "ok"
	})
	for i := range 20 {
		f.pay(t, fmt.Sprintf("s-%d", i), malipo.PaymentSucceeded, slow.URL)
	}
	f.clk.Advance(time.Millisecond)
	for i := range 5 {
		f.pay(t, fmt.Sprintf("f-%d", i), malipo.PaymentSucceeded, fast.URL+"/ipn")
	}
	stop := f.run(t)
	deadline := time.Now().Add(20 * time.Second)
	for len(slow.requests()) < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if got := len(fast.requests()); got != 5 || len(slow.requests()) != 20 {
		t.Fatalf("fast receiver got %d requests, slow %d; want 5 and 20", got, len(slow.requests()))
	}
	// Oldest first, the fast receiver's would come after all 20.
	if n := slowAtLast.Load(); n > 12 {
		t.Errorf("the slow receiver had had %d requests when the fast one had its fifth, want at most 12", n)
	}
}

// A receiver that starts hanging with a backlog due holds about its share
// of the workers, not every one: another receiver's deliveries that fall
// due while the first wave hangs go at once, not after the timeout.
func TestAHangingBacklogHoldsOnlyItsShare(t *testing.T) {
	const workers, timeout = 8, 2 * time.Second // a share is 2
	f := newFixture(t, storetest.SQLite(t), func(c *notify.Config) {
		// Pausing would end the hang after a wave; this is about the wave.
		c.Workers, c.Timeout, c.Poll, c.FailuresToPause = workers, timeout, 10*time.Millisecond, 1000
	})
	var mu sync.Mutex
	hanging, most := 0, 0
	hangs := newReceiver(t, f.clk, func(_ time.Time, r *http.Request) (int, http.Header, string) {
		mu.Lock()
		hanging++
		most = max(most, hanging)
		mu.Unlock()
		<-r.Context().Done()
		mu.Lock()
		hanging--
		mu.Unlock()
		return 200, nil, ""
	})
	answers := newReceiver(t, f.clk, answer(200, "ok"))
	for i := range 5 * workers {
		f.pay(t, fmt.Sprintf("h-%d", i), malipo.PaymentSucceeded, hangs.URL)
	}
	stop := f.run(t)
	waitFor(t, "the hanging receiver to get a request", func() bool { return len(hangs.requests()) > 0 })
	firstHang := time.Now()
	time.Sleep(100 * time.Millisecond) // the first wave's claims are made
	due := time.Now()
	for i := range 5 {
		f.pay(t, fmt.Sprintf("a-%d", i), malipo.PaymentSucceeded, answers.URL)
	}
	waitFor(t, "the other receiver to get its five", func() bool { return len(answers.requests()) == 5 })
	took := time.Since(due)
	// Until the first wave times out, claims go on finding nobody else
	// due; the hanging receiver must not take the idle workers either.
	time.Sleep(time.Until(firstHang.Add(timeout - 200*time.Millisecond)))
	stop()
	if took >= timeout/2 {
		t.Errorf("the other receiver's deliveries took %s to go: they waited for the hanging receiver's timeout", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if most > workers/2 {
		t.Errorf("the hanging receiver held %d of %d workers at once, want at most half", most, workers)
	}
}
