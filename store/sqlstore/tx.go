package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// tx implements store.Tx over one SQL transaction.
type tx struct {
	db *DB
	// tx runs the statements: a *sql.Tx, or, where the dialect pipes
	// (see pipedWrite), the batch's *sql.Conn, on which the transaction
	// is begun and ended by hand so that BEGIN and COMMIT can travel with
	// the batch's last writes (see begun).
	tx    runner
	sqlTx *sql.Tx // tx, when it is one
	ctx   context.Context
	write bool
	stmts *stmtCache // prepared statements, for write transactions
	// alone is set when one caller has the transaction to itself, so
	// LockBalance may wait for a lock instead of only trying it.
	alone bool
	// posted holds the balance changes of the callers whose work stands,
	// unit those of the caller running now (see ledger.go).
	posted, unit balanceDeltas
	// shard is the balance shard this transaction's committer adds to.
	shard int
	// rows are the standing callers' rows to write later, unitRows the
	// running caller's (see later.go).
	rows, unitRows heldRows
	// cache holds reads the callers of a batch repeat (see cache.go).
	cache readCache
	// heldPayments are the payments with held rows (created or updated),
	// heldAttempts the rail attempts with held updates, heldKeys the
	// idempotency keys held (see heldKey); readUnheld is set while a
	// payment, attempt or key not among them is read by ID.
	heldPayments, heldAttempts, heldKeys map[string]bool
	readUnheld                           bool
	// hinted and hintedAttempts are payments and rail attempts locked and
	// read at the batch's start (see lockHinted), each kept until it is
	// written; a payment also until it is read once, since it holds
	// slices and maps its reader may change. hintedPayouts,
	// hintedRefunds and hintedSandbox are the same for payouts, refunds
	// and sandbox transactions, each also taken once; hintedSandbox also
	// knows the keys not there (the sandbox looks a key up to create it).
	hinted         map[string]malipo.Payment
	hintedAttempts map[string]malipo.RailAttempt
	hintedPayouts  map[string]malipo.Payout
	hintedRefunds  map[string]malipo.Refund
	hintedSandbox  map[string]*store.SandboxTransaction // nil: not there
	// spend is what was read ahead for payouts' checks (see spend.go).
	spend *spendAhead
	// hintedKeys are the idempotency keys read at the batch's start, by
	// heldKey, nil where not stored; each kept until it is written or
	// looked up once.
	hintedKeys map[string]*store.Idempotency
	// after is what the running caller asked to run once its work
	// commits (AfterCommit).
	after []func()
	// conn is the connection of a batch's transaction, where the dialect
	// pipes its last writes; piped, while not nil, queues writes to send
	// at once (see pipedWrite).
	conn  *sql.Conn
	piped []pipedWrite
	// begun and committed track a transaction run by hand on conn: it
	// begins with its first statement, or with the pipeline if nothing
	// came before, and its COMMIT goes with the pipeline.
	begun, committed bool
	// commitUnknown is set once a COMMIT was sent whose fate is not
	// known: the connection failed, or the session ended, before the
	// database said whether it ran (see sendPiped and lostConn).
	commitUnknown bool
}

