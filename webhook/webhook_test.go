package webhook_test

import (
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/malipo/malipo/webhook"
)

// TestIndependentVerifier checks our signatures with the Standard Webhooks
// reference library, and its signatures with ours.
func TestIndependentVerifier(t *testing.T) {
	secret := webhook.NewSecret([]byte("0123456789abcdef01234567"))
	old := webhook.NewSecret([]byte("an older secret, rotated"))
	body := []byte(`{"id":"evt_1","type":"payment.succeeded","data":{"object":{"id":"pay_1"}}}`)
	now := time.Now()
	h, err := webhook.Headers([]string{old, secret}, "evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, old} {
		ref, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := ref.Verify(body, h); err != nil {
			t.Errorf("reference library rejects our signature with %s: %v", s[:10], err)
		}
	}
	ref, _ := standardwebhooks.NewWebhook(secret)
	sig, err := ref.Sign("msg_2", now, body)
	if err != nil {
		t.Fatal(err)
	}
	refHeaders := http.Header{}
	refHeaders.Set("webhook-id", "msg_2")
	refHeaders.Set("webhook-timestamp", h.Get("webhook-timestamp"))
	refHeaders.Set("webhook-signature", sig)
	if err := webhook.Verify(secret, refHeaders, body, 5*time.Minute, now); err != nil {
		t.Errorf("we reject the reference library's signature: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	secret := webhook.NewSecret([]byte("0123456789abcdef01234567"))
	body := []byte(`{"a":1}`)
	now := time.Unix(1_800_000_000, 0)
	h, _ := webhook.Headers([]string{secret}, "evt_1", now, body)
	if err := webhook.Verify(secret, h, body, 5*time.Minute, now.Add(time.Minute)); err != nil {
		t.Fatalf("fresh message: %v", err)
	}
	cases := map[string]struct {
		secret string
		h      http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		"tampered body": {secret, h, []byte(`{"a":2}`), now, webhook.ErrSignature},
		"wrong secret":  {webhook.NewSecret([]byte("another secret entirely!")), h, body, now, webhook.ErrSignature},
		"too old":       {secret, h, body, now.Add(6 * time.Minute), webhook.ErrTimestamp},
		"from future":   {secret, h, body, now.Add(-6 * time.Minute), webhook.ErrTimestamp},
		"no headers":    {secret, http.Header{}, body, now, webhook.ErrMissingHeaders},
	}
	for name, c := range cases {
		if err := webhook.Verify(c.secret, c.h, c.body, 5*time.Minute, c.now); err != c.want {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	other := h.Clone()
	other.Set("webhook-id", "evt_2")
	if err := webhook.Verify(secret, other, body, 5*time.Minute, now); err != webhook.ErrSignature {
		t.Errorf("changed id: %v", err)
	}
}
