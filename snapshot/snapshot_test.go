package snapshot

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/malipo/malipo"
)

var update = flag.Bool("update", false, "rewrite the golden snapshots from the code (only for a new version)")

var (
	t0 = time.Date(2026, 3, 1, 9, 0, 0, 123000, time.UTC)
	t1 = t0.Add(time.Minute)
)

// samples has one object of each kind, every field set, so that a field
// the snapshot forgets fails the round trip.
var samples = map[string]any{
	"payment": malipo.Payment{ID: "pay_1", MerchantID: "mer_1", IntegrationID: "int_1", Mode: malipo.ModeTest, Amount: 11800,
		Currency: "XOF", Fee: 177, Reference: "order-1", Description: "Chaussures",
		Customer: malipo.Customer{Name: "Awa", Email: "awa@example.com", Phone: "+2250707120000"},
		Channels: []malipo.Channel{malipo.ChannelMobileMoney, malipo.ChannelCard}, Method: malipo.ChannelMobileMoney,
		Phone: "+2250707120000", Operator: "orange-ci", ReturnURL: "https://shop.example/r", CancelURL: "https://shop.example/c",
		NotifyURL: "https://shop.example/n", Metadata: map[string]string{"order": "42"}, Lang: "fr", Status: malipo.PaymentSucceeded,
		FailureCode: "insufficient_funds", FailureReason: "too little", RailReference: "MP1", CheckoutToken: "tok",
		Items: []malipo.Item{{Name: "Chaussures", Description: "VANS", Quantity: 2, UnitPrice: 5000, Total: 10000}},
		Taxes: []malipo.Tax{{Name: "TVA", Amount: 800}}, Store: malipo.Store{Name: "Choco", LogoURL: "https://choco.example/l.png", Tagline: "Le goût", PostalAddress: "Dakar", Phone: "336611000", WebsiteURL: "https://choco.example"}, Region: "SN", FrameOrigin: "https://shop.example", Account: "00012345678",
		Details: []malipo.Detail{{Label: "Matricule", Value: "24OPO25"}}, LockPhone: true, FaceData: []byte(`{"k":"v"}`),
		NextAction: malipo.NextActionThreeDSecure, AmountRefunded: 1000, AvailableAt: t1, SettledAt: t1, Attempt: 2,
		InFlightUntil: t1, Late: true, CreatedAt: t0, UpdatedAt: t1, ExpiresAt: t1, CompletedAt: t1},
	"payout": malipo.Payout{ID: "po_1", MerchantID: "mer_1", IntegrationID: "int_1", Mode: malipo.ModeLive, Amount: 25000, Fee: 100,
		Currency: "KES", Reference: "salary", Destination: malipo.Destination{Type: malipo.DestinationPaybill, Account: "888880",
			Name: "Shop", Operator: "mpesa-ke", AccountReference: "acc-1"}, Narration: "November", Status: malipo.PayoutFailed,
		FailureCode: "invalid_account", FailureReason: "no such account", RailReference: "R1", CreatedAt: t0, UpdatedAt: t1, CompletedAt: t1},
	"refund": malipo.Refund{ID: "re_1", PaymentID: "pay_1", MerchantID: "mer_1", IntegrationID: "int_1", Mode: malipo.ModeTest,
		Amount: 1000, Currency: "XOF", Reason: "wrong size", Status: malipo.RefundSucceeded, FailureCode: "x", FailureReason: "y",
		RailReference: "RF1", CreatedAt: t0, UpdatedAt: t1, CompletedAt: t1},
	"card_setup": malipo.CardSetup{ID: "cs_1", MerchantID: "mer_1", IntegrationID: "int_1", Mode: malipo.ModeTest,
		Customer: malipo.Customer{Name: "Awa", Email: "a@b.c", Phone: "+250788120000"}, Reference: "r", ReturnURL: "https://s.example",
		Lang: "en", Token: "tok", Status: malipo.CardSetupSucceeded, CardTokenID: "card_1", CreatedAt: t0, ExpiresAt: t1},
	"unmatched": malipo.Unmatched{ID: "ib_1", PaymentID: "pay_1", Rail: "mtn-ug", RailReference: "MP2", Amount: 5000, Currency: "UGX",
		PaymentStatus: malipo.PaymentCancelled, At: t1},
	"endpoint_created": CreatedEndpoint{Secret: "whsec_new", Endpoint: malipo.Endpoint{ID: "we_1", MerchantID: "mer_1", Mode: malipo.ModeTest,
		URL: "https://shop.example/hooks", Events: []string{"payment.*"}, Secrets: []malipo.EndpointSecret{{Secret: "whsec_new"},
			{Secret: "whsec_old", ExpiresAt: t1}}, Disabled: true, DisabledReason: "410", CreatedAt: t0}},
	"deliveries": []malipo.Delivery{{ID: "dlv_1", EventID: "evt_1", MerchantID: "mer_1", Mode: malipo.ModeTest, EndpointID: "we_1",
		IntegrationID: "int_1", Flavor: malipo.FlavorNative, URL: "https://shop.example/hooks", Status: malipo.DeliveryPending,
		Attempts: 3, NextAttemptAt: t1, Lease: 4, CreatedAt: t0, UpdatedAt: t1}},
}

