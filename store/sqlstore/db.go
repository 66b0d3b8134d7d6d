// Package sqlstore implements store.Store over database/sql for both SQL
// engines Malipo supports. The sqlite and postgres packages open the
// connections and supply a Dialect; the queries, the schema migrations and
// the group committer live here once. A migration that builds an index on
// a table that grows is an indexChange (migrate.go), so that PostgreSQL
// builds it without holding the table's writes; the rest are SQL files in
// migrations/.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/malipo/malipo/store"
)

// Dialect is what differs between the SQL engines.
type Dialect struct {
	Goose goose.Dialect
	// Numbered placeholders ($1) instead of ?.
	Numbered bool
	// LockSuffix is appended to row reads in write transactions
	// (" FOR UPDATE"), NoWaitSuffix instead in a batch of several callers
	// (" FOR UPDATE NOWAIT"); ClaimSuffix to claims that must skip rows
	// other nodes hold (" FOR UPDATE SKIP LOCKED").
	LockSuffix, NoWaitSuffix, ClaimSuffix string
	// IsBusy reports a lock a NOWAIT read could not have: the caller is
	// run again on its own.
	IsBusy func(error) bool
	// Committers is how many group-commit loops run at once: 1 for an
	// engine with a single writer.
	Committers int
	// IsUnique reports a unique-constraint violation.
	IsUnique func(error) bool
	// IsRetryable reports an error after which the whole transaction may
	// be run again: a serialization failure or deadlock, or what else the
	// engine aborts a transaction for that running it again mends.
	IsRetryable func(error) bool
	// TryLockKey and LockKey take a lock on an int64 key until the
	// transaction ends (PostgreSQL's advisory locks): the first answers at
	// once whether it got it, the second waits. Each is a query of one row
	// and one column, so that it may go with the BEGIN (see readBegins).
	// Empty for an engine with a single writer, where the write
	// transaction is lock enough.
	TryLockKey, LockKey string
	// AsyncCommit, run first in a lease's transaction, makes its commit
	// not wait for durability (see store.Store's Lease), unless leases run
	// on a pool of their own (UseLeasePool). Empty for an
	// engine with a single writer: a lease then goes through the group
	// committer like any write.
	AsyncCommit string
	// ReturningInWith: an UPDATE … RETURNING may be a WITH query whose
	// rows a SELECT joins (PostgreSQL; not SQLite).
	ReturningInWith bool
	// Pipeline, if set, sends queries (rebound, with their args) on a
	// driver connection all at once, and reads the answers in order: the
	// rows each affected, up to the first that failed, and its error; a
	// COMMIT that rolled back is an error. It lets a batch's last writes,
	// its BEGIN and its COMMIT cost one round trip (see pipedWrite), so a
	// dialect that sets it has write transactions run by hand on a
	// connection, and sets ExpectRows, IsExpectFailure, IsAnswer,
	// EndsSession and ConnLost too. A pipeline that would open a
	// transaction and commit it at once is not sent on a connection
	// found already closed: its error then wraps ErrNotSent, and the
	// connection is left closed (ConnLost).
	Pipeline func(ctx context.Context, driverConn any, queries []string, args [][]any) ([]int64, error)
	// IsAnswer reports that an error is the database's own answer to a
	// statement, not a failure to reach it or to hear from it: what was
	// sent after that statement in a pipeline did not run. EndsSession
	// reports such an answer that ended the session (PostgreSQL's FATAL),
	// which a server may send after the statement it answers has run.
	IsAnswer, EndsSession func(error) bool
	// ConnLost reports that a driver connection is gone (the database
	// or the network ended it): a transaction open on it was rolled
	// back, unless its COMMIT had been sent.
	ConnLost func(driverConn any) bool
	// ExpectRows turns statement, an UPDATE that must change n rows, into
	// one that fails unless it did, so that a count short of n stops the
	// COMMIT piped after it; IsExpectFailure reports that failure.
	ExpectRows      func(statement string, n int) string
	IsExpectFailure func(error) bool
	// BeginWith, if set, sends BEGIN and then queries (rebound, with their
	// args) on a driver connection all at once, and hands each row of
	// query i's answer to each, in order: a transaction run by hand
	// begins with its first read, not with a round trip of its own.
	BeginWith func(ctx context.Context, driverConn any, queries []string, args [][]any, each func(i int, row interface{ Scan(...any) error }) error) error
}

// DB is a store.Store over a write pool and a read pool.
type DB struct {
	write, read *sql.DB
	dialect     Dialect
	queries     sync.Map // query text → rebound text
	units       chan *unit
	stmts       *stmtCache
	wg          sync.WaitGroup
	closeOnce   sync.Once
	closeMu     sync.RWMutex // Transact holds it to queue; Close to stop the queueing
	closed      bool
	aborts      atomic.Int64
	queued      atomic.Int64 // units waiting for a committer
	lastWait    atomic.Int64 // how long the latest unit taken had waited (ns)
	pending     atomic.Int64 // units queued or in a batch, not yet answered
	lastCommit  atomic.Int64 // see noteCommit (ns)
	commitMu    sync.Mutex   // guards the window below
	windowStart time.Time
	windowBest  time.Duration
	shed        atomic.Int64
	observe     atomic.Pointer[func(store.Batch)] // see ObserveBatches
	queueTarget atomic.Int64                      // ns; see SetQueueTarget
	closers     []func() error
	maxBatch    int
	// batchStarted is, per committer, when the batch it runs now started
	// (unix ns; 0 between batches): see LongestBatch.
	batchStarted []atomic.Int64
	// leaseShard is the balance shard of leases' transactions, one no
	// committer of this node adds to.
	leaseShard int
	// lease, if set, is the pool leases run on (see UseLeasePool).
	lease *sql.DB
	// log and unreachableAt: see SetLogger and unreachable.
	log           atomic.Pointer[slog.Logger]
	unreachableAt atomic.Int64
}

