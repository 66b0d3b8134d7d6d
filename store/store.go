// Package store declares what the gateway needs from persistence. Its
// interfaces speak only domain types; the sqlite and postgres packages
// implement them and the storetest package holds the conformance suite both
// must pass.
package store

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/malipo/malipo"
)

// Store runs transactions.
type Store interface {
	// Transact runs fn in a write transaction and commits it durably before
	// returning nil. Writes from concurrent callers may share one commit
	// (group commit), so fn may run more than once and must have no effect
	// outside tx; it sees every write committed before it was called. An
	// error from fn undoes everything fn wrote and is returned as is.
	// Hints, if given, name rows fn locks first (see Hint).
	Transact(ctx context.Context, fn func(tx Tx) error, hints ...Hint) error
	// Lease runs fn in a write transaction as Transact does, for leases on
	// work that may safely be done twice (a webhook delivery: receivers
	// get each at least once). Where the engine allows several writers it
	// runs at once in a transaction of its own, outside the group
	// committer, and its commit does not wait to be durable (PostgreSQL's
	// asynchronous commit): a crash may lose it, and then the work is
	// done again. Its writes are seen by everything that starts after it
	// returns, and the next durable commit makes them durable too. With a
	// single writer it is Transact.
	Lease(ctx context.Context, fn func(tx Tx) error) error
	// Read runs fn in a read-only snapshot.
	Read(ctx context.Context, fn func(tx Tx) error) error
	Close() error
}

// Hint names a row a transaction locks and reads by ID before it locks
// anything else, an idempotency key it looks up, or what it checks before
// it spends (Spend). It changes nothing the transaction sees or does. A
// store that runs many callers' transactions as one batch may lock and
// read the hinted rows of them all in one statement at the batch's
// start, instead of a round trip each; a row another transaction holds is
// left out, and read when asked for, as without a hint. A caller alone
// waits for its hinted rows instead.
//
// Why only rows read first: the batch locks hinted rows before anything
// its callers lock, so a row hinted but locked later in its caller's
// order would be taken out of that order. Among themselves, hinted rows
// are locked in the store's order: payments, payouts and refunds, then
// rail attempts, then sandbox transactions. So a caller that locks an
// attempt and its object hints both, or reads the object first, and no
// two callers wait for each other's rows. Idempotency keys are looked up
// without a lock, so a key may be hinted wherever its caller looks it up.
// A spending lock is taken before any row (see LockSpending), and only
// tried where the batch has several callers, so they never wait for one.
type Hint struct {
	// Payment is the ID of a payment read with GetPayment.
	Payment string
	// RailAttempt is the ID of a rail attempt read with GetRailAttempt.
	RailAttempt string
	// Payout and Refund are the IDs of a payout read with GetPayout and
	// of a refund read with GetRefund.
	Payout, Refund string
	// SandboxKey is the key of a sandbox transaction read with
	// GetSandboxTransaction.
	SandboxKey string
	// IdempotencyScope and IdempotencyKey name a key looked up with
	// GetIdempotency.
	IdempotencyScope, IdempotencyKey string
	// Spend names what a payout or a refund checks before it spends.
	Spend Spend
}

// Spend names what a caller reads before it spends a merchant's money,
// in this order: it takes the merchant's spending lock (LockSpending),
// reads the balance it spends from (AccountBalance), looks its reference
// up (PayoutByReference) and counts the payouts to its destination since
// a time (CountPayoutsTo). Empty fields name nothing to read; without a
// MerchantID, nothing is. The balance is read after the lock, so a store
// that reads them ahead takes the lock ahead too.
type Spend struct {
	MerchantID string
	Mode       malipo.Mode
	Balance    malipo.Account
	// IntegrationID scopes Reference and Destination.
	IntegrationID, Reference, Destination string
	Since                                 time.Time
}

// Shedding marks ctx as a request's that may be refused while the store is
// overloaded: its first Transact fails at once with malipo.ErrBusy when
// writes are queueing beyond what commits promptly, or without running
// when it waited in the queue too long to be worth making. Later
// Transacts of the same request always run, so work that follows a rail
// call is never refused. Background work, and requests that report money
// (rails' callbacks), are not marked.
func Shedding(ctx context.Context) context.Context {
	return context.WithValue(ctx, sheddingKey{}, &Shed{})
}

// Shed is a request's mark from Shedding.
type Shed struct{ used atomic.Bool }

type sheddingKey struct{}