// allSet fails if a field of v (or of the structs and slices in it) is
// zero: a sample must set everything for the round trip to prove anything.
func allSet(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		if _, ok := v.Interface().(time.Time); ok {
			if v.IsZero() {
				t.Errorf("%s is not set in the sample", path)
			}
			return
		}
		for i := range v.NumField() {
			allSet(t, path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			t.Errorf("%s is empty in the sample", path)
			return
		}
		allSet(t, path, v.Index(v.Len()-1)) // the last element sets every field

	default:
		if v.IsZero() {
			t.Errorf("%s is not set in the sample", path)
		}
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Each kind is written exactly as its golden file says, and the golden
// file reads back as the object.
func TestGolden(t *testing.T) {
	for name, sample := range samples {
		t.Run(name, func(t *testing.T) {
			allSet(t, name, reflect.ValueOf(sample))
			got, err := Encode(sample)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				var pretty bytes.Buffer
				json.Indent(&pretty, got, "", "  ")
				os.WriteFile(path, append(pretty.Bytes(), '\n'), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(compact(t, want)), string(got)); diff != "" {
				t.Errorf("the stored format changed (-golden +now):\n%s", diff)
			}
			back := reflect.New(reflect.TypeOf(sample))
			if err := Decode(want, back.Interface()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sample, back.Elem().Interface()); diff != "" {
				t.Errorf("the golden snapshot reads back differently (-sample +read):\n%s", diff)
			}
			// The stepwise reading, which Decode falls back on, agrees.
			stepwise := reflect.New(reflect.TypeOf(sample))
			if err := decodeStepwise(want, stepwise.Interface()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sample, stepwise.Elem().Interface()); diff != "" {
				t.Errorf("the golden snapshot reads back differently step by step (-sample +read):\n%s", diff)
			}
		})
	}
}

// What was stored before snapshots existed (the Go structs' own JSON, kept
// in testdata/legacy as Malipo wrote it) still reads.
func TestLegacy(t *testing.T) {
	for name, sample := range samples {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "legacy", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			back := reflect.New(reflect.TypeOf(sample))
			if err := Decode(b, back.Interface()); err != nil {
				t.Fatal(err)
			}
			want := reflect.ValueOf(sample)
			if name == "payment" { // fields added with snapshots were never in a legacy record
				p := sample.(malipo.Payment)
				p.Attempt, p.InFlightUntil, p.Late = 0, time.Time{}, false
				p.Store = malipo.Store{Name: p.Store.Name, LogoURL: p.Store.LogoURL} // the store's contact lines and the
				p.Region, p.FrameOrigin, p.Account = "", "", ""                      // region came later still
				want = reflect.ValueOf(p)
			}
			if name == "deliveries" {
				d := append([]malipo.Delivery(nil), sample.([]malipo.Delivery)...)
				d[0].Lease = 0
				want = reflect.ValueOf(d)
			}
			if diff := cmp.Diff(want.Interface(), back.Elem().Interface()); diff != "" {
				t.Errorf("a legacy record reads differently (-want +read):\n%s", diff)
			}
		})
	}
}

// What the one-pass reading refuses and encoding/json reads, a name given
// twice or a byte that is not UTF-8, still reads as encoding/json reads
// it: the last value wins, the byte becomes U+FFFD.
func TestDecodeReadsWhatEncodingJSONReads(t *testing.T) {
	var p malipo.Payment
	if err := Decode([]byte(`{"v":1,"type":"payment","data":{"id":"pay_a","id":"pay_b","reference":"caf`+"\xe9"+`"}}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != "pay_b" || p.Reference != "caf\uFFFD" {
		t.Errorf("read id %q, reference %q; want pay_b and caf\uFFFD", p.ID, p.Reference)
	}
}

func TestDecodeRefusesTheWrongKind(t *testing.T) {
	b, _ := Encode(samples["payout"])
	var p malipo.Payment
	if err := Decode(b, &p); err == nil {
		t.Error("a payout snapshot was read as a payment")
	}
	if err := Decode([]byte(`{"v":2,"type":"payment","data":{}}`), &p); err == nil {
		t.Error("a snapshot from a newer version was read")
	}
	if _, err := Encode(struct{}{}); err == nil {
		t.Error("an unknown kind was encoded")
	}
}

// BenchmarkDecodePayment reads a payment's snapshot, as every
// notification attempt does when it renders its event.
func BenchmarkDecodePayment(b *testing.B) {
	data, err := Encode(samples["payment"])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var p malipo.Payment
		if err := Decode(data, &p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodePayment measures what an event's snapshot costs the
// group committer: a payment that changes state is written as one.
func BenchmarkEncodePayment(b *testing.B) {
	p := samples["payment"]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(p); err != nil {
			b.Fatal(err)
		}
	}
}
