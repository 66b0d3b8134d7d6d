package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

func card(number string) rails.Card {
	return rails.Card{Number: number, Month: 12, Year: 2030, CVV: "123", Name: "Awa Diallo"}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := malipo.AsError(err).Code; err == nil || got != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

func TestCheckoutMobileMoney(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := e.create(t, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "o-1",
			Customer: malipo.Customer{Phone: "+2250707120000"}, LockPhone: true})
		c, err := e.svc.Checkout(ctx, p.CheckoutToken)
		if err != nil || c.Merchant.Name != "Duka" || c.Expired || strings.Join(c.Operators, ",") != "orange-ci,mtn-ci,moov-ci" {
			t.Fatalf("checkout = %+v, %v", c, err)
		}
		if _, err := e.svc.PayWithMobileMoney(ctx, p.CheckoutToken, "+2250707120000", "mtn-rw"); malipo.AsError(err).Code != "operator_invalid" {
			t.Errorf("operator of another country: %v", err)
		}
		// The phone is locked: whatever the customer types, the merchant's number is pushed.
		got, err := e.svc.PayWithMobileMoney(ctx, p.CheckoutToken, "+2250707990002", "mtn-ci")
		if err != nil || got.Status != malipo.PaymentProcessing || got.Phone != "+2250707120000" || got.Operator != "mtn-ci" {
			t.Fatalf("pay: %+v, %v", got, err)
		}
		_, err = e.svc.PayWithMobileMoney(ctx, p.CheckoutToken, "+2250707120000", "")
		wantCode(t, err, "payment_processing")
		e.clock.Advance(5 * time.Second)
		if got := e.get(t, p.ID); got.Status != malipo.PaymentSucceeded {
			t.Errorf("after approval: %s", got.Status)
		}
		_, err = e.svc.PayWithMobileMoney(ctx, p.CheckoutToken, "+2250707120000", "")
		wantCode(t, err, "payment_final")

		late := e.create(t, gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: "o-2"})
		e.clock.Advance(31 * time.Minute)
		if c, _ := e.svc.Checkout(ctx, late.CheckoutToken); !c.Expired {
			t.Error("a payment past its expiry is not shown as expired")
		}
		_, err = e.svc.PayWithMobileMoney(ctx, late.CheckoutToken, "+2250707120000", "")
		wantCode(t, err, "payment_expired")
		if _, err := e.svc.Checkout(ctx, late.CheckoutToken[:30]+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); malipo.KindOf(err) != malipo.KindNotFound {
			t.Errorf("a forged token opened a page: %v", err)
		}
		e.verify(t)
	})
}

func TestCheckoutCards(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := e.create(t, gateway.PaymentInput{Amount: 1050, Currency: "KES", Reference: "c-1"})

		// A decline leaves the payment payable, with the reason.
		got, err := e.svc.PayWithCard(ctx, p.CheckoutToken, card("4000000000009995"))
		if err != nil || got.Status != malipo.PaymentPending || got.FailureCode != "insufficient_funds" {
			t.Fatalf("declined: %+v, %v", got, err)
		}
		_, err = e.svc.PayWithCard(ctx, p.CheckoutToken, card("4111111111111112"))
		wantCode(t, err, "card_number_invalid")
		// A challenge card waits for 3-D Secure; failing it is a decline.
		got, err = e.svc.PayWithCard(ctx, p.CheckoutToken, card("4000000000003220"))
		if err != nil || got.Status != malipo.PaymentPending || got.NextAction != malipo.NextActionThreeDSecure {
			t.Fatalf("challenge: %+v, %v", got, err)
		}
		got, err = e.svc.AuthenticateCard(ctx, p.CheckoutToken, false)
		if err != nil || got.Status != malipo.PaymentPending || got.NextAction != "" || got.FailureCode != "authentication_failed" {
			t.Fatalf("failed 3-D Secure: %+v, %v", got, err)
		}
		_, err = e.svc.AuthenticateCard(ctx, p.CheckoutToken, true)
		wantCode(t, err, "no_authentication_pending")
		if _, err := e.svc.PayWithCard(ctx, p.CheckoutToken, card("5200000000001096")); err != nil {
			t.Fatal(err)
		}
		got, err = e.svc.AuthenticateCard(ctx, p.CheckoutToken, true)
		if err != nil || got.Status != malipo.PaymentSucceeded || got.Method != malipo.ChannelCard || got.FailureCode != "" || got.Fee != 21 {
			t.Fatalf("passed 3-D Secure: %+v, %v", got, err)
		}
		_, err = e.svc.PayWithCard(ctx, p.CheckoutToken, card("5555555555554444"))
		wantCode(t, err, "payment_final")

		q := e.create(t, gateway.PaymentInput{Amount: 700, Currency: "KES", Reference: "c-2", Channels: []string{"mobile_money"}})
		_, err = e.svc.PayWithCard(ctx, q.CheckoutToken, card("5555555555554444"))
		wantCode(t, err, "channel_not_offered")
		got, err = e.svc.CancelCheckout(ctx, q.CheckoutToken)
		if err != nil || got.Status != malipo.PaymentCancelled || got.FailureCode != "customer_cancelled" {
			t.Fatalf("cancel: %+v, %v", got, err)
		}
		e.verify(t)
	})
}

