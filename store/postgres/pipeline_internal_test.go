package postgres

import (
	"context"
	"database/sql"
	"strconv"
	"testing"
)

// A COMMIT piped after the transaction has failed is answered ROLLBACK,
// not an error, by PostgreSQL: the pipeline must make it one, or a batch
// would take its work for committed. Both ways of piping are checked: the
// pipeline of its own and pgx's batch (for arguments it does not encode).
func TestPipedCommitOfAFailedTransactionFails(t *testing.T) {
	ctx := context.Background()
	for name, pipe := range map[string]func(context.Context, any, []string, [][]any) ([]int64, error){
		"pipeline": pipeline, "pgx batch": batchPipeline} {
		conn, _ := pipeConn(t)
		if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "SELECT 1/0"); err == nil {
			t.Fatal("dividing by zero did not fail")
		}
		var affected []int64
		err := conn.Raw(func(driverConn any) (err error) {
			affected, err = pipe(ctx, driverConn, []string{"COMMIT"}, [][]any{nil})
			return err
		})
		if err == nil {
			t.Errorf("%s: a piped COMMIT of a failed transaction: no error (affected %v)", name, affected)
		}
	}
}

// pipeConn is one connection of a fresh pool, and a way to pipe queries
// on it.
func pipeConn(t *testing.T) (*sql.Conn, func(queries []string, args ...[]any) ([]int64, error)) {
	t.Helper()
	ctx := context.Background()
	db, err := openPool(ctx, testURL(t), StatementTimeout, "on", "malipo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, func(queries []string, args ...[]any) (affected []int64, err error) {
		for len(args) < len(queries) {
			args = append(args, nil)
		}
		err = conn.Raw(func(driverConn any) error {
			affected, err = pipeline(ctx, driverConn, queries, args)
			return err
		})
		return affected, err
	}
}

// prepared is how many statements pipeline has prepared on conn's
// session.
func prepared(t *testing.T, conn *sql.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRowContext(context.Background(),
		`SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'malipo_piped_%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Arguments are sent as text to statements prepared once per connection;
// what is not text (bytes here) goes through pgx's own encoders.
func TestPipelineArguments(t *testing.T) {
	conn, pipe := pipeConn(t)
	// An empty string is not NULL, even first on a new connection.
	affected, err := pipe([]string{`SELECT 1 WHERE $1::text = '' AND $2::text IS NULL`}, []any{"", nil})
	if err != nil || len(affected) != 1 || affected[0] != 1 {
		t.Fatalf("piped an empty string and a NULL: %v %v, want [1]", affected, err)
	}
	query := `SELECT 1 FROM generate_series(1, $1::int) WHERE $2::text = 'a''b' AND $3::bigint = -9000000000 AND $4::text IS NULL`
	for range 2 {
		affected, err := pipe([]string{query}, []any{3, "a'b", int64(-9_000_000_000), nil})
		if err != nil || len(affected) != 1 || affected[0] != 3 {
			t.Fatalf("piped with text arguments: %v %v, want [3]", affected, err)
		}
	}
	if n := prepared(t, conn); n != 2 {
		t.Errorf("%d statements prepared for two queries, one piped twice, want 2", n)
	}
	affected, err = pipe([]string{`SELECT 1 WHERE length($1::bytea) = 3`}, []any{[]byte{0, 1, 2}})
	if err != nil || len(affected) != 1 || affected[0] != 1 {
		t.Fatalf("piped with bytes: %v %v, want [1]", affected, err)
	}
}

// A statement that fails skips the ones piped after it, and their
// preparations: piped again, they are prepared again, and nothing
// prepared is left behind unnamed.
func TestPipelineAfterAFailure(t *testing.T) {
	conn, pipe := pipeConn(t)
	queries := []string{`SELECT $1::int`, `SELECT 1 / $1::int`, `SELECT $1::int + 1`}
	affected, err := pipe(queries, []any{1}, []any{0}, []any{2})
	if err == nil || len(affected) != 1 {
		t.Fatalf("piped a division by zero: %v %v, want one answer and an error", affected, err)
	}
	for _, q := range queries {
		if _, err := pipe([]string{q}, []any{1}); err != nil {
			t.Fatalf("%s piped again: %v", q, err)
		}
	}
	if n := prepared(t, conn); n != len(queries) {
		t.Errorf("%d statements prepared for %d queries, want as many", n, len(queries))
	}
}

// A connection keeps at most pipedCapacity statements prepared, closing
// the least recently used.
func TestPipelineStatementsStayBounded(t *testing.T) {
	conn, pipe := pipeConn(t)
	for i := range pipedCapacity + 40 {
		if _, err := pipe([]string{"SELECT $1::int + " + strconv.Itoa(i)}, []any{i}); err != nil {
			t.Fatal(err)
		}
	}
	if n := prepared(t, conn); n > pipedCapacity {
		t.Errorf("%d statements prepared on one connection, want at most %d", n, pipedCapacity)
	}
	if _, err := pipe([]string{"SELECT $1::int + 0", "SELECT $1::int + 1"}, []any{1}, []any{1}); err != nil {
		t.Fatalf("evicted statements piped again: %v", err)
	}
}
