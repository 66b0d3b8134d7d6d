package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/sqlite"
	"github.com/malipo/malipo/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "malipo.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