// TakeShed returns the mark ctx carries if this is its first Transact,
// else nil.
func TakeShed(ctx context.Context) *Shed {
	s, _ := ctx.Value(sheddingKey{}).(*Shed)
	if s == nil || !s.used.CompareAndSwap(false, true) {
		return nil
	}
	return s
}

// Batch is one batch of writes a group committer ran, as a store that
// batches reports it for metrics (see BatchObserver).
type Batch struct {
	// Writes is how many callers' transactions the batch ran, a caller
	// failing on its own included.
	Writes int
	// Waited is how long its oldest write waited, from its Transact to
	// the batch's start: the queue and the gathering of the batch.
	Waited time.Duration
	// Took is from the batch's start to its commit (or its failure): what
	// the database took.
	Took time.Duration
	// Failed is set when the batch failed as a whole (the database's
	// error, not a caller's own); its writes then run again alone.
	Failed bool
}

// BatchObserver is a store whose committers report each batch they run
// to f, from the committer's goroutine: f must be quick. nil stops the
// reports.
type BatchObserver interface {
	ObserveBatches(f func(Batch))
}

// BatchClock is a store whose committers say how long the batch running
// longest now has run, from its first write taken to its answers (0 if
// none is running). A batch times out within a minute; a figure that
// keeps growing past that is a committer stuck, and every write of the
// node waits behind it.
type BatchClock interface {
	LongestBatch() time.Duration
}

// ErrLeaseLost is SettleDelivery's answer when the delivery moved on
// since it was leased: another node claimed it, or an attempt was
// recorded.
var ErrLeaseLost = &malipo.Error{Kind: malipo.KindConflict, Code: "lease_lost",
	Message: "the delivery was claimed or attempted by another since it was leased"}

