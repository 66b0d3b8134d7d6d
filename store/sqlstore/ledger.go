package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// How balances are kept without deadlocks.
//
// Every entry's postings are written at once, but the balances they move
// are only added up in the transaction (balanceDeltas) and written at
// commit, in one statement per batch, in account-name order. A batch of
// the group committer holds many callers' entries, and several batches
// (committers, nodes) run at once: were balances written as each entry
// came, two batches could lock the same hot rows (a rail's clearing
// account, the fees) in opposite orders and deadlock. Written last and in
// one global order, they cannot; and a hot row is written once per batch,
// not once per entry.
//
// Spending needs more than that: a payout must see the balance it debits
// and keep others from spending it until commit. That is LockSpending: a
// lock on the merchant's name that is not a balance row (PostgreSQL's
// transaction advisory lock), so it never interleaves with the commit-time
// row locks, taken before any other lock of the caller.
//
// And the rule that makes it all hold: in a batch of several callers
// nothing ever waits before commit. The spending lock is only tried, and
// rows are locked with NOWAIT (commit.go); a caller that would have to
// wait is run again on its own, where it may. Batches then wait only for
// the sorted balance rows at commit, and a caller alone holds nothing
// another waits for in the wrong order: it waits for its hinted rows in
// one order (see lockHinted), and its callers lock the rest in the same.

// balanceDeltas is what a transaction's entries add to each account.
type balanceDeltas map[malipo.Account]int64

// errBusy: another transaction holds a balance this batch wants to spend
// from; the caller is run again on its own.
var errBusy = errors.New("sqlstore: balance is being spent by another transaction")

func (t *tx) PostEntry(e malipo.Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := t.insertLater(laterEntries, rowExists("already_posted", fmt.Sprintf("%s %s is already posted", e.RefType, e.RefID)), e.ID, e.Kind, e.RefType, e.RefID, micros(e.CreatedAt)); err != nil {
		return err
	}
	for i, p := range e.Postings {
		if err := t.insertLater(laterPostings, nil, e.ID, i, string(p.Account), string(p.Currency), p.Amount); err != nil {
			return err
		}
	}
	if t.unit == nil {
		t.unit = balanceDeltas{}
	}
	for _, p := range e.Postings {
		t.unit[p.Account] += p.Amount
	}
	return nil
}

// unitDone keeps the balance changes and held rows of a caller whose work
// stands, or drops those of one whose work was undone, with the cached
// reads it may have made after writing.
func (t *tx) unitDone(ok bool) {
	t.keepRows(ok)
	if !ok {
		t.cache = readCache{}
	}
	if ok && len(t.unit) > 0 {
		if t.posted == nil {
			t.posted = balanceDeltas{}
		}
		for a, d := range t.unit {
			t.posted[a] += d
		}
	}
	t.unit = nil
}

// delta is what this transaction has added to a so far.
func (t *tx) delta(a malipo.Account) int64 { return t.posted[a] + t.unit[a] }

// flushBalances writes the transaction's balance changes, in account-name
// order. An account whose changes sum to zero is written too, so that
// every account with postings has its row.
func (t *tx) flushBalances() error {
	if len(t.posted) == 0 {
		return nil
	}
	names := make([]malipo.Account, 0, len(t.posted))
	for a := range t.posted {
		names = append(names, a)
	}
	slices.Sort(names)
	rows := make([][]any, len(names))
	for i, a := range names {
		merchant, mode, bucket := a.Owner()
		rows[i] = []any{string(a), t.shard, merchant, string(mode), bucket, a.Currency(), t.posted[a]}
	}
	t.posted = nil
	return t.insertRows(`INSERT INTO balances (account, shard, merchant_id, mode, bucket, currency, amount) VALUES `,
		` ON CONFLICT (account, shard) DO UPDATE SET amount = balances.amount + excluded.amount`, rows, func(err error) error {
			if err != nil {
				return fmt.Errorf("write balances: %w", err)
			}
			return nil
		})
}