// runner is what runs a transaction's statements: *sql.Tx or *sql.Conn.
type runner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rowScanner is a query's single row, or the error that kept it from
// being run.
type rowScanner interface{ Scan(...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// errText: neither engine may be handed text PostgreSQL cannot store (a
// NUL character, bytes that are not UTF-8), so it is refused, on both
// alike, as bad input that changes nothing.
var errText = malipo.Invalid("", "parameter_invalid", "text must be UTF-8 without NUL characters")

// checkArgs refuses arguments PostgreSQL cannot store.
func checkArgs(args []any) error {
	for _, a := range args {
		if s, ok := a.(string); ok && (strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)) {
			return errText
		}
	}
	return nil
}

// stmt returns query prepared, or nil if it is not prepared yet or this is
// a read transaction or one run by hand (whose driver prepares its own).
// Parsing SQL is a large part of a small write's cost.
func (t *tx) stmt(query string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	if s := t.stmts.lookup(query); s != nil {
		return t.sqlTx.StmtContext(t.ctx, s)
	}
	return nil
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	if err := checkArgs(args); err != nil {
		return nil, err
	}
	if err := t.beforeStatement(query); err != nil {
		return nil, err
	}
	query = t.db.q(query)
	if err := t.begin(); err != nil {
		return nil, err
	}
	if s := t.stmt(query); s != nil {
		return s.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, query, args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	if err := checkArgs(args); err != nil {
		return nil, err
	}
	if err := t.beforeStatement(query); err != nil {
		return nil, err
	}
	query = t.db.q(query)
	if err := t.begin(); err != nil {
		return nil, err
	}
	if s := t.stmt(query); s != nil {
		return s.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, query, args...)
}

func (t *tx) row(query string, args ...any) rowScanner {
	if t.readBegins() {
		return firstRow{t: t, query: query, args: args}
	}
	if err := checkArgs(args); err != nil {
		return errRow{err}
	}
	if err := t.beforeStatement(query); err != nil {
		return errRow{err}
	}
	query = t.db.q(query)
	if err := t.begin(); err != nil {
		return errRow{err}
	}
	if s := t.stmt(query); s != nil {
		return s.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, query, args...)
}

// A read is a query and what to do with each row of its answer.
type read struct {
	query string
	args  []any
	each  func(row interface{ Scan(...any) error }) error
}

// readBegins reports that the next read begins the transaction: one run
// by hand, not yet begun, on a dialect that can send BEGIN with it.
func (t *tx) readBegins() bool {
	return t.sqlTx == nil && !t.begun && t.db.dialect.BeginWith != nil
}

// readAll runs reads in order: when they begin the transaction, in one
// round trip with its BEGIN (Dialect.BeginWith); else each as a query of
// its own.
func (t *tx) readAll(reads ...read) error {
	if t.readBegins() {
		// What query checks for each read, for all of them first.
		for _, r := range reads {
			if err := checkArgs(r.args); err != nil {
				return err
			}
			// Held rows a read needs written first begin the transaction.
			if err := t.beforeStatement(r.query); err != nil {
				return err
			}
		}
	}
	if t.readBegins() {
		queries, args := make([]string, len(reads)), make([][]any, len(reads))
		for i, r := range reads {
			queries[i], args[i] = t.db.q(r.query), r.args
		}
		t.begun = true // from here on, an error rolls back
		var failed error
		if err := t.conn.Raw(func(driverConn any) error {
			failed = t.db.dialect.BeginWith(t.ctx, driverConn, queries, args, func(i int, row interface{ Scan(...any) error }) error {
				return reads[i].each(row)
			})
			return nil
		}); err != nil {
			return err
		}
		return failed
	}
	for _, r := range reads {
		rows, err := t.query(r.query, r.args...)
		if err != nil {
			return err
		}
		if err := eachRow(rows, r.each); err != nil {
			return err
		}
	}
	return nil
}

// eachRow hands each of rows to each, and closes them.
func eachRow(rows *sql.Rows, each func(row interface{ Scan(...any) error }) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// firstRow is the single row of a read that begins the transaction: it
// is read, with the BEGIN, when it is scanned.
type firstRow struct {
	t     *tx
	query string
	args  []any
}

func (r firstRow) Scan(dest ...any) error {
	found := false
	err := r.t.readAll(read{query: r.query, args: r.args, each: func(row interface{ Scan(...any) error }) error {
		if found {
			return nil
		}
		found = true
		return row.Scan(dest...)
	}})
	if err == nil && !found {
		return sql.ErrNoRows
	}
	return err
}

// newestFirst reads a page of a list, newest first: the rows of table
// meeting where, only those with IDs before startingAfter when it is set,
// at most limit of them (fallback when limit is unset).
func (t *tx) newestFirst(columns, table string, where []string, args []any, startingAfter string, limit, fallback int) (*sql.Rows, error) {
	if startingAfter != "" {
		where, args = append(where, "id < ?"), append(args, startingAfter)
	}
	return t.page(columns, table, where, args, "id DESC", limit, fallback)
}

// page reads at most limit rows of table meeting where, in order (fallback
// rows when limit is unset).
func (t *tx) page(columns, table string, where []string, args []any, order string, limit, fallback int) (*sql.Rows, error) {
	if limit <= 0 {
		limit = fallback
	}
	return t.query(`SELECT `+columns+` FROM `+table+` WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`, append(args, limit)...)
}

// createdBetween adds a filter's creation-time bounds (inclusive; zero
// is no bound) to a query's conditions.
func createdBetween(where []string, args []any, from, to time.Time) ([]string, []any) {
	if !from.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, micros(from))
	}
	if !to.IsZero() {
		where, args = append(where, "created_at <= ?"), append(args, micros(to))
	}
	return where, args
}

// lock is appended to reads that must hold the row until commit. In a
// batch of several callers it does not wait for a row another transaction
// holds (see ledger.go): the caller is run again on its own.
func (t *tx) lock() string {
	switch {
	case !t.write:
		return ""
	case t.alone || t.db.dialect.NoWaitSuffix == "":
		return t.db.dialect.LockSuffix
	}
	return t.db.dialect.NoWaitSuffix
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fromMicros(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

// notFound turns sql.ErrNoRows into the domain's not-found error.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return &malipo.Error{Kind: malipo.KindNotFound, Code: "resource_missing", Message: what + " not found", Err: err}
	}
	return err
}

// conflict turns a unique violation into the domain's conflict error.
func (t *tx) conflict(err error, code, msg string) error {
	if err != nil && t.db.dialect.IsUnique(err) {
		return &malipo.Error{Kind: malipo.KindConflict, Code: code, Message: msg, Err: err}
	}
	return err
}

// rowExists is the conflict error a row written later returns should it
// exist already (see later.go).
func rowExists(code, msg string) error {
	return &malipo.Error{Kind: malipo.KindConflict, Code: code, Message: msg}
}

// Merchants and integrations.

func (t *tx) AfterCommit(f func()) { t.after = append(t.after, f) }

func (t *tx) CreateMerchant(m malipo.Merchant) error {
	_, err := t.exec(`INSERT INTO merchants (id, name, logo_url, created_at, suspended_at) VALUES (?, ?, ?, ?, ?)`, m.ID, m.Name, m.LogoURL,
		micros(m.CreatedAt), micros(m.SuspendedAt))
	return t.conflict(err, "merchant_exists", "merchant already exists")
}

func (t *tx) GetMerchant(id string) (malipo.Merchant, error) {
	m, err := scanMerchant(t.row(`SELECT `+merchantColumns+` FROM merchants WHERE id = ?`, id))
	return m, notFound(err, "merchant")
}

const merchantColumns = `id, name, logo_url, created_at, suspended_at`

func scanMerchant(r interface{ Scan(...any) error }) (malipo.Merchant, error) {
	var m malipo.Merchant
	var created, suspended int64
	err := r.Scan(&m.ID, &m.Name, &m.LogoURL, &created, &suspended)
	m.CreatedAt, m.SuspendedAt = fromMicros(created), fromMicros(suspended)
	return m, err
}

func (t *tx) UpdateMerchant(m malipo.Merchant) error {
	res, err := t.exec(`UPDATE merchants SET name = ?, logo_url = ?, suspended_at = ? WHERE id = ?`, m.Name, m.LogoURL, micros(m.SuspendedAt), m.ID)
	if err != nil {
		return err
	}
	return mustTouch(res, "merchant")
}

func (t *tx) CountMerchants() (int, error) {
	var n int
	err := t.row(`SELECT COUNT(*) FROM merchants`).Scan(&n)
	return n, err
}

func (t *tx) CreateIntegration(i malipo.Integration) error {
	cfg, err := json.Marshal(i.Config)
	if err != nil {
		return err
	}
	rules, err := json.Marshal(i.Rules)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO integrations (id, merchant_id, flavor, mode, config, notify_url, fee_bps, fee_fixed, created_at, rules)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		i.ID, i.MerchantID, string(i.Flavor), string(i.Mode), string(cfg), i.NotifyURL, i.Fee.BasisPoints, i.Fee.Fixed, micros(i.CreatedAt),
		string(rules))
	return t.conflict(err, "integration_exists", "integration already exists")
}