// Tx is the work a transaction can do. Lookups that find nothing return an
// error of kind not_found; writes that break a uniqueness rule return kind
// conflict.
type Tx interface {
	// AfterCommit asks for f to run once the transaction function's work
	// has committed: in the caller's goroutine, just before Transact,
	// Lease or Read returns nil (a read commits nothing, but ends). A run
	// of the function that is undone, because it failed or its batch runs
	// again, forgets what it asked; f runs at most once. Work that must
	// follow a write, but must not happen if the write does not (handing
	// a just-written delivery to this node's dispatcher), goes here.
	AfterCommit(f func())

	CreateMerchant(m malipo.Merchant) error
	GetMerchant(id string) (malipo.Merchant, error)
	CountMerchants() (int, error)
	UpdateMerchant(m malipo.Merchant) error

	// ListMerchants lists merchants, newest first.
	ListMerchants(f MerchantFilter) ([]malipo.Merchant, error)

	CreateIntegration(i malipo.Integration) error
	GetIntegration(id string) (malipo.Integration, error)
	// UpdateIntegration writes an integration's settings: its config,
	// notify URL and rules.
	UpdateIntegration(i malipo.Integration) error
	// ListIntegrations lists a merchant's integrations, oldest first.
	ListIntegrations(merchantID string) ([]malipo.Integration, error)
	CreateAPIKey(k malipo.APIKey) error
	GetAPIKey(hash string) (malipo.APIKey, error)
	// ListAPIKeys lists an integration's keys (expired ones too), oldest
	// first.
	ListAPIKeys(integrationID string) ([]malipo.APIKey, error)
	// ExpireAPIKeys makes every key of the integration but except stop
	// working at at, unless it stops sooner already.
	ExpireAPIKeys(integrationID string, at time.Time, except string) error
	// ExpireAPIKey makes one key stop working at at.
	ExpireAPIKey(hash string, at time.Time) error

	// CreateUser fails with kind conflict, code email_in_use, when the
	// email is taken.
	CreateUser(u malipo.User) error
	GetUser(id string) (malipo.User, error)
	UserByEmail(email string) (malipo.User, error)
	UpdateUser(u malipo.User) error
	// ListUsers lists a merchant's users ("" for operators) by email.
	ListUsers(merchantID string) ([]malipo.User, error)
	CreateSession(s malipo.Session) error
	GetSession(hash string) (malipo.Session, error)
	UpdateSession(s malipo.Session) error
	// RevokeSessions ends every session of a user, at (Unix µs).
	RevokeSessions(userID string, at int64) error

	// CreatePayment fails with kind conflict, code reference_in_use, when
	// the integration already has a payment with that reference.
	CreatePayment(p malipo.Payment) error
	// GetPayment reads a payment; in a write transaction it also locks it
	// until commit.
	GetPayment(id string) (malipo.Payment, error)
	PaymentByReference(integrationID, reference string) (malipo.Payment, error)
	UpdatePayment(p malipo.Payment) error
	ListPayments(f PaymentFilter) ([]malipo.Payment, error)
	// PaymentStats counts a merchant's payments in a mode and currency
	// created at or after from and before until, per UTC day (days without
	// payments left out), and its failures by code and operator, most
	// frequent first.
	PaymentStats(merchantID string, mode malipo.Mode, c malipo.Currency, from, until time.Time) ([]malipo.DayStats, []malipo.FailureStats, error)
	// ClaimExpiredPayments locks up to limit unfinished payments whose
	// expiry is at or before now and whose rail call, if any, has been
	// recorded (InFlightUntil at or before now), skipping rows another
	// node holds.
	ClaimExpiredPayments(now time.Time, limit int) ([]malipo.Payment, error)

	// PostEntry records a validated, balanced ledger entry and updates the
	// balances of its accounts. An entry of the same kind for the same
	// object already posted is a conflict.
	PostEntry(e malipo.Entry) error
	// Balances lists the merchant's balances in mode, one per currency,
	// including what this transaction posted.
	Balances(merchantID string, mode malipo.Mode) ([]malipo.Balance, error)
	// AccountBalance reads an account's balance, including what this
	// transaction posted. It locks nothing: see LockSpending.
	AccountBalance(a malipo.Account) (int64, error)
	// ListMovements lists an account's postings, newest first (by
	// entry), BalanceAfter left zero.
	ListMovements(f MovementFilter) ([]malipo.Movement, error)
	// ListEntries lists the ledger entries that refer to one object (a
	// payment, payout or refund), oldest first, with their postings.
	ListEntries(refID string) ([]malipo.Entry, error)
	// SumMovementsSince sums an account's postings in entryID and every
	// entry after it.
	SumMovementsSince(account malipo.Account, entryID string) (int64, error)
	// LockSpending keeps every other transaction from spending the
	// merchant's money in mode until this one ends. A transaction that
	// checks a balance before taking money out of it calls LockSpending
	// first, before it locks anything else; money coming in needs no lock.
	LockSpending(merchantID string, mode malipo.Mode) error
	// Audit checks the ledger against itself and against payments. Rail
	// outcomes not applied yet count as unapplied if they came at or
	// before graceEnd, and as retrying if they came after it.
	Audit(graceEnd time.Time) (malipo.AuditReport, error)

	// CreatePayout fails with kind conflict, code reference_in_use, when
	// the integration already has a payout with that reference.
	CreatePayout(p malipo.Payout) error
	// GetPayout reads a payout; in a write transaction it also locks it.
	GetPayout(id string) (malipo.Payout, error)
	PayoutByReference(integrationID, reference string) (malipo.Payout, error)
	UpdatePayout(p malipo.Payout) error
	ListPayouts(f PayoutFilter) ([]malipo.Payout, error)
	// CountPayoutsTo counts the integration's payouts to a destination
	// account created after since that have not failed.
	CountPayoutsTo(integrationID, account string, since time.Time) (int, error)

	CreateRefund(r malipo.Refund) error
	// GetRefund reads a refund; in a write transaction it also locks it.
	GetRefund(id string) (malipo.Refund, error)
	UpdateRefund(r malipo.Refund) error
	// ListMerchantRefunds lists a merchant's refunds in a mode, newest
	// first.
	ListMerchantRefunds(f RefundFilter) ([]malipo.Refund, error)
	// ListRefunds lists a payment's refunds, oldest first.
	ListRefunds(paymentID string) ([]malipo.Refund, error)
	// ClaimUnsettledPayments locks up to limit succeeded payments still
	// pending whose money becomes available at or before now.
	ClaimUnsettledPayments(now time.Time, limit int) ([]malipo.Payment, error)

	// CreateRailAttempt records an attempt; its ID is unique.
	CreateRailAttempt(a malipo.RailAttempt) error
	// GetRailAttempt reads an attempt; in a write transaction it also
	// locks it.
	GetRailAttempt(id string) (malipo.RailAttempt, error)
	UpdateRailAttempt(a malipo.RailAttempt) error
	// ListRailAttempts lists an object's attempts, oldest first.
	ListRailAttempts(objectID string) ([]malipo.RailAttempt, error)
	// ClaimDueRailAttempts locks up to limit attempts without a verdict
	// whose next check is at or before now, skipping rows another node
	// holds.
	ClaimDueRailAttempts(now time.Time, limit int) ([]malipo.RailAttempt, error)

	CreateInboxItem(i malipo.InboxItem) error
	// GetInboxItem reads an item; in a write transaction it also locks it.
	GetInboxItem(id string) (malipo.InboxItem, error)
	UpdateInboxItem(i malipo.InboxItem) error
	// ListInbox lists the outcomes reported for an attempt, oldest first.
	ListInbox(attemptID string) ([]malipo.InboxItem, error)
	// ClaimUnappliedInbox locks up to limit items not applied yet whose
	// retry is due at or before now, the longest due first, skipping rows
	// another node holds.
	ClaimUnappliedInbox(now time.Time, limit int) ([]malipo.InboxItem, error)

	// CreateSandboxTransaction records what the sandbox rails were given;
	// a key already recorded is a conflict.
	CreateSandboxTransaction(st SandboxTransaction) error
	// GetSandboxTransaction reads one; in a write transaction it also
	// locks it.
	GetSandboxTransaction(key string) (SandboxTransaction, error)
	UpdateSandboxTransaction(st SandboxTransaction) error
	// ClaimDueSandboxTransactions locks up to limit transactions whose
	// answer is due at or before now and not yet reported, skipping rows
	// another node holds.
	ClaimDueSandboxTransactions(now time.Time, limit int) ([]SandboxTransaction, error)

	// CreateRail records a live rail; a name already taken is a conflict.
	CreateRail(r malipo.Rail) error
	// UpdateRail changes a rail's routes, position or sealed configuration.
	UpdateRail(r malipo.Rail) error
	// ListRails lists the rails of every mode, by position then name.
	ListRails() ([]malipo.Rail, error)

	CreateEvent(e malipo.Event) error
	GetEvent(id string) (malipo.Event, error)
	// GetEvents reads the events with these IDs, in no particular order,
	// in as few statements as it can; an ID of no event is left out.
	GetEvents(ids []string) ([]malipo.Event, error)
	ListEvents(f EventFilter) ([]malipo.Event, error)

	CreateEndpoint(e malipo.Endpoint) error
	GetEndpoint(id string) (malipo.Endpoint, error)
	UpdateEndpoint(e malipo.Endpoint) error
	DeleteEndpoint(id string) error
	// ListEndpoints lists a merchant's endpoints in mode, disabled ones too.
	ListEndpoints(merchantID string, mode malipo.Mode) ([]malipo.Endpoint, error)

	CreateDelivery(d malipo.Delivery) error
	GetDelivery(id string) (malipo.Delivery, error)
	UpdateDelivery(d malipo.Delivery) error
	// SettleDelivery writes an attempt's outcome to a leased delivery (its
	// status, attempts, next attempt and update time) only if it is still
	// pending under d.Lease with one attempt fewer than d.Attempts: nobody
	// has claimed it or recorded an attempt since. Otherwise it fails
	// with ErrLeaseLost. It may be written as the transaction commits, so
	// that error may come from Transact instead.
	SettleDelivery(d malipo.Delivery) error
	ListDeliveries(eventID string) ([]malipo.Delivery, error)
	// LeaseDueDeliveries takes up to limit pending deliveries due at or
	// before now, oldest first, skipping rows another node holds, and
	// leases them in the same statement: each is due again at until (if
	// its holder records nothing by then) under the next lease number. It
	// returns them as leased, each with its event, in no particular order.
	// Deliveries to the receivers in except (a URL's scheme and host, in
	// lower case, as "https://shop.example") are left alone, and then the
	// newest due are taken first: those receivers may hold a long backlog
	// of the oldest, which an oldest-first scan would read through.
	LeaseDueDeliveries(now, until time.Time, limit int, except []string) ([]Leased, error)
	// GiveBackDeliveries makes deliveries this transaction leased due
	// again at at, under the next lease number, as if never taken.
	GiveBackDeliveries(ids []string, at time.Time) error
	// Backlog reports what is waiting at now, for an operator's alerts.
	Backlog(now time.Time) (Backlog, error)
	AddAttempt(a malipo.Attempt) error
	ListAttempts(deliveryID string) ([]malipo.Attempt, error)

	CreateCardSetup(s malipo.CardSetup) error
	// GetCardSetup reads a setup; in a write transaction it also locks it.
	GetCardSetup(id string) (malipo.CardSetup, error)
	UpdateCardSetup(s malipo.CardSetup) error
	CreateCardToken(c malipo.CardToken) error
	GetCardToken(id string) (malipo.CardToken, error)
	// ListCardTokens lists a customer's saved cards, oldest first.
	ListCardTokens(merchantID string, mode malipo.Mode, phone string) ([]malipo.CardToken, error)

	GetIdempotency(scope, key string) (Idempotency, error)
	// PutIdempotency fails with kind conflict if the key is taken.
	PutIdempotency(r Idempotency) error
	// SetIdempotencyResult replaces the remembered result of a key, for a
	// request whose answer is completed after its first commit.
	SetIdempotencyResult(scope, key string, result []byte) error
	DeleteIdempotencyBefore(t time.Time) (int, error)
}

