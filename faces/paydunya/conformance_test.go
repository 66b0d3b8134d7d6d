package paydunya_test

import (
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/paydunya"
	"github.com/malipo/malipo/gateway"
)

// Every request and answer example of PayDunya's document, sent as
// printed and answered in the document's shape.
func TestSeedConformance(t *testing.T) {
	s := facetest.New(t, 3*time.Second, 12)
	paydunya.New(s.Service, nil).Register(s.Mux, "/paydunya")
	on := true
	integ, creds := s.Integration(t, "Magasin le Choco", gateway.IntegrationInput{Flavor: malipo.FlavorPayDunya, Mode: malipo.ModeTest, Payouts: &on})
	facetest.Conform(t, s.Server.URL, "testdata/conformance", map[string]string{
		"master_key": creds["master_key"], "private_key": creds["private_key"], "paydunya_token": creds["token"],
	}, s.Actions(integ))
}
