package sqlstore

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// Rail attempts.

const attemptColumns = `id, object_type, object_id, number, merchant_id, mode, rail, method, status, rail_reference,
	failure_code, failure_reason, checks, next_check_at, created_at, updated_at, completed_at`

func scanRailAttempt(r interface{ Scan(...any) error }) (malipo.RailAttempt, error) {
	var a malipo.RailAttempt
	var mode, status string
	var next, created, updated, completed int64
	err := r.Scan(&a.ID, &a.ObjectType, &a.ObjectID, &a.Number, &a.MerchantID, &mode, &a.Rail, &a.Method, &status,
		&a.RailReference, &a.FailureCode, &a.FailureReason, &a.Checks, &next, &created, &updated, &completed)
	a.Mode, a.Status = malipo.Mode(mode), malipo.AttemptStatus(status)
	a.NextCheckAt, a.CreatedAt, a.UpdatedAt, a.CompletedAt = fromMicros(next), fromMicros(created), fromMicros(updated), fromMicros(completed)
	return a, err
}

// CreateRailAttempt holds the attempt for the batch (see later.go): an
// attempt whose ID, or whose object and number, are taken fails the caller
// alone when the batch writes it. It is written before the batch's commit
// returns, so before any rail is called for it.
func (t *tx) CreateRailAttempt(a malipo.RailAttempt) error {
	return t.insertLater(laterRailAttempts, rowExists(codeAttemptExists, fmt.Sprintf("attempt %s already exists", a.ID)),
		a.ID, a.ObjectType, a.ObjectID, a.Number, a.MerchantID, string(a.Mode), a.Rail, a.Method, string(a.Status),
		a.RailReference, a.FailureCode, a.FailureReason, a.Checks, micros(a.NextCheckAt), micros(a.CreatedAt),
		micros(a.UpdatedAt), micros(a.CompletedAt))
}

// codeAttemptExists is the conflict of a rail attempt created twice.
const codeAttemptExists = "attempt_exists"

func (t *tx) GetRailAttempt(id string) (malipo.RailAttempt, error) {
	if a, ok := t.hintedAttempts[id]; ok {
		return a, nil // a copy: an attempt shares no memory
	}
	// As GetPayment: an attempt this transaction holds no update for reads
	// the same before the held writes as after them.
	t.readUnheld = t.write && !t.heldAttempts[id]
	defer func() { t.readUnheld = false }()
	a, err := scanRailAttempt(t.row(`SELECT `+attemptColumns+` FROM rail_attempts WHERE id = ?`+t.lock(), id))
	return a, notFound(err, "rail attempt")
}

// UpdateRailAttempt holds the update for the batch (see later.go).
func (t *tx) UpdateRailAttempt(a malipo.RailAttempt) error {
	return t.insertLater(laterRailAttemptUpdates, nil, a.ID, a.Rail, string(a.Status), a.RailReference, a.FailureCode, a.FailureReason,
		a.Checks, micros(a.NextCheckAt), micros(a.UpdatedAt), micros(a.CompletedAt))
}

// railAttemptUpdates are the columns UpdateRailAttempt writes, in its order.
var railAttemptUpdates = []column{
	{"id", "TEXT"}, {"rail", "TEXT"}, {"status", "TEXT"}, {"rail_reference", "TEXT"}, {"failure_code", "TEXT"},
	{"failure_reason", "TEXT"}, {"checks", "INTEGER"}, {"next_check_at", "BIGINT"}, {"updated_at", "BIGINT"},
	{"completed_at", "BIGINT"},
}

func (t *tx) ListRailAttempts(objectID string) ([]malipo.RailAttempt, error) {
	rows, err := t.query(`SELECT `+attemptColumns+` FROM rail_attempts WHERE object_id = ? ORDER BY number`, objectID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRailAttempt)
}

func (t *tx) ClaimDueRailAttempts(now time.Time, limit int) ([]malipo.RailAttempt, error) {
	rows, err := t.query(`SELECT `+attemptColumns+` FROM rail_attempts WHERE status IN ('sending', 'pending')
		AND next_check_at <= ? ORDER BY next_check_at LIMIT ?`+t.db.dialect.ClaimSuffix, micros(now), limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRailAttempt)
}

