package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// unit is one caller's transaction function waiting for a commit.
type unit struct {
	ctx      context.Context
	fn       func(store.Tx) error
	done     chan error
	queuedAt time.Time
	// deadline, if set, is when a request's first write stops being worth
	// making (queued for 4× the queue target): a unit still queued then is
	// refused without running.
	deadline time.Time
	// lease marks a unit Lease runs alone, committed asynchronously.
	lease bool
	hints []store.Hint
	// after is what the unit's last run asked to run once it commits
	// (store.Tx's AfterCommit); nil after a run that failed.
	after []func()
}

// DefaultQueueTarget is the longest wait in the committer's queue that
// counts as prompt, unless SetQueueTarget says otherwise. Once units taken
// from the queue have waited longer and the queue holds more than
// minStanding, the queue is standing: requests' first writes are refused
// at once (see store.Shedding) until it drains. A bounded queue keeps the
// answers of the requests taken fast and the memory of a node under
// overload small.
const DefaultQueueTarget = 25 * time.Millisecond

const minStanding = 64

// SetQueueTarget sets the wait beyond which the queue counts as standing.
func (db *DB) SetQueueTarget(d time.Duration) { db.queueTarget.Store(int64(d)) }

// ErrClosed is returned by Transact once the store is closing.
var ErrClosed = errors.New("store is closed")

// BatchTimeout bounds one batch transaction, from its first statement to
// its commit: a wedged database fails the callers instead of holding
// them forever.
const BatchTimeout = 30 * time.Second

// Transact queues fn for the group committer and waits for its commit.
//
// Why group commit: a durable commit costs an fsync, a few milliseconds on
// real disks. Running every caller waiting at that moment in one database
// transaction, each inside its own savepoint, pays that fsync once for all
// of them while keeping each caller's all-or-nothing semantics.
func (db *DB) Transact(ctx context.Context, fn func(store.Tx) error, hints ...store.Hint) error {
	u := &unit{ctx: ctx, fn: fn, done: make(chan error, 1), queuedAt: time.Now(), hints: hints}
	if store.TakeShed(ctx) != nil {
		if db.Overloaded() {
			db.shed.Add(1)
			return malipo.ErrBusy
		}
		u.deadline = u.queuedAt.Add(db.firstWriteWait())
	}
	// The read lock keeps Close from closing the queue while a unit is on
	// its way in.
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return ErrClosed
	}
	db.queued.Add(1)
	db.pending.Add(1)
	defer db.pending.Add(-1)
	select {
	case db.units <- u:
		db.closeMu.RUnlock()
	case <-ctx.Done():
		db.queued.Add(-1)
		db.closeMu.RUnlock()
		return ctx.Err()
	}
	// Once queued the unit will run or fail; wait for it even if ctx ends,
	// so the caller never reports failure for work that commits.
	err := <-u.done
	if err == nil {
		runAfter(u.after)
	}
	return err
}

// runAfter runs what a committed transaction function asked to run after
// commit (store.Tx's AfterCommit), in order.
func runAfter(after []func()) {
	for _, f := range after {
		f()
	}
}

// Lease runs fn at once in a transaction of its own whose commit does not
// wait to be durable, where the dialect allows it (see store.Store's
// Lease); otherwise it is Transact.
//
// Why not the group committer: a lease is a short write that someone is
// waiting on before work can start (a webhook's first attempt), and in a
// batch it would wait for the batch to gather, for the other callers'
// work and for the batch's fsync, none of which it needs.
func (db *DB) Lease(ctx context.Context, fn func(store.Tx) error) error {
	if db.dialect.AsyncCommit == "" {
		return db.Transact(ctx, fn)
	}
	// Held for the whole lease, so Close waits for it before closing the
	// pools.
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	u := &unit{ctx: ctx, fn: fn, lease: true}
	results, err := db.runBatch([]*unit{u}, db.leaseShard)
	if err != nil {
		return err
	}
	if results[0] == nil {
		runAfter(u.after)
	}
	return results[0]
}

