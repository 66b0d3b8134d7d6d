package sqlstore

import (
	"testing"
	"time"
)

// A batch that meets lost connections runs again on others, each try
// counted as run again, until maxLost connections in a row were lost or
// lostWithin has passed since its first try; then its callers are
// refused rather than the committer held for good.
func TestLostTriesEndWithinTheirBounds(t *testing.T) {
	db := &DB{}
	fresh := lostTries{started: time.Now()}
	for i := range maxLost {
		if !fresh.again(db) {
			t.Fatalf("try %d of %d refused", i+1, maxLost)
		}
	}
	if fresh.again(db) {
		t.Errorf("try %d allowed, past maxLost", maxLost+1)
	}
	if got := db.Aborts(); got != maxLost {
		t.Errorf("Aborts() = %d, want %d: each try again counts", got, maxLost)
	}
	late := lostTries{started: time.Now().Add(-lostWithin)}
	if late.again(db) {
		t.Errorf("a try allowed %v after the first, past lostWithin", lostWithin)
	}
	justInTime := lostTries{started: time.Now().Add(-lostWithin + time.Second)}
	if !justInTime.again(db) {
		t.Errorf("a try refused a second before lostWithin")
	}
}
