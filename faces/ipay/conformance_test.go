package ipay_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/ipay"
	"github.com/malipo/malipo/gateway"
)

// Every answer example of iPay's B2B document, and the rows of its status
// table, for requests built from its parameter table and signed as it
// says.
func TestSeedConformance(t *testing.T) {
	s := facetest.New(t, 10*time.Second, 16)
	ipay.New(s.Service, s.Clock, nil).Register(s.Mux, "/ipay")
	integ, creds := s.Integration(t, "Demo Bulk", gateway.IntegrationInput{Flavor: malipo.FlavorIPay, Mode: malipo.ModeTest})
	_, supplier := s.Integration(t, "Supplier", gateway.IntegrationInput{Flavor: malipo.FlavorIPay, Mode: malipo.ModeTest})
	if _, err := s.Service.Topup(context.Background(), integ, 1_000_000, "KES"); err != nil {
		t.Fatal(err)
	}
	signBody := func(body string) string {
		if !strings.Contains(body, "hash=SIGNED") {
			return body
		}
		form, _ := url.ParseQuery(body)
		fields := map[string]string{}
		for k := range form {
			fields[k] = form.Get(k)
		}
		return strings.Replace(body, "hash=SIGNED", "hash="+sign(creds["security_key"], fields), 1)
	}
	facetest.Conform(t, s.Server.URL, "testdata/conformance", map[string]string{"vid": creds["vid"], "supplier": supplier["vid"]}, s.Actions(integ), signBody)
}