func (t *tx) LockSpending(merchantID string, mode malipo.Mode) error {
	d := t.db.dialect
	if !t.write || d.TryLockKey == "" {
		return nil // one writer at a time: the write transaction is the lock
	}
	key := spendingKey(merchantID, mode)
	if tried, got := t.spend.lock(key); tried {
		if !got {
			return errBusy
		}
		return nil
	}
	if t.alone {
		return t.row(d.LockKey, key).Scan(new(int))
	}
	var got bool
	if err := t.row(d.TryLockKey, key).Scan(&got); err != nil {
		return err
	}
	if !got {
		return errBusy
	}
	return nil
}

func (t *tx) Balances(merchantID string, mode malipo.Mode) ([]malipo.Balance, error) {
	rows, err := t.query(`SELECT account, SUM(amount) FROM balances WHERE merchant_id = ? AND mode = ? GROUP BY account`, merchantID, string(mode))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	amounts := map[malipo.Account]int64{}
	for rows.Next() {
		var name string
		var amount int64
		if err := rows.Scan(&name, &amount); err != nil {
			return nil, err
		}
		amounts[malipo.Account(name)] = amount
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, d := range []balanceDeltas{t.posted, t.unit} {
		for a, n := range d {
			if m, md, _ := a.Owner(); m == merchantID && md == mode {
				amounts[a] += n
			}
		}
	}
	byCurrency := map[malipo.Currency]*malipo.Balance{}
	for a, n := range amounts {
		c := malipo.Currency(a.Currency())
		b := byCurrency[c]
		if b == nil {
			b = &malipo.Balance{Currency: c}
			byCurrency[c] = b
		}
		switch _, _, bucket := a.Owner(); bucket {
		case "available":
			b.Available += n
		case "pending":
			b.Pending += n
		case "reserved":
			b.Reserved += n
		}
	}
	out := make([]malipo.Balance, 0, len(byCurrency))
	for _, b := range byCurrency {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out, nil
}

func (t *tx) AccountBalance(a malipo.Account) (int64, error) {
	if n, ok := t.spend.balance(a); ok {
		return n + t.delta(a), nil
	}
	var n int64
	err := t.row(`SELECT COALESCE(SUM(amount), 0) FROM balances WHERE account = ?`, string(a)).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	return n + t.delta(a), nil
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

func (t *tx) Audit(graceEnd time.Time) (malipo.AuditReport, error) {
	var r malipo.AuditReport
	if err := t.row(`SELECT COUNT(*) FROM ledger_entries`).Scan(&r.Entries); err != nil {
		return r, err
	}
	if err := t.row(`SELECT COUNT(DISTINCT account) FROM balances`).Scan(&r.Accounts); err != nil {
		return r, err
	}
	if err := t.row(`SELECT COUNT(*) FROM payments WHERE status = 'succeeded'`).Scan(&r.Payments); err != nil {
		return r, err
	}
	if err := t.row(`SELECT (SELECT COUNT(*) FROM payouts), (SELECT COUNT(*) FROM refunds), (SELECT COUNT(*) FROM inbox)`).
		Scan(&r.Payouts, &r.Refunds, &r.Inbox); err != nil {
		return r, err
	}
	checks := []struct {
		into  *[]string
		query string
	}{
		{&r.UnbalancedEntry, `SELECT DISTINCT entry_id FROM postings GROUP BY entry_id, currency HAVING SUM(amount) <> 0
			UNION SELECT e.id FROM ledger_entries e LEFT JOIN postings p ON p.entry_id = e.id
			GROUP BY e.id HAVING COUNT(p.entry_id) < 2`},
		{&r.BalanceMismatch, `SELECT a.account FROM (SELECT account, SUM(amount) AS balance FROM balances GROUP BY account) a
			LEFT JOIN (SELECT account, SUM(amount) AS total FROM postings GROUP BY account) s ON s.account = a.account
			WHERE a.balance <> COALESCE(s.total, 0)
			UNION SELECT DISTINCT p.account FROM postings p LEFT JOIN balances a ON a.account = p.account WHERE a.account IS NULL`},
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
		{&r.NegativeBalance, `SELECT account FROM balances WHERE merchant_id <> '' GROUP BY account HAVING SUM(amount) < 0`},
		{&r.InboxConflicting, `SELECT id FROM inbox WHERE result = 'conflicting' ORDER BY id`},
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
	if err := t.auditInbox(&r, graceEnd); err != nil {
		return r, fmt.Errorf("audit: %w", err)
	}
	rows, err := t.query(`SELECT account, SUM(amount) FROM balances WHERE bucket = 'suspense' GROUP BY account HAVING SUM(amount) <> 0 ORDER BY account`)
	if err != nil {
		return r, fmt.Errorf("audit: %w", err)
	}
	suspense, err := collect(rows, func(r interface{ Scan(...any) error }) (string, error) {
		var name string
		var n int64
		err := r.Scan(&name, &n)
		return fmt.Sprintf("%s %d", name, n), err
	})
	r.Suspense = suspense
	return r, err
}

// auditInbox lists the outcomes not applied yet: as unapplied those that
// came at or before graceEnd, as retrying the others.
func (t *tx) auditInbox(r *malipo.AuditReport, graceEnd time.Time) (err error) {
	const unapplied = `SELECT id FROM inbox WHERE applied_at = 0 AND received_at `
	if r.InboxUnapplied, err = t.strings(unapplied+`<= ? ORDER BY id`, micros(graceEnd)); err != nil {
		return err
	}
	r.InboxRetrying, err = t.strings(unapplied+`> ? ORDER BY id`, micros(graceEnd))
	return err
}

func (t *tx) ListMovements(f store.MovementFilter) ([]malipo.Movement, error) {
	where, args := []string{"p.account = ?"}, []any{string(f.Account)}
	if f.StartingAfter != "" {
		where, args = append(where, "p.entry_id < ?"), append(args, f.StartingAfter)
	}
	if !f.CreatedFrom.IsZero() {
		where, args = append(where, "e.created_at >= ?"), append(args, micros(f.CreatedFrom))
	}
	if !f.CreatedTo.IsZero() {
		where, args = append(where, "e.created_at <= ?"), append(args, micros(f.CreatedTo))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 10
	}
	rows, err := t.query(`SELECT e.id, e.kind, e.ref_type, e.ref_id, p.account, p.currency, p.amount, e.created_at
		FROM postings p JOIN ledger_entries e ON e.id = p.entry_id WHERE `+strings.Join(where, " AND ")+`
		ORDER BY p.entry_id DESC, p.seq DESC LIMIT ?`, append(args, limit)...) // in postings_account_entry's order
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (malipo.Movement, error) {
		var m malipo.Movement
		var account, currency string
		var created int64
		err := r.Scan(&m.EntryID, &m.Kind, &m.RefType, &m.RefID, &account, &currency, &m.Amount, &created)
		m.Account, m.Currency, m.CreatedAt = malipo.Account(account), malipo.Currency(currency), fromMicros(created)
		return m, err
	})
}

func (t *tx) SumMovementsSince(account malipo.Account, entryID string) (int64, error) {
	var n sql.NullInt64
	err := t.row(`SELECT SUM(p.amount) FROM postings p WHERE p.account = ? AND p.entry_id >= ?`, string(account), entryID).Scan(&n)
	return n.Int64, err
}

func (t *tx) ListEntries(refID string) ([]malipo.Entry, error) {
	rows, err := t.query(`SELECT e.id, e.kind, e.ref_type, e.ref_id, e.created_at, p.account, p.currency, p.amount
		FROM ledger_entries e JOIN postings p ON p.entry_id = e.id WHERE e.ref_id = ? ORDER BY e.id, p.seq`, refID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []malipo.Entry
	for rows.Next() {
		var e malipo.Entry
		var p malipo.Posting
		var account, currency string
		var created int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.RefType, &e.RefID, &created, &account, &currency, &p.Amount); err != nil {
			return nil, err
		}
		p.Account, p.Currency = malipo.Account(account), malipo.Currency(currency)
		if n := len(out); n > 0 && out[n-1].ID == e.ID {
			out[n-1].Postings = append(out[n-1].Postings, p)
			continue
		}
		e.CreatedAt, e.Postings = fromMicros(created), []malipo.Posting{p}
		out = append(out, e)
	}
	return out, rows.Err()
}
