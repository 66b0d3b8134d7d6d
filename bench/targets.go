package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the pgx driver
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/postgres"
	"github.com/malipo/malipo/store/sqlite"
)

// env is a gateway over a fresh store, with one merchant (so every
// success moves the same balances), its native API and a dispatcher that
// is not running yet.
type env struct {
	st       store.Store
	svc      *gateway.Service
	disp     *notify.Dispatcher
	integ    malipo.Integration
	key      string
	api      http.Handler
	teardown func()
}

func (e *env) close() { e.st.Close(); e.teardown() }

// open makes an env on a fresh SQLite file or PostgreSQL schema.
func (r *runner) open(ctx context.Context, engine string) (*env, error) {
	var st store.Store
	var teardown func()
	switch engine {
	case "sqlite":
		dir, err := os.MkdirTemp("", "malipo-bench-")
		if err != nil {
			return nil, err
		}
		teardown = func() { os.RemoveAll(dir) }
		if st, err = sqlite.Open(ctx, filepath.Join(dir, "bench.db")); err != nil {
			teardown()
			return nil, err
		}
	case "postgres":
		u, drop, err := freshSchema(r.o.Postgres)
		if err != nil {
			return nil, err
		}
		teardown = drop
		if st, err = postgres.Open(ctx, u); err != nil {
			drop()
			return nil, err
		}
	}
	e := &env{st: st, teardown: teardown}
	clk := clock.Real{}
	flavors := map[malipo.Flavor]notify.Flavor{}
	e.disp = notify.New(notify.Config{Store: st, Clock: clk, Flavors: flavors})
	sb := sandbox.New(st, clk, 0, nil)
	e.svc = gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: "http://bench",
		Wake: e.disp.Wake, Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
	sb.Connect(e.svc)
	api := native.New(e.svc, slog.New(slog.DiscardHandler))
	flavors[malipo.FlavorNative] = api.Flavor()
	mux := http.NewServeMux()
	api.Register(mux)
	e.api = mux
	demo, err := e.svc.EnsureDemo(ctx)
	if err != nil || demo == nil {
		e.close()
		return nil, fmt.Errorf("bench merchant: %v", err)
	}
	e.integ, e.key = demo.Integration, demo.SecretKey
	return e, nil
}

// target runs one named target on a fresh store.
func (r *runner) target(ctx context.Context, name string) (Result, error) {
	engine, kind, _ := strings.Cut(name, "-")
	e, err := r.open(ctx, engine)
	if err != nil {
		return Result{}, err
	}
	defer e.close()
	switch kind {
	case "create":
		return r.ramp(ctx, httpTarget{name: name, handler: e.api, next: createRequest(e.key), want: http.StatusCreated})
	case "succeed":
		return r.ramp(ctx, e.succeedTarget(name))
	default:
		return r.notify(ctx, name, e)
	}
}

// succeedTarget makes pending payments succeed through
// POST /v1/sandbox/payments/{id}/outcome: each success locks its payment,
// posts a ledger entry to the merchant's, the rail's and the fees'
// accounts (the same three for every request), and writes an event.
func (e *env) succeedTarget(name string) httpTarget {
	var pool []string
	var mu sync.Mutex
	used := 0
	header := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + e.key}}
	body := []byte(`{"outcome":"succeeded"}`)
	return httpTarget{name: name, handler: e.api, want: http.StatusOK,
		prepare: func(ctx context.Context, count int) error {
			mu.Lock()
			need := used + count - len(pool)
			mu.Unlock()
			if need <= 0 {
				return nil
			}
			made, err := e.pending(ctx, len(pool), need)
			mu.Lock()
			pool = append(pool, made...)
			mu.Unlock()
			return err
		},
		next: func(base string, _ int64, t *vegeta.Target) error {
			mu.Lock()
			defer mu.Unlock()
			if used == len(pool) {
				return fmt.Errorf("no pending payment left")
			}
			id := pool[used]
			used++
			t.Method, t.URL, t.Header, t.Body = "POST", base+"/v1/sandbox/payments/"+id+"/outcome", header, body
			return nil
		}}
}

// pending creates n pending payments (references from offset), 64 at a
// time, and returns their IDs.
func (e *env) pending(ctx context.Context, offset, n int) ([]string, error) {
	made := make([]string, n)
	err := parallel(64, n, nil, func(i int) error {
		p, _, err := e.svc.CreatePayment(ctx, e.integ, gateway.PaymentInput{Amount: 5000, Currency: "XOF",
			Reference: fmt.Sprintf("pool-%d", offset+i)}, gateway.Idempotency{})
		made[i] = p.ID
		return err
	})
	return made, err
}

// freshSchema makes a schema for one target on the server at base.
func freshSchema(base string) (string, func(), error) {
	b := make([]byte, 4)
	rand.Read(b)
	schema := "bench_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE"); admin.Close() }, nil
}

// parallel runs fn(0..n-1) on workers goroutines; with tick, each call
// waits for a tick first. It returns the first error.
func parallel(workers, n int, tick <-chan struct{}, fn func(i int) error) error {
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	for i := range n {
		if tick != nil {
			<-tick
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
