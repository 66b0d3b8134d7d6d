package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		fn(t, postgresSchema(t), goose.DialectPostgres)
	})
}

// postgresSchema opens an empty schema of its own on the database of
// MALIPO_TEST_DATABASE_URL (the test is skipped without it), dropped when
// the test ends.
func postgresSchema(t *testing.T) *sql.DB {
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
	t.Cleanup(func() { db.Close() })
	return db
}

// insertInbox writes a rail outcome received at received (µs), applied
// at applied (0: not yet), as the inbox's columns stood at migration 11.
func insertInbox(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, id string, received, applied int64) error {
	_, err := db.ExecContext(ctx, `INSERT INTO inbox (id, rail, mode, attempt_id, source, verdict, rail_reference, failure_code,
		failure_reason, amount, currency, body, received_at, applied_at, result, error)
		VALUES ($1, 'mtn-ug', 'live', 'pay_1-1', 'callback', 'succeeded', '', '', '', 0, 'UGX', '{}', $2, $3, '', '')`,
		id, received, applied)
	return err
}

// postgresAt is an empty PostgreSQL schema migrated up to version, and
// its migrations.
func postgresAt(t *testing.T, version int64) (*sql.DB, *goose.Provider) {
	db := postgresSchema(t)
	p, err := provider(db, goose.DialectPostgres)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), version); err != nil {
		t.Fatalf("up to %d: %v", version, err)
	}
	return db, p
}

// wantRetryIndex checks that migration 13 built the inbox's index of
// retries, and that it is valid.
func wantRetryIndex(t *testing.T, db *sql.DB) {
	t.Helper()
	var def string
	var valid bool
	if err := db.QueryRow(`SELECT pg_get_indexdef(i.indexrelid), i.indisvalid FROM pg_index i
		WHERE i.indexrelid = to_regclass('inbox_retry_due')`).Scan(&def, &valid); err != nil || !valid || !strings.Contains(def, "(retry_at) WHERE (applied_at = 0)") {
		t.Errorf("inbox_retry_due: %q valid %v, %v; want it on retry_at, valid", def, valid, err)
	}
}

// On PostgreSQL an index is built without holding the table's writes: a
// rolling upgrade's nodes still serving go on writing while the node
// upgrading builds it. Here the build waits for a transaction that wrote
// to the table before it began (as every build must), and another write
// goes through meanwhile; a plain CREATE INDEX would have queued it
// behind the build.
func TestIndexesAreBuiltWithoutHoldingWrites(t *testing.T) {
	db, p := postgresAt(t, 12)
	ctx := context.Background()
	early, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Rollback()
	if err := insertInbox(ctx, early, "ib_early", 1_000_000, 0); err != nil {
		t.Fatal(err)
	}
	migrated := make(chan error, 1)
	go func() {
		_, err := p.UpTo(ctx, 13)
		migrated <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var waiting int
		if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type IS NOT NULL AND query LIKE 'CREATE INDEX%inbox_retry_due%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the index build never waited for the transaction before it")
		}
	}
	during, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := insertInbox(during, db, "ib_during", 2_000_000, 0); err != nil {
		t.Fatalf("a write while the index builds: %v", err)
	}
	if err := early.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-migrated; err != nil {
		t.Fatalf("up to 13: %v", err)
	}
	wantRetryIndex(t, db)
	var old *string
	if err := db.QueryRow(`SELECT to_regclass('inbox_unapplied')::text`).Scan(&old); err != nil || old != nil {
		t.Errorf("inbox_unapplied after 13: %v, %v; want dropped", old, err)
	}
}

// A build that failed midway leaves an invalid index behind, which the
// migration run again drops and builds again, rather than failing on the
// name or keeping an index no query uses.
func TestAnIndexLeftInvalidIsBuiltAgain(t *testing.T) {
	db, p := postgresAt(t, 12)
	ctx := context.Background()
	for i, id := range []string{"ib_1", "ib_2"} {
		if err := insertInbox(ctx, db, id, int64(i+1)*1_000_000, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Unique on a column the two rows share: the build fails and leaves
	// its index invalid under the name migration 13 builds.
	if _, err := db.Exec(`CREATE UNIQUE INDEX CONCURRENTLY inbox_retry_due ON inbox(rail)`); err == nil {
		t.Fatal("a unique index on a shared value was built")
	}
	if _, err := p.UpTo(ctx, 13); err != nil {
		t.Fatalf("up to 13 over an invalid index: %v", err)
	}
	wantRetryIndex(t, db)
}

// Outcomes kept unapplied before migration 12 are retried as they were,
// 5 s after they came, as their first retry; applied ones wait for none.
func TestMigrationTwelveKeepsTheInboxRetries(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *sql.DB, d goose.Dialect) {
		ctx := context.Background()
		p, err := provider(db, d)
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
			if err := insertInbox(ctx, db, row.id, row.received, row.applied); err != nil {
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
	p, err := provider(db, d)
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
