package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/snapshot"
	"github.com/malipo/malipo/store"
)

// Idempotency carries a request's idempotency key and a hash of the request
// (its method, path and body, as the face sees them). Zero means none.
type Idempotency struct {
	Key         string
	RequestHash string
}

// MaxIdempotencyKeyLen bounds the keys callers may send.
const MaxIdempotencyKeyLen = 255

// replayed reports, inside tx, whether idem was already used. If it was
// used for the same request the remembered result is decoded into out; a
// different request gets an idempotency conflict. Keys older than the TTL
// are forgotten.
func (s *Service) replayed(tx store.Tx, scope string, idem Idempotency, out any) (bool, error) {
	if idem.Key == "" {
		return false, nil
	}
	if len(idem.Key) > MaxIdempotencyKeyLen {
		return false, malipo.Invalid("Idempotency-Key", "idempotency_key_invalid", "Idempotency-Key must be at most %d characters", MaxIdempotencyKeyLen)
	}
	rec, err := tx.GetIdempotency(scope, idem.Key)
	if malipo.KindOf(err) == malipo.KindNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if rec.CreatedAt.Before(s.now().Add(-s.cfg.IdempotencyTTL)) {
		_, err := tx.DeleteIdempotencyBefore(s.now().Add(-s.cfg.IdempotencyTTL))
		return false, err
	}
	if rec.RequestHash != idem.RequestHash {
		return false, &malipo.Error{Kind: malipo.KindConflict, Code: malipo.CodeIdempotencyKeyReused,
			Message: "this Idempotency-Key was already used with a different request"}
	}
	if err := snapshot.Decode(rec.Result, out); err != nil {
		return false, fmt.Errorf("decode idempotent result: %w", err)
	}
	return true, nil
}

// remember records the result of a request made with idem, inside tx.
func (s *Service) remember(tx store.Tx, scope string, idem Idempotency, result any) error {
	if idem.Key == "" {
		return nil
	}
	b, err := snapshot.Encode(result)
	if err != nil {
		return err
	}
	return tx.PutIdempotency(store.Idempotency{Scope: scope, Key: idem.Key, RequestHash: idem.RequestHash, Result: b, CreatedAt: s.now()})
}

// rememberAgain replaces the result remembered for idem, inside tx.
func rememberAgain(tx store.Tx, scope string, idem Idempotency, result any) error {
	if idem.Key == "" {
		return nil
	}
	b, err := snapshot.Encode(result)
	if err != nil {
		return err
	}
	return tx.SetIdempotencyResult(scope, idem.Key, b)
}

// transactIdempotent runs fn, which looks idem up in scope first (see
// replayed); when a request with a key loses a race to a twin with the
// same key, it runs again so that it replays the twin's answer. The key
// is hinted, so that a batch looks up its callers' keys at once.
func (s *Service) transactIdempotent(ctx context.Context, scope string, idem Idempotency, fn func(store.Tx) error, hints ...store.Hint) error {
	if idem.Key != "" && len(idem.Key) <= MaxIdempotencyKeyLen {
		hints = append(hints[:len(hints):len(hints)], store.Hint{IdempotencyScope: scope, IdempotencyKey: idem.Key})
	}
	err := s.cfg.Store.Transact(ctx, fn, hints...)
	if err != nil && idem.Key != "" && malipo.KindOf(err) == malipo.KindConflict {
		if retry := s.cfg.Store.Transact(ctx, fn, hints...); retry == nil || errors.Is(retry, malipo.ErrIdempotencyKeyReused) {
			return retry
		}
	}
	return err
}

// ForgetIdempotencyKeys deletes keys older than the idempotency TTL.
func (s *Service) ForgetIdempotencyKeys(ctx context.Context) (int, error) {
	var n int
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) (err error) {
		n, err = tx.DeleteIdempotencyBefore(s.now().Add(-s.cfg.IdempotencyTTL))
		return err
	})
	return n, err
}
