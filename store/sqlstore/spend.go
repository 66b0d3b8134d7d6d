package sqlstore

import (
	"hash/fnv"
	"slices"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// A payout's checks, read ahead.
//
// A payout takes its merchant's spending lock, then reads the balance it
// spends from, looks its reference up and counts the payouts to its
// destination: four round trips of its own on PostgreSQL, in a batch
// whose callers run one after another, so that a batch of payouts took
// four round trips each before it could commit. Where reads go with the
// BEGIN, a batch whose callers hinted these (store.Spend) takes the
// locks and makes the reads for them all in its first round trip, in
// that order, so each balance is read under its lock.
//
// A reference or a count read ahead is answered once, and forgotten when
// anyone in the batch could have changed it: when a payout of that
// integration and reference, or of that integration and destination, is
// created or updated. A balance is not written before commit (balances
// are added up in the transaction; see balanceDeltas), so the balance
// read ahead plus what the batch has posted is the balance, for as long
// as the transaction holds the lock. Where the batch could not take a
// lock, every caller that takes it fails (LockSpending's errBusy) and is
// run again on its own, as without the hint, before it reads the balance.

// spendAhead is what a batch read ahead for its callers' store.Spend.
type spendAhead struct {
	locked   map[int64]bool            // spending keys tried: whether this transaction holds each
	balances map[malipo.Account]int64  // read after the locks were tried
	refs     map[string]*malipo.Payout // by heldKey(integration, reference); nil where none
	counts   map[string]spendCount     // by heldKey(integration, destination)
}

// spendCount is the count of payouts to a destination since a time.
type spendCount struct {
	since int64 // micros
	n     int
}

// spendingKey is the lock key of a merchant's spending in mode.
func spendingKey(merchantID string, mode malipo.Mode) int64 {
	h := fnv.New64a()
	h.Write([]byte("spending:" + merchantID + ":" + string(mode)))
	return int64(h.Sum64())
}

// countPayoutsTo counts the payouts of an integration to a destination
// since a time that have not failed.
const countPayoutsTo = `SELECT COUNT(*) FROM payouts WHERE integration_id = ? AND destination_account = ? AND created_at > ?
	AND status <> 'failed'`

// readSpends adds to reads those that take the spending locks and make
// the reads the batch's callers hinted (see store.Spend), and returns
// what they fill once they are done. Only where reads go with the BEGIN
// and the dialect has a lock to take: elsewhere each read is a round
// trip whether made ahead or by its caller.
func (t *tx) readSpends(reads *[]read, batch []*unit) *spendAhead {
	d := t.db.dialect
	if !t.readBegins() || d.TryLockKey == "" {
		return nil
	}
	var spends []store.Spend
	for _, u := range batch {
		for _, h := range u.hints {
			s := h.Spend
			if s.MerchantID != "" && checkArgs([]any{s.MerchantID, string(s.Mode), string(s.Balance), s.IntegrationID, s.Reference, s.Destination}) == nil {
				spends = append(spends, s)
			}
		}
	}
	if len(spends) == 0 {
		return nil
	}
	a := &spendAhead{locked: map[int64]bool{}, balances: map[malipo.Account]int64{}, refs: map[string]*malipo.Payout{},
		counts: map[string]spendCount{}}
	// The locks first, in key order; a caller alone waits for its lock,
	// as LockSpending would make it.
	var keys []int64
	for _, s := range spends {
		if k := spendingKey(s.MerchantID, s.Mode); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		a.locked[k] = false
		if t.alone {
			*reads = append(*reads, read{query: d.LockKey, args: []any{k}, each: func(row interface{ Scan(...any) error }) error {
				a.locked[k] = true
				return row.Scan(new(int))
			}})
			continue
		}
		*reads = append(*reads, read{query: d.TryLockKey, args: []any{k}, each: func(row interface{ Scan(...any) error }) error {
			var got bool
			err := row.Scan(&got)
			a.locked[k] = got
			return err
		}})
	}
	var accounts []string
	var refs [][2]string
	for _, s := range spends {
		if _, ok := a.balances[s.Balance]; s.Balance != "" && !ok {
			a.balances[s.Balance] = 0 // no row is a balance of 0
			accounts = append(accounts, string(s.Balance))
		}
		if k := heldKey(s.IntegrationID, s.Reference); s.Reference != "" {
			if _, ok := a.refs[k]; !ok {
				a.refs[k] = nil // none, unless read
				refs = append(refs, [2]string{s.IntegrationID, s.Reference})
			}
		}
		if s.Destination != "" {
			k, since := heldKey(s.IntegrationID, s.Destination), micros(s.Since)
			if c, ok := a.counts[k]; ok && c.since != since {
				continue // two callers, two times: each counts its own
			}
			a.counts[k] = spendCount{since: since}
			*reads = append(*reads, read{query: countPayoutsTo, args: []any{s.IntegrationID, s.Destination, since},
				each: func(row interface{ Scan(...any) error }) error {
					c := a.counts[k]
					err := row.Scan(&c.n)
					a.counts[k] = c
					return err
				}})
		}
	}
	inChunks(accounts, func(in string, args []any) error {
		*reads = append(*reads, read{query: `SELECT account, SUM(amount) FROM balances WHERE account IN (` + in + `) GROUP BY account`,
			args: args,
			each: func(row interface{ Scan(...any) error }) error {
				var name string
				var n int64
				err := row.Scan(&name, &n)
				a.balances[malipo.Account(name)] = n
				return err
			}})
		return nil
	})
	pairsInChunks(refs, func(in string, args []any) {
		*reads = append(*reads, read{query: `SELECT ` + payoutColumns + ` FROM payouts WHERE (integration_id, reference) IN (VALUES ` + in + `)`,
			args: args,
			each: func(row interface{ Scan(...any) error }) error {
				p, err := scanPayout(row)
				a.refs[heldKey(p.IntegrationID, p.Reference)] = &p
				return err
			}})
	})
	return a
}

// lock reports whether the lock on key was tried ahead, and taken.
func (a *spendAhead) lock(key int64) (tried, got bool) {
	if a == nil {
		return false, false
	}
	got, tried = a.locked[key]
	return tried, got
}

// balance is the balance of account read ahead, if it was.
func (a *spendAhead) balance(account malipo.Account) (int64, bool) {
	if a == nil {
		return 0, false
	}
	n, ok := a.balances[account]
	return n, ok
}

// reference takes the payout read ahead by its integration and
// reference: found is false if nothing was read ahead, p nil if none was
// found.
func (a *spendAhead) reference(integrationID, reference string) (p *malipo.Payout, found bool) {
	if a == nil {
		return nil, false
	}
	return take(a.refs, heldKey(integrationID, reference))
}

// count takes the count read ahead of the payouts to destination since.
func (a *spendAhead) count(integrationID, destination string, since time.Time) (int, bool) {
	if a == nil {
		return 0, false
	}
	k := heldKey(integrationID, destination)
	c, ok := a.counts[k]
	if !ok || c.since != micros(since) {
		return 0, false
	}
	delete(a.counts, k)
	return c.n, true
}

// forget drops what was read ahead that p, written, makes stale.
func (a *spendAhead) forget(p malipo.Payout) {
	if a == nil {
		return
	}
	delete(a.refs, heldKey(p.IntegrationID, p.Reference))
	delete(a.counts, heldKey(p.IntegrationID, p.Destination.Account))
}
