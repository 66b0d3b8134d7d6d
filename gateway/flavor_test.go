package gateway_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/store/storetest"
)

// A face's flavor decides its integrations' credentials, home country and
// payouts switch; numbers written without their country code are read in
// the integration's home country in every flow (push at creation, the
// checkout page, payout destinations, saved cards).
func TestFlavorsAndHomeCountries(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	ctx := context.Background()
	e.svc.RegisterFlavor(gateway.Flavor{Name: "senegal", Country: "SN", Mint: func(g *ids.Generator, _ gateway.IntegrationInput, in *malipo.Integration) ([]string, gateway.Credentials, error) {
		key := g.Secret("sn_", 16)
		return []string{key}, gateway.Credentials{"key": key}, nil
	}})
	if _, _, err := e.svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: e.integ.MerchantID, Flavor: "nope", Mode: malipo.ModeTest}); malipo.AsError(err).Code != "flavor_unsupported" {
		t.Errorf("unknown flavor: %v", err)
	}
	if _, _, err := e.svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: e.integ.MerchantID, Flavor: malipo.FlavorNative, Mode: malipo.ModeTest, Country: "ZZ"}); malipo.AsError(err).Code != "country_invalid" {
		t.Errorf("country ZZ: %v", err)
	}

	sn, creds, err := e.svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: e.integ.MerchantID, Flavor: "senegal", Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	if found, err := e.svc.IntegrationBySecret(ctx, creds["key"]); err != nil || found.ID != sn.ID {
		t.Fatalf("the minted key does not find its integration: %v", err)
	}
	if e.svc.Home(sn) != "SN" || e.svc.PayoutsEnabled(sn) {
		t.Errorf("flavor defaults: home %q, payouts %v", e.svc.Home(sn), e.svc.PayoutsEnabled(sn))
	}
	p, _, err := e.svc.CreatePayment(ctx, sn, gateway.PaymentInput{Amount: 1000, Currency: "XOF", Reference: "sn-1", Method: "mobile_money", Phone: "771230000"}, gateway.Idempotency{})
	if err != nil || p.Phone != "+221771230000" {
		t.Errorf("push to a Senegalese number written nationally: %+v %v", p.Phone, err)
	}
	_, _, err = e.svc.CreatePayout(ctx, sn, gateway.PayoutInput{Amount: 100, Currency: "XOF", Reference: "po-1",
		Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: "771230000"}}, gateway.Idempotency{})
	if !errors.Is(err, malipo.ErrPayoutsDisabled) {
		t.Errorf("payout with payouts off: %v", err)
	}

	on := true
	rw, _, err := e.svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: e.integ.MerchantID, Flavor: "senegal", Mode: malipo.ModeTest, Country: "rw", Payouts: &on})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Topup(ctx, rw, 50_000, "USD"); err != nil {
		t.Fatal(err)
	}
	po, _, err := e.svc.CreatePayout(ctx, rw, gateway.PayoutInput{Amount: 100, Currency: "USD", Reference: "po-2",
		Destination: malipo.Destination{Type: malipo.DestinationMobileMoney, Account: "0788120000"}}, gateway.Idempotency{})
	if err != nil || po.Destination.Account != "+250788120000" {
		t.Errorf("payout to a Rwandan number written nationally, in USD: %+v %v", po.Destination, err)
	}
	checkout, _, err := e.svc.CreatePayment(ctx, rw, gateway.PaymentInput{Amount: 1000, Currency: "USD", Reference: "rw-1"}, gateway.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	if paid, err := e.svc.PayWithMobileMoney(ctx, checkout.CheckoutToken, "0788120000", ""); err != nil || paid.Phone != "+250788120000" {
		t.Errorf("checkout with a national number: %+v %v", paid.Phone, err)
	}
	// The native integration names no country: its numbers need theirs
	// (the service has no default region here).
	if _, _, err := e.svc.CreatePayment(ctx, e.integ, gateway.PaymentInput{Amount: 1000, Currency: "USD", Reference: "n-1", Method: "mobile_money", Phone: "0788120000"}, gateway.Idempotency{}); malipo.KindOf(err) != malipo.KindInvalid {
		t.Errorf("a national number without a home country: %v", err)
	}
}

// A native key rolls: the new one works at once, the old one for the
// overlap; revoking stops every key of the integration.
func TestRollAndRevokeKeys(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	ctx := context.Background()
	works := func(key string) bool {
		_, err := e.svc.Authenticate(ctx, key)
		return err == nil
	}
	if _, err := e.svc.RollKey(ctx, e.integ.ID, 8*24*time.Hour); malipo.KindOf(err) != malipo.KindInvalid {
		t.Errorf("an overlap of 8 days: %v", err)
	}
	rolled, err := e.svc.RollKey(ctx, e.integ.ID, time.Hour)
	fresh := rolled["secret_key"]
	if err != nil || fresh == "" || fresh == e.key {
		t.Fatalf("roll: %q %v", fresh, err)
	}
	if !works(fresh) || !works(e.key) {
		t.Errorf("during the overlap both keys work: new %v, old %v", works(fresh), works(e.key))
	}
	e.clock.Advance(time.Hour + keyCacheMargin)
	if works(e.key) || !works(fresh) {
		t.Errorf("after the overlap: new %v, old %v", works(fresh), works(e.key))
	}
	keys, _ := e.svc.APIKeys(ctx, e.integ.ID)
	if len(keys) != 2 || keys[1].Hint == "" || keys[0].ExpiresAt.IsZero() {
		t.Errorf("keys: %+v", keys)
	}
	if err := e.svc.RevokeIntegration(ctx, e.integ.ID); err != nil {
		t.Fatal(err)
	}
	if works(fresh) {
		t.Error("a revoked integration's key works")
	}
	if _, err := e.svc.RollKey(ctx, e.integ.ID, 0); malipo.KindOf(err) != malipo.KindConflict {
		t.Errorf("rolling a revoked integration: %v", err)
	}
	e.svc.RegisterFlavor(gateway.Flavor{Name: "set", Mint: func(g *ids.Generator, _ gateway.IntegrationInput, in *malipo.Integration) ([]string, gateway.Credentials, error) {
		return []string{g.Secret("set_", 16)}, nil, nil
	}})
	other, _, err := e.svc.CreateIntegration(ctx, gateway.IntegrationInput{MerchantID: e.integ.MerchantID, Flavor: "set", Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RollKey(ctx, other.ID, 0); malipo.AsError(err).Code != "roll_unsupported" {
		t.Errorf("rolling a provider's credentials: %v", err)
	}
}

// keyCacheMargin is past the minute a node may remember a key.
const keyCacheMargin = time.Minute
