package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/malipo/malipo"
)

// Rows written later: why and how.
//
// A payment succeeding writes a ledger entry, its postings, an event and
// its deliveries, and updates the payment; a payment created writes its
// row; a notification sent writes its attempt and settles its delivery
// (the settlement checks that nobody claimed it since); a payment pushed
// to a phone as it is created writes its first rail attempt; a rail's
// outcome writes its inbox item and updates its attempt; a request sent
// with an Idempotency-Key writes the key; a payout or a refund writes its
// row, and its rail's answer updates it; the sandbox rails write their
// record of each transaction they are sent, and update it as they answer. On PostgreSQL each statement is
// a round trip that wakes the database, and the round trips, not the
// rows, are most of the cost. So these rows are held in the
// transaction and written together, one statement per table for the whole
// batch of the group committer (multi-row inserts; the payments' updates
// and the deliveries' settlements through a table of values): at commit,
// or as soon as any statement names one of those tables or a table whose
// rows refer to them (so a transaction always sees its own rows, and
// foreign keys hold). The one exception is a payment, a rail attempt or
// an idempotency key read by ID that the transaction holds nothing for:
// it reads the same before the held rows are written as after, so the
// next caller's locking read of its own payment or attempt, or lookup of
// its own key, writes nothing early.
//
// Only where a held write fails is the difference visible, and there it is
// kept invisible: a failed write of held rows fails the batch, which runs
// again with a savepoint around each caller and each caller's rows
// written before its savepoint is released, so the failure is that
// caller's alone, with the error its statement would have returned (a
// settlement whose delivery moved on: store.ErrLeaseLost).

// laterTable is a table whose rows may be written later.
type laterTable struct {
	name, columns string
	// refersTo is the held table (index into laterTables) whose rows this
	// one's refer to, or -1: written first.
	refersTo int
	// code and message name a unique-key violation (the row exists) when
	// the row held gave none of its own.
	code, message string
	// update, for a table of held updates, is its statement for n rows
	// (see updateByID); what names its row when one is not there.
	update func(n int) string
	what   string
}

// laterTables in the order their rows are written: a payment before its
// updates, an entry before its postings, an event before its deliveries,
// a delivery before its settlement, a settlement (which checks that
// nobody else recorded an attempt) before its attempt, a payment before
// its refunds, and a rail attempt, a payout, a sandbox transaction or a
// refund before its updates.
var laterTables = [...]laterTable{
	{name: "payments", columns: paymentColumns, refersTo: -1, code: malipo.CodeReferenceInUse, message: "a payment with this reference already exists"},
	{name: "payments", refersTo: laterPayments, update: updateByID("payments", paymentUpdates), what: "payment"},
	{name: "ledger_entries", columns: "id, kind, ref_type, ref_id, created_at", refersTo: -1, code: "already_posted", message: "the ledger entry is already posted"},
	{name: "postings", columns: "entry_id, seq, account, currency, amount", refersTo: laterEntries},
	{name: "events", columns: eventColumns, refersTo: -1, code: "event_exists", message: "event already exists"},
	{name: "deliveries", columns: deliveryColumns, refersTo: laterEvents, code: "delivery_exists", message: "delivery already exists"},
	{name: "deliveries", refersTo: laterDeliveries}, // settlements: writeDeliverySettlements
	{name: "delivery_attempts", columns: "delivery_id, number, at, status_code, latency_us, response, error", refersTo: laterDeliveries,
		code: "attempt_exists", message: "attempt already recorded"},
	{name: "rail_attempts", columns: attemptColumns, refersTo: -1, code: codeAttemptExists, message: "the rail attempt already exists"},
	{name: "rail_attempts", refersTo: laterRailAttempts, update: updateByID("rail_attempts", railAttemptUpdates), what: "rail attempt"},
	{name: "inbox", columns: inboxColumns, refersTo: -1, code: "inbox_item_exists", message: "inbox item already exists"},
	{name: "idempotency_keys", columns: idempotencyColumns, refersTo: -1,
		code: codeKeyInUse, message: messageKeyInUse},
	{name: "payouts", columns: payoutColumns, refersTo: -1, code: malipo.CodeReferenceInUse, message: "a payout with this reference already exists"},
	{name: "payouts", refersTo: laterPayouts, update: updateByID("payouts", payoutUpdates), what: "payout"},
	{name: "sandbox_transactions", columns: sandboxColumns, refersTo: -1, code: codeSandboxExists, message: "the sandbox already has this transaction"},
	{name: "sandbox_transactions", refersTo: laterSandbox, update: updateByID("sandbox_transactions", sandboxUpdates),
		what: "sandbox transaction"},
	{name: "refunds", columns: refundColumns, refersTo: laterPayments, code: "refund_exists", message: "refund already exists"},
	{name: "refunds", refersTo: laterRefunds, update: updateByID("refunds", refundUpdates), what: "refund"},
}