const integrationColumns = `i.id, i.merchant_id, i.flavor, i.mode, i.config, i.notify_url, i.fee_bps, i.fee_fixed, i.created_at,
	i.rules`

func scanIntegration(r interface{ Scan(...any) error }) (malipo.Integration, error) {
	var i malipo.Integration
	var flavor, mode, cfg, rules string
	var created int64
	if err := r.Scan(&i.ID, &i.MerchantID, &flavor, &mode, &cfg, &i.NotifyURL, &i.Fee.BasisPoints, &i.Fee.Fixed, &created, &rules); err != nil {
		return i, err
	}
	if err := json.Unmarshal([]byte(rules), &i.Rules); err != nil {
		return i, fmt.Errorf("integration %s rules: %w", i.ID, err)
	}
	i.Flavor, i.Mode, i.CreatedAt = malipo.Flavor(flavor), malipo.Mode(mode), fromMicros(created)
	if err := json.Unmarshal([]byte(cfg), &i.Config); err != nil {
		return i, fmt.Errorf("integration %s config: %w", i.ID, err)
	}
	return i, nil
}

func (t *tx) GetIntegration(id string) (malipo.Integration, error) {
	if i, ok := t.cache.integration(id); ok {
		return i, nil
	}
	i, err := scanIntegration(t.row(`SELECT `+integrationColumns+` FROM integrations i WHERE i.id = ?`, id))
	if err == nil && t.write {
		t.cache.keepIntegration(i)
	}
	return i, notFound(err, "integration")
}