// PaymentFilter selects payments of one merchant in one mode, newest first.
type PaymentFilter struct {
	MerchantID    string
	Mode          malipo.Mode
	IntegrationID string // optional
	Reference     *string
	Status        *malipo.PaymentStatus
	// The optional filters below are the dashboard's and the API's.
	Method   malipo.Channel
	Operator string
	Currency malipo.Currency
	// CreatedFrom and CreatedTo bound the creation time (inclusive).
	CreatedFrom, CreatedTo time.Time
	// Search matches a payment's ID or reference exactly, or part of its
	// phone number or of its customer's email or name.
	Search string
	// StartingAfter is a payment ID: list only the payments after it in
	// the list's order (newest first by creation time, then by ID), and
	// none if the merchant has no such payment in this mode.
	StartingAfter string
	Limit         int
}

// MovementFilter selects an account's postings, newest first.
type MovementFilter struct {
	Account                malipo.Account
	CreatedFrom, CreatedTo time.Time // inclusive bounds of the entries' times
	StartingAfter          string    // an entry ID: only older postings
	Limit                  int
}

// RefundFilter selects refunds of one merchant in one mode, newest first.
type RefundFilter struct {
	MerchantID             string
	Mode                   malipo.Mode
	CreatedFrom, CreatedTo time.Time
	StartingAfter          string
	Limit                  int
}

