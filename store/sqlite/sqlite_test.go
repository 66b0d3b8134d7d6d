package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/sqlite"
	"github.com/malipo/malipo/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.SQLite(t) })
}

// A file whose name holds characters a URI gives a meaning to is that
// file, for the store and for a backup: SQLite reads a "file:" name as a
// URI, and "shop#2.db" unescaped was "shop", a new empty database (and a
// backup of it, empty).
func TestFileNamesWithURICharacters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "shop#2?v=1%41.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	m := malipo.Merchant{ID: "mer_1", Name: "Duka", CreatedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	if err := st.Transact(ctx, func(tx store.Tx) error { return tx.CreateMerchant(m) }); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy#1.db")
	if err := sqlite.Backup(ctx, path, copyPath); err != nil {
		t.Fatal(err)
	}
	st.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Contains(names, "shop#2?v=1%41.db") || !slices.Contains(names, "copy#1.db") || slices.Contains(names, "shop") || slices.Contains(names, "copy") {
		t.Errorf("files made: %q", names)
	}
	for _, p := range []string{path, copyPath} {
		st, err := sqlite.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		err = st.Read(ctx, func(tx store.Tx) error {
			got, err := tx.GetMerchant("mer_1")
			if err == nil && got.Name != "Duka" {
				t.Errorf("%s: merchant %+v", p, got)
			}
			return err
		})
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		st.Close()
	}
}