// Overloaded reports whether writes are queueing beyond what commits
// promptly: the queue is three-quarters full, or it is standing (see
// DefaultQueueTarget).
//
// Committers empty the queue into large batches, so under overload the
// queue itself may be short while writes wait inside slow batches: when
// even the newest write of every batch for a while took longer than the
// target from queueing to commit (see noteCommit), and many writes are
// pending, that is a standing queue too.
//
// And when every committer has run its batch for longer than a request's
// first write may wait (firstWriteWait), with many writes pending, nothing
// queued now could start in time: a batch stuck where no timeout reaches
// would otherwise let the queue fill before a request is refused.
func (db *DB) Overloaded() bool {
	q := db.queued.Load()
	if q >= int64(cap(db.units))*3/4 {
		return true
	}
	target := db.queueTarget.Load()
	if q >= minStanding && db.lastWait.Load() > target {
		return true
	}
	if db.pending.Load() < minStanding {
		return false
	}
	if db.lastCommit.Load() > target {
		return true
	}
	_, everyBusyFor := db.batchRuns()
	return everyBusyFor > db.firstWriteWait()
}

// firstWriteWait is how long a request's first write may wait in the
// queue before it is refused without running: 4× the queue target.
func (db *DB) firstWriteWait() time.Duration { return 4 * time.Duration(db.queueTarget.Load()) }

// commitWindow is how long commits must stay slow to count as a standing
// queue: one slow batch (a checkpoint, a collection) is not overload.
const commitWindow = 100 * time.Millisecond

// noteCommit notes how long a batch's newest unit, queued at queuedAt,
// took to commit. Each commitWindow publishes the quickest such commit of
// the window ended (CoDel's measure: the best case staying over the target
// means a queue that does not drain).
func (db *DB) noteCommit(queuedAt time.Time) {
	now := time.Now()
	took := now.Sub(queuedAt)
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	if db.windowStart.IsZero() || took < db.windowBest {
		db.windowBest = took
	}
	if now.Sub(db.windowStart) >= commitWindow {
		db.lastCommit.Store(int64(db.windowBest))
		db.windowStart, db.windowBest = now, time.Duration(math.MaxInt64)
	}
}

// ObserveBatches has every batch a committer runs reported to f (see
// store.BatchObserver); nil stops the reports.
func (db *DB) ObserveBatches(f func(store.Batch)) {
	if f == nil {
		db.observe.Store(nil)
		return
	}
	db.observe.Store(&f)
}

// Shed reports how many requests' writes the store refused as overloaded
// since it opened.
func (db *DB) Shed() int64 { return db.shed.Load() }

// Queued reports how many writes wait in the queue for a committer.
func (db *DB) Queued() int64 { return db.queued.Load() }

// Committers reports how many group committers take batches from the
// queue.
func (db *DB) Committers() int { return db.dialect.Committers }

// took notes a unit leaving the queue for a batch, and how long it waited.
func (db *DB) took(u *unit) {
	db.queued.Add(-1)
	db.lastWait.Store(int64(time.Since(u.queuedAt)))
}

// noteAbort counts a transaction the database aborted (a deadlock, a
// serialization failure, a prepared statement gone; lostTries counts
// lost connections): the committer runs its work again, but each costs
// time and should not happen.
func (db *DB) noteAbort(err error) {
	if err != nil && db.dialect.IsRetryable(err) {
		db.aborts.Add(1)
	}
}

// Aborts reports how many transactions ran again since the store opened
// because the database aborted them (a deadlock, a serialization
// failure, a prepared statement gone) or their connection was lost
// before commit.
func (db *DB) Aborts() int64 { return db.aborts.Load() }

// retryable reports an error after which the work may simply run again:
// one the dialect's IsRetryable names (a deadlock, a serialization
// failure, on PostgreSQL a prepared statement gone), or a balance another
// batch was spending.
func (db *DB) retryable(err error) bool {
	return errors.Is(err, errBusy) || (db.dialect.IsBusy != nil && db.dialect.IsBusy(err)) || db.dialect.IsRetryable(err)
}

