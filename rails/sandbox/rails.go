package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/store"
)

// Rails is the whole sandbox: an operator, a card network, a payout
// network and refunds. The gateway needs the rails and the rails answer
// to the gateway, so they are made first and connected after.
type Rails struct {
	MobileMoney *MobileMoney
	Cards       *Cards
	Payouts     *Payouts
	Refunds     *Refunds
	book        *book
}

// New returns sandbox rails that keep what they were given in st and
// whose customers and payout network answer after delay (at once when
// delay is 0).
func New(st store.Store, clk clock.Clock, delay time.Duration, logger *slog.Logger) *Rails {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &book{store: st, clock: clk, logger: logger}
	return &Rails{
		MobileMoney: &MobileMoney{book: b, Delay: delay},
		Cards:       &Cards{book: b},
		Payouts:     &Payouts{book: b, Delay: delay},
		Refunds:     &Refunds{book: b},
		book:        b,
	}
}

// Set is the rails as the gateway takes them.
func (r *Rails) Set() rails.Set {
	return rails.Set{MobileMoney: rails.OneMobileMoney(r.MobileMoney), Cards: r.Cards, Payouts: rails.OnePayouts(r.Payouts), Refunds: r.Refunds,
		Banks: &Banks{r.MobileMoney}}
}

// Connect sends the rails' late answers to s.
func (r *Rails) Connect(s rails.Sink) { r.book.sink = s }

