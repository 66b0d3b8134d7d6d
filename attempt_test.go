package malipo

import "testing"

// An attempt's key gives back the object it was made from; a key that is
// not an attempt's gives nothing.
func TestAttemptObject(t *testing.T) {
	for key, want := range map[string]string{
		AttemptID("pay_01jd", 2): "pay_01jd",
		AttemptID("po_01jd", 12): "po_01jd",
		AttemptID("re_a-b", 1):   "re_a-b",
		"pay_01jd":               "",
		"-1":                     "",
		"":                       "",
	} {
		if got := AttemptObject(key); got != want {
			t.Errorf("AttemptObject(%q) = %q, want %q", key, got, want)
		}
	}
}
