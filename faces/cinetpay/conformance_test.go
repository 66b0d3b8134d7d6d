package cinetpay_test

import (
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/cinetpay"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/gateway"
)

// Every request and answer example of CinetPay's document (and the rows
// of its error table a server answers), sent as printed and answered in
// the document's shape.
func TestSeedConformance(t *testing.T) {
	s := facetest.New(t, 3*time.Second, 14)
	cinetpay.New(s.Service, cinetpay.Config{Clock: s.Clock}).Register(s.Mux, "/cinetpay")
	integ, creds := s.Integration(t, "Ecole les Lauriers", gateway.IntegrationInput{Flavor: malipo.FlavorCinetPay, Mode: malipo.ModeTest})
	facetest.Conform(t, s.Server.URL, "testdata/conformance", map[string]string{"apikey": creds["apikey"], "site_id": creds["site_id"]}, s.Actions(integ))
}
