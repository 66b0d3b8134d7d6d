package ids

import (
	"math/rand"
	"strings"
	"testing"
	"time"
)

func TestIDsAreOrderedAndUnique(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := New(func() time.Time { return now }, rand.New(rand.NewSource(1)))
	prev := ""
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		if i%100 == 0 {
			now = now.Add(time.Millisecond)
		}
		id := g.ID("pay")
		if !strings.HasPrefix(id, "pay_") || len(id) != 30 {
			t.Fatalf("id %q has wrong shape", id)
		}
		if id <= prev || seen[id] {
			t.Fatalf("id %q not after %q", id, prev)
		}
		seen[id], prev = true, id
	}
}

func TestSecret(t *testing.T) {
	g := New(time.Now, nil)
	a, b := g.Secret("sk_test_", 20), g.Secret("sk_test_", 20)
	if a == b || !strings.HasPrefix(a, "sk_test_") || len(a) != len("sk_test_")+32 {
		t.Errorf("secrets %q, %q", a, b)
	}
}
