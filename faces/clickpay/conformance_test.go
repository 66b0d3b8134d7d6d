package clickpay_test

import (
	"context"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/clickpay"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/gateway"
)

// ClickPay's document prints requests and an error table, no answer
// bodies: each request as printed, and each row of the table, gets the
// document's status.
func TestSeedConformance(t *testing.T) {
	s := facetest.New(t, 3*time.Second, 20)
	clickpay.New(s.Service, s.Clock, nil, 0).Register(s.Mux, "/clickpay")
	integ, creds := s.Integration(t, "Dar Tours", gateway.IntegrationInput{Flavor: malipo.FlavorClickPay, Mode: malipo.ModeTest})
	_, sibling, err := s.Service.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: integ.MerchantID, Flavor: malipo.FlavorClickPay, Mode: malipo.ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	facetest.Conform(t, s.Server.URL, "testdata/conformance", map[string]string{
		"api_key": creds["api_key"], "account_id": creds["account_id"], "sibling_key": sibling["api_key"],
	}, s.Actions(integ))
}
