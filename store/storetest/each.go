package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/postgres/pgtest"
	"github.com/malipo/malipo/store/sqlite"
)

// SQLite opens a fresh store in a real SQLite file that the test removes.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "malipo.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Each runs fn as the subtests "sqlite", against a fresh SQLite file, and
// "postgres", against a fresh schema of MALIPO_TEST_DATABASE_URL (skipped
// when that is unset). Tests of code above the store use it so that both
// engines carry every behaviour. The store is closed when the subtest ends.
func Each(t *testing.T, fn func(t *testing.T, s store.Store)) {
	for _, engine := range []struct {
		name string
		open Opener
	}{
		{"sqlite", func(t *testing.T) store.Store { return SQLite(t) }},
		{"postgres", func(t *testing.T) store.Store { return pgtest.Open(t) }},
	} {
		t.Run(engine.name, func(t *testing.T) {
			s := engine.open(t)
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}
