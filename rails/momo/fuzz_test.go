package momo_test

import (
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails/momo"
)

// FuzzParseCallback reads anything as an MTN callback (the decoder of what
// reaches a rail's callback URL), seeded with OPERATORS.md's bodies: it
// never panics, and what it accepts names a key and a verdict whose
// failure, if any, has a code.
func FuzzParseCallback(f *testing.F) {
	for _, seed := range []string{
		`{"financialTransactionId":"23503452","externalId":"pay_1-1","amount":"100","currency":"EUR","payer":{"partyIdType":"MSISDN","partyId":"46733123450"},"payerMessage":"Pay","payeeNote":"Note","status":"SUCCESSFUL"}`,
		`{"externalId":"pay_1-1","amount":"100","currency":"EUR","payer":{"partyIdType":"MSISDN","partyId":"46733123451"},"status":"FAILED","reason":"APPROVAL_REJECTED"}`,
		`{"externalId":"po_1-1","amount":"100","currency":"EUR","payee":{"partyIdType":"MSISDN","partyId":"46733123452"},"status":"FAILED","reason":{"code":"EXPIRED","message":"x"}}`,
		`{"externalId":"pay_1-1","status":"PENDING"}`,
		`{"status":"SUCCESSFUL"}`, `{"externalId":"k","status":"WHAT"}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := momo.ParseCallback(body)
		if err != nil {
			return
		}
		if o.Key == "" {
			t.Fatalf("accepted a callback naming no transaction: %q", body)
		}
		if (o.Verdict == malipo.VerdictFailed || o.Verdict == malipo.VerdictExpired) && o.FailureCode == "" {
			t.Fatalf("a failure without a code: %q", body)
		}
		if o.Amount < 0 {
			t.Fatalf("a negative amount %d from %q", o.Amount, body)
		}
	})
}
