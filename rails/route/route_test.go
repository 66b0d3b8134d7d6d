package route_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/route"
)

// fakeRail answers pushes as it is told.
type fakeRail struct {
	name string
	err  error
}

func (f *fakeRail) Name() string { return f.name }
func (f *fakeRail) Push(context.Context, rails.Push) (string, error) {
	return "ref", f.err
}
func (f *fakeRail) Status(_ context.Context, key, _ string) (rails.Outcome, error) {
	return rails.Unknown(key), f.err
}
func (f *fakeRail) Operator(string) string    { return "" }
func (f *fakeRail) Operators(string) []string { return nil }

func meta(name, country, operator, cur string, pos int) malipo.Rail {
	return malipo.Rail{Name: name, Countries: []string{country}, Operators: []string{operator}, Currencies: []malipo.Currency{malipo.Currency(cur)}, Position: pos}
}

func TestRoutesByCountryOperatorCurrencyAndOrder(t *testing.T) {
	mtnB, mtnA, airtel, mpesa := &fakeRail{name: "mtn-b"}, &fakeRail{name: "mtn-a"}, &fakeRail{name: "airtel-ug"}, &fakeRail{name: "mpesa-ke"}
	r := route.New([]route.Rail{
		{Meta: meta("mtn-b", "UG", "mtn-ug", "UGX", 2), MobileMoney: mtnB},
		{Meta: meta("mtn-a", "UG", "mtn-ug", "UGX", 1), MobileMoney: mtnA},
		{Meta: meta("airtel-ug", "UG", "airtel-ug", "UGX", 1), MobileMoney: airtel},
		{Meta: meta("mpesa-ke", "KE", "mpesa-ke", "KES", 1), MobileMoney: mpesa},
	}, route.Options{})
	mm := r.MobileMoney()
	for _, c := range []struct{ msisdn, operator, cur, want string }{
		{"+256772120000", "", "UGX", "mtn-a"},       // MTN's range, the first by position
		{"+256702120000", "", "UGX", "airtel-ug"},   // Airtel's range
		{"+256702120000", "mtn-ug", "UGX", "mtn-a"}, // the customer chose MTN
		{"+254712345678", "", "KES", "mpesa-ke"},
	} {
		got, err := mm.For(c.msisdn, c.operator, malipo.Currency(c.cur))
		if err != nil || got.Name() != c.want {
			t.Errorf("For(%s, %q, %s) = %v, %v; want %s", c.msisdn, c.operator, c.cur, got, err, c.want)
		}
	}
	for _, c := range []struct{ msisdn, cur string }{{"+256772120000", "KES"}, {"+250788120000", "RWF"}} {
		if _, err := mm.For(c.msisdn, "", malipo.Currency(c.cur)); malipo.AsError(err).Code != "rail_unavailable" {
			t.Errorf("For(%s, %s): %v, want rail_unavailable", c.msisdn, c.cur, err)
		}
	}
	if ops := mm.Operators("UG"); len(ops) != 2 || mm.Operator("+256702120000") != "airtel-ug" || mm.Operator("+250788120000") != "" {
		t.Errorf("operators %v", ops)
	}
	if got, ok := mm.Named("mtn-b"); !ok || got.Name() != "mtn-b" {
		t.Errorf("Named(mtn-b) = %v %v", got, ok)
	}
}

// A rail whose calls keep failing is skipped for a while, then tried again.
func TestCircuitBreaker(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	first, second := &fakeRail{name: "first"}, &fakeRail{name: "second"}
	var opened []string
	r := route.New([]route.Rail{
		{Meta: meta("first", "UG", "mtn-ug", "UGX", 1), MobileMoney: first},
		{Meta: meta("second", "UG", "mtn-ug", "UGX", 2), MobileMoney: second},
	}, route.Options{Clock: clk, FailuresToOpen: 3, OpenFor: time.Minute, OnCall: func(rail, op string, failed, open bool) {
		if open {
			opened = append(opened, rail)
		}
	}})
	mm := r.MobileMoney()
	ctx := context.Background()
	first.err = errors.New("connection reset")
	for range 3 {
		rail, _ := mm.For("+256772120000", "", "UGX")
		rail.Push(ctx, rails.Push{})
	}
	if rail, _ := mm.For("+256772120000", "", "UGX"); rail.Name() != "second" || len(opened) == 0 {
		t.Errorf("after 3 failures: %s, opened %v", rail.Name(), opened)
	}
	// A refusal is the rail working: it does not count.
	second.err = malipo.Invalid("phone", "invalid_account", "no such wallet")
	for range 5 {
		rail, _ := mm.For("+256772120000", "", "UGX")
		rail.Push(ctx, rails.Push{})
	}
	if h := r.Health(); !h[0].Open || h[1].Open || h[1].Failures != 0 {
		t.Errorf("health %+v", h)
	}
	clk.Advance(time.Minute)
	first.err = nil
	rail, _ := mm.For("+256772120000", "", "UGX")
	if rail.Name() != "first" {
		t.Fatalf("after the pause: %s", rail.Name())
	}
	rail.Push(ctx, rails.Push{})
	if h := r.Health(); h[0].Open || h[0].Failures != 0 {
		t.Errorf("a success closes the circuit: %+v", h)
	}
	second.err = errors.New("down")
	first.err = errors.New("down")
	for range 6 {
		for _, name := range []string{"first", "second"} {
			if rail, ok := mm.Named(name); ok {
				rail.Status(ctx, "k", "")
			}
		}
	}
	if _, err := mm.For("+256772120000", "", "UGX"); malipo.AsError(err).Code != "rail_unavailable" {
		t.Errorf("every rail failing: %v", err)
	}
}
