package airtel_test

import (
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails/airtel"
)

// FuzzParseCallback reads anything as an Airtel callback, seeded with
// OPERATORS.md's bodies: it never panics, and what it accepts names a
// transaction, and a failure with a code.
func FuzzParseCallback(f *testing.F) {
	for _, seed := range []string{
		`{"transaction":{"id":"pay_1-1","message":"Paid UGX 5,000 to TECHNOLOGIES LIMITED Charge UGX 140, Trans ID MP210603.1234.L06941.","status_code":"TS","airtel_money_id":"MP210603.1234.L06941"}}`,
		`{"transaction":{"id":"pay_1-1","message":"x","status_code":"TF","airtel_money_id":""},"hash":"aGFzaA=="}`,
		`{"transaction":{"id":"pay_1-1","status":"TE"}}`, `{"transaction":{"id":""}}`, `{}`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := airtel.ParseCallback(body)
		if err != nil {
			return
		}
		if o.Key == "" {
			t.Fatalf("accepted a callback naming no transaction: %q", body)
		}
		if (o.Verdict == malipo.VerdictFailed || o.Verdict == malipo.VerdictExpired) && o.FailureCode == "" {
			t.Fatalf("a failure without a code: %q", body)
		}
	})
}
