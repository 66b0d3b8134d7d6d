package paydunya_test

import (
	"net/http"
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/paydunya"
	"github.com/malipo/malipo/gateway"
)

// FuzzRequests sends anything to every PayDunya endpoint, seeded with the
// document's examples: the answer is always PayDunya's JSON, never a
// server error.
func FuzzRequests(f *testing.F) {
	paths := []string{"checkout-invoice/create", "direct-pay/credit-account", "opr/create", "opr/charge", "disburse/get-invoice",
		"disburse/submit-invoice", "disburse/check-status", "softpay/checkout/make-payment", "softpay/orange-money-senegal"}
	facetest.Seeds(f, len(paths))
	s := facetest.New(f, 0, 1)
	pd := paydunya.New(s.Service, nil)
	s.Flavors[malipo.FlavorPayDunya] = pd.Flavor()
	pd.Register(s.Mux, "/paydunya")
	_, creds := s.Integration(f, "Choco", gateway.IntegrationInput{Flavor: malipo.FlavorPayDunya, Mode: malipo.ModeTest})
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		facetest.Post(t, s.Server.URL+"/paydunya/sandbox-api/v1/"+paths[int(which)%len(paths)], body, func(r *http.Request) {
			r.Header.Set("PAYDUNYA-MASTER-KEY", creds["master_key"])
			r.Header.Set("PAYDUNYA-PRIVATE-KEY", creds["private_key"])
			r.Header.Set("PAYDUNYA-TOKEN", creds["token"])
		})
	})
}