func (t *tx) CreateAPIKey(k malipo.APIKey) error {
	_, err := t.exec(`INSERT INTO api_keys (hash, integration_id, hint, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		k.Hash, k.IntegrationID, k.Hint, micros(k.CreatedAt), micros(k.ExpiresAt))
	return t.conflict(err, "api_key_exists", "api key already exists")
}

func scanAPIKey(r interface{ Scan(...any) error }) (malipo.APIKey, error) {
	var k malipo.APIKey
	var created, expires int64
	err := r.Scan(&k.Hash, &k.IntegrationID, &k.Hint, &created, &expires)
	k.CreatedAt, k.ExpiresAt = fromMicros(created), fromMicros(expires)
	return k, err
}

func (t *tx) GetAPIKey(hash string) (malipo.APIKey, error) {
	k, err := scanAPIKey(t.row(`SELECT hash, integration_id, hint, created_at, expires_at FROM api_keys WHERE hash = ?`, hash))
	return k, notFound(err, "api key")
}

func (t *tx) ListAPIKeys(integrationID string) ([]malipo.APIKey, error) {
	rows, err := t.query(`SELECT hash, integration_id, hint, created_at, expires_at FROM api_keys WHERE integration_id = ?
		ORDER BY created_at, hash`, integrationID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanAPIKey)
}

func (t *tx) ExpireAPIKeys(integrationID string, at time.Time, except string) error {
	_, err := t.exec(`UPDATE api_keys SET expires_at = ? WHERE integration_id = ? AND hash <> ? AND (expires_at = 0 OR expires_at > ?)`,
		micros(at), integrationID, except, micros(at))
	return err
}

// Payments.

const paymentColumns = `id, merchant_id, integration_id, mode, amount, currency, fee, reference, description,
	customer, channels, method, phone, operator, return_url, cancel_url, notify_url, metadata, lang, status,
	failure_code, failure_reason, rail_reference, checkout_token, created_at, updated_at, expires_at, completed_at,
	extra, next_action, amount_refunded, available_at, settled_at, attempt, in_flight_until, late`

// paymentExtra is the JSON of a payment's display extras.
type paymentExtra struct {
	Items     []malipo.Item   `json:"items,omitempty"`
	Taxes     []malipo.Tax    `json:"taxes,omitempty"`
	LockPhone bool            `json:"lock_phone,omitempty"`
	FaceData  []byte          `json:"face_data,omitempty"`
	Details   []malipo.Detail `json:"details,omitempty"`
	Store     malipo.Store    `json:"store,omitzero"`
	Region    string          `json:"region,omitempty"`
	Frame     string          `json:"frame_origin,omitempty"`
	Account   string          `json:"account,omitempty"`
}

func paymentArgs(p malipo.Payment) ([]any, error) {
	customer, err := json.Marshal(p.Customer)
	if err != nil {
		return nil, err
	}
	meta := p.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	metadata, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	channels := make([]string, len(p.Channels))
	for i, c := range p.Channels {
		channels[i] = string(c)
	}
	extra, err := json.Marshal(paymentExtra{Items: p.Items, Taxes: p.Taxes, LockPhone: p.LockPhone, FaceData: p.FaceData, Details: p.Details, Store: p.Store, Region: p.Region, Frame: p.FrameOrigin, Account: p.Account})
	if err != nil {
		return nil, err
	}
	return []any{p.ID, p.MerchantID, p.IntegrationID, string(p.Mode), p.Amount, string(p.Currency), p.Fee, p.Reference,
		p.Description, string(customer), strings.Join(channels, ","), string(p.Method), p.Phone, p.Operator,
		p.ReturnURL, p.CancelURL, p.NotifyURL, string(metadata), p.Lang, string(p.Status), p.FailureCode,
		p.FailureReason, p.RailReference, p.CheckoutToken, micros(p.CreatedAt), micros(p.UpdatedAt),
		micros(p.ExpiresAt), micros(p.CompletedAt), string(extra), p.NextAction, p.AmountRefunded, micros(p.AvailableAt),
		micros(p.SettledAt), p.Attempt, micros(p.InFlightUntil), boolInt(p.Late)}, nil
}

func scanPayment(r interface{ Scan(...any) error }) (malipo.Payment, error) {
	var p malipo.Payment
	var mode, currency, customer, channels, method, metadata, status, extra string
	var created, updated, expires, completed, available, settled, inFlight int64
	var late int
	err := r.Scan(&p.ID, &p.MerchantID, &p.IntegrationID, &mode, &p.Amount, &currency, &p.Fee, &p.Reference,
		&p.Description, &customer, &channels, &method, &p.Phone, &p.Operator, &p.ReturnURL, &p.CancelURL,
		&p.NotifyURL, &metadata, &p.Lang, &status, &p.FailureCode, &p.FailureReason, &p.RailReference,
		&p.CheckoutToken, &created, &updated, &expires, &completed, &extra, &p.NextAction, &p.AmountRefunded, &available, &settled,
		&p.Attempt, &inFlight, &late)
	if err != nil {
		return p, err
	}
	p.InFlightUntil, p.Late = fromMicros(inFlight), late != 0
	p.Mode, p.Currency, p.Method, p.Status = malipo.Mode(mode), malipo.Currency(currency), malipo.Channel(method), malipo.PaymentStatus(status)
	p.CreatedAt, p.UpdatedAt, p.ExpiresAt, p.CompletedAt = fromMicros(created), fromMicros(updated), fromMicros(expires), fromMicros(completed)
	p.AvailableAt, p.SettledAt = fromMicros(available), fromMicros(settled)
	if channels != "" {
		for _, c := range strings.Split(channels, ",") {
			p.Channels = append(p.Channels, malipo.Channel(c))
		}
	}
	if err := json.Unmarshal([]byte(customer), &p.Customer); err != nil {
		return p, fmt.Errorf("payment %s customer: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(metadata), &p.Metadata); err != nil {
		return p, fmt.Errorf("payment %s metadata: %w", p.ID, err)
	}
	var x paymentExtra
	if err := json.Unmarshal([]byte(extra), &x); err != nil {
		return p, fmt.Errorf("payment %s extra: %w", p.ID, err)
	}
	p.Items, p.Taxes, p.LockPhone, p.FaceData, p.Details, p.Store, p.Region, p.FrameOrigin, p.Account = x.Items, x.Taxes, x.LockPhone, x.FaceData, x.Details, x.Store, x.Region, x.Frame, x.Account
	return p, nil
}

func (t *tx) CreatePayment(p malipo.Payment) error {
	args, err := paymentArgs(p)
	if err != nil {
		return err
	}
	return t.insertLater(laterPayments, rowExists(malipo.CodeReferenceInUse, fmt.Sprintf("a payment with reference %q already exists", p.Reference)), args...)
}

func (t *tx) getPayment(where string, args ...any) (malipo.Payment, error) {
	p, err := scanPayment(t.row(`SELECT `+paymentColumns+` FROM payments WHERE `+where+t.lock(), args...))
	return p, notFound(err, "payment")
}

func (t *tx) GetPayment(id string) (malipo.Payment, error) {
	if p, ok := take(t.hinted, id); ok {
		return p, nil
	}
	// A payment this transaction holds no write for reads the same before
	// the held writes as after them: they need not be written first.
	t.readUnheld = t.write && !t.heldPayments[id]
	defer func() { t.readUnheld = false }()
	return t.getPayment(`id = ?`, id)
}

func (t *tx) PaymentByReference(integrationID, reference string) (malipo.Payment, error) {
	return t.getPayment(`integration_id = ? AND reference = ?`, integrationID, reference)
}

func (t *tx) UpdatePayment(p malipo.Payment) error {
	args, err := paymentArgs(p)
	if err != nil {
		return err
	}
	// Only the fields that change after creation are written; the ID first.
	return t.insertLater(laterPaymentUpdates, nil, p.ID, p.Fee, string(p.Method), p.Phone, p.Operator, string(p.Status), p.FailureCode,
		p.FailureReason, p.RailReference, micros(p.UpdatedAt), micros(p.ExpiresAt), micros(p.CompletedAt), p.Lang, args[9],
		p.NextAction, p.AmountRefunded, micros(p.AvailableAt), micros(p.SettledAt), p.Attempt, micros(p.InFlightUntil),
		boolInt(p.Late), args[28])
}

// column is a column an update held for the batch writes, with its type:
// the rows of one batch go in one statement, through a table of values
// whose types must be given (PostgreSQL cannot infer them).
type column struct{ name, typ string }

// paymentUpdates are the columns UpdatePayment writes, in its order.
var paymentUpdates = []column{
	{"id", "TEXT"}, {"fee", "BIGINT"}, {"method", "TEXT"}, {"phone", "TEXT"}, {"operator", "TEXT"}, {"status", "TEXT"},
	{"failure_code", "TEXT"}, {"failure_reason", "TEXT"}, {"rail_reference", "TEXT"}, {"updated_at", "BIGINT"},
	{"expires_at", "BIGINT"}, {"completed_at", "BIGINT"}, {"lang", "TEXT"}, {"customer", "TEXT"}, {"next_action", "TEXT"},
	{"amount_refunded", "BIGINT"}, {"available_at", "BIGINT"}, {"settled_at", "BIGINT"}, {"attempt", "INTEGER"},
	{"in_flight_until", "BIGINT"}, {"late", "INTEGER"}, {"extra", "TEXT"},
}

// updateByID returns the statement that writes n rows' updates of table
// at once, each row's values in the order of columns, the key that
// finds its row (its ID) first.
func updateByID(table string, columns []column) func(n int) string {
	var names, sets, casts []string
	for i, c := range columns {
		names = append(names, c.name)
		casts = append(casts, "CAST(? AS "+c.typ+")")
		if i > 0 {
			sets = append(sets, c.name+" = v."+c.name)
		}
	}
	tuple := "(" + strings.Join(casts, ", ") + ")"
	return func(n int) string {
		return `WITH v (` + strings.Join(names, ", ") + `) AS (VALUES ` + strings.Repeat(tuple+", ", n-1) + tuple + `)
			UPDATE ` + table + ` SET ` + strings.Join(sets, ", ") + ` FROM v WHERE ` + table + `.` + names[0] + ` = v.` + names[0]
	}
}

// lastOfEach is the arguments of the last held row of each ID (the
// first argument), in the order of those rows.
func lastOfEach(rows []heldRow) [][]any {
	last := map[string]int{}
	for i, r := range rows {
		last[r.args[0].(string)] = i
	}
	args := make([][]any, 0, len(last))
	for i, r := range rows {
		if last[r.args[0].(string)] == i {
			args = append(args, r.args)
		}
	}
	return args
}

func (t *tx) ListPayments(f store.PaymentFilter) ([]malipo.Payment, error) {
	where := []string{"merchant_id = ?", "mode = ?"}
	args := []any{f.MerchantID, string(f.Mode)}
	if f.IntegrationID != "" {
		where, args = append(where, "integration_id = ?"), append(args, f.IntegrationID)
	}
	if f.Reference != nil {
		where, args = append(where, "reference = ?"), append(args, *f.Reference)
	}
	if f.Status != nil {
		where, args = append(where, "status = ?"), append(args, string(*f.Status))
	}
	if f.Method != "" {
		where, args = append(where, "method = ?"), append(args, string(f.Method))
	}
	if f.Operator != "" {
		where, args = append(where, "operator = ?"), append(args, f.Operator)
	}
	if f.Currency != "" {
		where, args = append(where, "currency = ?"), append(args, string(f.Currency))
	}
	where, args = createdBetween(where, args, f.CreatedFrom, f.CreatedTo)
	if q := strings.TrimSpace(f.Search); q != "" {
		like := "%" + escapeLike(strings.ToLower(q)) + "%"
		where = append(where, `(id = ? OR reference = ? OR phone LIKE ? ESCAPE '\' OR LOWER(customer) LIKE ? ESCAPE '\')`)
		args = append(args, q, q, "%"+escapeLike(strings.TrimPrefix(q, "+"))+"%", like)
	}
	// Newest first by creation time, then ID (the order IDs are minted
	// in), from the index the statistics read too (migration 10).
	if f.StartingAfter != "" {
		where = append(where, `(created_at, id) < (SELECT created_at, id FROM payments WHERE id = ? AND merchant_id = ? AND mode = ?)`)
		args = append(args, f.StartingAfter, f.MerchantID, string(f.Mode))
	}
	rows, err := t.page(paymentColumns, "payments", where, args, "created_at DESC, id DESC", f.Limit, 10)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanPayment)
}

