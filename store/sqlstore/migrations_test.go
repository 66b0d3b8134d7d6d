package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	neturl "net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the "sqlite" driver
)

// Every migration can be undone: the schema goes all the way down and up
// again, on both engines. An operator rolling a release back runs the
// Down sections; this is where they are run first.
func TestMigrationsGoDownAndUpAgain(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_pragma=foreign_keys(1)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		downAndUp(t, db, goose.DialectSQLite3)
	})
	t.Run("postgres", func(t *testing.T) {
		url := os.Getenv("MALIPO_TEST_DATABASE_URL")
		if url == "" {
			t.Skip("MALIPO_TEST_DATABASE_URL is not set")
		}
		admin, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		schema := fmt.Sprintf("m_%x", rand.Uint64())
		t.Cleanup(func() {
			admin.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE")
			admin.Close()
		})
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			t.Fatal(err)
		}
		u, err := neturl.Parse(url)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		db, err := sql.Open("pgx", u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		downAndUp(t, db, goose.DialectPostgres)
	})
}

func downAndUp(t *testing.T, db *sql.DB, d goose.Dialect) {
	ctx := context.Background()
	p, err := goose.NewProvider(d, db, migrationsFS())
	if err != nil {
		t.Fatal(err)
	}
	sources := p.ListSources()
	latest := sources[len(sources)-1].Version
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	if v, err := p.GetDBVersion(ctx); err != nil || v != 0 {
		t.Fatalf("after going down: version %d, %v; want 0", v, err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if v, err := p.GetDBVersion(ctx); err != nil || v != latest {
		t.Errorf("after going up again: version %d, %v; want %d", v, err, latest)
	}
}
