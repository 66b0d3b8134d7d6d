package kpay_test

import (
	"net/http"
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/kpay"
	"github.com/malipo/malipo/gateway"
)

// FuzzRequests sends anything to KPay's endpoint (the action is in the
// body), seeded with the guide's examples: the answer is always KPay's
// JSON, never a server error.
func FuzzRequests(f *testing.F) {
	facetest.Seeds(f, 1)
	s := facetest.New(f, 0, 1)
	k := kpay.New(s.Service, nil)
	s.Flavors[malipo.FlavorKPay] = k.Flavor()
	k.Register(s.Mux, "/kpay")
	_, creds := s.Integration(f, "Iduka", gateway.IntegrationInput{Flavor: malipo.FlavorKPay, Mode: malipo.ModeTest})
	f.Fuzz(func(t *testing.T, body []byte, _ uint8) {
		facetest.Post(t, s.Server.URL+"/kpay/", body, func(r *http.Request) {
			r.SetBasicAuth(creds["username"], creds["password"])
			r.Header.Set("Kpay-Key", creds["kpay_key"])
		})
	})
}
