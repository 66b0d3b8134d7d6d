package kpay_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"sync"
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

// The postbacks are in the shape of the document's two examples: a
// successful mobile-money payment (payaccount as the merchant sent it)
// and a failed one.
func TestSeedPostbacks(t *testing.T) {
	got := map[string][]byte{}
	var mu sync.Mutex
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p struct{ Refid string }
		json.Unmarshal(b, &p)
		mu.Lock()
		got[p.Refid] = b
		mu.Unlock()
		w.Write([]byte(`{"reply":"OK"}`))
	}))
	defer receiver.Close()
	f := newFace(t)
	for refid, msisdn := range map[string]string{"1489693046": "0788312934", "1476293424": "0788310002"} {
		if a := f.post(t, f.payBody(func(m map[string]any) { m["refid"], m["msisdn"], m["returl"] = refid, msisdn, receiver.URL }), nil); retcode(a) != 0 {
			t.Fatalf("payment %s: %s", refid, a.raw)
		}
	}
	f.clock.Advance(3 * time.Second)
	if _, err := f.disp.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	facetest.ConformJSON(t, "testdata/callbacks/success-mobile-money.json", got["1489693046"], []string{"tid", "momtransactionid"}, nil)
	facetest.ConformJSON(t, "testdata/callbacks/failed.json", got["1476293424"], []string{"tid", "statusid", "statusdesc"}, nil)
}