const (
	laterPayments = iota
	laterPaymentUpdates
	laterEntries
	laterPostings
	laterEvents
	laterDeliveries
	laterDeliverySettlements
	laterAttempts
	laterRailAttempts
	laterRailAttemptUpdates
	laterInbox
	laterIdempotency
	laterPayouts
	laterPayoutUpdates
	laterSandbox
	laterSandboxUpdates
	laterRefunds
	laterRefundUpdates
)

// heldRow is a row's arguments, and the error its insert returns should
// the row exist already.
type heldRow struct {
	args   []any
	exists error
}

// heldRows are rows not yet written, by table (index into laterTables).
type heldRows [len(laterTables)][]heldRow

func (h *heldRows) empty() bool {
	for _, rows := range h {
		if len(rows) > 0 {
			return false
		}
	}
	return true
}

// insertLater holds a row of table for writing later; exists, if not nil,
// is the error should the row exist already. Its text is checked now, so
// bad input is refused by the call that brings it.
func (t *tx) insertLater(table int, exists error, args ...any) error {
	if err := checkArgs(args); err != nil {
		return err
	}
	if !t.write {
		// Not through the committer, so nothing would write it later.
		return t.writeRows(table, []heldRow{{args, exists}})
	}
	switch table {
	case laterPayments, laterPaymentUpdates:
		t.heldPayments = holding(t.heldPayments, args[0].(string))
		delete(t.hinted, args[0].(string)) // stale once written
	case laterRailAttempts, laterRailAttemptUpdates:
		t.heldAttempts = holding(t.heldAttempts, args[0].(string))
		delete(t.hintedAttempts, args[0].(string))
	case laterIdempotency:
		id := heldKey(args[0].(string), args[1].(string))
		t.heldKeys = holding(t.heldKeys, id)
		delete(t.hintedKeys, id)
	case laterPayouts, laterPayoutUpdates:
		delete(t.hintedPayouts, args[0].(string))
	case laterRefunds, laterRefundUpdates:
		delete(t.hintedRefunds, args[0].(string))
	case laterSandbox, laterSandboxUpdates:
		delete(t.hintedSandbox, args[0].(string)) // a key known not there, or read, is stale
	}
	t.unitRows[table] = append(t.unitRows[table], heldRow{args, exists})
	return nil
}

// holding adds id to the set of IDs with held rows.
func holding(ids map[string]bool, id string) map[string]bool {
	if ids == nil {
		ids = map[string]bool{}
	}
	ids[id] = true
	return ids
}

// keepRows keeps the held rows of a caller whose work stands, or drops
// those of one whose work was undone.
func (t *tx) keepRows(ok bool) {
	if ok {
		for i, rows := range t.unitRows {
			t.rows[i] = append(t.rows[i], rows...)
		}
	}
	t.unitRows = heldRows{}
}