// The outcomes inbox.

const inboxColumns = `id, rail, mode, attempt_id, source, verdict, rail_reference, failure_code, failure_reason, amount,
	currency, body, received_at, applied_at, result, error, tries, retry_at`

func scanInboxItem(r interface{ Scan(...any) error }) (malipo.InboxItem, error) {
	var i malipo.InboxItem
	var mode, verdict, currency, body, result string
	var received, applied, retry int64
	err := r.Scan(&i.ID, &i.Rail, &mode, &i.AttemptID, &i.Source, &verdict, &i.RailReference, &i.FailureCode,
		&i.FailureReason, &i.Amount, &currency, &body, &received, &applied, &result, &i.Error, &i.Tries, &retry)
	i.Mode, i.Verdict, i.Currency, i.Result = malipo.Mode(mode), malipo.Verdict(verdict), malipo.Currency(currency), malipo.InboxResult(result)
	i.Body, i.ReceivedAt, i.AppliedAt, i.RetryAt = []byte(body), fromMicros(received), fromMicros(applied), fromMicros(retry)
	return i, err
}

// CreateInboxItem holds the item for the batch (see later.go).
func (t *tx) CreateInboxItem(i malipo.InboxItem) error {
	return t.insertLater(laterInbox, nil, i.ID, i.Rail, string(i.Mode), i.AttemptID, i.Source, string(i.Verdict), i.RailReference,
		i.FailureCode, i.FailureReason, i.Amount, string(i.Currency), string(i.Body), micros(i.ReceivedAt), micros(i.AppliedAt),
		string(i.Result), i.Error, i.Tries, micros(i.RetryAt))
}

func (t *tx) GetInboxItem(id string) (malipo.InboxItem, error) {
	i, err := scanInboxItem(t.row(`SELECT `+inboxColumns+` FROM inbox WHERE id = ?`+t.lock(), id))
	return i, notFound(err, "inbox item")
}

func (t *tx) UpdateInboxItem(i malipo.InboxItem) error {
	res, err := t.exec(`UPDATE inbox SET applied_at = ?, result = ?, error = ?, tries = ?, retry_at = ? WHERE id = ?`,
		micros(i.AppliedAt), string(i.Result), i.Error, i.Tries, micros(i.RetryAt), i.ID)
	return affected(res, err, "inbox item")
}

func (t *tx) ListInbox(attemptID string) ([]malipo.InboxItem, error) {
	rows, err := t.query(`SELECT `+inboxColumns+` FROM inbox WHERE attempt_id = ? ORDER BY id`, attemptID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanInboxItem)
}

func (t *tx) ClaimUnappliedInbox(now time.Time, limit int) ([]malipo.InboxItem, error) {
	rows, err := t.query(`SELECT `+inboxColumns+` FROM inbox WHERE applied_at = 0 AND retry_at <= ?
		ORDER BY retry_at LIMIT ?`+t.db.dialect.ClaimSuffix, micros(now), limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanInboxItem)
}

// The sandbox rails' memory.

const sandboxColumns = `key, kind, reference, status, answer, failure_code, failure_reason, amount, currency, answer_at,
	reported, created_at`

func scanSandbox(r interface{ Scan(...any) error }) (store.SandboxTransaction, error) {
	var s store.SandboxTransaction
	var currency string
	var answerAt, created int64
	var reported int
	err := r.Scan(&s.Key, &s.Kind, &s.Reference, &s.Status, &s.Answer, &s.FailureCode, &s.FailureReason, &s.Amount,
		&currency, &answerAt, &reported, &created)
	s.Currency, s.AnswerAt, s.Reported, s.CreatedAt = malipo.Currency(currency), fromMicros(answerAt), reported != 0, fromMicros(created)
	return s, err
}

// codeSandboxExists is the conflict of a sandbox transaction created twice.
const codeSandboxExists = "sandbox_transaction_exists"

