package sqlstore

import (
	"strings"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// lockHinted locks and reads the payments, rail attempts, payouts,
// refunds and sandbox transactions the batch's callers hinted they read
// first (see store.Hint), and reads the idempotency keys they hinted they
// look up, in one statement per table for up to exactRows of them, so
// that each caller's GetPayment, GetRailAttempt, GetPayout, GetRefund,
// GetSandboxTransaction and GetIdempotency is answered without a round
// trip of its own. In a batch of several, rows another transaction holds
// are skipped (ClaimSuffix) and read by their caller, as without a hint;
// so are IDs the store would refuse, so that one caller's bad input fails
// only that caller.
//
// A caller alone waits for its hinted rows instead (LockSuffix), in one
// order: payments, payouts and refunds, then rail attempts, then sandbox
// transactions. Why: a caller alone may wait, and must never wait while
// holding a row another caller took in the other order. Skipping a held
// payout but taking its attempt, it would then wait for the payout holding
// the attempt, while the payout's holder, having read the two in the same
// order, waits for the attempt: two nodes finishing one payout deadlocked
// so. Every caller that locks an attempt and its object hints both, or
// reads the object first (a card payment's 3-D Secure reads the payment,
// then its attempt), so this order is theirs.
//
// Where the reads go with the BEGIN (Dialect.BeginWith), even one row is
// read ahead, with what its caller will read next (see readAhead). Else
// only two or more of a table are: one read would only replace one.
func (t *tx) lockHinted(batch []*unit) error {
	least := 2
	if t.readBegins() {
		least = 1
	}
	var payments, attempts, payouts, refunds, sandbox, keys hintedIDs
	for _, u := range batch {
		for _, h := range u.hints {
			payments.add(h.Payment)
			attempts.add(h.RailAttempt)
			payouts.add(h.Payout)
			refunds.add(h.Refund)
			sandbox.add(h.SandboxKey)
			if h.IdempotencyKey != "" && checkArgs([]any{h.IdempotencyScope, h.IdempotencyKey}) == nil {
				keys.put(heldKey(h.IdempotencyScope, h.IdempotencyKey))
			}
		}
	}
	var reads []read
	spend := t.readSpends(&reads, batch)
	if spend == nil && len(payments.ids) < least && len(attempts.ids) < least && len(payouts.ids) < least &&
		len(refunds.ids) < least && len(sandbox.ids) < least && len(keys.ids) < least {
		return nil
	}
	t.hinted = readLocked(t, &reads, payments, least, "payments", "id", paymentColumns, scanPayment, func(p malipo.Payment) string { return p.ID })
	t.hintedPayouts = readLocked(t, &reads, payouts, least, "payouts", "id", payoutColumns, scanPayout, func(p malipo.Payout) string { return p.ID })
	t.hintedRefunds = readLocked(t, &reads, refunds, least, "refunds", "id", refundColumns, scanRefund, func(r malipo.Refund) string { return r.ID })
	t.hintedAttempts = readLocked(t, &reads, attempts, least, "rail_attempts", "id", attemptColumns, scanRailAttempt, func(a malipo.RailAttempt) string { return a.ID })
	sandboxFound := readLocked(t, &reads, sandbox, least, "sandbox_transactions", "key", sandboxColumns, scanSandbox,
		func(s store.SandboxTransaction) string { return s.Key })
	var sandboxThere map[string]bool
	if t.hintSkips() { // else a row not read is not there
		sandboxThere = readThere(&reads, sandbox, least, "sandbox_transactions", "key")
	}
	t.hintedKeys = readKeys(&reads, keys, least)
	var ahead *readAhead
	if t.hinted != nil && t.readBegins() {
		ahead = &readAhead{}
		inChunks(payments.ids, func(in string, args []any) error {
			ahead.add(&reads, `SELECT integration_id FROM payments WHERE id IN (`+in+`)`, `SELECT merchant_id, mode FROM payments WHERE id IN (`+in+`)`, args)
			return nil
		})
	}
	// One round trip for all of them, with the BEGIN, where it can.
	if err := t.readAll(reads...); err != nil {
		return err
	}
	t.spend = spend
	t.hintedSandbox = found(sandbox, sandboxFound, sandboxThere)
	if ahead != nil {
		merchants := make([]endpointsKey, 0, len(t.hinted))
		for _, p := range t.hinted {
			merchants = append(merchants, endpointsKey{p.MerchantID, p.Mode})
		}
		ahead.keep(t, merchants)
	}
	return nil
}

// readAhead holds integrations and webhook endpoints a transaction read
// ahead, for what its callers will read next.
//
// Why: a caller that makes a payment succeed (or fail, or cancels it)
// reads its integration and its merchant's endpoints, and so does a
// claim of deliveries, and on PostgreSQL each read is a round trip of its
// own. Read ahead, in the round trip that begins the transaction, they
// cost none; the batch's read cache then answers (see readCache: these
// reads take no locks, so reading them a moment earlier changes
// nothing). Only where the reads go with the BEGIN: on their own they
// would cost what they save.
type readAhead struct {
	integrations []malipo.Integration
	endpoints    map[endpointsKey][]malipo.Endpoint
	seen         map[string]bool // endpoint IDs: each is kept once
}

// add adds to reads those that read the integrations whose IDs
// integrationsOf selects and the endpoints of the merchants (merchant ID
// and mode) merchantsOf selects, each taking args.
func (a *readAhead) add(reads *[]read, integrationsOf, merchantsOf string, args []any) {
	if a.endpoints == nil {
		a.endpoints, a.seen = map[endpointsKey][]malipo.Endpoint{}, map[string]bool{}
	}
	*reads = append(*reads, read{
		query: `SELECT ` + integrationColumns + ` FROM integrations i WHERE i.id IN (` + integrationsOf + `)`,
		args:  args,
		each: func(row interface{ Scan(...any) error }) error {
			i, err := scanIntegration(row)
			a.integrations = append(a.integrations, i)
			return err
		},
	}, read{
		query: `SELECT ` + endpointColumns + ` FROM webhook_endpoints WHERE (merchant_id, mode) IN (` + merchantsOf + `) ORDER BY id`,
		args:  args,
		each: func(row interface{ Scan(...any) error }) error {
			e, err := scanEndpoint(row)
			if err == nil && !a.seen[e.ID] {
				a.seen[e.ID] = true
				k := endpointsKey{e.MerchantID, e.Mode}
				a.endpoints[k] = append(a.endpoints[k], e)
			}
			return err
		},
	})
}

// keep puts what was read ahead in the transaction's read cache: every
// integration, and the endpoints of each merchant read, and of each of
// merchants (none, if none were read: merchants must be among those
// merchantsOf selected).
func (a *readAhead) keep(t *tx, merchants []endpointsKey) {
	for _, i := range a.integrations {
		t.cache.keepIntegration(i)
	}
	for _, k := range merchants {
		if _, ok := a.endpoints[k]; !ok {
			a.endpoints[k] = nil
		}
	}
	for k, eps := range a.endpoints {
		t.cache.keepEndpoints(k.merchantID, k.mode, eps)
	}
}

// hintedIDs are the distinct IDs hinted for one table.
type hintedIDs struct {
	ids  []string
	seen map[string]bool
}

// add adds id unless it is empty or text the store would refuse.
func (h *hintedIDs) add(id string) {
	if id != "" && checkArgs([]any{id}) == nil {
		h.put(id)
	}
}

// put adds id, if new.
func (h *hintedIDs) put(id string) {
	if h.seen[id] {
		return
	}
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	h.seen[id] = true
	h.ids = append(h.ids, id)
}

// readLocked adds to reads those that lock and read the rows of table
// whose IDs (in its column key) are hinted, if there are at least least,
// and returns the map they fill, by ID: without the rows held elsewhere,
// in a batch of several (see lockHinted).
func readLocked[T any](t *tx, reads *[]read, h hintedIDs, least int, table, key, columns string, scan func(interface{ Scan(...any) error }) (T, error), id func(T) string) map[string]T {
	if len(h.ids) < least {
		return nil
	}
	found := make(map[string]T, len(h.ids))
	inChunks(h.ids, func(in string, args []any) error {
		*reads = append(*reads, read{query: `SELECT ` + columns + ` FROM ` + table + ` WHERE ` + key + ` IN (` + in + `)` + t.hintLock(), args: args,
			each: func(row interface{ Scan(...any) error }) error {
				r, err := scan(row)
				if err == nil {
					found[id(r)] = r
				}
				return err
			}})
		return nil
	})
	return found
}

// hintLock is appended to the reads of hinted rows: a caller alone waits
// for a row held elsewhere; a batch of several, which never waits before
// commit (see ledger.go), skips it (hintSkips).
func (t *tx) hintLock() string {
	if t.hintSkips() {
		return t.db.dialect.ClaimSuffix
	}
	return t.db.dialect.LockSuffix
}

// hintSkips reports whether the reads of hinted rows skip rows another
// transaction holds: in a batch of several, where the engine has row locks.
func (t *tx) hintSkips() bool { return !t.alone && t.db.dialect.ClaimSuffix != "" }

// readKeys adds to reads those that read the idempotency keys named in h
// (by heldKey), if there are at least least, and returns what they find:
// each key read, nil where it is not stored.
//
// Read without a lock, as GetIdempotency reads a key, so reading it at the
// batch's start instead sees the same: a key another transaction puts
// meanwhile is caught by the unique index when this one puts it too.
func readKeys(reads *[]read, h hintedIDs, least int) map[string]*store.Idempotency {
	if len(h.ids) < least {
		return nil
	}
	found := make(map[string]*store.Idempotency, len(h.ids))
	pairs := make([][2]string, len(h.ids))
	for i, id := range h.ids {
		found[id] = nil
		pairs[i][0], pairs[i][1] = splitKey(id)
	}
	pairsInChunks(pairs, func(in string, args []any) {
		*reads = append(*reads, read{
			query: `SELECT ` + idempotencyColumns + ` FROM idempotency_keys WHERE (scope, key) IN (VALUES ` + in + `)`,
			args:  args,
			each: func(row interface{ Scan(...any) error }) error {
				r, err := scanIdempotency(row)
				if err == nil {
					found[heldKey(r.Scope, r.Key)] = &r
				}
				return err
			}})
	})
	return found
}

// pairsInChunks calls do for pairs in chunks (see chunkSize), each with
// its list of pairs to follow VALUES, "(?, ?), (?, ?)…", and its
// arguments.
func pairsInChunks(pairs [][2]string, do func(in string, args []any)) {
	for len(pairs) > 0 {
		n := chunkSize(len(pairs))
		args := make([]any, 0, 2*n)
		for _, p := range pairs[:n] {
			args = append(args, p[0], p[1])
		}
		do(`(?, ?)`+strings.Repeat(`, (?, ?)`, n-1), args)
		pairs = pairs[n:]
	}
}

// readThere adds to reads those that list which of the rows of table
// whose IDs (in its column key) are hinted are there, locked or not, if
// there are at least least, and returns the set they fill.
//
// Why: a row a locking read skipped may be there, held by another
// transaction; only a row not there at all can be answered "not found"
// ahead. One put meanwhile by another transaction fails its caller's
// insert on the unique key, as it would have unhinted.
func readThere(reads *[]read, h hintedIDs, least int, table, key string) map[string]bool {
	if len(h.ids) < least {
		return nil
	}
	there := make(map[string]bool, len(h.ids))
	inChunks(h.ids, func(in string, args []any) error {
		*reads = append(*reads, read{query: `SELECT ` + key + ` FROM ` + table + ` WHERE ` + key + ` IN (` + in + `)`, args: args,
			each: func(row interface{ Scan(...any) error }) error {
				var id string
				err := row.Scan(&id)
				there[id] = true
				return err
			}})
		return nil
	})
	return there
}

// take returns m's value for k and forgets it. A row read ahead is taken
// once: a caller may change what it was given, and a second read must not
// see that.
func take[K comparable, V any](m map[K]V, k K) (V, bool) {
	v, ok := m[k]
	if ok {
		delete(m, k)
	}
	return v, ok
}

// found is what a batch knows ahead of the rows hinted in h: each row
// read (locked), and nil for each not there at all; a row there but
// held by another transaction is left out, for its caller to read. there
// is nil where the read skipped nothing (see hintSkips).
func found[T any](h hintedIDs, read map[string]T, there map[string]bool) map[string]*T {
	if read == nil {
		return nil
	}
	known := make(map[string]*T, len(h.ids))
	for _, id := range h.ids {
		if r, ok := read[id]; ok {
			known[id] = &r
		} else if !there[id] {
			known[id] = nil
		}
	}
	return known
}