// writeHeld writes the held rows of the tables in set, the standing
// callers' and the running caller's. A unique-key violation comes back as
// the conflict its insert would have returned.
func (t *tx) writeHeld(set tableSet) error {
	for i := range laterTables {
		if set&(1<<i) == 0 {
			continue
		}
		// Taken out first: the insert names the table itself. Rows that
		// fail to be written are dropped with the work that failed.
		rows := append(t.rows[i], t.unitRows[i]...)
		t.rows[i], t.unitRows[i] = nil, nil
		if err := t.writeRows(i, rows); err != nil {
			return err
		}
	}
	if set&paymentTables == paymentTables {
		t.heldPayments = nil // every payment row held is written
	}
	if set&attemptTables == attemptTables {
		t.heldAttempts = nil
	}
	if set&(1<<laterIdempotency) != 0 {
		t.heldKeys = nil
	}
	return nil
}

// writeRows inserts rows of laterTables[table], or for a table of
// updates writes the last of each row's and fails as its update would
// have if a row is not there. A unique-key violation comes back as the
// conflict its insert would have returned: the row's own when it was the
// only row, else the table's.
func (t *tx) writeRows(table int, rows []heldRow) error {
	if len(rows) == 0 {
		return nil
	}
	lt := laterTables[table]
	switch {
	case table == laterDeliverySettlements:
		return t.writeDeliverySettlements(rows)
	case lt.update != nil:
		return t.updateRows(lastOfEach(rows), lt.update, notFound(sql.ErrNoRows, lt.what))
	}
	return t.insertRows(`INSERT INTO `+lt.name+` (`+lt.columns+`) VALUES `, "", argsOf(rows), func(err error) error {
		switch {
		case err == nil || !t.db.dialect.IsUnique(err):
			return err
		case len(rows) == 1 && rows[0].exists != nil:
			return rows[0].exists
		case lt.code != "":
			return t.conflict(err, lt.code, lt.message)
		}
		return err
	})
}

// argsOf is the arguments of rows, a row's to an element.
func argsOf(rows []heldRow) [][]any {
	args := make([][]any, len(rows))
	for i, r := range rows {
		args[i] = r.args
	}
	return args
}

// updateRows runs statement(n), an update of n rows from their arguments,
// for rows in chunks, and fails with missing unless every row was
// updated. Piped, each statement checks its own count and fails inside
// the transaction (Dialect.ExpectRows): the COMMIT goes in the same
// pipeline, so a count checked here would come too late to stop it.
func (t *tx) updateRows(rows [][]any, statement func(n int) string, missing error) error {
	if t.piped != nil {
		d := t.db.dialect
		return t.writeChunks(rows, func(n int) string { return d.ExpectRows(statement(n), n) }, func(_ int64, err error) error {
			if err != nil && d.IsExpectFailure(err) {
				return missing
			}
			return err
		})
	}
	return t.writeChunks(rows, statement, func(n int64, err error) error {
		if err == nil && n != int64(len(rows)) {
			return missing
		}
		return err
	})
}

// beforeStatement writes the held rows of the tables query names (and of
// the tables those refer to) before it runs, and forgets the cached reads of a
// table it may write.
func (t *tx) beforeStatement(query string) error {
	if !t.write {
		return nil
	}
	tables := tablesOf(query)
	if tables&tableWritten != 0 && tables&(tableIntegrations|tableEndpoints) != 0 {
		t.cache = readCache{}
	}
	if tables&laterSet == 0 || t.readUnheld || (t.rows.empty() && t.unitRows.empty()) {
		return nil
	}
	return t.writeHeld(tables & laterSet)
}

// tableSet is a set of the tables a statement names, as bits.
type tableSet uint32

const (
	// The first bits are laterTables' (bit i for laterTables[i]).
	tableIntegrations tableSet = 1 << (len(laterTables) + iota)
	tableEndpoints
	// tableWritten: the statement is not a SELECT.
	tableWritten
	laterSet = 1<<len(laterTables) - 1
	// paymentTables: the payments created and updated.
	paymentTables tableSet = 1<<laterPayments | 1<<laterPaymentUpdates
	// attemptTables: the rail attempts created and updated.
	attemptTables tableSet = 1<<laterRailAttempts | 1<<laterRailAttemptUpdates
)

