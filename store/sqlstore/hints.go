package sqlstore

import "github.com/malipo/malipo"

// lockHinted locks and reads the payments and rail attempts the batch's
// callers hinted they read first (see store.Hint), in one statement per
// table for up to exactRows of them, so that each caller's GetPayment and
// GetRailAttempt is answered without a round trip of its own. Rows
// another transaction holds are skipped (ClaimSuffix) and read by their
// caller, as without a hint; so are IDs the store would refuse, so that
// one caller's bad input fails only that caller.
//
// Why not for one row of a table: its read would only replace one.
func (t *tx) lockHinted(batch []*unit) error {
	if len(batch) < 2 {
		return nil
	}
	var payments, attempts hintedIDs
	for _, u := range batch {
		for _, h := range u.hints {
			payments.add(h.Payment)
			attempts.add(h.RailAttempt)
		}
	}
	var reads []read
	t.hinted = readLocked(t, &reads, payments, "payments", paymentColumns, scanPayment, func(p malipo.Payment) string { return p.ID })
	t.hintedAttempts = readLocked(t, &reads, attempts, "rail_attempts", attemptColumns, scanRailAttempt, func(a malipo.RailAttempt) string { return a.ID })
	// One round trip for all of them, with the BEGIN, where it can.
	return t.readAll(reads...)
}

// hintedIDs are the distinct IDs hinted for one table.
type hintedIDs struct {
	ids  []string
	seen map[string]bool
}

func (h *hintedIDs) add(id string) {
	if id == "" || h.seen[id] || checkArgs([]any{id}) != nil {
		return
	}
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	h.seen[id] = true
	h.ids = append(h.ids, id)
}

// readLocked adds to reads those that lock and read the rows of table
// whose IDs are hinted, if there are two or more, and returns the map
// they fill, by ID.
func readLocked[T any](t *tx, reads *[]read, h hintedIDs, table, columns string, scan func(interface{ Scan(...any) error }) (T, error), id func(T) string) map[string]T {
	if len(h.ids) < 2 {
		return nil
	}
	found := make(map[string]T, len(h.ids))
	inChunks(h.ids, func(in string, args []any) error {
		*reads = append(*reads, read{query: `SELECT ` + columns + ` FROM ` + table + ` WHERE id IN (` + in + `)` + t.db.dialect.ClaimSuffix, args: args,
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