// CreateSandboxTransaction holds the row for the batch (see later.go).
func (t *tx) CreateSandboxTransaction(s store.SandboxTransaction) error {
	return t.insertLater(laterSandbox, rowExists(codeSandboxExists, fmt.Sprintf("the sandbox already has %s", s.Key)),
		s.Key, s.Kind, s.Reference, s.Status, s.Answer, s.FailureCode, s.FailureReason, s.Amount, string(s.Currency),
		micros(s.AnswerAt), boolInt(s.Reported), micros(s.CreatedAt))
}

func (t *tx) GetSandboxTransaction(key string) (store.SandboxTransaction, error) {
	if s, ok := take(t.hintedSandbox, key); ok {
		if s == nil {
			return store.SandboxTransaction{}, notFound(sql.ErrNoRows, "sandbox transaction")
		}
		return *s, nil
	}
	s, err := scanSandbox(t.row(`SELECT `+sandboxColumns+` FROM sandbox_transactions WHERE key = ?`+t.lock(), key))
	return s, notFound(err, "sandbox transaction")
}

// UpdateSandboxTransaction holds the update for the batch (see later.go).
func (t *tx) UpdateSandboxTransaction(s store.SandboxTransaction) error {
	return t.insertLater(laterSandboxUpdates, nil, s.Key, s.Reference, s.Status, s.Answer, s.FailureCode, s.FailureReason,
		micros(s.AnswerAt), boolInt(s.Reported))
}

// sandboxUpdates are the columns UpdateSandboxTransaction writes, in its
// order: the key first.
var sandboxUpdates = []column{
	{"key", "TEXT"}, {"reference", "TEXT"}, {"status", "TEXT"}, {"answer", "TEXT"}, {"failure_code", "TEXT"},
	{"failure_reason", "TEXT"}, {"answer_at", "BIGINT"}, {"reported", "INTEGER"},
}

func (t *tx) ClaimDueSandboxTransactions(now time.Time, limit int) ([]store.SandboxTransaction, error) {
	rows, err := t.query(`SELECT `+sandboxColumns+` FROM sandbox_transactions WHERE reported = 0 AND answer_at <= ?
		ORDER BY answer_at LIMIT ?`+t.db.dialect.ClaimSuffix, micros(now), limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanSandbox)
}

// Live rails.

const railColumns = `id, kind, name, mode, countries, operators, currencies, position, sealed, created_at`

func (t *tx) CreateRail(r malipo.Rail) error {
	_, err := t.exec(`INSERT INTO rails (`+railColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, railArgs(r)...)
	return t.conflict(err, "rail_exists", fmt.Sprintf("a rail named %q already exists", r.Name))
}

func railArgs(r malipo.Rail) []any {
	currencies := make([]string, len(r.Currencies))
	for i, c := range r.Currencies {
		currencies[i] = string(c)
	}
	return []any{r.ID, r.Kind, r.Name, string(r.Mode), strings.Join(r.Countries, ","), strings.Join(r.Operators, ","),
		strings.Join(currencies, ","), r.Position, r.Sealed, micros(r.CreatedAt)}
}

func (t *tx) UpdateRail(r malipo.Rail) error {
	args := railArgs(r)
	res, err := t.exec(`UPDATE rails SET countries = ?, operators = ?, currencies = ?, position = ?, sealed = ? WHERE id = ?`,
		args[4], args[5], args[6], args[7], args[8], r.ID)
	return affected(res, err, "rail")
}

func (t *tx) ListRails() ([]malipo.Rail, error) {
	rows, err := t.query(`SELECT ` + railColumns + ` FROM rails ORDER BY position, name`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (malipo.Rail, error) {
		var x malipo.Rail
		var mode, countries, operators, currencies string
		var created int64
		err := r.Scan(&x.ID, &x.Kind, &x.Name, &mode, &countries, &operators, &currencies, &x.Position, &x.Sealed, &created)
		x.Mode, x.CreatedAt = malipo.Mode(mode), fromMicros(created)
		x.Countries, x.Operators = splitList(countries), splitList(operators)
		for _, c := range splitList(currencies) {
			x.Currencies = append(x.Currencies, malipo.Currency(c))
		}
		return x, err
	})
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
