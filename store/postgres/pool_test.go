package postgres

import (
	"context"
	"database/sql"
	"os"
	"testing"
)

// The lease pool's sessions commit asynchronously, and only its: the
// serving pool stays durable. Each names itself to pg_stat_activity.
func TestOnlyTheLeasePoolCommitsAsynchronously(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	lease, err := openLeasePool(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Close()
	serving, err := openPool(ctx, url, StatementTimeout, "on", "malipo")
	if err != nil {
		t.Fatal(err)
	}
	defer serving.Close()
	for _, c := range []struct {
		name      string
		pool      *sql.DB
		sync, app string
	}{{"lease", lease, "off", LeaseApplicationName}, {"serving", serving, "on", "malipo"}} {
		var sync, app string
		if err := c.pool.QueryRowContext(ctx, `SELECT current_setting('synchronous_commit'), current_setting('application_name')`).Scan(&sync, &app); err != nil {
			t.Fatal(err)
		}
		if sync != c.sync || app != c.app {
			t.Errorf("%s pool: synchronous_commit %s, application_name %q; want %s, %q", c.name, sync, app, c.sync, c.app)
		}
	}
}

// testURL is the test database's URL, for the tests of this package's
// own workings (pgtest, which opens stores, cannot be imported here); the
// test is skipped without one.
func testURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("MALIPO_TEST_DATABASE_URL")
	if url == "" {
		t.Skip("MALIPO_TEST_DATABASE_URL is not set")
	}
	return url
}
