package gateway

import (
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// An attempt hints the payment, payout or refund it is for too; a key
// that is not an attempt's hints only itself.
func TestAttemptHint(t *testing.T) {
	for key, want := range map[string]store.Hint{
		malipo.AttemptID("pay_01jd", 2): {RailAttempt: "pay_01jd-2", Payment: "pay_01jd"},
		malipo.AttemptID("po_01jd", 1):  {RailAttempt: "po_01jd-1", Payout: "po_01jd"},
		malipo.AttemptID("re_01jd", 1):  {RailAttempt: "re_01jd-1", Refund: "re_01jd"},
		"pay_01jd":                      {RailAttempt: "pay_01jd"},
		"cs_01jd-1":                     {RailAttempt: "cs_01jd-1"},
		"-1":                            {RailAttempt: "-1"},
	} {
		if got := attemptHint(key); got != want {
			t.Errorf("attemptHint(%q) = %+v, want %+v", key, got, want)
		}
	}
}
