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

// MerchantReserved holds money set aside for payouts and refunds under way.
func MerchantReserved(merchantID string, m Mode, c Currency) Account {
	return Account(fmt.Sprintf("merchant:%s:%s:reserved:%s", merchantID, m, c))
}

// SandboxFunding is where test-mode top-ups come from.
func SandboxFunding(c Currency) Account {
	return Account(fmt.Sprintf("sandbox:%s:funding:%s", ModeTest, c))
}

// RailClearing is the account a rail's collections pass through.
func RailClearing(rail string, m Mode, c Currency) Account {
	return Account(fmt.Sprintf("rail:%s:%s:clearing:%s", rail, m, c))
}

// Suspense holds money a rail reported that no payment, payout or refund
// could take: it is surfaced by the audit until a person resolves it.
func Suspense(m Mode, c Currency) Account {
	return Account(fmt.Sprintf("suspense:%s:suspense:%s", m, c))
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

// Entry kinds: at most one entry of each kind per object.
const (
	EntryPayment       = "payment"        // a collection: rail clearing → merchant (pending or available) + fees
	EntrySettlement    = "settlement"     // a collection's pending → available
	EntryPayoutReserve = "payout_reserve" // available → reserved, at creation
	EntryPayout        = "payout"         // reserved → rail clearing + fees, on success
	EntryPayoutRelease = "payout_release" // reserved → available, on failure
	EntryTransfer      = "transfer"       // available → another merchant's available + fees, at once
	EntryRefundReserve = "refund_reserve"
	EntryRefund        = "refund"
	EntryRefundRelease = "refund_release"
	EntryTopup         = "topup"     // test mode: sandbox funding → available
	EntryUnmatched     = "unmatched" // rail clearing ↔ suspense: money no object could take
)

// NewEntry builds an entry from postings, leaving out zero amounts and
// sorting by account so that accounts are always locked in one order.
func NewEntry(id, kind, refType, refID string, now time.Time, postings ...Posting) Entry {
	e := Entry{ID: id, Kind: kind, RefType: refType, RefID: refID, CreatedAt: now}
	for _, p := range postings {
		if p.Amount != 0 {
			e.Postings = append(e.Postings, p)
		}
	}
	sort.SliceStable(e.Postings, func(i, j int) bool { return e.Postings[i].Account < e.Postings[j].Account })
	return e
}

// PaymentEntry records a succeeded payment: the rail's clearing account
// gives the full amount; the merchant receives it less the fee, which goes
// to the fees account. The merchant's share lands in pending when the
// payment settles later, else in available.
func PaymentEntry(id string, p Payment, rail string, pending bool, now time.Time) Entry {
	to := MerchantAvailable(p.MerchantID, p.Mode, p.Currency)
	if pending {
		to = MerchantPending(p.MerchantID, p.Mode, p.Currency)
	}
	return NewEntry(id, EntryPayment, "payment", p.ID, now,
		Posting{Account: RailClearing(rail, p.Mode, p.Currency), Currency: p.Currency, Amount: -p.Amount},
		Posting{Account: to, Currency: p.Currency, Amount: p.Amount - p.Fee},
		Posting{Account: Fees(p.Mode, p.Currency), Currency: p.Currency, Amount: p.Fee})
}

// SettlementEntry moves a payment's net amount from pending to available.
func SettlementEntry(id string, p Payment, now time.Time) Entry {
	net := p.Amount - p.Fee
	return NewEntry(id, EntrySettlement, "payment", p.ID, now,
		Posting{Account: MerchantPending(p.MerchantID, p.Mode, p.Currency), Currency: p.Currency, Amount: -net},
		Posting{Account: MerchantAvailable(p.MerchantID, p.Mode, p.Currency), Currency: p.Currency, Amount: net})
}

// reserve moves amount between a merchant's available and reserved
// balances: forward sets it aside, backward releases it.
func reserve(id, kind, refType, refID, merchant string, m Mode, c Currency, amount int64, forward bool, now time.Time) Entry {
	if !forward {
		amount = -amount
	}
	return NewEntry(id, kind, refType, refID, now,
		Posting{Account: MerchantAvailable(merchant, m, c), Currency: c, Amount: -amount},
		Posting{Account: MerchantReserved(merchant, m, c), Currency: c, Amount: amount})
}

// PayoutReserveEntry sets a payout's amount and fee aside.
func PayoutReserveEntry(id string, p Payout, now time.Time) Entry {
	return reserve(id, EntryPayoutReserve, "payout", p.ID, p.MerchantID, p.Mode, p.Currency, p.Amount+p.Fee, true, now)
}

// PayoutReleaseEntry gives a failed payout's reservation back.
func PayoutReleaseEntry(id string, p Payout, now time.Time) Entry {
	return reserve(id, EntryPayoutRelease, "payout", p.ID, p.MerchantID, p.Mode, p.Currency, p.Amount+p.Fee, false, now)
}

// PayoutEntry records a payout the rail made: the reservation goes to the
// rail (the amount) and to Malipo (the fee).
func PayoutEntry(id string, p Payout, rail string, now time.Time) Entry {
	return NewEntry(id, EntryPayout, "payout", p.ID, now,
		Posting{Account: MerchantReserved(p.MerchantID, p.Mode, p.Currency), Currency: p.Currency, Amount: -(p.Amount + p.Fee)},
		Posting{Account: RailClearing(rail, p.Mode, p.Currency), Currency: p.Currency, Amount: p.Amount},
		Posting{Account: Fees(p.Mode, p.Currency), Currency: p.Currency, Amount: p.Fee})
}

// TransferEntry moves money between two merchants at once.
func TransferEntry(id string, p Payout, now time.Time) Entry {
	return NewEntry(id, EntryTransfer, "payout", p.ID, now,
		Posting{Account: MerchantAvailable(p.MerchantID, p.Mode, p.Currency), Currency: p.Currency, Amount: -(p.Amount + p.Fee)},
		Posting{Account: MerchantAvailable(p.Destination.Account, p.Mode, p.Currency), Currency: p.Currency, Amount: p.Amount},
		Posting{Account: Fees(p.Mode, p.Currency), Currency: p.Currency, Amount: p.Fee})
}

// RefundReserveEntry sets a refund's amount aside.
func RefundReserveEntry(id string, r Refund, now time.Time) Entry {
	return reserve(id, EntryRefundReserve, "refund", r.ID, r.MerchantID, r.Mode, r.Currency, r.Amount, true, now)
}

// RefundReleaseEntry gives a failed refund's reservation back.
func RefundReleaseEntry(id string, r Refund, now time.Time) Entry {
	return reserve(id, EntryRefundRelease, "refund", r.ID, r.MerchantID, r.Mode, r.Currency, r.Amount, false, now)
}

// RefundEntry records a refund the rail paid back to the customer.
func RefundEntry(id string, r Refund, rail string, now time.Time) Entry {
	return NewEntry(id, EntryRefund, "refund", r.ID, now,
		Posting{Account: MerchantReserved(r.MerchantID, r.Mode, r.Currency), Currency: r.Currency, Amount: -r.Amount},
		Posting{Account: RailClearing(rail, r.Mode, r.Currency), Currency: r.Currency, Amount: r.Amount})
}

// TopupEntry credits a test merchant from the sandbox's funding account.
func TopupEntry(id, merchantID string, c Currency, amount int64, now time.Time) Entry {
	return NewEntry(id, EntryTopup, "topup", id, now,
		Posting{Account: SandboxFunding(c), Currency: c, Amount: -amount},
		Posting{Account: MerchantAvailable(merchantID, ModeTest, c), Currency: c, Amount: amount})
}

// UnmatchedEntry parks money a rail reported for no object that could take
// it: a collection (in) is owed by the rail's clearing account to
// suspense; money sent out (a payout or refund the books had given back)
// is owed by suspense to the clearing account.
func UnmatchedEntry(id, inboxID, rail string, m Mode, c Currency, amount int64, in bool, now time.Time) Entry {
	if !in {
		amount = -amount
	}
	return NewEntry(id, EntryUnmatched, "inbox", inboxID, now,
		Posting{Account: RailClearing(rail, m, c), Currency: c, Amount: -amount},
		Posting{Account: Suspense(m, c), Currency: c, Amount: amount})
}

// Balance is a merchant's money in one currency.
type Balance struct {
	Currency  Currency
	Available int64 // spendable now
	Pending   int64 // collected, not yet settled
	Reserved  int64 // set aside for payouts and refunds under way
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
	NegativeBalance  []string // merchant accounts below zero
	PayoutNotPosted  []string // payouts whose entries do not match their status
	RefundNotPosted  []string // refunds whose entries do not match their status
	Payouts, Refunds int      // payouts and refunds checked
	// Inbox counts the rail outcomes checked; InboxUnapplied lists those
	// not applied within a grace after they came (the gateway's is a
	// minute) and InboxConflicting those that contradict an earlier
	// verdict: both need looking at. InboxRetrying lists those not applied
	// yet that came within the grace: their first application failed and
	// they wait for a retry, due in seconds. They do not make the audit
	// dirty (a database's hiccup a moment before an audit is no fault of
	// the ledger's), unless they are still there once the grace is over.
	Inbox            int
	InboxUnapplied   []string
	InboxConflicting []string
	InboxRetrying    []string
	// Suspense lists the suspense accounts that are not zero, with their
	// balances ("suspense:live:suspense:XOF 5000"): money waiting for a
	// person to decide where it belongs. It does not make the audit dirty.
	Suspense []string
}

// AuditProblem is one kind of problem the audit looks for, and what it
// found of that kind.
type AuditProblem struct {
	// Code names the kind for good ("unbalanced_entry"): views in other
	// languages key their labels by it.
	Code string
	What string   // "entries that do not balance"
	IDs  []string // what has it; empty if nothing does
}

// Problems lists every kind of problem the audit looks for, found or not,
// always in the same order: every view of an audit (malipo verify, the
// operator's dashboard) reads it from here, so none can leave a kind out.
func (r AuditReport) Problems() []AuditProblem {
	return []AuditProblem{
		{"unbalanced_entry", "entries that do not balance", r.UnbalancedEntry},
		{"balance_mismatch", "accounts whose balance differs from their postings", r.BalanceMismatch},
		{"payment_not_posted", "succeeded payments not posted exactly once", r.PaymentNotPosted},
		{"posted_not_paid", "payment entries without a succeeded payment of that amount", r.PostedNotPaid},
		{"negative_balance", "merchant balances below zero", r.NegativeBalance},
		{"payout_not_posted", "payouts whose entries do not match their status", r.PayoutNotPosted},
		{"refund_not_posted", "refunds whose entries do not match their status", r.RefundNotPosted},
		{"inbox_unapplied", "rail outcomes not applied within a minute", r.InboxUnapplied},
		{"inbox_conflicting", "rail outcomes contradicting an earlier verdict", r.InboxConflicting},
	}
}

// Clean reports whether the audit found nothing wrong.
func (r AuditReport) Clean() bool {
	for _, p := range r.Problems() {
		if len(p.IDs) > 0 {
			return false
		}
	}
	return true
}

// Currency is the currency the account holds: the last part of its name.
func (a Account) Currency() string {
	s := string(a)
	return s[strings.LastIndexByte(s, ':')+1:]
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

// Movement is one posting to an account, as a statement shows it: which
// entry moved the money, for what, and the account's balance after it.
type Movement struct {
	EntryID      string
	Kind         string // the entry's kind: "payment", "payout", "refund", "topup" …
	RefType      string
	RefID        string
	Account      Account
	Currency     Currency
	Amount       int64 // positive: in, negative: out
	BalanceAfter int64
	CreatedAt    time.Time
}
