package ipay_test

import (
	"encoding/json"
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/faces/ipay"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/gateway"
)

// FuzzRequests sends anything to iPay's B2B endpoints, seeded with the
// document's examples, as it comes and signed with the vendor's key: the
// answer is always iPay's JSON, never a server error.
func FuzzRequests(f *testing.F) {
	paths := []string{"external/send/mpesapaybill", "external/send/mpesatill", "internal/send/ipay", "transaction/status"}
	facetest.Seeds(f, len(paths))
	s := facetest.New(f, 0, 1)
	ip := ipay.New(s.Service, s.Clock, nil)
	s.Flavors[malipo.FlavorIPay] = ip.Flavor()
	ip.Register(s.Mux, "/ipay")
	in, creds := s.Integration(f, "Duka", gateway.IntegrationInput{Flavor: malipo.FlavorIPay, Mode: malipo.ModeTest})
	s.Service.Topup(f.Context(), in, 1_000_000, "KES")
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		url := s.Server.URL + "/ipay/b2b/v1/" + paths[int(which)%len(paths)]
		facetest.Post(t, url, body, nil)
		if m, err := lenient.Parse(body); err == nil {
			m["vid"] = creds["vid"]
			delete(m, "hash")
			m["hash"] = ipay.Hash(creds["security_key"], m)
			signed, _ := json.Marshal(m)
			facetest.Post(t, url, signed, nil)
		}
	})
}

// FuzzHash: the request hash depends on the fields, not on their order or
// on the hash field itself, and never panics.
func FuzzHash(f *testing.F) {
	facetest.Seeds(f, 1)
	f.Fuzz(func(t *testing.T, body []byte, _ uint8) {
		m, err := lenient.Parse(body)
		if err != nil {
			return
		}
		h := ipay.Hash("yoursecuritykey", m)
		if len(h) != 64 {
			t.Fatalf("hash %q is not hex SHA-256", h)
		}
		again, _ := json.Marshal(m)
		back, _ := lenient.Parse(again)
		back["hash"] = "anything"
		if got := ipay.Hash("yoursecuritykey", back); got != h {
			t.Fatalf("the hash of %s changed when written again or signed: %s, %s", body, h, got)
		}
	})
}
