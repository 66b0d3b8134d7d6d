package clickpay_test

import (
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/clickpay"
	"github.com/malipo/malipo/faces/facetest"
	"github.com/malipo/malipo/gateway"
)

// FuzzRequests sends anything to ClickPay's endpoints, seeded with the
// document's examples: the answer is always ClickPay's JSON, never a
// server error.
func FuzzRequests(f *testing.F) {
	paths := []string{"/clickpay/api/card/payment-url", "/clickpay/api/sandbox/collections"}
	facetest.Seeds(f, len(paths))
	s := facetest.New(f, 0, 1)
	cl := clickpay.New(s.Service, s.Clock, nil, 0)
	s.Flavors[malipo.FlavorClickPay] = cl.Flavor()
	cl.Register(s.Mux, "/clickpay")
	_, creds := s.Integration(f, "Duka", gateway.IntegrationInput{Flavor: malipo.FlavorClickPay, Mode: malipo.ModeTest})
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		facetest.Post(t, s.Server.URL+paths[int(which)%len(paths)], body, func(r *http.Request) {
			r.Header.Set("Authorization", creds["api_key"])
		})
	})
}

// FuzzVerifysign: opening any verifysign fails cleanly or gives text;
// what Seal closes, Open opens.
func FuzzVerifysign(f *testing.F) {
	key := []byte("0123456789abcdef")
	sealed, _ := clickpay.Seal(key, `s:64:"https://shop.example/ipn1255712345678100255712345678";`, rand.Reader)
	f.Add(sealed, "plain text")
	// The seed's own verifysign (its key is not published: it must fail cleanly).
	f.Add("eyJpdiI6Ik9hYkRUb1EzQVltUXhBbnVSZ08wWXc9PSIsInZhbHVlIjoiakhUcHVDQWJnbDNJMmVlUkt4N3NsM1wvdlljbTRqN084WFwvdnlUYUtHb0tnRFJkbDhoSGF6WStQNStOeTVpd0ZhN0x2em1WWlBnUTBUeGxNQSsydEZHQT09IiwibWFjIjoiMjhiMDkwYTY2Yzc0NThlZTI5ZmQ5YjUzYWJkNTQzNDFjYWI2ODg5MjJlOTcyZjM4MzMwZjViOTM0ZWUzNTFlNyJ9", "")
	f.Fuzz(func(t *testing.T, verifysign, plaintext string) {
		if _, err := clickpay.ParseEnvelope(verifysign); err == nil {
			clickpay.Open(key, verifysign)
		}
		s, err := clickpay.Seal(key, plaintext, rand.Reader)
		if err != nil {
			t.Fatalf("Seal(%q): %v", plaintext, err)
		}
		if got, err := clickpay.Open(key, s); err != nil || got != plaintext {
			t.Fatalf("Open(Seal(%q)) = %q, %v", plaintext, got, err)
		}
	})
}
