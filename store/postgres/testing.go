package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the pgx driver

	"github.com/malipo/malipo/store/sqlstore"
)

// TestURL returns a URL to a fresh schema of the database named by
// MALIPO_TEST_DATABASE_URL, dropped when the test ends, or skips the test
// when the variable is unset. Each test gets its own schema so parallel
// runs never collide.
func TestURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("MALIPO_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("MALIPO_TEST_DATABASE_URL is not set")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenTest opens a store on a fresh schema (see TestURL).
func OpenTest(t testing.TB) *sqlstore.DB {
	t.Helper()
	s, err := Open(context.Background(), TestURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
