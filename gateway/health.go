package gateway

import (
	"context"

	"github.com/malipo/malipo/store"
)

// Backlog reports what waits in the store now: notifications due and not
// sent, and rail attempts without a verdict. It is what an operator's
// alerts watch.
func (s *Service) Backlog(ctx context.Context) (store.Backlog, error) {
	var b store.Backlog
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		b, err = tx.Backlog(s.now())
		return err
	})
	return b, err
}
