package sqlstore

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// Payouts.

const payoutColumns = `id, merchant_id, integration_id, mode, amount, fee, currency, reference, destination_type,
	destination_account, destination_name, destination_operator, destination_reference, narration, status, failure_code,
	failure_reason, rail_reference, created_at, updated_at, completed_at`

func scanPayout(r interface{ Scan(...any) error }) (malipo.Payout, error) {
	var p malipo.Payout
	var mode, currency, dtype, status string
	var created, updated, completed int64
	err := r.Scan(&p.ID, &p.MerchantID, &p.IntegrationID, &mode, &p.Amount, &p.Fee, &currency, &p.Reference, &dtype,
		&p.Destination.Account, &p.Destination.Name, &p.Destination.Operator, &p.Destination.AccountReference, &p.Narration,
		&status, &p.FailureCode, &p.FailureReason, &p.RailReference, &created, &updated, &completed)
	p.Mode, p.Currency, p.Destination.Type, p.Status = malipo.Mode(mode), malipo.Currency(currency), malipo.DestinationType(dtype), malipo.PayoutStatus(status)
	p.CreatedAt, p.UpdatedAt, p.CompletedAt = fromMicros(created), fromMicros(updated), fromMicros(completed)
	return p, err
}

func (t *tx) CreatePayout(p malipo.Payout) error {
	t.spend.forget(p)
	// Held for the batch (see later.go).
	return t.insertLater(laterPayouts, rowExists(malipo.CodeReferenceInUse, fmt.Sprintf("a payout with reference %q already exists", p.Reference)),
		p.ID, p.MerchantID, p.IntegrationID, string(p.Mode), p.Amount, p.Fee, string(p.Currency), p.Reference, string(p.Destination.Type),
		p.Destination.Account, p.Destination.Name, p.Destination.Operator, p.Destination.AccountReference, p.Narration,
		string(p.Status), p.FailureCode, p.FailureReason, p.RailReference, micros(p.CreatedAt), micros(p.UpdatedAt), micros(p.CompletedAt))
}

func (t *tx) GetPayout(id string) (malipo.Payout, error) {
	if p, ok := take(t.hintedPayouts, id); ok {
		return p, nil
	}
	p, err := scanPayout(t.row(`SELECT `+payoutColumns+` FROM payouts WHERE id = ?`+t.lock(), id))
	return p, notFound(err, "payout")
}

func (t *tx) PayoutByReference(integrationID, reference string) (malipo.Payout, error) {
	if p, found := t.spend.reference(integrationID, reference); found {
		if p == nil {
			return malipo.Payout{}, notFound(sql.ErrNoRows, "payout")
		}
		return *p, nil
	}
	p, err := scanPayout(t.row(`SELECT `+payoutColumns+` FROM payouts WHERE integration_id = ? AND reference = ?`, integrationID, reference))
	return p, notFound(err, "payout")
}

// UpdatePayout holds the update for the batch (see later.go).
func (t *tx) UpdatePayout(p malipo.Payout) error {
	t.spend.forget(p)
	return t.insertLater(laterPayoutUpdates, nil, p.ID, string(p.Status), p.FailureCode, p.FailureReason, p.RailReference,
		micros(p.UpdatedAt), micros(p.CompletedAt), p.Destination.Operator)
}

// payoutUpdates are the columns UpdatePayout writes, in its order.
var payoutUpdates = []column{
	{"id", "TEXT"}, {"status", "TEXT"}, {"failure_code", "TEXT"}, {"failure_reason", "TEXT"}, {"rail_reference", "TEXT"},
	{"updated_at", "BIGINT"}, {"completed_at", "BIGINT"}, {"destination_operator", "TEXT"},
}

func (t *tx) ListPayouts(f store.PayoutFilter) ([]malipo.Payout, error) {
	where := []string{"merchant_id = ?", "mode = ?"}
	args := []any{f.MerchantID, string(f.Mode)}
	if f.Reference != "" {
		where, args = append(where, "reference = ?"), append(args, f.Reference)
	}
	where, args = createdBetween(where, args, f.CreatedFrom, f.CreatedTo)
	rows, err := t.newestFirst(payoutColumns, "payouts", where, args, f.StartingAfter, f.Limit, 10)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanPayout)
}

