package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the sqlite driver, to look into a store from outside

	"github.com/malipo/malipo/store/postgres/pgtest"
)

// stop ends the process with sig and waits for it.
func (p *process) stop(sig syscall.Signal) {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(sig)
		p.cmd.Wait()
	}
}

// inFlight counts, straight from a store, what is still under way: rail
// attempts without a verdict, payments processing or waiting on a rail
// call, payouts queued or processing, refunds pending, and the money
// reserved for them.
type inFlight struct {
	attempts, payments, payouts, refunds int
	reserved                             int64
}

func (f inFlight) String() string {
	return fmt.Sprintf("%d attempts, %d payments, %d payouts, %d refunds, %d reserved", f.attempts, f.payments, f.payouts, f.refunds, f.reserved)
}

func (f inFlight) none() bool { return f == inFlight{} }

// lookInto opens a store's database from outside, to count what the
// process inside it left; the caller closes it.
func lookInto(t *testing.T, db string) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+db+"?mode=ro"
	if isPostgres(db) {
		driver, dsn = "pgx", db
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func countInFlight(t *testing.T, db string) inFlight {
	t.Helper()
	conn := lookInto(t, db)
	defer conn.Close()
	var f inFlight
	err := conn.QueryRow(`SELECT
		(SELECT COUNT(*) FROM rail_attempts WHERE status IN ('sending', 'pending')),
		(SELECT COUNT(*) FROM payments WHERE status = 'processing' OR (status = 'pending' AND in_flight_until <> 0)),
		(SELECT COUNT(*) FROM payouts WHERE status IN ('queued', 'processing')),
		(SELECT COUNT(*) FROM refunds WHERE status = 'pending'),
		(SELECT COALESCE(SUM(amount), 0) FROM balances WHERE bucket = 'reserved')`).
		Scan(&f.attempts, &f.payments, &f.payouts, &f.refunds, &f.reserved)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A node stopped (cleanly or not) with payments, payouts and refunds in
// flight finishes every one of them after it restarts: nothing stays in
// flight, no money stays reserved, and the books balance.
func TestRestartFinishesWhatWasInFlight(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			t.Run(engine+"/"+strings.TrimPrefix(sig.String(), "signal "), func(t *testing.T) {
				db := filepath.Join(t.TempDir(), "malipo.db")
				if engine == "postgres" {
					db = pgtest.URL(t)
				}
				restartMidFlight(t, db, sig)
			})
		}
	}
}

func restartMidFlight(t *testing.T, db string, sig syscall.Signal) {
	flags := []string{"--sandbox-delay", "2s", "--rail-timeout", "1s", "--reconcile-after", "1s"}
	p := startProcess(t, db, flags...)
	key := p.key
	call(t, "POST", p.url+"/v1/sandbox/topup", key, `{"amount":10000000,"currency":"XOF"}`)
	var paid []string
	for i := range 10 {
		pay := call(t, "POST", p.url+"/v1/payments", key, fmt.Sprintf(`{"amount":5000,"currency":"XOF","reference":"paid-%d"}`, i))
		id, _ := pay["id"].(string)
		call(t, "POST", p.url+"/v1/sandbox/payments/"+id+"/outcome", key, `{"outcome":"succeeded"}`)
		paid = append(paid, id)
	}

	// A burst of pushes, payouts and refunds, stopped in the middle.
	var sent, answered atomic.Int32
	var wg sync.WaitGroup
	stop := make(chan struct{})
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 6 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var path, body string
				switch n % 3 {
				case 0:
					path, body = "/v1/payments", fmt.Sprintf(`{"amount":1000,"currency":"XOF","reference":"push-%d-%d","method":"mobile_money","phone":"+225070712000%d"}`, w, n, n%2)
				case 1:
					path, body = "/v1/payouts", fmt.Sprintf(`{"amount":700,"currency":"XOF","reference":"out-%d-%d","destination":{"type":"mobile_money","account":"+22507071%05d"}}`, w, n, 10*(w*100+n))
				default:
					path, body = "/v1/refunds", fmt.Sprintf(`{"payment":"%s","amount":10}`, paid[(w+n)%len(paid)])
				}
				req, _ := http.NewRequest("POST", p.url+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				sent.Add(1)
				if res, err := client.Do(req); err == nil {
					res.Body.Close()
					if res.StatusCode < 300 {
						answered.Add(1)
					}
				}
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	p.stop(sig)
	close(stop)
	wg.Wait()
	before := countInFlight(t, db)
	if before.payments == 0 || before.payouts == 0 {
		t.Fatalf("too little was in flight at the stop to prove anything: %s", before)
	}

	p = startProcess(t, db, flags...)
	deadline := time.Now().Add(45 * time.Second)
	var after inFlight
	for {
		if after = countInFlight(t, db); after.none() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("45 s after the restart still in flight: %s\n%s", after, p.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.stop(syscall.SIGTERM)
	if out := runCmd(t, "verify", "--db", db); !strings.Contains(out, "ok: the ledger balances") {
		t.Errorf("verify after the restart:\n%s", out)
	}
	t.Logf("%d requests (%d answered) before the %s; in flight then: %s; all final after the restart", sent.Load(), answered.Load(), sig, before)
}
