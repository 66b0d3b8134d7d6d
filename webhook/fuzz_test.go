package webhook_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo/webhook"
)

// The Standard Webhooks specification's own example.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestTheSpecificationsExample(t *testing.T) {
	h := http.Header{}
	h.Set(webhook.HeaderID, specID)
	h.Set(webhook.HeaderTimestamp, strconv.Itoa(specTimestamp))
	h.Set(webhook.HeaderSignature, specSignature)
	if err := webhook.Verify(specSecret, h, []byte(specBody), 5*time.Minute, time.Unix(specTimestamp, 0)); err != nil {
		t.Fatal(err)
	}
}

// FuzzVerify feeds Verify headers and bodies as a merchant's server would
// receive them from anyone. It must never panic, and it may accept only
// what carries the body's own signature at a time within the tolerance:
// the same message with its body changed by one byte fails.
func FuzzVerify(f *testing.F) {
	f.Add(specID, strconv.Itoa(specTimestamp), specSignature, []byte(specBody))
	f.Add(specID, strconv.Itoa(specTimestamp), "v1,bad v1,"+strings.Repeat("A", 44)+" "+specSignature, []byte(specBody))
	f.Add("evt_1", "-1", "v2,x", []byte(`{}`))
	f.Add("", "99999999999999999999", ",,,", []byte(nil))
	now := time.Unix(specTimestamp, 0)
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte) {
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, ts)
		h.Set(webhook.HeaderSignature, sigs)
		if webhook.Verify(specSecret, h, body, 5*time.Minute, now) != nil {
			return
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || sec < specTimestamp-300 || sec > specTimestamp+300 {
			t.Fatalf("accepted timestamp %q, 5 min from %d", ts, specTimestamp)
		}
		want, err := webhook.Sign(specSecret, id, time.Unix(sec, 0), body)
		if err != nil || !slices.Contains(strings.Fields(sigs), want) {
			t.Fatalf("accepted %q without the body's signature %s", sigs, want)
		}
		changed := append([]byte{}, body...)
		if len(changed) == 0 {
			changed = []byte{0}
		} else {
			changed[0] ^= 1
		}
		if webhook.Verify(specSecret, h, changed, 5*time.Minute, now) == nil {
			t.Fatalf("accepted the body changed by one byte")
		}
	})
}