// balanceShards is how many rows an account's balance is spread over.
// Each committer adds to its own (see migration 9), so committers of one
// node never wait on each other's balance rows; nodes sharing a database
// start at random shards, so theirs seldom meet.
const balanceShards = 16

// commitLoop is one committer: it runs batches until the queue closes,
// noting in started when the batch it runs began.
func (db *DB) commitLoop(started *atomic.Int64, shard int) {
	defer db.wg.Done()
	for first := range db.units {
		started.Store(time.Now().UnixNano())
		db.took(first)
		batch := db.gather([]*unit{first})
		db.commitBatch(batch, shard)
		db.stmts.preparePending(context.Background())
		started.Store(0)
	}
}

// LongestBatch reports how long the batch running longest now has run,
// or 0 if no committer is running one (see store.BatchClock). A batch's
// statements time out after BatchTimeout, so one that runs much longer
// is stuck where no timeout reaches, and every write waits behind it.
func (db *DB) LongestBatch() time.Duration {
	longest, _ := db.batchRuns()
	return longest
}

// batchRuns reports how long the batch running longest now has run (0 if
// none is), and how long every committer has been in its batch: the
// shortest such run, or 0 if any committer is between batches.
func (db *DB) batchRuns() (longest, everyBusyFor time.Duration) {
	now := time.Now()
	busy := 0
	for i := range db.batchStarted {
		at := db.batchStarted[i].Load()
		if at == 0 {
			continue
		}
		run := now.Sub(time.Unix(0, at))
		if busy == 0 || run < everyBusyFor {
			everyBusyFor = run
		}
		longest = max(longest, run)
		busy++
	}
	if busy < len(db.batchStarted) {
		everyBusyFor = 0
	}
	return longest, everyBusyFor
}

// How the committer gathers a batch, in the spirit of PostgreSQL's
// commit_delay and commit_siblings: when others are committing too, it
// keeps gathering while arrivals keep coming (each within gatherGap of the
// last), for at most gatherMax. Under load a batch grows and one fsync
// serves hundreds of callers; a caller alone never waits.
const (
	gatherGap = time.Millisecond
	gatherMax = 5 * time.Millisecond
)

// gather adds to batch whatever is queued and, if that found company,
// whatever keeps arriving.
func (db *DB) gather(batch []*unit) []*unit {
	batch = db.drain(batch)
	if len(batch) == 1 || len(batch) >= db.maxBatch {
		return batch
	}
	deadline := time.NewTimer(gatherMax)
	defer deadline.Stop()
	gap := time.NewTimer(gatherGap)
	defer gap.Stop()
	for len(batch) < db.maxBatch {
		select {
		case u, ok := <-db.units:
			if !ok {
				return batch
			}
			db.took(u)
			batch = append(batch, u)
			gap.Reset(gatherGap)
		case <-gap.C:
			return db.drain(batch)
		case <-deadline.C:
			return db.drain(batch)
		}
	}
	return batch
}

// drain adds what is queued without waiting.
func (db *DB) drain(batch []*unit) []*unit {
	for len(batch) < db.maxBatch {
		select {
		case u, ok := <-db.units:
			if !ok {
				return batch
			}
			db.took(u)
			batch = append(batch, u)
		default:
			return batch
		}
	}
	return batch
}