func (t *tx) CountPayoutsTo(integrationID, account string, since time.Time) (int, error) {
	if n, ok := t.spend.count(integrationID, account, since); ok {
		return n, nil
	}
	var n int
	err := t.row(countPayoutsTo, integrationID, account, micros(since)).Scan(&n)
	return n, err
}

// Refunds.

const refundColumns = `id, payment_id, merchant_id, integration_id, mode, amount, currency, reason, status, failure_code,
	failure_reason, rail_reference, created_at, updated_at, completed_at`

func scanRefund(r interface{ Scan(...any) error }) (malipo.Refund, error) {
	var f malipo.Refund
	var mode, currency, status string
	var created, updated, completed int64
	err := r.Scan(&f.ID, &f.PaymentID, &f.MerchantID, &f.IntegrationID, &mode, &f.Amount, &currency, &f.Reason, &status,
		&f.FailureCode, &f.FailureReason, &f.RailReference, &created, &updated, &completed)
	f.Mode, f.Currency, f.Status = malipo.Mode(mode), malipo.Currency(currency), malipo.RefundStatus(status)
	f.CreatedAt, f.UpdatedAt, f.CompletedAt = fromMicros(created), fromMicros(updated), fromMicros(completed)
	return f, err
}

// CreateRefund holds the row for the batch (see later.go).
func (t *tx) CreateRefund(f malipo.Refund) error {
	return t.insertLater(laterRefunds, rowExists("refund_exists", "refund already exists"),
		f.ID, f.PaymentID, f.MerchantID, f.IntegrationID, string(f.Mode), f.Amount, string(f.Currency), f.Reason, string(f.Status),
		f.FailureCode, f.FailureReason, f.RailReference, micros(f.CreatedAt), micros(f.UpdatedAt), micros(f.CompletedAt))
}

func (t *tx) GetRefund(id string) (malipo.Refund, error) {
	if f, ok := take(t.hintedRefunds, id); ok {
		return f, nil
	}
	f, err := scanRefund(t.row(`SELECT `+refundColumns+` FROM refunds WHERE id = ?`+t.lock(), id))
	return f, notFound(err, "refund")
}

// UpdateRefund holds the update for the batch (see later.go).
func (t *tx) UpdateRefund(f malipo.Refund) error {
	return t.insertLater(laterRefundUpdates, nil, f.ID, string(f.Status), f.FailureCode, f.FailureReason, f.RailReference,
		micros(f.UpdatedAt), micros(f.CompletedAt))
}

// refundUpdates are the columns UpdateRefund writes, in its order.
var refundUpdates = []column{
	{"id", "TEXT"}, {"status", "TEXT"}, {"failure_code", "TEXT"}, {"failure_reason", "TEXT"}, {"rail_reference", "TEXT"},
	{"updated_at", "BIGINT"}, {"completed_at", "BIGINT"},
}

func (t *tx) ListRefunds(paymentID string) ([]malipo.Refund, error) {
	rows, err := t.query(`SELECT `+refundColumns+` FROM refunds WHERE payment_id = ? ORDER BY id`, paymentID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRefund)
}

func (t *tx) ClaimUnsettledPayments(now time.Time, limit int) ([]malipo.Payment, error) {
	rows, err := t.query(`SELECT `+paymentColumns+` FROM payments WHERE status = 'succeeded' AND settled_at = 0
		AND available_at <= ? ORDER BY available_at LIMIT ?`+t.db.dialect.ClaimSuffix, micros(now), limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanPayment)
}

func (t *tx) ListMerchantRefunds(f store.RefundFilter) ([]malipo.Refund, error) {
	where := []string{"merchant_id = ?", "mode = ?"}
	args := []any{f.MerchantID, string(f.Mode)}
	where, args = createdBetween(where, args, f.CreatedFrom, f.CreatedTo)
	rows, err := t.newestFirst(refundColumns, "refunds", where, args, f.StartingAfter, f.Limit, 10)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRefund)
}
