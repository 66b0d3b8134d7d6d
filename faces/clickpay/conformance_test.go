package clickpay_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
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

// The IPN is in the shape of the document's "IPN Request String".
func TestSeedIPN(t *testing.T) {
	var mu sync.Mutex
	var body []byte
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		body = b
		mu.Unlock()
		w.Write([]byte("Success"))
	}))
	defer receiver.Close()
	f := newFace(t, receiver.URL+"/receive/")
	if a := f.call(t, "POST", "/sandbox/collections", `{"msisdn":"255713450000","amount":34,"currency":"TZS"}`); a.status >= 300 {
		t.Fatalf("collection: %d %s", a.status, a.raw)
	}
	f.clock.Advance(3 * time.Second)
	if _, err := f.disp.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	facetest.ConformJSON(t, "testdata/callbacks/ipn.json", body, []string{"url", "accountID", "transactionid", "msisdn", "verifysign"}, nil)
}