// MerchantFilter selects merchants, newest first.
type MerchantFilter struct {
	Search        string // the ID, or part of the name
	StartingAfter string
	Limit         int
}

// PayoutFilter selects payouts of one merchant in one mode, newest first.
type PayoutFilter struct {
	MerchantID string
	Mode       malipo.Mode
	Reference  string // optional
	// CreatedFrom and CreatedTo bound the creation time (inclusive).
	CreatedFrom, CreatedTo time.Time
	StartingAfter          string
	Limit                  int
}

// EventFilter selects events of one merchant in one mode, newest first.
type EventFilter struct {
	MerchantID string
	Mode       malipo.Mode
	Type       string // optional
	ObjectID   string // optional: the events of one payment, payout or refund
	// CreatedFrom and CreatedTo bound the creation time (inclusive).
	CreatedFrom, CreatedTo time.Time
	StartingAfter          string
	Limit                  int
}

// SandboxTransaction is what the sandbox rails remember of a transaction
// they were given, kept in the store so that a restart finishes it as a
// real operator would.
type SandboxTransaction struct {
	Key       string // the idempotency key the gateway gave
	Kind      string // collection, card, payout or refund
	Reference string // the sandbox's own reference
	// Status is what the rail says of it now (pending, challenge,
	// succeeded, failed, expired, voided); at AnswerAt it becomes Answer,
	// with its failure code and reason, and the answer is reported to the
	// gateway once (Reported).
	Status        string
	Answer        string
	FailureCode   string
	FailureReason string
	Amount        int64
	Currency      malipo.Currency
	AnswerAt      time.Time
	Reported      bool
	CreatedAt     time.Time
}

// Idempotency is the remembered outcome of a request made with an
// idempotency key: the hash of the request and a snapshot of the result.
type Idempotency struct {
	Scope       string // the integration ID
	Key         string
	RequestHash string
	Result      []byte // the result as first returned, encoded by the gateway
	CreatedAt   time.Time
}

// Leased is a delivery as LeaseDueDeliveries leased it, with its event.
type Leased struct {
	malipo.Delivery
	Event malipo.Event
}

// Backlog is what waits in a store: notifications due and not sent (their
// leases run out count as due), and rail attempts without a verdict. The
// oldest times are zero when nothing waits.
type Backlog struct {
	DeliveriesDue       int
	OldestDeliveryDue   time.Time
	AttemptsInFlight    int
	OldestAttemptSentAt time.Time
}