// commitBatch runs a batch in one transaction. If the commit itself fails
// with a retryable error, each unit is run again alone.
func (db *DB) commitBatch(batch []*unit, shard int) {
	live := batch[:0]
	now := time.Now()
	for _, u := range batch {
		if err := u.ctx.Err(); err != nil {
			u.done <- err
			continue
		}
		if !u.deadline.IsZero() && now.After(u.deadline) {
			db.shed.Add(1)
			u.done <- malipo.ErrBusy
			continue
		}
		live = append(live, u)
	}
	if len(live) == 0 {
		return
	}
	started := time.Now()
	results, err := db.runBatch(live, shard)
	if f := db.observe.Load(); f != nil {
		(*f)(store.Batch{Writes: len(live), Waited: started.Sub(live[0].queuedAt), Took: time.Since(started), Failed: err != nil})
	}
	if err != nil && len(live) > 1 && db.retryable(err) {
		for _, u := range live {
			db.commitBatch([]*unit{u}, shard)
		}
		return
	}
	db.noteCommit(live[len(live)-1].queuedAt)
	for i, u := range live {
		switch {
		case err != nil:
			u.done <- err
		case results[i] != nil && len(live) > 1 && db.retryable(results[i]):
			// A deadlock or a busy balance inside one unit's savepoint:
			// run it again alone.
			db.commitBatch([]*unit{u}, shard)
		default:
			u.done <- results[i]
		}
	}
}

// runBatch returns each unit's own result, or an error that failed them all.
func (db *DB) runBatch(batch []*unit, shard int) ([]error, error) {
	const attempts = 5
	tries := lostTries{started: time.Now()}
	for attempt := 1; ; {
		results, err := db.tryBatch(batch, shard)
		if lostErr := lostBefore(results, err); lostErr != nil {
			// Nothing of it committed, whatever a caller's own result
			// says: the whole batch runs again, on another connection,
			// and no caller hears of it; or, connection after connection
			// lost, every caller is refused.
			if !tries.again(db) {
				return nil, db.unreachable(lostErr)
			}
			continue
		}
		if err == nil || !db.retryable(err) || len(batch) > 1 || attempt == attempts {
			return results, err
		}
		attempt++
	}
}

// tryBatch runs the batch optimistically, without savepoints: most units
// succeed, and a savepoint costs two statements each. If any unit fails,
// the transaction is rolled back and the batch runs again with a savepoint
// around each unit, so that only the failing ones are undone.
func (db *DB) tryBatch(batch []*unit, shard int) ([]error, error) {
	results, failed, err := db.runInTx(batch, false, shard)
	if err != nil || !failed || len(batch) == 1 || lostBefore(results, nil) != nil {
		return results, err
	}
	results, _, err = db.runInTx(batch, true, shard)
	return results, err
}

