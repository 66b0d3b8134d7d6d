// Package postgres opens Malipo's shared store for many nodes: PostgreSQL
// through pgx, with synchronous_commit on so a commit is durable before it
// is acknowledged (except a lease's, on connections of their own: see
// store.Store's Lease), row locks with SKIP LOCKED so nodes split
// background work without doing any of it twice, and pipelines that
// carry a write transaction's BEGIN and COMMIT with its other statements
// (Dialect's BeginWith, Pipeline and ExpectRows; pipeline.go says why its
// last writes bypass pgx's batches).
package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/malipo/malipo/store/sqlstore"
)

// Dialect is PostgreSQL's flavor of the shared SQL store.
var Dialect = sqlstore.Dialect{
	Goose:        goose.DialectPostgres,
	Numbered:     true,
	LockSuffix:   " FOR UPDATE",
	NoWaitSuffix: " FOR UPDATE NOWAIT",
	ClaimSuffix:  " FOR UPDATE SKIP LOCKED",
	// One committer per node, as on SQLite, though PostgreSQL could run
	// several batches at once. What a batch costs the machine is mostly
	// per batch, not per write (waking a backend, its BEGIN and COMMIT,
	// writing and flushing WAL), and a committer left idle takes each
	// arriving write as a batch of its own: with four, batches stayed at
	// one to three writes until the cores ran out. One committer's batch
	// grows with the load instead, while it waits for the batch before.
	// It does not cap a node either: its work per write is a small part
	// of a request's. Several nodes on one database run several batches.
	// (BENCHMARKS.md: machine CPU per create about 390 → 265 µs, per
	// success about 700 → 400 µs.)
	Committers: 1,
	IsUnique: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505"
	},
	// 26000 too: a statement pipeline prepared on the connection is gone
	// (a pooler or a DISCARD ALL dropped it). The pipeline has forgotten
	// them all by then, so the work run again prepares them again.
	IsRetryable: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01" || e.Code == "26000")
	},
	IsBusy: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "55P03" // lock_not_available
	},
	TryLockKey: `SELECT pg_try_advisory_xact_lock(?)`,
	LockKey:    `SELECT 1 FROM pg_advisory_xact_lock(?)`, // void: no value to scan
	// A lease lost with the last moments of WAL in a crash only means a
	// delivery is sent again, and PostgreSQL writes WAL in order: the
	// durable commit of the attempt's record makes its lease durable too.
	AsyncCommit:     `SET LOCAL synchronous_commit = off`,
	ReturningInWith: true,
	Pipeline:        pipeline,
	ExpectRows:      expectRows,
	BeginWith:       beginWith,
	IsExpectFailure: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "22P02" && strings.Contains(e.Message, expectPrefix)
	},
	IsAnswer: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e)
	},
	EndsSession: func(err error) bool {
		var e *pgconn.PgError
		if !errors.As(err, &e) {
			return false
		}
		severity := cmp.Or(e.SeverityUnlocalized, e.Severity)
		return severity == "FATAL" || severity == "PANIC"
	},
	ConnLost: func(driverConn any) bool {
		c, err := pgxConn(driverConn)
		return err == nil && c.IsClosed()
	},
}

// expectRows makes statement, an UPDATE, return one row, which fails to
// be computed unless n rows changed. PostgreSQL has no way to raise an
// error from plain SQL, so the failure is a cast of a message to a
// number ("invalid input syntax for type integer: "malipo: …"", SQLSTATE
// 22P02); the message is what the database's log shows.
func expectRows(statement string, n int) string {
	want := strconv.Itoa(n)
	return `WITH changed AS (` + statement + ` RETURNING 1) SELECT CASE WHEN count(*) = ` + want +
		` THEN 0 ELSE CAST('` + expectPrefix + `' || count(*) || ' of ` + want + ` rows to update were there' AS INTEGER) END FROM changed`
}

const expectPrefix = "malipo: only "

// sendBatch sends queries (with their args) on driverConn, a pgx
// connection of the pool, as one batch: pgx writes them all before
// reading an answer.
func sendBatch(ctx context.Context, driverConn any, queries []string, args [][]any) (pgx.BatchResults, error) {
	c, err := pgxConn(driverConn)
	if err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	for i, q := range queries {
		b.Queue(q, args[i]...)
	}
	return c.SendBatch(ctx, b), nil
}