func TestSavedCards(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cs, _, err := e.svc.CreateCardSetup(ctx, e.integ, gateway.CardSetupInput{
			Customer: malipo.Customer{Name: "Kaneza", Phone: "250788312934"}, Reference: "ABCD1", ReturnURL: "https://shop.example/saved"}, gateway.Idempotency{})
		if err != nil || cs.Customer.Phone != "+250788312934" || !strings.HasPrefix(e.svc.CardSetupURL(cs), "http://pay.test/cards/") {
			t.Fatalf("setup: %+v, %v", cs, err)
		}
		saved, err := e.svc.SaveCard(ctx, cs.Token, card("5555555555554444"))
		if err != nil || saved.Masked != "555555xxxxxx4444" || saved.Scheme != "MASTERCARD" || saved.ExpYear != 2030 {
			t.Fatalf("save: %+v, %v", saved, err)
		}
		_, err = e.svc.SaveCard(ctx, cs.Token, card("4111111111111111"))
		wantCode(t, err, "card_setup_succeeded")
		page, err := e.svc.CardSetupByToken(ctx, cs.Token)
		if err != nil || page.Setup.Status != malipo.CardSetupSucceeded || page.Card == nil || page.Card.ID != saved.ID {
			t.Fatalf("page after saving: %+v, %v", page, err)
		}
		// A second card that the issuer will decline.
		cs2, _, _ := e.svc.CreateCardSetup(ctx, e.integ, gateway.CardSetupInput{Customer: malipo.Customer{Phone: "+250788312934"}}, gateway.Idempotency{})
		poor, err := e.svc.SaveCard(ctx, cs2.Token, card("4000000000009995"))
		if err != nil {
			t.Fatal(err)
		}
		cards, err := e.svc.ListCards(ctx, e.integ, "250788312934")
		if err != nil || len(cards) != 2 || cards[0].ID != saved.ID {
			t.Fatalf("list: %+v, %v", cards, err)
		}

		p := e.create(t, gateway.PaymentInput{Amount: 520, Currency: "RWF", Reference: "tok-1", CardToken: saved.ID, CVV: "123"})
		if p.Status != malipo.PaymentSucceeded || p.Method != malipo.ChannelCard || p.RailReference == "" {
			t.Errorf("pay by token: %+v", p)
		}
		p = e.create(t, gateway.PaymentInput{Amount: 520, Currency: "RWF", Reference: "tok-2", CardToken: poor.ID, CVV: "123"})
		if p.Status != malipo.PaymentFailed || p.FailureCode != "insufficient_funds" {
			t.Errorf("declined token: %+v", p)
		}
		for _, bad := range []struct {
			in   gateway.PaymentInput
			code string
		}{
			{gateway.PaymentInput{Amount: 1, Currency: "RWF", Reference: "b-1", CardToken: saved.ID}, "parameter_missing"},
			{gateway.PaymentInput{Amount: 1, Currency: "RWF", Reference: "b-2", CVV: "123"}, "parameter_missing"},
			{gateway.PaymentInput{Amount: 1, Currency: "RWF", Reference: "b-3", CardToken: "card_nope", CVV: "123"}, "card_token_invalid"},
			{gateway.PaymentInput{Amount: 1, Currency: "RWF", Reference: "b-4", CardToken: saved.ID, CVV: "123", Channels: []string{"mobile_money"}}, "parameter_invalid"},
		} {
			_, _, err := e.svc.CreatePayment(ctx, e.integ, bad.in, gateway.Idempotency{})
			wantCode(t, err, bad.code)
		}
		// Nothing of those refused requests was kept.
		if ps, _ := e.svc.ListPayments(ctx, e.integ, store.PaymentFilter{Limit: 100}); len(ps) != 2 {
			t.Errorf("%d payments, want the 2 paid by token", len(ps))
		}
		// A setup left open expires.
		cs3, _, _ := e.svc.CreateCardSetup(ctx, e.integ, gateway.CardSetupInput{Customer: malipo.Customer{Phone: "+250788312934"}}, gateway.Idempotency{})
		e.clock.Advance(gateway.CardSetupTTL)
		_, err = e.svc.SaveCard(ctx, cs3.Token, card("4111111111111111"))
		wantCode(t, err, "card_setup_expired")
		e.verify(t)
	})
}