// Open wraps the pools (read may equal write) and starts the committers.
func Open(write, read *sql.DB, d Dialect) *DB {
	if d.Committers < 1 {
		d.Committers = 1
	}
	db := &DB{write: write, read: read, dialect: d, units: make(chan *unit, 4096), maxBatch: 1024, stmts: &stmtCache{pool: write},
		batchStarted: make([]atomic.Int64, d.Committers)}
	db.queueTarget.Store(int64(DefaultQueueTarget))
	first := rand.IntN(balanceShards)
	for i := 0; i < d.Committers; i++ {
		db.wg.Add(1)
		go db.commitLoop(&db.batchStarted[i], (first+i)%balanceShards)
	}
	db.leaseShard = (first + d.Committers) % balanceShards
	return db
}

// UseLeasePool makes leases run on pool, whose sessions commit without
// waiting for durability (PostgreSQL's synchronous_commit off), instead
// of running Dialect.AsyncCommit first in each: a claim is a round trip
// shorter. Call it before the store is used; Close closes pool.
func (db *DB) UseLeasePool(pool *sql.DB) { db.lease = pool }

// OnClose registers f to run when the store closes, before its pools close.
func (db *DB) OnClose(f func() error) { db.closers = append(db.closers, f) }

// Close stops the committers after the queued work is done and closes the pools.
func (db *DB) Close() error {
	var err error
	db.closeOnce.Do(func() {
		db.closeMu.Lock()
		db.closed = true
		db.closeMu.Unlock()
		close(db.units)
		db.wg.Wait()
		db.stmts.close()
		for _, f := range db.closers {
			err = errors.Join(err, f())
		}
		err = errors.Join(err, db.write.Close())
		if db.read != db.write {
			err = errors.Join(err, db.read.Close())
		}
		if db.lease != nil {
			err = errors.Join(err, db.lease.Close())
		}
	})
	return err
}

// Read runs fn in a read-only transaction on the read pool. A read whose
// connection the database ended (a restart, a failover) runs again on
// another, as a batch does (see lostTries): it changes
// nothing.
func (db *DB) Read(ctx context.Context, fn func(store.Tx) error) error {
	tries := lostTries{started: time.Now()}
	for {
		connLost, err := db.readOnce(ctx, fn)
		switch {
		case !connLost:
			return err
		case !tries.again(db):
			return db.unreachable(err)
		}
	}
}

// readOnce runs fn once, and reports whether it failed on a connection
// the database or the network ended.
func (db *DB) readOnce(ctx context.Context, fn func(store.Tx) error) (connLost bool, err error) {
	conn, err := db.read.Conn(ctx)
	if err != nil {
		if ctx.Err() != nil { // the caller gave up: not the database's doing
			return false, fmt.Errorf("begin read: %w", err)
		}
		return false, db.connectFailed(err)
	}
	defer conn.Close()
	sqlTx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return db.lost(conn), fmt.Errorf("begin read: %w", err)
	}
	defer sqlTx.Rollback()
	t := &tx{db: db, tx: sqlTx, sqlTx: sqlTx, ctx: ctx}
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		return db.lost(conn), err
	}
	runAfter(t.after)
	return false, nil
}

// q rebinds ? placeholders to $n for engines that number them.
func (db *DB) q(query string) string {
	if !db.dialect.Numbered {
		return query
	}
	if v, ok := db.queries.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	db.queries.Store(query, b.String())
	return b.String()
}

// stmtCache holds statements prepared on the write pool, by query text.
// database/sql then prepares each on a connection the first time a
// transaction there uses it, and reuses it after.
//
// Why the detour through pending: preparing on the pool needs a free
// connection, and SQLite's write pool has one, held by the transaction
// that first meets the query. So a miss runs unprepared once and the
// committer prepares it between batches.
type stmtCache struct {
	pool    *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
}

// lookup returns the prepared statement for query, or nil after noting
// that it should be prepared.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[query]; ok {
		return s
	}
	if c.pending == nil {
		c.pending = map[string]bool{}
	}
	c.pending[query] = true
	return nil
}

// preparePending prepares the queries met since the last call. Call it
// only while no transaction holds a write connection.
func (c *stmtCache) preparePending(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.pending {
		s, err := c.pool.PrepareContext(ctx, q)
		if err != nil {
			continue // the query's own error shows when it runs
		}
		if c.stmts == nil {
			c.stmts = map[string]*sql.Stmt{}
		}
		c.stmts[q] = s
	}
	c.pending = nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.stmts {
		s.Close()
	}
	c.stmts = nil
}
