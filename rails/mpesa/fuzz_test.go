package mpesa_test

import (
	"encoding/json"
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails/mpesa"
	"github.com/malipo/malipo/rails/mpesa/mpesasim"
)

// FuzzCallback reads anything Daraja could post below a rail's callback
// URL, seeded with OPERATORS.md's STK callback and B2C result: it never
// panics, whatever it accepts names the attempt in the path, and a failure
// has a code.
func FuzzCallback(f *testing.F) {
	sim := mpesasim.New(mpesasim.Options{})
	var cfg mpesa.Config
	b, _ := json.Marshal(sim.Config("http://127.0.0.1:1"))
	json.Unmarshal(b, &cfg)
	r, err := mpesa.New(cfg, mpesa.Options{CallbackURL: "http://127.0.0.1:1/rails/mpesa-ke/s"})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct{ sub, body string }{
		{"stk/pay_1-1", `{"Body":{"stkCallback":{"MerchantRequestID":"19465-780693-1","CheckoutRequestID":"ws_CO_27072017154747416","ResultCode":0,"ResultDesc":"The service request is processed successfully.","CallbackMetadata":{"Item":[{"Name":"Amount","Value":1},{"Name":"MpesaReceiptNumber","Value":"LGR7OWQX0R"},{"Name":"Balance"},{"Name":"TransactionDate","Value":20170727154800},{"Name":"PhoneNumber","Value":254721566839}]}}}}`},
		{"stk/pay_1-1", `{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_1","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}`},
		{"b2c/po_1-1", `{"Result":{"ResultType":0,"ResultCode":0,"ResultDesc":"The service request is processed successfully.","OriginatorConversationID":"10571-7910404-1","ConversationID":"AG_20191219_00004e48cf7e3533f581","TransactionID":"NLJ41HAY6Q","ResultParameters":{"ResultParameter":[{"Key":"TransactionAmount","Value":10},{"Key":"TransactionReceipt","Value":"NLJ41HAY6Q"}]},"ReferenceData":{"ReferenceItem":{"Key":"QueueTimeoutURL","Value":"https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"}}}}`},
		{"status/po_1-1", `{"Result":{"ResultCode":0,"ResultParameters":{"ResultParameter":[{"Key":"TransactionStatus","Value":"Failed"},{"Key":"ReasonCode","Value":"2040"}]}}}`},
		{"status/po_1-1", `{"Result":{"ResultCode":"R000002"}}`}, {"nowhere", `{}`}, {"stk/", `{}`},
	} {
		f.Add(seed.sub, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, sub string, body []byte) {
		o, err := r.Callback(sub, body)
		if err != nil {
			return
		}
		if o.Key == "" {
			t.Fatalf("accepted %q %q naming no attempt", sub, body)
		}
		if (o.Verdict == malipo.VerdictFailed || o.Verdict == malipo.VerdictExpired) && o.FailureCode == "" {
			t.Fatalf("a failure without a code: %q %q", sub, body)
		}
	})
}
