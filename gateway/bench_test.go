package gateway_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/store/postgres/pgtest"
	"github.com/malipo/malipo/store/sqlite"
)

// BenchmarkCreatePayment measures durable payment creation through the
// group committer with many concurrent callers.
func BenchmarkCreatePayment(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchCreate(b, newEnv(&testing.T{}, st))
	})
	b.Run("postgres", func(b *testing.B) {
		st := pgtest.Open(b)
		defer st.Close()
		benchCreate(b, newEnv(&testing.T{}, st))
	})
}

func benchCreate(b *testing.B, e *env) {
	var seq atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := gateway.PaymentInput{Amount: 5000, Currency: "XOF", Reference: fmt.Sprintf("b-%d", seq.Add(1)),
				Description: "Load test", Metadata: map[string]string{"order": "1"}}
			if _, _, err := e.svc.CreatePayment(context.Background(), e.integ, req, gateway.Idempotency{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSucceedPayment measures payments succeeding: each posts a
// ledger entry to the same three hot accounts (rail clearing, merchant,
// fees) and writes an event, from many concurrent callers.
func BenchmarkSucceedPayment(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchSucceed(b, newEnv(&testing.T{}, st))
	})
	b.Run("postgres", func(b *testing.B) {
		st := pgtest.Open(b)
		defer st.Close()
		benchSucceed(b, newEnv(&testing.T{}, st))
	})
}

func benchSucceed(b *testing.B, e *env) {
	ids := make([]string, b.N)
	for i := range ids {
		p, _, err := e.svc.CreatePayment(context.Background(), e.integ, gateway.PaymentInput{Amount: 5000, Currency: "XOF",
			Reference: fmt.Sprintf("s-%d", i)}, gateway.Idempotency{})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = p.ID
	}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[next.Add(1)-1]
			if _, _, err := e.svc.ForceOutcome(context.Background(), e.integ, id, "succeeded", gateway.Idempotency{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