// Deliver reports every answer that is due and was not reported yet (the
// node stopped before its timer fired, or the gateway could not take it),
// as an operator sends its callbacks after an outage. It reports how many
// it sent. Every node may run it; each answer goes to one.
func (r *Rails) Deliver(ctx context.Context) (int, error) {
	var due []store.SandboxTransaction
	err := r.book.store.Transact(ctx, func(tx store.Tx) error {
		now := r.book.now()
		var err error
		if due, err = tx.ClaimDueSandboxTransactions(now, 100); err != nil {
			return err
		}
		for i := range due {
			due[i].Status = due[i].Answer
			due[i].AnswerAt = now.Add(redeliverAfter) // the lease: no other node sends it meanwhile
			if err := tx.UpdateSandboxTransaction(due[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, st := range due {
		r.book.report(ctx, st)
	}
	return len(due), nil
}

// redeliverAfter is how long an answer the gateway could not take waits
// before it is sent again.
const redeliverAfter = 30 * time.Second

// book is the sandbox rails' shared memory, kept in the store.
type book struct {
	store  store.Store
	clock  clock.Clock
	sink   rails.Sink
	logger *slog.Logger
}

func (b *book) now() time.Time { return b.clock.Now().Truncate(time.Microsecond) }

// reference is the sandbox's own ID for the transaction with key: the
// same key always gets the same reference.
func reference(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + strings.ToUpper(hex.EncodeToString(sum[:6]))
}

// open records st the first time its key is seen. A key seen before is the
// same transaction: what was recorded then is returned, with isNew false.
func (b *book) open(ctx context.Context, st store.SandboxTransaction) (store.SandboxTransaction, bool, error) {
	st.CreatedAt = b.now()
	var got store.SandboxTransaction
	isNew := false
	create := func(tx store.Tx) error {
		prior, err := tx.GetSandboxTransaction(st.Key)
		switch {
		case err == nil:
			got, isNew = prior, false
			return nil
		case malipo.KindOf(err) != malipo.KindNotFound:
			return err
		}
		got, isNew = st, true
		return tx.CreateSandboxTransaction(st)
	}
	hint := store.Hint{SandboxKey: st.Key}
	err := b.store.Transact(ctx, create, hint)
	if malipo.KindOf(err) == malipo.KindConflict { // the same key, sent twice at once: the other call won
		err = b.store.Transact(ctx, create, hint)
	}
	return got, isNew, err
}

// get reads what the sandbox knows of key; ok is false if nothing.
func (b *book) get(ctx context.Context, key string) (store.SandboxTransaction, bool, error) {
	var st store.SandboxTransaction
	err := b.store.Read(ctx, func(tx store.Tx) (err error) {
		st, err = tx.GetSandboxTransaction(key)
		return err
	})
	if malipo.KindOf(err) == malipo.KindNotFound {
		return st, false, nil
	}
	return st, err == nil, err
}

// update changes what the sandbox knows of key, if change says so.
func (b *book) update(ctx context.Context, key string, change func(*store.SandboxTransaction) bool) (store.SandboxTransaction, bool, error) {
	var st store.SandboxTransaction
	found := false
	err := b.store.Transact(ctx, func(tx store.Tx) error {
		var err error
		st, err = tx.GetSandboxTransaction(key)
		if malipo.KindOf(err) == malipo.KindNotFound {
			found = false
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		if !change(&st) {
			return nil
		}
		return tx.UpdateSandboxTransaction(st)
	}, store.Hint{SandboxKey: key})
	return st, found, err
}

// answerLater reports st's answer once it is due: at once (before the call
// that started it returns) when it is due already.
func (b *book) answerLater(st store.SandboxTransaction) {
	if !st.AnswerAt.After(b.now()) {
		b.answer(st.Key)
		return
	}
	b.clock.AfterFunc(st.AnswerAt.Sub(b.now()), func() { b.answer(st.Key) })
}

// answer reports key's answer if it is due and not reported yet.
func (b *book) answer(key string) {
	ctx := context.Background()
	now := b.now()
	claimed := false
	st, _, err := b.update(ctx, key, func(st *store.SandboxTransaction) bool {
		claimed = !st.Reported && st.Answer != "" && !st.AnswerAt.After(now)
		if claimed {
			st.Status, st.AnswerAt = st.Answer, now.Add(redeliverAfter) // the lease: Deliver leaves it alone meanwhile
		}
		return claimed
	})
	if err != nil {
		b.logger.Warn("sandbox answer not sent; it will be sent again", "key", key, "err", err)
		return
	}
	if claimed {
		b.report(ctx, st)
	}
}

// report sends st's answer to the gateway and notes that it went. Not
// taken, it is sent again by Deliver after redeliverAfter.
func (b *book) report(ctx context.Context, st store.SandboxTransaction) {
	if b.sink == nil {
		return
	}
	if err := b.sink.Report(ctx, Name, outcome(st)); err != nil {
		b.logger.Warn("sandbox outcome not taken; it will be sent again", "key", st.Key, "err", err)
		return
	}
	_, _, err := b.update(ctx, st.Key, func(s *store.SandboxTransaction) bool {
		s.Reported = true
		return true
	})
	if err != nil {
		b.logger.Warn("sandbox outcome sent but not noted", "key", st.Key, "err", err)
	}
}

// status answers a status query by key, as of now.
func (b *book) status(ctx context.Context, key string) (rails.Outcome, error) {
	st, ok, err := b.get(ctx, key)
	if err != nil {
		return rails.Outcome{}, err
	}
	if !ok {
		return rails.Unknown(key), nil
	}
	if st.Answer != "" && !st.AnswerAt.After(b.now()) {
		st.Status = st.Answer // decided, even if the callback has not gone yet
	}
	return outcome(st), nil
}

// outcome is what the rail says of st: its verdict, in the rail's words.
func outcome(st store.SandboxTransaction) rails.Outcome {
	o := rails.Outcome{Key: st.Key, RailReference: st.Reference, Amount: st.Amount, Currency: st.Currency}
	switch st.Status {
	case "succeeded":
		o.Verdict = malipo.VerdictSucceeded
	case "failed", "voided":
		o.Verdict, o.FailureCode, o.FailureReason = malipo.VerdictFailed, st.FailureCode, st.FailureReason
	case "expired":
		o.Verdict, o.FailureCode, o.FailureReason = malipo.VerdictExpired, st.FailureCode, st.FailureReason
	default:
		o.Verdict = malipo.VerdictPending
	}
	o.Raw, _ = json.Marshal(map[string]any{"reference": st.Reference, "key": st.Key, "status": st.Status,
		"code": st.FailureCode, "amount": st.Amount, "currency": st.Currency})
	return o
}
