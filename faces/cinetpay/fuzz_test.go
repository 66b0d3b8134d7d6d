package cinetpay_test

import (
	"encoding/json"
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/cinetpay"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/gateway"
)

// FuzzRequests sends anything to CinetPay's endpoints, seeded with the
// document's examples, as it comes and with the site's credentials put
// in: the answer is always CinetPay's JSON, never a server error.
func FuzzRequests(f *testing.F) {
	paths := []string{"/cinetpay/v2/payment", "/cinetpay/v2/payment/check"}
	facetest.Seeds(f, len(paths))
	s := facetest.New(f, 0, 1)
	cp := cinetpay.New(s.Service, cinetpay.Config{Clock: s.Clock})
	s.Flavors[malipo.FlavorCinetPay] = cp.Flavor()
	cp.Register(s.Mux, "/cinetpay")
	_, creds := s.Integration(f, "Boutique", gateway.IntegrationInput{Flavor: malipo.FlavorCinetPay, Mode: malipo.ModeTest, Currency: "XOF"})
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		url := s.Server.URL + paths[int(which)%len(paths)]
		facetest.Post(t, url, body, nil)
		if m, err := lenient.Parse(body); err == nil {
			m["apikey"], m["site_id"] = creds["apikey"], creds["site_id"]
			signed, _ := json.Marshal(m)
			facetest.Post(t, url, signed, nil)
		}
	})
}
