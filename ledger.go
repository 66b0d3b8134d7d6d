package malipo

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Account names a ledger account. Balances are derived from postings, never
// edited. Sign convention: a positive balance is money Malipo owes the
// account holder (a merchant's funds, the fees Malipo earned); a clearing
// account goes negative by what a rail owes Malipo.
type Account string

// Accounts are named owner:…:bucket:currency and always carry the mode, so
// test money and live money can never meet in one account.

// MerchantAvailable is the merchant's spendable balance in currency c.
func MerchantAvailable(merchantID string, m Mode, c Currency) Account {
	return Account(fmt.Sprintf("merchant:%s:%s:available:%s", merchantID, m, c))
}

// MerchantPending is the merchant's collected but not yet settled balance.
func MerchantPending(merchantID string, m Mode, c Currency) Account {
	return Account(fmt.Sprintf("merchant:%s:%s:pending:%s", merchantID, m, c))
}

// RailClearing is the account a rail's collections pass through.
func RailClearing(rail string, m Mode, c Currency) Account {
	return Account(fmt.Sprintf("rail:%s:%s:clearing:%s", rail, m, c))
}

// Fees is where Malipo's fees in currency c accumulate.
func Fees(m Mode, c Currency) Account { return Account(fmt.Sprintf("fees:%s:fees:%s", m, c)) }

// Posting is one line of a ledger entry: an amount in minor units added to
// (positive) or taken from (negative) an account.
type Posting struct {
	Account  Account
	Currency Currency
	Amount   int64
}

// Entry is a balanced set of postings recording one money movement. An
// entry refers to the object that caused it (a payment, a payout).
type Entry struct {
	ID        string
	Kind      string // "payment", "payout", ...
	RefType   string
	RefID     string
	Postings  []Posting
	CreatedAt time.Time
}

// Validate checks that the entry has postings, no zero or out-of-range
// amounts, and sums to zero in each currency.
func (e Entry) Validate() error {
	if len(e.Postings) < 2 {
		return fmt.Errorf("ledger entry %s has %d postings, want at least 2", e.ID, len(e.Postings))
	}
	sums := map[Currency]int64{}
	for _, p := range e.Postings {
		if p.Amount == 0 || p.Amount > MaxAmount || p.Amount < -MaxAmount {
			return fmt.Errorf("ledger entry %s: posting to %s has amount %d", e.ID, p.Account, p.Amount)
		}
		if p.Account == "" || p.Currency == "" {
			return fmt.Errorf("ledger entry %s: posting without account or currency", e.ID)
		}
		sums[p.Currency] += p.Amount
	}
	for c, s := range sums {
		if s != 0 {
			return fmt.Errorf("ledger entry %s does not balance in %s: sum %d", e.ID, c, s)
		}
	}
	return nil
}

// PaymentEntry records a succeeded payment: the rail's clearing account
// gives the full amount; the merchant receives it less the fee, which goes
// to the fees account. Postings with zero amounts are left out.
func PaymentEntry(id string, p Payment, rail string, now time.Time) Entry {
	e := Entry{ID: id, Kind: "payment", RefType: "payment", RefID: p.ID, CreatedAt: now}
	e.Postings = append(e.Postings,
		Posting{Account: RailClearing(rail, p.Mode, p.Currency), Currency: p.Currency, Amount: -p.Amount})
	if net := p.Amount - p.Fee; net != 0 {
		e.Postings = append(e.Postings,
			Posting{Account: MerchantAvailable(p.MerchantID, p.Mode, p.Currency), Currency: p.Currency, Amount: net})
	}
	if p.Fee != 0 {
		e.Postings = append(e.Postings, Posting{Account: Fees(p.Mode, p.Currency), Currency: p.Currency, Amount: p.Fee})
	}
	sort.SliceStable(e.Postings, func(i, j int) bool { return e.Postings[i].Account < e.Postings[j].Account })
	return e
}

// Balance is a merchant's money in one currency.
type Balance struct {
	Currency  Currency
	Available int64
	Pending   int64
}

// AuditReport is what the ledger checker found; it is clean when every list
// is empty.
type AuditReport struct {
	Entries          int      // entries checked
	Accounts         int      // accounts checked
	Payments         int      // succeeded payments checked
	UnbalancedEntry  []string // entries whose postings do not sum to zero
	BalanceMismatch  []string // accounts whose stored balance differs from their postings
	PaymentNotPosted []string // succeeded payments with no ledger entry, or more than one
	PostedNotPaid    []string // payment entries for payments that did not succeed
}

// Clean reports whether the audit found nothing wrong.
func (r AuditReport) Clean() bool {
	return len(r.UnbalancedEntry)+len(r.BalanceMismatch)+len(r.PaymentNotPosted)+len(r.PostedNotPaid) == 0
}

// Owner returns the merchant the account belongs to ("" for Malipo's own
// accounts), its mode and its bucket: available, pending, clearing or fees.
func (a Account) Owner() (merchantID string, mode Mode, bucket string) {
	parts := strings.Split(string(a), ":")
	if len(parts) == 5 && parts[0] == "merchant" {
		return parts[1], Mode(parts[2]), parts[3]
	}
	if len(parts) >= 4 {
		return "", Mode(parts[len(parts)-3]), parts[len(parts)-2]
	}
	return "", "", ""
}
