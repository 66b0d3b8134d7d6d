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
	eachEngine(t, downAndUp)
}

// eachEngine runs fn on an empty SQLite file and, when
// MALIPO_TEST_DATABASE_URL is set, on an empty PostgreSQL schema.
func eachEngine(t *testing.T, fn func(t *testing.T, db *sql.DB, d goose.Dialect)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_pragma=foreign_keys(1)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		fn(t, db, goose.DialectSQLite3)
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
		fn(t, db, goose.DialectPostgres)
	})
}

// Outcomes kept unapplied before migration 12 are retried as they were,
// 5 s after they came, as their first retry; applied ones wait for none.
func TestMigrationTwelveKeepsTheInboxRetries(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *sql.DB, d goose.Dialect) {
		ctx := context.Background()
		p, err := goose.NewProvider(d, db, migrationsFS())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, 11); err != nil {
			t.Fatalf("up to 11: %v", err)
		}
		for _, row := range []struct {
			id                string
			received, applied int64
		}{{"ib_kept", 1_000_000, 0}, {"ib_applied", 2_000_000, 2_500_000}} {
			if _, err := db.Exec(`INSERT INTO inbox (id, rail, mode, attempt_id, source, verdict, rail_reference, failure_code,
				failure_reason, amount, currency, body, received_at, applied_at, result, error)
				VALUES ($1, 'mtn-ug', 'live', 'pay_1-1', 'callback', 'succeeded', '', '', '', 0, 'UGX', '{}', $2, $3, '', '')`,
				row.id, row.received, row.applied); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := p.UpTo(ctx, 12); err != nil {
			t.Fatalf("up to 12: %v", err)
		}
		got := map[string][2]int64{}
		rows, err := db.Query(`SELECT id, tries, retry_at FROM inbox`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var tries, retry int64
			if err := rows.Scan(&id, &tries, &retry); err != nil {
				t.Fatal(err)
			}
			got[id] = [2]int64{tries, retry}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := map[string][2]int64{"ib_kept": {1, 6_000_000}, "ib_applied": {0, 0}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("tries and retry_at after migration 12: %v, want %v", got, want)
		}
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