// pgxConn is the pgx connection under driverConn, a connection of the
// pool as database/sql's Conn.Raw hands it over.
func pgxConn(driverConn any) (*pgx.Conn, error) {
	c, ok := driverConn.(*stdlib.Conn)
	if !ok {
		return nil, fmt.Errorf("postgres: a %T, not a pgx connection", driverConn)
	}
	return c.Conn(), nil
}

// beginWith sends BEGIN and queries as one batch (see sendBatch), and
// hands each row of query i's answer to each.
func beginWith(ctx context.Context, driverConn any, queries []string, args [][]any, each func(i int, row interface{ Scan(...any) error }) error) error {
	results, err := sendBatch(ctx, driverConn, append([]string{"BEGIN"}, queries...), append([][]any{nil}, args...))
	if err != nil {
		return err
	}
	if _, err := results.Exec(); err != nil {
		results.Close()
		return fmt.Errorf("begin: %w", err)
	}
	for i := range queries {
		rows, err := results.Query()
		if err == nil {
			err = eachRow(rows, func(row pgx.Row) error { return each(i, row) })
		}
		if err != nil {
			results.Close()
			return err
		}
	}
	return results.Close()
}

// eachRow hands each of rows to each, and closes them.
func eachRow(rows pgx.Rows, each func(pgx.Row) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// StatementTimeout bounds every statement of the serving pool, so that a
// query stuck behind a lock fails instead of holding its callers forever.
// Migrations run without it.
const StatementTimeout = "30s"

// Open connects to the database at url (postgres://…), runs the
// migrations under an advisory lock so that nodes starting together do not
// race, and returns the store.
func Open(ctx context.Context, url string) (*sqlstore.DB, error) {
	if err := Migrate(ctx, url); err != nil {
		return nil, err
	}
	db, err := openPool(ctx, url, StatementTimeout, "on", "malipo")
	if err != nil {
		return nil, err
	}
	lease, err := openLeasePool(ctx, url)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := sqlstore.Open(db, db, Dialect)
	s.UseLeasePool(lease)
	return s, nil
}

// openLeasePool opens the few connections leases run on: their sessions
// commit asynchronously, as Dialect.AsyncCommit would make each lease's
// transaction, without the round trip that takes. Nothing but leases
// runs on them.
func openLeasePool(ctx context.Context, url string) (*sql.DB, error) {
	pool, err := openPool(ctx, url, StatementTimeout, "off", LeaseApplicationName)
	if err != nil {
		return nil, err
	}
	pool.SetMaxOpenConns(leaseConns)
	pool.SetMaxIdleConns(leaseConns)
	return pool, nil
}

// LeaseApplicationName names the lease connections in pg_stat_activity,
// unless the URL names the application itself.
const LeaseApplicationName = "malipo lease"

// leaseConns is how many leases a node runs at once: its dispatcher's two
// claim loops, with room for more.
const leaseConns = 4

// Migrate brings the schema at url up to date. The lock that keeps nodes
// from migrating at once is taken per schema, so stores in different
// schemas of one database (tests, tenants) never wait for each other.
func Migrate(ctx context.Context, url string) error {
	db, err := openPool(ctx, url, "0", "on", "malipo")
	if err != nil {
		return err
	}
	defer db.Close()
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("postgres: read the schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("malipo migrations " + schema))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())))
	if err != nil {
		return err
	}
	if err := sqlstore.Migrate(ctx, db, Dialect.Goose, goose.WithSessionLocker(locker)); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// openPool opens a pool whose sessions have the given statement_timeout,
// synchronous_commit and, unless the URL names one, application_name.
func openPool(ctx context.Context, url, statementTimeout, synchronousCommit, application string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse postgres url: %w", err)
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = application
	}
	cfg.RuntimeParams["synchronous_commit"] = synchronousCommit
	cfg.RuntimeParams["statement_timeout"] = statementTimeout
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return db, nil
}
