package sqlstore

import (
	"strings"

	"github.com/malipo/malipo"
)

// lockHinted locks and reads the payments the batch's callers hinted they
// read first (see store.Hint), in one statement for up to exactRows of
// them, so that each caller's GetPayment is answered without a round trip
// of its own. Rows another transaction holds are skipped (ClaimSuffix)
// and read by their caller, as without a hint; so are IDs the store would
// refuse, so that one caller's bad input fails only that caller.
//
// Why not alone: one caller's read would only replace its own.
func (t *tx) lockHinted(batch []*unit) error {
	if len(batch) < 2 {
		return nil
	}
	var ids []any
	seen := map[string]bool{}
	for _, u := range batch {
		for _, h := range u.hints {
			if id := h.Payment; id != "" && !seen[id] && checkArgs([]any{id}) == nil {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(ids) < 2 {
		return nil
	}
	t.hinted = make(map[string]malipo.Payment, len(ids))
	for len(ids) > 0 {
		n := chunkSize(len(ids))
		rows, err := t.query(`SELECT `+paymentColumns+` FROM payments WHERE id IN (`+strings.Repeat("?, ", n-1)+`?)`+t.db.dialect.ClaimSuffix, ids[:n]...)
		if err != nil {
			return err
		}
		ps, err := collect(rows, scanPayment)
		if err != nil {
			return err
		}
		for _, p := range ps {
			t.hinted[p.ID] = p
		}
		ids = ids[n:]
	}
	return nil
}
