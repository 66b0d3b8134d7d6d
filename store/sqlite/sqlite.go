// Package sqlite opens Malipo's embedded store: one SQLite file in WAL mode
// with synchronous=FULL, so a commit is on disk before it is acknowledged.
// One connection writes (SQLite has a single writer; the group committer
// makes that fast); a pool of read-only connections serves reads.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/malipo/malipo/store/sqlstore"
)

// Dialect is SQLite's flavor of the shared SQL store.
var Dialect = sqlstore.Dialect{
	Goose:      goose.DialectSQLite3,
	Committers: 1,
	IsUnique: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	},
	IsRetryable: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_BUSY || e.Code()&0xff == sqlite3.SQLITE_LOCKED)
	},
}

// trimScheme turns a --db value into a file path.
func trimScheme(path string) string {
	return strings.TrimPrefix(strings.TrimPrefix(path, "sqlite://"), "file:")
}

// fileURI is the URI by which SQLite opens the file at path, with the
// query query: the characters a URI gives a meaning to ('%', '?', '#')
// escaped, so that "shop#2.db" opens that file and not "shop" (SQLite
// reads a name starting "file:" as a URI).
func fileURI(path, query string) string {
	return "file:" + uriEscaper.Replace(trimScheme(path)) + "?" + query
}

var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23")

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	// Memory-mapped reads, and small page caches. The cache lives outside
	// the Go heap and its memory limit, and costs twice its size: the
	// allocator under this SQLite rounds each page's allocation (4 KiB and
	// a header) up to 8 KiB. The writer keeps 4 MiB of pages, its hot
	// b-tree pages; a page it misses is a copy from the mapped file or a
	// read from the WAL. A reader keeps SQLite's default, 2 MiB: it drops
	// its whole cache whenever another connection has committed since its
	// last read, so under writes a larger one held only memory. A 16 MiB
	// writer cache (4 MiB per reader) made a busy node 15-25 MB bigger
	// with no measurable gain (BENCHMARKS.md, issue #15).
	q.Add("_pragma", "mmap_size(268435456)")
	if readOnly {
		q.Add("_pragma", "cache_size(-2048)")
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "cache_size(-4096)")
		// A batch's multi-row inserts keep a statement journal (a row
		// that breaks a unique index undoes its statement alone). In a
		// temporary file, as by default, every batch past 64 KiB of it
		// opened, wrote and deleted one; in memory it is a copy.
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Set("_txlock", "immediate")
		// Checkpoints run on their own connection (see checkpointer),
		// not inside the commit of some unlucky batch.
		q.Add("_pragma", "wal_autocheckpoint(0)")
	}
	return fileURI(path, q.Encode())
}

// Open opens (creating if needed) the database file at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	write, err := openPool(ctx, path)
	if err != nil {
		return nil, err
	}
	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	read.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	read.SetConnMaxLifetime(0)
	db := sqlstore.Open(write, read, Dialect)
	stop, err := startCheckpointer(path)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.OnClose(stop)
	return db, nil
}

// startCheckpointer copies the write-ahead log back into the database file
// every half second from a connection of its own. A passive checkpoint
// never blocks the writer, so commits stay short.
func startCheckpointer(path string) (stop func() error, err error) {
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
			}
		}
	}()
	return func() error {
		close(done)
		<-finished
		_, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		return errors.Join(err, db.Close())
	}, nil
}

// Migrate brings the schema of the file at path up to date.
func Migrate(ctx context.Context, path string) error {
	db, err := openPool(ctx, path)
	if err != nil {
		return err
	}
	return db.Close()
}

func openPool(ctx context.Context, path string) (*sql.DB, error) {
	write, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := sqlstore.Migrate(ctx, write, Dialect.Goose); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return write, nil
}