var tablesByName = func() map[string]tableSet {
	m := map[string]tableSet{"integrations": tableIntegrations, "webhook_endpoints": tableEndpoints}
	for i, table := range laterTables {
		// A table's held rows, and those of the tables they refer to.
		var set tableSet
		for j := i; j >= 0; j = laterTables[j].refersTo {
			set |= 1 << j
		}
		m[table.name] |= set
	}
	return m
}()

var statementTables sync.Map // query text → tableSet

// tablesOf returns those of the tables Malipo keeps track of (tablesByName)
// that query names where a table goes (after FROM, JOIN, INTO, UPDATE or
// TABLE), not merely a column of the same name (webhook_endpoints.events),
// and tableWritten unless it is a SELECT.
func tablesOf(query string) tableSet {
	if v, ok := statementTables.Load(query); ok {
		return v.(tableSet)
	}
	words := strings.FieldsFunc(strings.ToLower(query), func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	var set tableSet
	if len(words) > 0 && words[0] != "select" {
		set |= tableWritten
	}
	for i := 1; i < len(words); i++ {
		switch words[i-1] {
		case "from", "join", "into", "update", "table":
			set |= tablesByName[words[i]]
		}
	}
	statementTables.Store(query, set)
	return set
}

// insertRows inserts rows (each a row's arguments, all of one width) with
// the statement prefix ("INSERT INTO t (a, b) VALUES ") and suffix; done
// turns the outcome into the caller's error.
func (t *tx) insertRows(prefix, suffix string, rows [][]any, done func(error) error) error {
	if len(rows) == 0 {
		return nil
	}
	tuple := "(" + strings.Repeat("?, ", len(rows[0])-1) + "?)"
	return t.writeChunks(rows, func(n int) string {
		return prefix + strings.Repeat(tuple+", ", n-1) + tuple + suffix
	}, func(_ int64, err error) error { return done(err) })
}

// writeChunks runs statement(n), a statement taking n rows' arguments, for
// rows, in chunks of chunkSize, and returns what done makes of the rows
// affected in all, or of the first error. While the transaction pipes its
// writes (see pipedWrite) the chunks are queued, and done runs when their
// answers come.
func (t *tx) writeChunks(rows [][]any, statement func(n int) string, done func(affected int64, err error) error) error {
	var affected int64
	for len(rows) > 0 {
		n := chunkSize(len(rows))
		args := make([]any, 0, n*len(rows[0]))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		rows = rows[n:]
		if t.piped != nil {
			// Checked here, as exec checks what it sends.
			if err := checkArgs(args); err != nil {
				return done(affected, err)
			}
			last := len(rows) == 0
			t.piped = append(t.piped, pipedWrite{query: t.db.q(statement(n)), args: args, check: func(k int64, err error) error {
				affected += k
				if err != nil || last {
					return done(affected, err)
				}
				return nil
			}})
			continue
		}
		res, err := t.exec(statement(n), args...)
		if err != nil {
			return done(affected, err)
		}
		if k, err := res.RowsAffected(); err == nil {
			affected += k
		}
	}
	if t.piped != nil {
		return nil
	}
	return done(affected, nil)
}

// writeLast writes the rows the batch still holds and then its balances,
// piped where the dialect can (see pipedWrite), with the COMMIT at their
// end. It tells a failure of the rows from one of the balances or of the
// commit. Without a pipeline the caller commits.
func (t *tx) writeLast() (heldErr, lastErr error) {
	if t.conn != nil {
		t.piped = []pipedWrite{} // queued: their answers come from sendPiped
	}
	if err := t.writeHeld(laterSet); err != nil {
		t.piped = nil
		return err, nil
	}
	held := len(t.piped)
	if err := t.flushBalances(); err != nil {
		t.piped = nil
		return nil, err
	}
	if t.conn == nil {
		return nil, nil
	}
	failedAt, err := t.sendPiped(true)
	if failedAt < held {
		return err, nil
	}
	return nil, err
}

// A pipedWrite is a statement of a batch's last writes, queued to be sent
// with the others in one round trip (see Dialect.Pipeline), and what its
// answer means to the caller that queued it. Its check must fail only on
// an error: the COMMIT after it runs unless a statement failed.
//
// Why: at commit a batch writes every table it holds rows of and then its
// balances, each a statement, and on PostgreSQL each statement is a round
// trip that wakes the database and waits for it, while nothing in them
// depends on the answer to the one before: sent together, the database
// runs them in order as before, and the batch waits once. BEGIN and
// COMMIT are two more such round trips, so they go in the pipeline too:
// COMMIT always, BEGIN when no statement came before (a batch of creates
// is then one round trip in all).
type pipedWrite struct {
	query string // rebound for the dialect
	args  []any
	check func(affected int64, err error) error
}

// sendPiped sends the queued writes at once, after BEGIN if the
// transaction has not begun and before COMMIT if commit is set, and reads
// their answers in order. It returns the first error a write's check
// makes, and the index of that write: len of the queue when none failed
// (and then the error, if any, is BEGIN's or COMMIT's).
func (t *tx) sendPiped(commit bool) (int, error) {
	writes := t.piped
	t.piped = nil
	begin := !t.begun
	if len(writes) == 0 && (begin || !commit) {
		return 0, nil // nothing to write, or to commit
	}
	queries := make([]string, 0, len(writes)+2)
	args := make([][]any, 0, len(writes)+2)
	if begin {
		queries, args = append(queries, "BEGIN"), append(args, nil)
		t.begun = true // from here on, an error rolls back
	}
	for _, w := range writes {
		queries, args = append(queries, w.query), append(args, w.args)
	}
	if commit {
		queries, args = append(queries, "COMMIT"), append(args, nil)
	}
	var affected []int64
	var failed error
	if err := t.conn.Raw(func(driverConn any) error {
		affected, failed = t.db.dialect.Pipeline(t.ctx, driverConn, queries, args)
		return nil
	}); err != nil {
		return len(writes), err
	}
	if failed == nil && len(affected) < len(queries) {
		failed = errors.New("pipeline: a statement had no answer")
	}
	if commit && failed != nil && len(affected) < len(queries) {
		// The database runs a pipeline in order and skips what follows an
		// error, so its own error answering a statement before the COMMIT
		// says the COMMIT did not run, as does an error answering the
		// COMMIT itself that leaves the session open (a failure to
		// commit). A lost connection says nothing, and nor does an error
		// that ended the session in the COMMIT's place: a server told to
		// stop as it committed sends that. A pipeline not sent at all
		// (ErrNotSent) did not run.
		commitIndex := len(queries) - 1
		d := t.db.dialect
		notRun := errors.Is(failed, ErrNotSent) || d.IsAnswer(failed) && (len(affected) < commitIndex || !d.EndsSession(failed))
		t.commitUnknown = !notRun
	}
	if begin {
		if len(affected) == 0 {
			return len(writes), fmt.Errorf("begin: %w", failed)
		}
		affected = affected[1:]
	}
	for i, w := range writes {
		if i == len(affected) {
			return i, w.check(0, failed)
		}
		if err := w.check(affected[i], nil); err != nil {
			return i, err
		}
	}
	if commit {
		if len(affected) == len(writes) {
			return len(writes), fmt.Errorf("commit: %w", failed)
		}
		// The COMMIT was answered: the work is durable, whatever failed
		// after it (the pipeline's end, the connection).
		t.committed = true
		return len(writes), nil
	}
	return len(writes), failed
}

// chunkSize is how many of left rows (or keys) the next statement takes:
// all of them up to exactRows, else the largest power of two up to 256
// that fits. Few statements per batch, few distinct statement texts to
// prepare, and far under both engines' limits on parameters.
func chunkSize(left int) int {
	if left <= exactRows {
		return left
	}
	n := 256
	for n > left {
		n /= 2
	}
	return n
}

const exactRows = 32
