// Package pgtest gives tests a PostgreSQL store of their own: a fresh
// schema (or database) of the server named by MALIPO_TEST_DATABASE_URL,
// dropped when the test ends. It lives apart from the postgres package so
// that the testing package stays out of the malipo binary.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	neturl "net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the pgx driver

	"github.com/malipo/malipo/store/postgres"
	"github.com/malipo/malipo/store/sqlstore"
)

// fresh creates a schema or database with a random name (kind is
// "SCHEMA" or "DATABASE"), drops it when the test ends, and returns the
// base URL and the name; it skips the test when MALIPO_TEST_DATABASE_URL
// is unset.
func fresh(t testing.TB, kind, prefix, drop string) (*neturl.URL, string) {
	t.Helper()
	base := os.Getenv("MALIPO_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("MALIPO_TEST_DATABASE_URL is not set")
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE ` + kind + ` ` + name); err != nil {
		admin.Close()
		t.Fatalf("create test %s: %v", kind, err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP ` + kind + ` ` + name + drop)
		admin.Close()
	})
	u, err := neturl.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u, name
}

// URL returns a URL to a fresh schema of the test database. Each test gets
// its own schema so parallel runs never collide.
func URL(t testing.TB) string {
	t.Helper()
	u, schema := fresh(t, "SCHEMA", "t_", " CASCADE")
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens a store on a fresh schema (see URL).
func Open(t testing.TB) *sqlstore.DB {
	t.Helper()
	s, err := postgres.Open(context.Background(), URL(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Database returns a URL to a database of its own and its name. Tests
// that read database-wide statistics (pg_stat_database) use it, so that no
// other test's work counts.
func Database(t testing.TB) (url string, name string) {
	t.Helper()
	u, name := fresh(t, "DATABASE", "malipo_t_", " WITH (FORCE)")
	u.Path = "/" + name
	return u.String(), name
}

// Deadlocks reads how many deadlocks PostgreSQL has detected in the named
// database, once the statistics of the sessions that ended are in.
func Deadlocks(t testing.TB, name string) int64 {
	t.Helper()
	admin, err := sql.Open("pgx", os.Getenv("MALIPO_TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n int64
	if err := admin.QueryRow(`SELECT deadlocks FROM pg_stat_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
