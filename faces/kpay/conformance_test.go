package kpay_test

import (
	"context"
	"encoding/base64"
	"path"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/kpay"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/rails"
)

// Every request and answer example of KPay's document, sent as printed
// (where it is JSON) and answered in the document's shape.
func TestSeedConformance(t *testing.T) {
	s := facetest.New(t, 3*time.Second, 18)
	kpay.New(s.Service, nil).Register(s.Mux, "/kpay")
	integ, creds := s.Integration(t, "Iduka", gateway.IntegrationInput{Flavor: malipo.FlavorKPay, Mode: malipo.ModeTest})
	actions := s.Actions(integ)
	// savecard URL NUMBER: the customer saves a card on the page at URL.
	actions["savecard"] = func(t *testing.T, a []string) {
		if _, err := s.Service.SaveCard(context.Background(), path.Base(a[0]), rails.Card{Number: a[1], Month: 12, Year: 2030, CVV: "123", Name: "Kaneza Innocent"}); err != nil {
			t.Fatal(err)
		}
	}
	facetest.Conform(t, s.Server.URL, "testdata/conformance", map[string]string{
		"basic":       base64.StdEncoding.EncodeToString([]byte(creds["username"] + ":" + creds["password"])),
		"retailer_id": creds["retailer_id"],
	}, actions)
}
