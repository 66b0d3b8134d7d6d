package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/malipo/malipo"
)

// What the store does when a networked database (PostgreSQL) ends a
// connection under it, or cannot be reached.
//
// A database that restarts, fails over or ends a session leaves the
// pool's connections dead, and the next batch on each fails at once. A
// batch, lease or read that meets one before any COMMIT of it can have
// run is run again whole on another connection (runBatch, Read), and no
// caller hears of it. One whose COMMIT was sent and not answered may
// have committed: it is never run again (tx.commitUnknown). Once the
// database cannot be reached at all, or connection after connection is
// lost, callers are refused as busy (malipo.ErrBusy: nothing was done,
// send again), and the node logs why (see unreachable).

// maxLost bounds how many connections in a row a batch may find lost
// before it fails its callers. A database that restarted (or failed
// over) has ended every connection a pool keeps, and each fails its
// first batch at once; a database that is down fails the next
// connection's dial instead, which is not retried.
const maxLost = 32

// lostWithin bounds how long a batch keeps running again on other
// connections. A database that ended its connections fails each at once;
// one the network has cut off answers nothing, so a try waits for
// BatchTimeout, and trying again would hold the committer for as long
// each time.
const lostWithin = 5 * time.Second

// lostTries counts the connections a batch or a read found lost in a
// row, from its first try.
type lostTries struct {
	n       int
	started time.Time
}

// again reports whether work that has just met a lost connection may run
// again, within maxLost and lostWithin, and counts it as run again.
func (l *lostTries) again(db *DB) bool {
	if l.n == maxLost || time.Since(l.started) >= lostWithin {
		return false
	}
	l.n++
	db.aborts.Add(1)
	return true
}

// ErrNotSent is wrapped by what a Dialect's Pipeline returns when it
// found its connection already closed and sent nothing: none of the
// pipeline ran, though it held a COMMIT.
//
// Why look before sending: a pipeline that holds a transaction's BEGIN
// and its COMMIT (a batch with no read before its writes) is written
// whole before any answer is read, and a write to a connection the
// server has already closed (a backend killed, a proxy's idle timeout)
// succeeds. Its read then finds the connection gone, and a COMMIT sent
// and never answered may have run, so its callers would be failed for
// nothing. A look at the socket first tells "gone before we wrote".
var ErrNotSent = errors.New("not sent: the connection was found closed")

// connLostError is what a batch met when the database or the network
// ended its connection before any COMMIT of it could have run.
type connLostError struct{ err error }

func (e *connLostError) Error() string { return "connection lost before commit: " + e.err.Error() }
func (e *connLostError) Unwrap() error { return e.err }

// lostBefore returns what a batch's results or error say of a connection
// lost before it could commit (see tx.lostConn), or nil.
func lostBefore(results []error, err error) error {
	var lost *connLostError
	if errors.As(err, &lost) {
		return err
	}
	for _, r := range results {
		if errors.As(r, &lost) {
			return r
		}
	}
	return nil
}

// lostConn reports that the transaction's connection is gone while none
// of its COMMITs can have run: the database rolled it back, so it may run
// again, however far it had got.
func (t *tx) lostConn() bool {
	return t.conn != nil && !t.committed && !t.commitUnknown && t.db.lost(t.conn)
}

// asLost marks err as met on a lost connection (nil stays nil).
func asLost(err error) error {
	var lost *connLostError
	if err == nil || errors.As(err, &lost) {
		return err
	}
	return &connLostError{err}
}

// lost reports that conn is gone: the database or the network ended it
// (see Dialect.ConnLost), or the driver said so first and database/sql
// no longer hands it out.
func (db *DB) lost(conn *sql.Conn) bool {
	if db.dialect.ConnLost == nil {
		return false
	}
	lost := false
	err := conn.Raw(func(driverConn any) error {
		lost = db.dialect.ConnLost(driverConn)
		return nil
	})
	return lost || err != nil
}

// unreachableError is a refusal because the database could not be
// reached, or kept ending connections: nothing was done. It is
// malipo.ErrBusy to the faces (each answers its own busy code, with
// Retry-After), and names its cause for the logs.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string {
	return "the database cannot be reached: " + e.err.Error()
}
func (e *unreachableError) Unwrap() []error { return []error{malipo.ErrBusy, e.err} }

// unreachable refuses a caller because of err, a failure to reach the
// database, and logs it at most once per unreachableLogEvery.
func (db *DB) unreachable(err error) error {
	now := time.Now()
	if last := db.unreachableAt.Load(); now.UnixNano()-last >= int64(unreachableLogEvery) && db.unreachableAt.CompareAndSwap(last, now.UnixNano()) {
		db.logger().Error("the database cannot be reached: requests are refused as busy until it can", "err", err)
	}
	return &unreachableError{err}
}

// unreachableLogEvery spaces the log lines of a database that stays out
// of reach: every request would write one.
const unreachableLogEvery = 10 * time.Second

// SetLogger has the store log to l what operators must know of (a
// database that cannot be reached); it logs nothing without one.
func (db *DB) SetLogger(l *slog.Logger) { db.log.Store(l) }

func (db *DB) logger() *slog.Logger {
	if l := db.log.Load(); l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// connectFailed is what a failure to take a connection from pool means
// to callers: on a networked database, that it cannot be reached.
func (db *DB) connectFailed(err error) error {
	err = fmt.Errorf("connect: %w", err)
	if db.dialect.ConnLost == nil {
		return err
	}
	return db.unreachable(err)
}
