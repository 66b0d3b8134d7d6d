package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

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

// env is a gateway over a fresh store, in this process, with one merchant
// and a dispatcher that is not running yet: the notify targets need to
// fill a backlog before the dispatcher starts.
type env struct {
	st       store.Store
	svc      *gateway.Service
	disp     *notify.Dispatcher
	integ    malipo.Integration
	teardown func()
}

func (e *env) close() { e.st.Close(); e.teardown() }

// open makes an env on a fresh SQLite file or PostgreSQL schema.
func (r *runner) open(ctx context.Context, engine string) (*env, error) {
	db, teardown, err := r.fresh(engine)
	if err != nil {
		return nil, err
	}
	var st store.Store
	if engine == "postgres" {
		st, err = postgres.Open(ctx, db)
	} else {
		st, err = sqlite.Open(ctx, db)
	}
	if err != nil {
		teardown()
		return nil, err
	}
	e := &env{st: st, teardown: teardown}
	clk := clock.Real{}
	flavors := map[malipo.Flavor]notify.Flavor{}
	e.disp = notify.New(notify.Config{Store: st, Clock: clk, Flavors: flavors})
	sb := sandbox.New(st, clk, 0, nil)
	e.svc = gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: "http://bench",
		Wake: e.disp.Wake, Courier: e.disp, Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
	sb.Connect(e.svc)
	flavors[malipo.FlavorNative] = native.New(e.svc, slog.New(slog.DiscardHandler)).Flavor()
	demo, err := e.svc.EnsureDemo(ctx)
	if err != nil || demo == nil {
		e.close()
		return nil, fmt.Errorf("bench merchant: %v", err)
	}
	e.integ = demo.Integration
	return e, nil
}

// target runs one named target on a fresh store.
func (r *runner) target(ctx context.Context, name string) (Result, error) {
	engine, kind, _ := strings.Cut(name, "-")
	if kind == "notify" {
		e, err := r.open(ctx, engine)
		if err != nil {
			return Result{}, err
		}
		defer e.close()
		return r.notify(ctx, name, e)
	}
	db, drop, err := r.fresh(engine)
	if err != nil {
		return Result{}, err
	}
	defer drop()
	args := []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--log-level", "error", "--sandbox-delay", "0", "--audit-every", "0"}
	if kind == "create" {
		return r.ramp(ctx, httpTarget{name: name, args: args, next: createRequest, want: http.StatusCreated})
	}
	return r.ramp(ctx, succeedTarget(name, args))
}

// fresh makes an empty store: a file in a new directory, or a new
// PostgreSQL schema; drop removes it.
func (r *runner) fresh(engine string) (db string, drop func(), err error) {
	if engine == "postgres" {
		return freshSchema(r.o.Postgres)
	}
	dir, err := os.MkdirTemp("", "malipo-bench-")
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(dir, "bench.db"), func() { os.RemoveAll(dir) }, nil
}

// succeedTarget makes pending payments succeed through
// POST /v1/sandbox/payments/{id}/outcome: each success locks its payment,
// posts a ledger entry to the merchant's, the rail's and the fees'
// accounts (the same three for every request), and writes an event.
func succeedTarget(name string, args []string) httpTarget {
	var pool []string
	var mu sync.Mutex
	used := 0
	body := []byte(`{"outcome":"succeeded"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	return httpTarget{name: name, args: args, want: http.StatusOK,
		prepare: func(ctx context.Context, s *server, count int) error {
			mu.Lock()
			need, offset := used+count-len(pool), len(pool)
			mu.Unlock()
			if need <= 0 {
				return nil
			}
			made := make([]string, need)
			err := Parallel(64, need, nil, func(i int) error {
				body := fmt.Sprintf(`{"amount":5000,"currency":"XOF","reference":"pool-%d"}`, offset+i)
				for {
					req, _ := http.NewRequestWithContext(ctx, "POST", s.base+"/v1/payments", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+s.key)
					res, err := client.Do(req)
					if err != nil {
						return err
					}
					var p struct{ ID string }
					err = json.NewDecoder(res.Body).Decode(&p)
					res.Body.Close()
					switch {
					case res.StatusCode == http.StatusServiceUnavailable: // busy: as a client should, wait and send it again
						time.Sleep(100 * time.Millisecond)
						continue
					case err != nil || res.StatusCode != http.StatusCreated:
						return fmt.Errorf("create a pending payment: %d %v", res.StatusCode, err)
					}
					made[i] = p.ID
					return nil
				}
			})
			mu.Lock()
			pool = append(pool, made...)
			mu.Unlock()
			return err
		},
		next: func(s *server, _ int64, t *vegeta.Target) error {
			mu.Lock()
			defer mu.Unlock()
			if used == len(pool) {
				return fmt.Errorf("no pending payment left")
			}
			id := pool[used]
			used++
			t.Method, t.URL, t.Body = "POST", s.base+"/v1/sandbox/payments/"+id+"/outcome", body
			t.Header = http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + s.key}}
			return nil
		}}
}

// pending creates n pending payments (references from offset), 64 at a
// time, and returns their IDs.
func (e *env) pending(ctx context.Context, offset, n int) ([]string, error) {
	made := make([]string, n)
	err := Parallel(64, n, nil, func(i int) error {
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

// Parallel runs fn(0..n-1) on workers goroutines; with tick, each call
// waits for a tick first. It returns the first error.
func Parallel(workers, n int, tick <-chan struct{}, fn func(i int) error) error {
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

// Pace ticks n times at rate a second from start, each tick at its due
// time; a late one goes at once, so the rate asked is the rate offered on
// average (a time.Ticker would drop the ticks of a busy moment).
func Pace(start time.Time, rate, n int) <-chan struct{} {
	tick := make(chan struct{})
	go func() {
		interval := time.Second / time.Duration(rate)
		for i := range n {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			tick <- struct{}{}
		}
	}()
	return tick
}