func (t *tx) ClaimExpiredPayments(now time.Time, limit int) ([]malipo.Payment, error) {
	rows, err := t.query(`SELECT `+paymentColumns+` FROM payments
		WHERE status IN ('pending', 'processing') AND expires_at <= ? AND in_flight_until <= ?
		ORDER BY expires_at LIMIT ?`+t.db.dialect.ClaimSuffix, micros(now), micros(now), limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanPayment)
}

func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	var out []T
	err := eachRow(rows, func(row interface{ Scan(...any) error }) error {
		v, err := scan(row)
		out = append(out, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Idempotency.

func (t *tx) GetIdempotency(scope, key string) (store.Idempotency, error) {
	id := heldKey(scope, key)
	if r, ok := take(t.hintedKeys, id); ok {
		if r == nil {
			return store.Idempotency{}, notFound(sql.ErrNoRows, "idempotency key")
		}
		return *r, nil
	}
	// A key this transaction holds no write for reads the same before the
	// held writes as after them (see later.go).
	t.readUnheld = t.write && !t.heldKeys[id]
	defer func() { t.readUnheld = false }()
	r, err := scanIdempotency(t.row(`SELECT `+idempotencyColumns+` FROM idempotency_keys WHERE scope = ? AND key = ?`, scope, key))
	return r, notFound(err, "idempotency key")
}

// idempotencyColumns are an idempotency key's columns, in scanIdempotency's
// order.
const idempotencyColumns = "scope, key, request_hash, result, created_at"

func scanIdempotency(row interface{ Scan(...any) error }) (store.Idempotency, error) {
	var r store.Idempotency
	var result string
	var created int64
	err := row.Scan(&r.Scope, &r.Key, &r.RequestHash, &result, &created)
	r.Result, r.CreatedAt = []byte(result), fromMicros(created)
	return r, err
}

// PutIdempotency holds the key for the batch (see later.go): a key in use
// fails the caller alone when the batch writes it, with the conflict its
// insert would have returned.
func (t *tx) PutIdempotency(r store.Idempotency) error {
	return t.insertLater(laterIdempotency, rowExists(codeKeyInUse, messageKeyInUse),
		r.Scope, r.Key, r.RequestHash, string(r.Result), micros(r.CreatedAt))
}

// The conflict of a key in use.
const (
	codeKeyInUse    = "idempotency_key_in_use"
	messageKeyInUse = "idempotency key is in use"
)

// heldKey names an idempotency key in one string, as tx.heldKeys and
// tx.hintedKeys do; splitKey takes it apart. NUL, which the store refuses
// in text, cannot be part of either.
func heldKey(scope, key string) string { return scope + "\x00" + key }

func splitKey(id string) (scope, key string) {
	scope, key, _ = strings.Cut(id, "\x00")
	return scope, key
}

func (t *tx) SetIdempotencyResult(scope, key string, result []byte) error {
	delete(t.hintedKeys, heldKey(scope, key)) // stale once written
	res, err := t.exec(`UPDATE idempotency_keys SET result = ? WHERE scope = ? AND key = ?`, string(result), scope, key)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return notFound(sql.ErrNoRows, "idempotency key")
	}
	return nil
}

func (t *tx) DeleteIdempotencyBefore(before time.Time) (int, error) {
	t.hintedKeys = nil // any may be stale
	res, err := t.exec(`DELETE FROM idempotency_keys WHERE created_at < ?`, micros(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// dayMicros is a day in the stores' time unit.
const dayMicros = int64(24 * time.Hour / time.Microsecond)

func (t *tx) PaymentStats(merchantID string, mode malipo.Mode, c malipo.Currency, from, until time.Time) ([]malipo.DayStats, []malipo.FailureStats, error) {
	args := []any{merchantID, string(mode), string(c), micros(from), micros(until)}
	rows, err := t.query(`SELECT created_at / `+strconv.FormatInt(dayMicros, 10)+` AS day, COUNT(*),
		SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), SUM(CASE WHEN status = 'succeeded' THEN amount ELSE 0 END),
		SUM(CASE WHEN status = 'succeeded' THEN fee ELSE 0 END)
		FROM payments WHERE merchant_id = ? AND mode = ? AND currency = ? AND created_at >= ? AND created_at < ? GROUP BY day ORDER BY day`, args...)
	if err != nil {
		return nil, nil, err
	}
	days, err := collect(rows, func(r interface{ Scan(...any) error }) (malipo.DayStats, error) {
		var d malipo.DayStats
		var day int64
		err := r.Scan(&day, &d.Payments, &d.Succeeded, &d.Volume, &d.Fees)
		d.Day = time.UnixMicro(day * dayMicros).UTC()
		return d, err
	})
	if err != nil {
		return nil, nil, err
	}
	rows, err = t.query(`SELECT failure_code, operator, COUNT(*) AS n FROM payments
		WHERE merchant_id = ? AND mode = ? AND currency = ? AND created_at >= ? AND created_at < ? AND status = 'failed'
		GROUP BY failure_code, operator ORDER BY n DESC, failure_code, operator LIMIT 20`, args...)
	if err != nil {
		return nil, nil, err
	}
	failures, err := collect(rows, func(r interface{ Scan(...any) error }) (malipo.FailureStats, error) {
		var f malipo.FailureStats
		err := r.Scan(&f.Code, &f.Operator, &f.Count)
		return f, err
	})
	return days, failures, err
}

func (t *tx) ExpireAPIKey(hash string, at time.Time) error {
	res, err := t.exec(`UPDATE api_keys SET expires_at = ? WHERE hash = ?`, micros(at), hash)
	if err != nil {
		return err
	}
	return mustTouch(res, "api key")
}