// runInTx runs the units in one transaction. Without savepoints it stops
// at the first failing unit and rolls everything back, reporting failed.
func (db *DB) runInTx(batch []*unit, savepoints bool, shard int) (results []error, failed bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), BatchTimeout)
	defer cancel()
	leasing := len(batch) == 1 && batch[0].lease
	pool, stmts := db.write, db.stmts
	if leasing && db.lease != nil {
		// Statements prepared on the write pool cannot run on another;
		// the driver keeps its own per connection.
		pool, stmts = db.lease, nil
	}
	t := &tx{db: db, ctx: ctx, write: true, alone: len(batch) == 1, shard: shard}
	if db.dialect.Pipeline != nil {
		// A connection of its own, on which the transaction is run by
		// hand so that its BEGIN and COMMIT go with the last writes (see
		// pipedWrite). The driver keeps its own prepared statements.
		if t.conn, err = pool.Conn(ctx); err != nil {
			return nil, false, db.connectFailed(err)
		}
		defer t.conn.Close()
		t.tx = t.conn
	} else {
		if t.sqlTx, err = pool.BeginTx(ctx, nil); err != nil {
			return nil, false, fmt.Errorf("begin: %w", err)
		}
		t.tx, t.stmts = t.sqlTx, stmts
	}
	defer func() {
		if err != nil || failed {
			t.rollback()
		}
	}()
	// Deferred after the rollback, so run before it: the connection's
	// state is read before the rollback discards it.
	defer func() {
		if (err != nil || failed) && t.lostConn() {
			err = asLost(err)
			for i := range results {
				results[i] = asLost(results[i])
			}
		}
	}()
	if leasing && db.lease == nil {
		if _, err := t.execPlain(db.dialect.AsyncCommit); err != nil {
			return nil, false, fmt.Errorf("asynchronous commit: %w", err)
		}
	}
	if err := t.lockHinted(batch); err != nil {
		db.noteAbort(err)
		return nil, false, fmt.Errorf("lock hinted rows: %w", err)
	}
	results = make([]error, len(batch))
	for i, u := range batch {
		if savepoints {
			if _, err := t.execPlain("SAVEPOINT unit"); err != nil {
				return nil, false, fmt.Errorf("savepoint: %w", err)
			}
		}
		t.after = nil
		results[i] = runUnit(t, u.fn)
		if savepoints && results[i] == nil {
			// Inside the caller's savepoint, so that a failure is its own.
			results[i] = t.writeHeld(laterSet)
		}
		// Every run of a unit sets what it asks for after commit, so the
		// run that commits is the one whose asks are kept.
		u.after = nil
		if results[i] == nil {
			u.after = t.after
		}
		t.unitDone(results[i] == nil)
		db.noteAbort(results[i])
		if results[i] != nil && !savepoints {
			if len(batch) == 1 && db.retryable(results[i]) {
				return nil, true, results[i]
			}
			return results, true, nil
		}
		if savepoints {
			if results[i] != nil {
				if _, err := t.execPlain("ROLLBACK TO SAVEPOINT unit"); err != nil {
					return nil, false, fmt.Errorf("rollback to savepoint: %w", err)
				}
			}
			if _, err := t.execPlain("RELEASE SAVEPOINT unit"); err != nil {
				return nil, false, fmt.Errorf("release savepoint: %w", err)
			}
		}
	}
	heldErr, lastErr := t.writeLast()
	if err := heldErr; err != nil {
		// Whose rows failed is not known here: each caller's are written
		// inside its own savepoint when the batch runs again.
		db.noteAbort(err)
		switch {
		case len(batch) > 1:
			return results, true, nil // run again with savepoints
		case db.retryable(err):
			return nil, true, err
		}
		results[0] = err
		return results, true, nil
	}
	if err := lastErr; err != nil {
		db.noteAbort(err)
		return nil, false, err
	}
	if err := t.commit(); err != nil {
		db.noteAbort(err)
		return nil, false, err
	}
	return results, false, nil
}

// execPlain runs a statement of the transaction's own (a savepoint, a
// setting) as it is: not rebound, prepared or checked.
func (t *tx) execPlain(query string) (sql.Result, error) {
	if err := t.begin(); err != nil {
		return nil, err
	}
	return t.tx.ExecContext(t.ctx, query)
}

// begin begins a transaction run by hand, before its first statement.
func (t *tx) begin() error {
	if t.sqlTx != nil || t.begun {
		return nil
	}
	t.begun = true // from here on, an error rolls back
	if _, err := t.tx.ExecContext(t.ctx, "BEGIN"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return nil
}

// commit commits the transaction, unless its pipeline did.
func (t *tx) commit() error {
	if t.sqlTx != nil {
		if err := t.sqlTx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}
	if t.committed || !t.begun {
		return nil
	}
	_, err := t.sendPiped(true) // COMMIT alone
	return err
}

// rollback undoes the transaction. Run by hand, it is rolled back
// whatever the batch's context says, and a connection that cannot be
// rolled back is closed rather than handed back to the pool inside a
// transaction.
func (t *tx) rollback() {
	if t.sqlTx != nil {
		t.sqlTx.Rollback()
		return
	}
	if !t.begun || t.committed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	if _, err := t.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// rollbackTimeout bounds a rollback by hand; a connection that takes
// longer is closed, which rolls back too.
const rollbackTimeout = 5 * time.Second

// runUnit runs fn, turning a panic into an error so one caller's bug cannot
// take the committer down with the others' work.
func runUnit(t *tx, fn func(store.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("transaction panicked: %v", r)
		}
	}()
	return fn(t)
}
