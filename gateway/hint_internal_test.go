package gateway

import (
	"testing"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// A payment's attempt hints the payment too; other attempts only
// themselves.
func TestAttemptHint(t *testing.T) {
	for key, want := range map[string]store.Hint{
		malipo.AttemptID("pay_01jd", 2): {RailAttempt: "pay_01jd-2", Payment: "pay_01jd"},
		malipo.AttemptID("po_01jd", 1):  {RailAttempt: "po_01jd-1"},
		malipo.AttemptID("re_01jd", 1):  {RailAttempt: "re_01jd-1"},
		"pay_01jd":                      {RailAttempt: "pay_01jd"},
		"-1":                            {RailAttempt: "-1"},
	} {
		if got := attemptHint(key); got != want {
			t.Errorf("attemptHint(%q) = %+v, want %+v", key, got, want)
		}
	}
}
