package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate brings the schema up to date.
func Migrate(ctx context.Context, db *sql.DB, d goose.Dialect, opts ...goose.ProviderOption) error {
	p, err := provider(db, d, opts...)
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("run migrations: %w", err)
	}
	return nil
}

// provider is the schema's migrations for dialect d: the SQL files, and
// the index changes, which are written in Go (see indexChange).
func provider(db *sql.DB, d goose.Dialect, opts ...goose.ProviderOption) (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err // the directory is embedded at build time
	}
	var gos []*goose.Migration
	for _, c := range indexChanges {
		gos = append(gos, c.migration(d))
	}
	return goose.NewProvider(d, db, sub, append(opts, goose.WithGoMigrations(gos...))...)
}

// indexChange is a migration that builds indexes on tables that grow
// (payments, the ledger, the inbox) and drops the ones they replace.
//
// Why not SQL: CREATE INDEX holds the table's writes until the index is
// built, which on a large table is minutes of a rolling upgrade during
// which the nodes still serving cannot write a payment. On PostgreSQL the
// indexes are built with CREATE INDEX CONCURRENTLY and dropped with DROP
// INDEX CONCURRENTLY instead, which let writes go on; neither can run in
// a transaction, so the change runs statement by statement, and each
// step can run again: an index a failed build left invalid is dropped
// and built again, one already built is kept, and drops are IF EXISTS.
// SQLite has no such builds (its one writer waits for any migration) and
// runs the change in a transaction, as the SQL files are.
type indexChange struct {
	version int64
	build   []index
	drop    []string
	// undo is the way back, in a transaction on both engines.
	undo []string
}

// index is one index to build: CREATE [UNIQUE] INDEX name on.
type index struct {
	name, on string
	unique   bool
}

func (ix index) create(concurrently bool) string {
	unique, how := "", ""
	if ix.unique {
		unique = "UNIQUE "
	}
	if concurrently {
		how = "CONCURRENTLY "
	}
	return "CREATE " + unique + "INDEX " + how + ix.name + " ON " + ix.on
}

// migration is c as a goose migration for dialect d.
func (c indexChange) migration(d goose.Dialect) *goose.Migration {
	down := &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return execAll(ctx, tx, c.undo) }}
	if d != goose.DialectPostgres {
		var up []string
		for _, ix := range c.build {
			up = append(up, ix.create(false))
		}
		for _, name := range c.drop {
			up = append(up, "DROP INDEX "+name)
		}
		return goose.NewGoMigration(c.version, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			return execAll(ctx, tx, up)
		}}, down)
	}
	return goose.NewGoMigration(c.version, &goose.GoFunc{RunDB: c.concurrently}, down)
}

// concurrently runs c's builds and drops on PostgreSQL without holding
// the tables' writes.
func (c indexChange) concurrently(ctx context.Context, db *sql.DB) error {
	for _, ix := range c.build {
		var valid sql.NullBool
		err := db.QueryRowContext(ctx, `SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)`, ix.name).Scan(&valid)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("look for index %s: %w", ix.name, err)
		case valid.Bool:
			continue // built by an earlier run that failed after it
		default:
			// A build that failed midway leaves its index invalid:
			// never used, yet still written to.
			if _, err := db.ExecContext(ctx, "DROP INDEX CONCURRENTLY "+ix.name); err != nil {
				return fmt.Errorf("drop invalid index %s: %w", ix.name, err)
			}
		}
		if _, err := db.ExecContext(ctx, ix.create(true)); err != nil {
			return fmt.Errorf("build index %s: %w", ix.name, err)
		}
	}
	for _, name := range c.drop {
		if _, err := db.ExecContext(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+name); err != nil {
			return fmt.Errorf("drop index %s: %w", name, err)
		}
	}
	return nil
}

func execAll(ctx context.Context, tx *sql.Tx, statements []string) error {
	for _, q := range statements {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// indexChanges are the migrations that change indexes, by version; the
// others are the SQL files in migrations/.
var indexChanges = []indexChange{
	{
		// One index for a merchant's payments, newest first, instead of
		// two: the lists (by ID) and the dashboard's statistics (by
		// creation time) had one each, and every change of a payment's
		// status writes a new entry into each of its indexes (a status
		// change is never a HOT update: status is in the predicates of
		// payments_expiry and payments_unsettled). Lists are ordered by
		// creation time, then ID, which is the order IDs are minted in,
		// and read from this index like the statistics.
		version: 10,
		build:   []index{{name: "payments_merchant_created", on: "payments(merchant_id, mode, created_at, id)"}},
		drop:    []string{"payments_merchant", "payments_created"},
		undo: []string{
			"CREATE INDEX payments_merchant ON payments(merchant_id, id)",
			"CREATE INDEX payments_created ON payments(merchant_id, mode, created_at)",
			"DROP INDEX payments_merchant_created",
		},
	},
	{
		// A ledger's reads by reference and by account without a scan of
		// the ledger: the same number of indexes, each led by what is
		// looked up. An object's entries (a payment's story, GET
		// …/entries) are looked up by ref_id alone, which the unique
		// index on (kind, ref_type, ref_id) could not serve; the same
		// columns in another order keep the rule (an object is posted at
		// most once per kind). An account's statement is read newest
		// entry first, a page at a time, and its running balance sums
		// the postings since an entry: by account alone, each read
		// fetched and sorted every posting of the account.
		version: 11,
		build: []index{
			{name: "ledger_entries_ref_id", on: "ledger_entries(ref_id, kind, ref_type)", unique: true},
			{name: "postings_account_entry", on: "postings(account, entry_id, seq)"},
		},
		drop: []string{"ledger_entries_ref", "postings_account"},
		undo: []string{
			"CREATE INDEX postings_account ON postings(account)",
			"DROP INDEX postings_account_entry",
			"CREATE UNIQUE INDEX ledger_entries_ref ON ledger_entries(kind, ref_type, ref_id)",
			"DROP INDEX ledger_entries_ref_id",
		},
	},
	{
		// The inbox's retries take the item due longest first (see
		// migration 12), not the oldest received.
		version: 13,
		build:   []index{{name: "inbox_retry_due", on: "inbox(retry_at) WHERE applied_at = 0"}},
		drop:    []string{"inbox_unapplied"},
		undo: []string{
			"CREATE INDEX inbox_unapplied ON inbox(received_at) WHERE applied_at = 0",
			"DROP INDEX inbox_retry_due",
		},
	},
}
