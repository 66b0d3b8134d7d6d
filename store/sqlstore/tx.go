package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// tx implements store.Tx over one SQL transaction.
type tx struct {
	db    *DB
	tx    *sql.Tx
	ctx   context.Context
	write bool
	stmts *stmtCache // prepared statements, for write transactions
}

// stmt returns query prepared, or nil if it is not prepared yet or this is
// a read transaction. Parsing SQL is a large part of a small write's cost.
func (t *tx) stmt(query string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	if s := t.stmts.lookup(query); s != nil {
		return t.tx.StmtContext(t.ctx, s)
	}
	return nil
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	query = t.db.q(query)
	if s := t.stmt(query); s != nil {
		return s.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, query, args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	query = t.db.q(query)
	if s := t.stmt(query); s != nil {
		return s.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, query, args...)
}

func (t *tx) row(query string, args ...any) *sql.Row {
	query = t.db.q(query)
	if s := t.stmt(query); s != nil {
		return s.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, query, args...)
}

// lock is appended to reads that must hold the row until commit.
func (t *tx) lock() string {
	if t.write {
		return t.db.dialect.LockSuffix
	}
	return ""
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
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

// Merchants and integrations.

func (t *tx) CreateMerchant(m malipo.Merchant) error {
	_, err := t.exec(`INSERT INTO merchants (id, name, logo_url, created_at) VALUES (?, ?, ?, ?)`, m.ID, m.Name, m.LogoURL, micros(m.CreatedAt))
	return t.conflict(err, "merchant_exists", "merchant already exists")
}

func (t *tx) GetMerchant(id string) (malipo.Merchant, error) {
	var m malipo.Merchant
	var created int64
	err := t.row(`SELECT id, name, logo_url, created_at FROM merchants WHERE id = ?`, id).Scan(&m.ID, &m.Name, &m.LogoURL, &created)
	m.CreatedAt = fromMicros(created)
	return m, notFound(err, "merchant")
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
	i, err := scanIntegration(t.row(`SELECT `+integrationColumns+` FROM integrations i WHERE i.id = ?`, id))
	return i, notFound(err, "integration")
}

func (t *tx) CreateAPIKey(k malipo.APIKey) error {
	_, err := t.exec(`INSERT INTO api_keys (hash, integration_id, hint, created_at) VALUES (?, ?, ?, ?)`,
		k.Hash, k.IntegrationID, k.Hint, micros(k.CreatedAt))
	return t.conflict(err, "api_key_exists", "api key already exists")
}

func (t *tx) IntegrationByKeyHash(hash string) (malipo.Integration, error) {
	i, err := scanIntegration(t.row(`SELECT `+integrationColumns+`
		FROM api_keys k JOIN integrations i ON i.id = k.integration_id WHERE k.hash = ?`, hash))
	return i, notFound(err, "api key")
}

// Payments.

const paymentColumns = `id, merchant_id, integration_id, mode, amount, currency, fee, reference, description,
	customer, channels, method, phone, operator, return_url, cancel_url, notify_url, metadata, lang, status,
	failure_code, failure_reason, rail_reference, checkout_token, created_at, updated_at, expires_at, completed_at,
	extra, next_action, amount_refunded, available_at, settled_at`

// paymentExtra is the JSON of a payment's display extras.
type paymentExtra struct {
	Items     []malipo.Item   `json:"items,omitempty"`
	Taxes     []malipo.Tax    `json:"taxes,omitempty"`
	LockPhone bool            `json:"lock_phone,omitempty"`
	FaceData  []byte          `json:"face_data,omitempty"`
	Details   []malipo.Detail `json:"details,omitempty"`
	Store     malipo.Store    `json:"store,omitzero"`
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
	extra, err := json.Marshal(paymentExtra{Items: p.Items, Taxes: p.Taxes, LockPhone: p.LockPhone, FaceData: p.FaceData, Details: p.Details, Store: p.Store})
	if err != nil {
		return nil, err
	}
	return []any{p.ID, p.MerchantID, p.IntegrationID, string(p.Mode), p.Amount, string(p.Currency), p.Fee, p.Reference,
		p.Description, string(customer), strings.Join(channels, ","), string(p.Method), p.Phone, p.Operator,
		p.ReturnURL, p.CancelURL, p.NotifyURL, string(metadata), p.Lang, string(p.Status), p.FailureCode,
		p.FailureReason, p.RailReference, p.CheckoutToken, micros(p.CreatedAt), micros(p.UpdatedAt),
		micros(p.ExpiresAt), micros(p.CompletedAt), string(extra), p.NextAction, p.AmountRefunded, micros(p.AvailableAt),
		micros(p.SettledAt)}, nil
}

func scanPayment(r interface{ Scan(...any) error }) (malipo.Payment, error) {
	var p malipo.Payment
	var mode, currency, customer, channels, method, metadata, status, extra string
	var created, updated, expires, completed, available, settled int64
	err := r.Scan(&p.ID, &p.MerchantID, &p.IntegrationID, &mode, &p.Amount, &currency, &p.Fee, &p.Reference,
		&p.Description, &customer, &channels, &method, &p.Phone, &p.Operator, &p.ReturnURL, &p.CancelURL,
		&p.NotifyURL, &metadata, &p.Lang, &status, &p.FailureCode, &p.FailureReason, &p.RailReference,
		&p.CheckoutToken, &created, &updated, &expires, &completed, &extra, &p.NextAction, &p.AmountRefunded, &available, &settled)
	if err != nil {
		return p, err
	}
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
	p.Items, p.Taxes, p.LockPhone, p.FaceData, p.Details, p.Store = x.Items, x.Taxes, x.LockPhone, x.FaceData, x.Details, x.Store
	return p, nil
}

func (t *tx) CreatePayment(p malipo.Payment) error {
	args, err := paymentArgs(p)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO payments (`+paymentColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	return t.conflict(err, "reference_in_use", fmt.Sprintf("a payment with reference %q already exists", p.Reference))
}

func (t *tx) getPayment(where string, args ...any) (malipo.Payment, error) {
	p, err := scanPayment(t.row(`SELECT `+paymentColumns+` FROM payments WHERE `+where+t.lock(), args...))
	return p, notFound(err, "payment")
}

func (t *tx) GetPayment(id string) (malipo.Payment, error) { return t.getPayment(`id = ?`, id) }

func (t *tx) PaymentByReference(integrationID, reference string) (malipo.Payment, error) {
	return t.getPayment(`integration_id = ? AND reference = ?`, integrationID, reference)
}

func (t *tx) UpdatePayment(p malipo.Payment) error {
	args, err := paymentArgs(p)
	if err != nil {
		return err
	}
	// Only the fields that change after creation are written.
	res, err := t.exec(`UPDATE payments SET fee = ?, method = ?, phone = ?, operator = ?, status = ?, failure_code = ?,
		failure_reason = ?, rail_reference = ?, updated_at = ?, expires_at = ?, completed_at = ?, lang = ?, customer = ?,
		next_action = ?, amount_refunded = ?, available_at = ?, settled_at = ? WHERE id = ?`,
		p.Fee, string(p.Method), p.Phone, p.Operator, string(p.Status), p.FailureCode, p.FailureReason,
		p.RailReference, micros(p.UpdatedAt), micros(p.ExpiresAt), micros(p.CompletedAt), p.Lang, args[9], p.NextAction,
		p.AmountRefunded, micros(p.AvailableAt), micros(p.SettledAt), p.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return notFound(sql.ErrNoRows, "payment")
	}
	return nil
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
	if f.StartingAfter != "" {
		where, args = append(where, "id < ?"), append(args, f.StartingAfter)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 10
	}
	args = append(args, limit)
	rows, err := t.query(`SELECT `+paymentColumns+` FROM payments WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanPayment)
}

func (t *tx) ClaimExpiredPayments(now time.Time, limit int) ([]malipo.Payment, error) {
	rows, err := t.query(`SELECT `+paymentColumns+` FROM payments
		WHERE status IN ('pending', 'processing') AND expires_at <= ? ORDER BY expires_at LIMIT ?`+t.db.dialect.ClaimSuffix,
		micros(now), limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanPayment)
}

func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Ledger.

func (t *tx) PostEntry(e malipo.Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO ledger_entries (id, kind, ref_type, ref_id, created_at) VALUES (?, ?, ?, ?, ?)`,
		e.ID, e.Kind, e.RefType, e.RefID, micros(e.CreatedAt)); err != nil {
		return t.conflict(err, "already_posted", fmt.Sprintf("%s %s is already posted", e.RefType, e.RefID))
	}
	// Accounts are updated in name order so that concurrent transactions
	// lock them in the same order and cannot deadlock each other. One
	// statement writes every posting and one every balance: hot accounts
	// (clearing, fees) stay locked for as few round trips as possible.
	postings := append([]malipo.Posting(nil), e.Postings...)
	sort.SliceStable(postings, func(i, j int) bool { return postings[i].Account < postings[j].Account })
	rows := make([]string, len(postings))
	args := make([]any, 0, 5*len(postings))
	for i, p := range postings {
		rows[i] = "(?, ?, ?, ?, ?)"
		args = append(args, e.ID, i, string(p.Account), string(p.Currency), p.Amount)
	}
	if _, err := t.exec(`INSERT INTO postings (entry_id, seq, account, currency, amount) VALUES `+strings.Join(rows, ", "), args...); err != nil {
		return err
	}
	// An account named twice in one entry is summed first: one statement
	// may not update a row twice.
	var accounts []malipo.Posting
	for _, p := range postings {
		if n := len(accounts); n > 0 && accounts[n-1].Account == p.Account {
			accounts[n-1].Amount += p.Amount
			continue
		}
		accounts = append(accounts, p)
	}
	rows, args = rows[:0], args[:0]
	for _, p := range accounts {
		merchant, mode, bucket := p.Account.Owner()
		rows = append(rows, "(?, ?, ?, ?, ?, ?)")
		args = append(args, string(p.Account), merchant, string(mode), bucket, string(p.Currency), p.Amount)
	}
	_, err := t.exec(`INSERT INTO accounts (name, merchant_id, mode, bucket, currency, balance) VALUES `+strings.Join(rows, ", ")+`
		ON CONFLICT (name) DO UPDATE SET balance = accounts.balance + excluded.balance`, args...)
	return err
}

func (t *tx) Balances(merchantID string, mode malipo.Mode) ([]malipo.Balance, error) {
	rows, err := t.query(`SELECT currency, bucket, balance FROM accounts WHERE merchant_id = ? AND mode = ? ORDER BY currency`,
		merchantID, string(mode))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []malipo.Balance
	for rows.Next() {
		var cur, bucket string
		var amount int64
		if err := rows.Scan(&cur, &bucket, &amount); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Currency != malipo.Currency(cur) {
			out = append(out, malipo.Balance{Currency: malipo.Currency(cur)})
		}
		b := &out[len(out)-1]
		switch bucket {
		case "available":
			b.Available += amount
		case "pending":
			b.Pending += amount
		case "reserved":
			b.Reserved += amount
		}
	}
	return out, rows.Err()
}

func (t *tx) AccountBalance(a malipo.Account) (int64, error) {
	var n int64
	err := t.row(`SELECT balance FROM accounts WHERE name = ?`+t.lock(), string(a)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

func (t *tx) strings(query string, args ...any) ([]string, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (string, error) {
		var s string
		err := r.Scan(&s)
		return s, err
	})
}

func (t *tx) Audit() (malipo.AuditReport, error) {
	var r malipo.AuditReport
	if err := t.row(`SELECT COUNT(*) FROM ledger_entries`).Scan(&r.Entries); err != nil {
		return r, err
	}
	if err := t.row(`SELECT COUNT(*) FROM accounts`).Scan(&r.Accounts); err != nil {
		return r, err
	}
	if err := t.row(`SELECT COUNT(*) FROM payments WHERE status = 'succeeded'`).Scan(&r.Payments); err != nil {
		return r, err
	}
	if err := t.row(`SELECT (SELECT COUNT(*) FROM payouts), (SELECT COUNT(*) FROM refunds)`).Scan(&r.Payouts, &r.Refunds); err != nil {
		return r, err
	}
	checks := []struct {
		into  *[]string
		query string
	}{
		{&r.UnbalancedEntry, `SELECT DISTINCT entry_id FROM postings GROUP BY entry_id, currency HAVING SUM(amount) <> 0
			UNION SELECT e.id FROM ledger_entries e LEFT JOIN postings p ON p.entry_id = e.id
			GROUP BY e.id HAVING COUNT(p.entry_id) < 2`},
		{&r.BalanceMismatch, `SELECT a.name FROM accounts a
			LEFT JOIN (SELECT account, SUM(amount) AS total FROM postings GROUP BY account) s ON s.account = a.name
			WHERE a.balance <> COALESCE(s.total, 0)
			UNION SELECT DISTINCT p.account FROM postings p LEFT JOIN accounts a ON a.name = p.account WHERE a.name IS NULL`},
		{&r.PaymentNotPosted, `SELECT p.id FROM payments p
			LEFT JOIN ledger_entries e ON e.kind = 'payment' AND e.ref_type = 'payment' AND e.ref_id = p.id
			WHERE p.status = 'succeeded' GROUP BY p.id HAVING COUNT(e.id) <> 1`},
		{&r.PostedNotPaid, `SELECT e.ref_id FROM ledger_entries e LEFT JOIN payments p ON p.id = e.ref_id
			WHERE e.kind = 'payment' AND (p.id IS NULL OR p.status <> 'succeeded')
			UNION SELECT e.ref_id FROM ledger_entries e JOIN payments p ON p.id = e.ref_id
			JOIN postings po ON po.entry_id = e.id
			WHERE e.kind = 'payment' AND po.amount < 0 GROUP BY e.ref_id, p.amount HAVING -SUM(po.amount) <> p.amount
			UNION SELECT p.id FROM payments p LEFT JOIN ledger_entries e ON e.kind = 'settlement' AND e.ref_id = p.id
			GROUP BY p.id, p.settled_at, p.available_at, p.completed_at
			HAVING COUNT(e.id) <> CASE WHEN p.settled_at <> 0 AND p.available_at > p.completed_at THEN 1 ELSE 0 END`},
		{&r.NegativeBalance, `SELECT name FROM accounts WHERE merchant_id <> '' AND balance < 0`},
		// Each payout has its reservation, and then exactly the entry its
		// status calls for; a transfer has only its transfer entry.
		{&r.PayoutNotPosted, `SELECT p.id FROM payouts p LEFT JOIN ledger_entries e ON e.ref_type = 'payout' AND e.ref_id = p.id
			GROUP BY p.id, p.status, p.destination_type HAVING
			SUM(CASE WHEN e.kind = 'transfer' THEN 1 ELSE 0 END) <> CASE WHEN p.destination_type = 'merchant' AND p.status = 'succeeded' THEN 1 ELSE 0 END
			OR SUM(CASE WHEN e.kind = 'payout_reserve' THEN 1 ELSE 0 END) <> CASE WHEN p.destination_type = 'merchant' THEN 0 ELSE 1 END
			OR SUM(CASE WHEN e.kind = 'payout' THEN 1 ELSE 0 END) <> CASE WHEN p.destination_type <> 'merchant' AND p.status = 'succeeded' THEN 1 ELSE 0 END
			OR SUM(CASE WHEN e.kind = 'payout_release' THEN 1 ELSE 0 END) <> CASE WHEN p.destination_type <> 'merchant' AND p.status = 'failed' THEN 1 ELSE 0 END`},
		{&r.RefundNotPosted, `SELECT r.id FROM refunds r LEFT JOIN ledger_entries e ON e.ref_type = 'refund' AND e.ref_id = r.id
			GROUP BY r.id, r.status HAVING
			SUM(CASE WHEN e.kind = 'refund_reserve' THEN 1 ELSE 0 END) <> 1
			OR SUM(CASE WHEN e.kind = 'refund' THEN 1 ELSE 0 END) <> CASE WHEN r.status = 'succeeded' THEN 1 ELSE 0 END
			OR SUM(CASE WHEN e.kind = 'refund_release' THEN 1 ELSE 0 END) <> CASE WHEN r.status = 'failed' THEN 1 ELSE 0 END
			UNION SELECT p.id FROM payments p LEFT JOIN refunds r ON r.payment_id = p.id AND r.status <> 'failed'
			GROUP BY p.id, p.amount, p.amount_refunded HAVING COALESCE(SUM(r.amount), 0) <> p.amount_refunded OR p.amount_refunded > p.amount`},
	}
	for _, c := range checks {
		got, err := t.strings(c.query)
		if err != nil {
			return r, fmt.Errorf("audit: %w", err)
		}
		*c.into = got
	}
	return r, nil
}

// Idempotency.

func (t *tx) GetIdempotency(scope, key string) (store.Idempotency, error) {
	r := store.Idempotency{Scope: scope, Key: key}
	var result string
	var created int64
	err := t.row(`SELECT request_hash, result, created_at FROM idempotency_keys WHERE scope = ? AND key = ?`, scope, key).
		Scan(&r.RequestHash, &result, &created)
	r.Result, r.CreatedAt = []byte(result), fromMicros(created)
	return r, notFound(err, "idempotency key")
}

func (t *tx) PutIdempotency(r store.Idempotency) error {
	_, err := t.exec(`INSERT INTO idempotency_keys (scope, key, request_hash, result, created_at) VALUES (?, ?, ?, ?, ?)`,
		r.Scope, r.Key, r.RequestHash, string(r.Result), micros(r.CreatedAt))
	return t.conflict(err, "idempotency_key_in_use", "idempotency key is in use")
}

func (t *tx) SetIdempotencyResult(scope, key string, result []byte) error {
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
	res, err := t.exec(`DELETE FROM idempotency_keys WHERE created_at < ?`, micros(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
