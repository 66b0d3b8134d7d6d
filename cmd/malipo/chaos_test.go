package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/malipo/malipo/rails/momo/momosim"
	"github.com/malipo/malipo/store/postgres/pgtest"
)

var chaosKills = flag.Int("chaos.kills", 2, "how many times the chaos test kills a node per configuration (go test ./cmd/malipo -run Chaos -chaos.kills 40)")

// freeAddr is a loopback address no one listens on, for a node to keep
// across restarts.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// chaosOp is one request a client made, kept to be sent again, with the
// same Idempotency-Key, until it is answered.
type chaosOp struct {
	kind, key, path, body, ref string
	payment                    string // for a refund: the payment refunded
	answered                   bool
	id                         string // what the answer named
}

type chaosRun struct {
	t       *testing.T
	db      string
	flags   []string
	addrs   []string
	mu      sync.Mutex
	nodes   []*process
	key     string
	ops     []*chaosOp
	paid    []string // payments that succeeded, to refund from
	kills   int
	client  *http.Client
	unanswd atomic.Int32
}

func (c *chaosRun) start(i int) {
	p := startProcess(c.t, c.db, append(append([]string{}, c.flags...), "--addr", c.addrs[i])...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[i] = p
	if c.key == "" {
		c.key = p.key
	}
}

// send makes op's request to one of the nodes and records the answer; it
// reports whether it was answered.
func (c *chaosRun) send(op *chaosOp, node int) bool {
	status, b, err := c.post(node, op.path, op.key, op.body)
	if err != nil || status >= 500 {
		return false
	}
	var v struct{ ID, Status string }
	json.Unmarshal(b, &v)
	if status >= 300 {
		c.t.Errorf("%s %s: %d %s", op.kind, op.key, status, b)
	}
	c.mu.Lock()
	op.answered, op.id = true, v.ID
	c.mu.Unlock()
	return true
}

// setUp sends what the run starts from to the first node, with an
// Idempotency-Key made of key, until it is answered (a node busy with the
// other tests' load refuses with 503, and a client sends again), and
// fails the test, with the answer, unless it was done: a payment left
// pending here once made refunds fail much later, with nothing to say
// why.
func (c *chaosRun) setUp(key, path, body string) map[string]any {
	for range 50 {
		if status, b, err := c.post(0, path, "setup-"+key, body); err == nil && status != http.StatusServiceUnavailable {
			var v map[string]any
			if status >= 300 || json.Unmarshal(b, &v) != nil {
				c.t.Fatalf("POST %s: %d %s", path, status, b)
			}
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("POST %s: never answered", path)
	return nil
}

// post sends body to path on one of the nodes, as the run's merchant,
// with an Idempotency-Key, and returns the answer.
func (c *chaosRun) post(node int, path, key, body string) (status int, answer []byte, err error) {
	req, _ := http.NewRequest("POST", "http://"+c.addrs[node]+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Idempotency-Key", key)
	res, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	answer, _ = io.ReadAll(res.Body)
	return res.StatusCode, answer, nil
}

func (c *chaosRun) get(path string) map[string]any {
	for range 50 {
		for i := range c.addrs {
			req, _ := http.NewRequest("GET", "http://"+c.addrs[i]+path, nil)
			req.Header.Set("Authorization", "Bearer "+c.key)
			if res, err := c.client.Do(req); err == nil {
				var v map[string]any
				json.NewDecoder(res.Body).Decode(&v)
				res.Body.Close()
				if res.StatusCode < 500 {
					return v
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("GET %s: no node answers", path)
	return nil
}

// TestChaos runs concurrent clients making payments, payouts and refunds
// with Idempotency-Keys against real nodes that are killed (SIGKILL) at
// random moments and restarted, then sends every unanswered request again
// and checks that nothing acknowledged was lost or duplicated, nothing is
// stuck in flight, PostgreSQL saw no deadlock and the ledger balances: on
// SQLite, on PostgreSQL, and with two nodes on one PostgreSQL. The short
// version runs with the tests; -chaos.kills sets how long it goes on.
//
// One more configuration stops no node: PostgreSQL ends every session of
// the nodes' database instead, as a restart or a failover would, each
// time the others would kill a node.
func TestChaos(t *testing.T) {
	for _, cfg := range []struct {
		name       string
		nodes      int
		pg, viaMTN bool
		noCallback bool // MTN never calls back: only Malipo's questions finish anything
		endSession bool // the database ends the nodes' sessions; no node is killed
	}{{"sqlite", 1, false, false, false, false}, {"postgres", 1, true, false, false, false},
		{"postgres-two-nodes", 2, true, false, false, false}, {"postgres-sessions-ended", 2, true, false, false, true},
		{"live-mtn-sqlite", 1, false, true, false, false}, {"live-mtn-postgres", 1, true, true, false, false},
		{"live-mtn-postgres-no-callbacks", 1, true, true, true, false}} {
		t.Run(cfg.name, func(t *testing.T) {
			db, dbName := filepath.Join(t.TempDir(), "malipo.db"), ""
			if cfg.pg {
				db, dbName = pgtest.Database(t)
			}
			chaos(t, db, dbName, cfg.nodes, cfg.viaMTN, cfg.noCallback, cfg.endSession)
		})
	}
}

// chaos runs the clients and the killer against nodes on db: in test mode
// on the sandbox rails, or (viaMTN) in live mode through an MTN MoMo
// simulator that fails a fifth of its calls (half of those after acting)
// and calls back once, whether the node is up or not (or, noCallback,
// never). With endSessions, PostgreSQL ends the nodes' sessions where
// the killer would stop a node.
func chaos(t *testing.T, db, dbName string, nodes int, viaMTN, noCallback, endSessions bool) {
	c := &chaosRun{t: t, db: db, flags: []string{"--sandbox-delay", "1s", "--rail-timeout", "1s", "--reconcile-after", "1s"},
		nodes: make([]*process, nodes), client: &http.Client{Timeout: 5 * time.Second}}
	for range nodes {
		c.addrs = append(c.addrs, freeAddr(t))
	}
	var mtn *momosim.Server
	if viaMTN {
		l := newLiveSetup(t, db)
		var config map[string]any
		mtn, config = momoSimulator(t, momosim.Options{Country: "CI", CallbackDelay: 500 * time.Millisecond, FailRate: 0.2, DropCallbacks: noCallback})
		l.addRail(t, "mtn-momo", config, 0)
		c.key = l.liveKey(t, "native")["secret_key"]
		c.flags = append(c.flags, "--master-key-file", l.keyFile)
	}
	for i := range nodes {
		c.start(i)
	}
	if viaMTN { // money to pay out: payments through MTN, some of whose pushes MTN loses
		var ids []string
		for i := range 20 {
			pay := call(t, "POST", "http://"+c.addrs[0]+"/v1/payments", c.key, fmt.Sprintf(`{"amount":100000,"currency":"XOF","reference":"paid-%d","method":"mobile_money","phone":"+2250505120000"}`, i))
			if id, _ := pay["id"].(string); id != "" {
				ids = append(ids, id)
			}
		}
		waitFor(t, 30*time.Second, "payments through MTN", func() map[string]any {
			return map[string]any{"in flight": countInFlight(t, db).attempts}
		}, func(v map[string]any) bool { return v["in flight"] == 0 })
		for _, id := range ids {
			if c.get("/v1/payments/" + id)["status"] == "succeeded" {
				c.paid = append(c.paid, id)
			}
		}
		if len(c.paid) < 5 {
			t.Fatalf("only %d of 20 payments went through MTN", len(c.paid))
		}
	} else {
		c.setUp("topup", "/v1/sandbox/topup", `{"amount":100000000,"currency":"XOF"}`)
		for i := range 20 {
			pay := c.setUp(fmt.Sprintf("pay-%d", i), "/v1/payments", fmt.Sprintf(`{"amount":100000,"currency":"XOF","reference":"paid-%d"}`, i))
			id, _ := pay["id"].(string)
			if out := c.setUp("paid-"+id, "/v1/sandbox/payments/"+id+"/outcome", `{"outcome":"succeeded"}`); out["status"] != "succeeded" {
				t.Fatalf("payment %s to refund from: %v", id, out)
			}
			c.paid = append(c.paid, id)
		}
	}
	phone, wallet, kinds := "+225070712000%d", "+22507%08d", 3
	if viaMTN {
		phone, wallet, kinds = "+225050512000%d", "+22505%08d", 2 // MTN Côte d'Ivoire; no live rail refunds yet
	}

	// Clients keep making requests while a killer stops nodes.
	stop := make(chan struct{})
	var clients sync.WaitGroup
	var seq atomic.Int64
	for w := range 6 {
		clients.Go(func() {
			rng := rand.New(rand.NewSource(int64(w)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := seq.Add(1)
				op := &chaosOp{key: fmt.Sprintf("k-%d", n), ref: fmt.Sprintf("r-%d", n)}
				switch rng.Intn(kinds) {
				case 0:
					op.kind, op.path = "payment", "/v1/payments"
					op.body = fmt.Sprintf(`{"amount":1000,"currency":"XOF","reference":"%s","method":"mobile_money","phone":"`+phone+`"}`, op.ref, rng.Intn(3))
				case 1:
					op.kind, op.path = "payout", "/v1/payouts"
					op.body = fmt.Sprintf(`{"amount":500,"currency":"XOF","reference":"%s","destination":{"type":"mobile_money","account":"`+wallet+`"}}`, op.ref, 10*n)
				default:
					op.kind, op.path, op.payment = "refund", "/v1/refunds", c.paid[rng.Intn(len(c.paid))]
					op.body = fmt.Sprintf(`{"payment":"%s","amount":1}`, op.payment)
				}
				c.mu.Lock()
				c.ops = append(c.ops, op)
				c.mu.Unlock()
				if !c.send(op, rng.Intn(nodes)) {
					c.unanswd.Add(1)
					time.Sleep(50 * time.Millisecond) // the node is down: let the killer restart it
				}
			}
		})
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	ended := 0
	for range *chaosKills {
		time.Sleep(time.Duration(500+rng.Intn(1500)) * time.Millisecond)
		if endSessions {
			ended += endAllSessions(t, db)
			continue
		}
		i := rng.Intn(nodes)
		c.mu.Lock()
		p := c.nodes[i]
		c.kills++
		c.mu.Unlock()
		p.stop(syscall.SIGKILL)
		time.Sleep(time.Duration(rng.Intn(300)) * time.Millisecond)
		c.start(i)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	clients.Wait()

	// Every request not answered is sent again, with its key, until it is.
	resent := 0
	for _, op := range c.ops {
		if op.answered {
			continue
		}
		resent++
		for try := 0; !c.send(op, try%nodes); try++ {
			if try > 50 {
				t.Fatalf("%s %s is never answered", op.kind, op.key)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Everything ends: no attempt, payment, payout or refund stays in flight.
	deadline := time.Now().Add(60 * time.Second)
	var stuck inFlight
	for {
		if stuck = countInFlight(t, db); stuck.none() {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}

	// A rail's outcome whose first application failed (its commit lost
	// with its connection, when the database ends sessions) is kept and
	// applied by the inbox's worker 5 to 10 seconds after it came: the
	// test waits for it, for at most 30 s. (The audit would not fail on
	// one that came within its last minute: it counts as retrying.)
	unapplied := countUnapplied(t, db)
	for deadline := time.Now().Add(30 * time.Second); unapplied > 0 && time.Now().Before(deadline); unapplied = countUnapplied(t, db) {
		time.Sleep(time.Second)
	}
	if unapplied > 0 {
		t.Errorf("%d rail outcomes are still not applied", unapplied)
	}

	// Each key made exactly one object, and it is there.
	lost, duplicated := 0, 0
	refundKeys := map[string]int{}
	for _, op := range c.ops {
		switch op.kind {
		case "payment", "payout":
			list := c.get(fmt.Sprintf("/v1/%ss?reference=%s&limit=10", op.kind, op.ref))
			data, _ := list["data"].([]any)
			switch {
			case len(data) == 0:
				lost++
				t.Errorf("%s %s (key %s, answered %s) is gone", op.kind, op.ref, op.key, op.id)
			case len(data) > 1:
				duplicated++
				t.Errorf("%s %s was made %d times", op.kind, op.ref, len(data))
			case data[0].(map[string]any)["id"] != op.id:
				duplicated++
				t.Errorf("%s %s: answered %s, stored %v", op.kind, op.ref, op.id, data[0].(map[string]any)["id"])
			}
		case "refund":
			refundKeys[op.payment]++
		}
	}
	for pay, keys := range refundKeys {
		list := c.get("/v1/payments/" + pay + "/refunds")
		data, _ := list["data"].([]any)
		switch {
		case len(data) < keys:
			lost += keys - len(data)
			t.Errorf("payment %s: %d refunds for %d keys", pay, len(data), keys)
		case len(data) > keys:
			duplicated += len(data) - keys
			t.Errorf("payment %s: %d refunds for %d keys", pay, len(data), keys)
		}
	}
	for _, p := range c.nodes {
		p.stop(syscall.SIGTERM)
	}
	charged := ""
	if viaMTN {
		// MTN holds exactly one successful transaction per payment and
		// payout Malipo recorded as succeeded: nothing charged or paid
		// twice, nothing taken that Malipo does not know of.
		conn := lookInto(t, db)
		var payments, payouts int
		if err := conn.QueryRow(`SELECT (SELECT COUNT(*) FROM payments WHERE status = 'succeeded'),
			(SELECT COUNT(*) FROM payouts WHERE status = 'succeeded')`).Scan(&payments, &payouts); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		held := mtn.Transactions()
		if held["collection SUCCESSFUL"] != payments || held["disbursement SUCCESSFUL"] != payouts {
			duplicated++
			t.Errorf("MTN took %d payments and sent %d transfers; Malipo recorded %d and %d", held["collection SUCCESSFUL"],
				held["disbursement SUCCESSFUL"], payments, payouts)
		}
		charged = fmt.Sprintf(", MTN charged %d and paid %d as Malipo recorded", held["collection SUCCESSFUL"], held["disbursement SUCCESSFUL"])
	}
	verify := "OK"
	var out, errOut syncBuffer
	if err := run(t.Context(), []string{"verify", "--db", db}, noEnv, &out, &errOut); err != nil {
		verify = "FAILED"
		t.Errorf("verify:\n%s", out.String())
	}
	deadlocks := int64(0)
	if dbName != "" {
		time.Sleep(500 * time.Millisecond) // the stopped sessions' statistics come in
		deadlocks = pgtest.Deadlocks(t, dbName)
	}
	if !stuck.none() {
		t.Errorf("stuck in flight: %s", stuck)
	}
	if deadlocks != 0 {
		t.Errorf("PostgreSQL detected %d deadlocks", deadlocks)
	}
	stopped := fmt.Sprintf("%d kills", c.kills)
	if endSessions {
		stopped = fmt.Sprintf("%d database sessions ended", ended)
	}
	report := fmt.Sprintf("%d nodes, %s, %d requests (%d unanswered at first, %d resent): acknowledged lost %d, duplicated %d, stuck in flight %d, deadlocks %d, verify %s%s",
		nodes, stopped, len(c.ops), c.unanswd.Load(), resent, lost, duplicated, stuck.attempts+stuck.payments+stuck.payouts+stuck.refunds+unapplied, deadlocks, verify, charged)
	t.Log(report)
	if dir := os.Getenv("MALIPO_CHAOS_REPORT"); dir != "" {
		f, err := os.OpenFile(dir, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s: %s\n", t.Name(), report)
			f.Close()
		}
	}
}

// endAllSessions has PostgreSQL end every session of db's database but
// its own, as a restart would, and returns how many it ended.
func endAllSessions(t *testing.T, db string) int {
	return countIn(t, db, `SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`)
}

// countUnapplied counts the rail outcomes kept in db's inbox and not
// applied yet.
func countUnapplied(t *testing.T, db string) int {
	return countIn(t, db, `SELECT count(*) FROM inbox WHERE applied_at = 0`)
}

// countIn runs query, which answers one count, on db from outside.
func countIn(t *testing.T, db, query string) int {
	t.Helper()
	conn := lookInto(t, db)
	defer conn.Close()
	var n int
	if err := conn.QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
