package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/ipay"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/store/storetest"
)

// Every request has an ID: the client's X-Request-Id when it sent one, else
// a fresh one; it comes back in the header, in a native error body, and in
// the JSON log lines the request causes.
func TestRequestIDsFollowARequest(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "malipo.db"), "--log-format", "json", "--log-level", "debug")
	send := func(method, path, id, body string) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.key)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}

	res, b := send("POST", "/v1/payments", "order-42-attempt-1", `{"amount":"lots"}`)
	var e struct {
		Error struct {
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	json.Unmarshal(b, &e)
	if res.StatusCode != 400 || res.Header.Get("X-Request-Id") != "order-42-attempt-1" || e.Error.RequestID != "order-42-attempt-1" {
		t.Errorf("client's ID: %d %q %s", res.StatusCode, res.Header.Get("X-Request-Id"), b)
	}

	res, b = send("GET", "/v1/payments/pay_nope", "", "")
	json.Unmarshal(b, &e)
	minted := res.Header.Get("X-Request-Id")
	if !strings.HasPrefix(minted, "req_") || e.Error.RequestID != minted {
		t.Errorf("minted ID: %q %s", minted, b)
	}

	// Provider faces keep their seeds' bodies and carry the ID in the header.
	res, _ = send("POST", "/paydunya/sandbox-api/v1/checkout-invoice/create", "pd-1", "{}")
	if res.Header.Get("X-Request-Id") != "pd-1" {
		t.Errorf("PayDunya face: %q", res.Header.Get("X-Request-Id"))
	}

	// The log lines are JSON objects, and the request's line carries its ID.
	want := map[string]bool{"order-42-attempt-1": false, minted: false, "pd-1": false}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(s.log.String()))
		for sc.Scan() {
			var line map[string]any
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("log line is not JSON: %s", sc.Text())
			}
			if id, ok := line["request_id"].(string); ok && line["msg"] == "request" {
				want[id] = true
			}
		}
		if want["order-42-attempt-1"] && want[minted] && want["pd-1"] {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("request lines with IDs %v in:\n%s", want, s.log.String())
}

// A backup taken while payments are being created and paid is a store of
// its own: the ledger audit passes on the copy, and it holds the payments
// paid before it began.
func TestBackupUnderLoad(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "malipo.db")
	s := startServer(t, db, "--sandbox-delay", "10ms")
	paid := func() int {
		v := call(t, "GET", s.url+"/v1/payments?status=succeeded&limit=100", s.key, "")
		return len(v["data"].([]any))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var created atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"amount":5000,"currency":"XOF","reference":"load-%d-%d","method":"mobile_money","phone":"+2250707120000"}`, w, i)
				req, _ := http.NewRequest("POST", s.url+"/v1/payments", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+s.key)
				if res, err := http.DefaultClient.Do(req); err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode == 201 {
						created.Add(1)
					}
				}
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for paid() < 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	before := paid()
	backup := filepath.Join(dir, "copy.db")
	runCmd(t, "backup", "--db", db, "--to", backup)
	time.Sleep(200 * time.Millisecond) // the load goes on after the copy
	close(stop)
	wg.Wait()
	if created.Load() == 0 || before == 0 {
		t.Fatalf("no load: %d created, %d paid", created.Load(), before)
	}

	out := runCmd(t, "verify", "--db", backup)
	m := regexp.MustCompile(`(\d+) succeeded payments`).FindStringSubmatch(out)
	if !strings.Contains(out, "ok: the ledger balances") || m == nil {
		t.Fatalf("verify on the copy:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < before {
		t.Errorf("the copy has %d succeeded payments; %d had succeeded before the backup began", n, before)
	}
	var out2, errOut syncBuffer
	if err := run(context.Background(), []string{"backup", "--db", db, "--to", backup}, noEnv, &out2, &errOut); err == nil ||
		!strings.Contains(err.Error(), "exists") {
		t.Errorf("backup over an existing file: %v", err)
	}
	if err := run(context.Background(), []string{"backup", "--db", "postgres://x@127.0.0.1/none", "--to", filepath.Join(dir, "pg")}, noEnv, &out2, &errOut); err == nil ||
		!strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("backup of PostgreSQL: %v", err)
	}
}

// SIGTERM stops the listener but lets a request under way finish, and a
// notification attempt under way be answered and recorded, before exiting.
func TestSIGTERMFinishesWhatIsUnderWay(t *testing.T) {
	db := filepath.Join(t.TempDir(), "malipo.db")
	p := startProcess(t, db, "--sandbox-delay", "10ms", "--shutdown-timeout", "10s")
	arrived := make(chan struct{}, 1)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		time.Sleep(700 * time.Millisecond) // answering when the signal comes
	}))
	defer rc.Close()
	call(t, "POST", p.url+"/v1/webhook_endpoints", p.key, `{"url":"`+rc.URL+`","events":["payment.succeeded"]}`)

	// A request whose body is still coming when the signal is sent.
	body, feed := io.Pipe()
	slow := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("POST", p.url+"/v1/payments", body)
		req.Header.Set("Authorization", "Bearer "+p.key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		slow <- res
	}()
	io.WriteString(feed, `{"amount":5000,"currency":"XOF",`)

	call(t, "POST", p.url+"/v1/payments", p.key, `{"amount":5000,"currency":"XOF","reference":"o-1","method":"mobile_money","phone":"+2250707120000"}`)
	select {
	case <-arrived:
	case <-time.After(15 * time.Second):
		t.Fatal("the notification never came")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	if _, err := http.Get(p.url + "/healthz"); err == nil {
		t.Error("still accepting connections after SIGTERM")
	}
	io.WriteString(feed, `"reference":"sent-slowly"}`)
	feed.Close()
	if res := <-slow; res == nil || res.StatusCode != 201 {
		t.Errorf("the request under way: %v", res)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, p.out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15 s after SIGTERM")
	}

	conn := lookInto(t, db)
	defer conn.Close()
	var status string
	var attempts int
	if err := conn.QueryRow(`SELECT status, attempts FROM deliveries`).Scan(&status, &attempts); err != nil || status != "succeeded" || attempts != 1 {
		t.Errorf("the delivery under way: %s after %d attempts (%v)", status, attempts, err)
	}
}

// /metrics shows what an operator's alerts watch: the notification backlog,
// rail attempts without a verdict, the latest ledger audit, and how the
// store's committers keep up.
func TestMetricsForAlerts(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "malipo.db"), "--sandbox-delay", "1h")
	call(t, "POST", s.url+"/v1/payments", s.key, `{"amount":5000,"currency":"XOF","reference":"o-1","method":"mobile_money","phone":"+2250707120000"}`)
	want := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^malipo_notification_backlog 0$`),
		regexp.MustCompile(`(?m)^malipo_notification_receivers_paused 0$`),
		regexp.MustCompile(`(?m)^malipo_notification_backlog_age_seconds 0$`),
		regexp.MustCompile(`(?m)^malipo_rail_attempts_in_flight 1$`),
		regexp.MustCompile(`(?m)^malipo_rail_attempt_oldest_age_seconds [0-9.e-]+$`),
		regexp.MustCompile(`(?m)^malipo_ledger_audit_failed 0$`),
		regexp.MustCompile(`(?m)^malipo_ledger_audit_timestamp_seconds [1-9][0-9.e+]+$`),
		regexp.MustCompile(`(?m)^malipo_store_writes_queued 0$`),
		regexp.MustCompile(`(?m)^malipo_store_batch_running_seconds [0-9.e-]+$`),
		regexp.MustCompile(`(?m)^malipo_store_aborts_total 0$`),
		regexp.MustCompile(`(?m)^malipo_store_batches_failed_total 0$`),
		regexp.MustCompile(`(?m)^malipo_store_batch_writes_count [1-9][0-9]*$`),
		regexp.MustCompile(`(?m)^malipo_store_batch_wait_seconds_count [1-9][0-9]*$`),
		regexp.MustCompile(`(?m)^malipo_store_batch_seconds_bucket\{le="5"\} [1-9][0-9]*$`),
	}
	var text string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		text = scrape(t, s.url)
		missing := false
		for _, re := range want {
			missing = missing || !re.MatchString(text)
		}
		if !missing {
			return
		}
	}
	for _, re := range want {
		if !re.MatchString(text) {
			t.Errorf("no %s in /metrics", re)
		}
	}
}

// A node that cannot commit promptly refuses new work at once, in each
// face's own format, with 503 and Retry-After, and does nothing: here every
// request's first write is past its deadline (--queue-wait 1ns).
func TestOverloadedNodeRefusesInEachFacesFormat(t *testing.T) {
	db := filepath.Join(t.TempDir(), "malipo.db")
	s := startServer(t, db, "--queue-wait", "1ns")
	var m struct{ ID string }
	json.Unmarshal([]byte(runCmd(t, "merchants", "create", "--name", "Duka", "--db", db)), &m)
	pd := credentials(t, db, m.ID, "paydunya")
	cp := credentials(t, db, m.ID, "cinetpay", "--currency", "XOF")
	kp := credentials(t, db, m.ID, "kpay")
	cl := credentials(t, db, m.ID, "clickpay")
	ip := credentials(t, db, m.ID, "ipay", "--payouts")
	ipayFields := map[string]any{"vid": ip["vid"], "reference": "ip-1", "account": "888880", "amount": "100.00", "narration": "ACC-77", "curr": "KES"}
	ipayFields["hash"] = ipay.Hash(ip["security_key"], ipayFields)
	ipayBody, _ := json.Marshal(ipayFields)

	for _, c := range []struct {
		name, path, body string
		auth             func(*http.Request)
		want             string
	}{
		{"native", "/v1/payments", `{"amount":5000,"currency":"XOF","reference":"o-1"}`,
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+s.key) }, `"code":"busy"`},
		{"PayDunya", "/paydunya/sandbox-api/v1/checkout-invoice/create", `{"invoice":{"total_amount":5000,"description":"x"},"store":{"name":"Choco"}}`,
			func(r *http.Request) {
				r.Header.Set("PAYDUNYA-MASTER-KEY", pd["master_key"])
				r.Header.Set("PAYDUNYA-PRIVATE-KEY", pd["private_key"])
				r.Header.Set("PAYDUNYA-TOKEN", pd["token"])
			}, `"response_code":"5003"`},
		{"CinetPay", "/cinetpay/v2/payment", `{"apikey":"` + cp["apikey"] + `","site_id":"` + cp["site_id"] + `","transaction_id":"t-1","amount":100,"currency":"XOF","description":"x","notify_url":"https://shop.example/n","return_url":"https://shop.example/r"}`,
			func(*http.Request) {}, `"code":"503"`},
		{"KPay", "/kpay/", `{"action":"pay","msisdn":"0788312934","details":"x","refid":"r-1","amount":100,"currency":"RWF","email":"i@example.rw","cname":"KANEZA","cnumber":"0788123457","pmethod":"momo","retailerid":"` + kp["retailer_id"] + `","bankid":"63510","returl":"https://s.example/r","redirecturl":"https://s.example/d"}`,
			func(r *http.Request) { r.SetBasicAuth(kp["username"], kp["password"]) }, `"retcode":606`},
		{"ClickPay", "/clickpay/api/card/payment-url", `{"account_id":"` + cl["account_id"] + `","amount":"100","currency":"TZS","order_info":"o-1"}`,
			func(r *http.Request) { r.Header.Set("Authorization", cl["api_key"]) }, `temporarily offline`},
		{"iPay", "/ipay/b2b/v1/external/send/mpesapaybill", string(ipayBody), func(*http.Request) {}, `"status":503`},
	} {
		req, _ := http.NewRequest("POST", s.url+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		c.auth(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 503 || res.Header.Get("Retry-After") != "1" || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d Retry-After %q %s", c.name, res.StatusCode, res.Header.Get("Retry-After"), b)
		}
	}
	// Reads are served, and nothing was made.
	if list := call(t, "GET", s.url+"/v1/payments", s.key, ""); len(list["data"].([]any)) != 0 {
		t.Errorf("payments after refusals: %v", list)
	}
	conn := lookInto(t, db)
	defer conn.Close()
	var n int
	if err := conn.QueryRow(`SELECT (SELECT COUNT(*) FROM payments) + (SELECT COUNT(*) FROM payouts)`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d payments and payouts in the store (%v)", n, err)
	}
}

// A request the shedder refuses is answered at once as its face answers a
// busy gateway; pages get a page.
func TestBusyAnswersSpeakEachFace(t *testing.T) {
	st := storetest.SQLite(t)
	clk := clock.Real{}
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil)})
	fs := newFaces(svc, clk, slog.New(slog.DiscardHandler))
	refuse := busyAnswers(fs.native, map[string]refuser{"/paydunya/": fs.paydunya, "/cinetpay/": fs.cinetpay, "/kpay/": fs.kpay, "/ipay/": fs.ipay, "/clickpay/": fs.clickpay})
	for path, want := range map[string]string{
		"/v1/payments": `"code":"busy"`,
		"/paydunya/sandbox-api/v1/checkout-invoice/create": `"response_code":"5003"`,
		"/cinetpay/v2/payment":                             `"code":"503"`,
		"/kpay/":                                           `"retcode":606`,
		"/ipay/b2b/v1/external/send/mpesapaybill":          `internal server error`,
		"/clickpay/api/card/payment-url":                   `"status":503`,
		"/pay/pay_x.tok/mobile_money":                      `Nothing was done or charged`,
		"/dashboard/payments":                              `Rien n’a été fait ni débité`,
	} {
		rec := httptest.NewRecorder()
		refuse(rec, httptest.NewRequest("POST", path, nil))
		if rec.Code != 503 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

// The webhook pause's flags reach the dispatcher: with
// --webhook-pause-after 1, one attempt that a receiver refuses pauses it
// (the default waits for five); bad values are refused before the node
// starts.
func TestWebhookPauseFlags(t *testing.T) {
	for _, bad := range [][]string{
		{"--webhook-pause-after", "0"}, {"--webhook-pause", "0s"}, {"--webhook-pause", "1h", "--webhook-max-pause", "1m"},
		{"--webhook-receiver-share", "-1"},
	} {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "m.db")}, bad...)
		var out, errOut syncBuffer
		if err := run(context.Background(), args, noEnv, &out, &errOut); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("serve %v: %v, want an error naming %s", bad, err, bad[0])
		}
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusing := "http://" + closed.Addr().String() + "/ipn"
	closed.Close()
	s := startServer(t, filepath.Join(t.TempDir(), "malipo.db"), "--webhook-pause-after", "1", "--webhook-pause", "1h", "--webhook-max-pause", "1h")
	call(t, "POST", s.url+"/v1/payments", s.key, `{"amount":5000,"currency":"XOF","reference":"w-1","method":"mobile_money","phone":"+2250707120000","notify_url":"`+refusing+`"}`)
	var text string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if text = scrape(t, s.url); strings.Contains(text, "\nmalipo_notification_receivers_paused 1\n") {
			return
		}
	}
	t.Errorf("no receiver paused after one refused attempt with --webhook-pause-after 1: %q",
		regexp.MustCompile(`(?m)^malipo_notification_receivers_paused \S+`).FindString(text))
}

// scrape reads the node's /metrics.
func scrape(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// The collector's flags reach the runtime while the node runs and are put
// back when it stops; a setting that would never collect is refused
// before the node (or the bench's ceiling, which runs as a node does)
// starts.
func TestCollectorFlags(t *testing.T) {
	for _, cmd := range [][]string{{"serve", "--db", filepath.Join(t.TempDir(), "m.db")}, {"bench-ceiling"}} {
		for _, bad := range [][]string{{"--gc-percent", "-2"}, {"--gc-percent", "-1", "--memory-limit", "0"}} {
			args := append(append(cmd, "--addr", "127.0.0.1:0"), bad...)
			var out, errOut syncBuffer
			if err := run(context.Background(), args, noEnv, &out, &errOut); err == nil || !strings.Contains(err.Error(), "--gc-percent") {
				t.Errorf("%v: %v, want an error naming --gc-percent", args, err)
			}
		}
	}
	read := func() (percent, limit uint64) {
		m := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
		metrics.Read(m)
		return m[0].Value.Uint64(), m[1].Value.Uint64()
	}
	percent, limit := read()
	s := startServer(t, filepath.Join(t.TempDir(), "malipo.db"), "--gc-percent", "250", "--memory-limit", "96MiB")
	if p, l := read(); p != 250 || l != 96<<20 {
		t.Errorf("while serving: GOGC %d, memory limit %d; want 250 and %d", p, l, 96<<20)
	}
	s.stop()
	if p, l := read(); p != percent || l != limit {
		t.Errorf("after serving: GOGC %d, memory limit %d; want them back at %d and %d", p, l, percent, limit)
	}
}

// /healthz answers 503 "stuck" while a batch of writes has run past the
// bound (a committer held where no timeout reaches, as a look at a
// socket once was behind pgx's own read), and 200 again once it ends.
func TestHealthzSaysStuckWhileABatchRunsTooLong(t *testing.T) {
	st := storetest.SQLite(t)
	health := healthz(st, 100*time.Millisecond)
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		health(rec, httptest.NewRequest("GET", "/healthz", nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get(); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Fatalf("idle store: %d %s", code, body)
	}
	held := storetest.HoldCommitters(t, st)
	time.Sleep(50 * time.Millisecond)
	if code, body := get(); code != http.StatusOK {
		t.Errorf("a batch under way, not yet past the bound: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	code, body := get()
	for code == http.StatusOK && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		code, body = get()
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"stuck"`) || !strings.Contains(body, "a batch of writes has run for") {
		t.Errorf("a batch past the bound: %d %s", code, body)
	}
	if err := held.Wait(); err != nil {
		t.Fatal(err)
	}
	for code != http.StatusOK && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		code, body = get()
	}
	if code != http.StatusOK {
		t.Errorf("the batch is done: %d %s", code, body)
	}
}

// malipo verify fails on a rail outcome not applied within a minute of
// coming, and lists one that came since as retrying without failing on
// it: a database's hiccup just before an audit pages no one.
func TestVerifyTellsRetryingOutcomesFromUnapplied(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	runCmd(t, "migrate", "--db", db)
	conn, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	insert := func(id string, received time.Time) {
		t.Helper()
		if _, err := conn.Exec(`INSERT INTO inbox (id, rail, mode, attempt_id, source, verdict, rail_reference, failure_code,
			failure_reason, amount, currency, body, received_at, applied_at, result, error, tries, retry_at)
			VALUES (?, 'sandbox', 'test', 'pay_x-1', 'callback', 'succeeded', '', '', '', 0, 'XOF', '{}', ?, 0, '', 'the database went away', 1, ?)`,
			id, received.UnixMicro(), received.Add(5*time.Second).UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	insert("ib_retrying", time.Now())
	if out := runCmd(t, "verify", "--db", db); !strings.Contains(out, "retrying: 1 rail outcomes") || !strings.Contains(out, "[ib_retrying]") ||
		!strings.Contains(out, "ok: the ledger balances") {
		t.Errorf("verify with an outcome waiting for its retry:\n%s", out)
	}
	insert("ib_stuck", time.Now().Add(-2*time.Minute))
	var out, errOut syncBuffer
	err = run(context.Background(), []string{"verify", "--db", db}, noEnv, &out, &errOut)
	if err == nil || !strings.Contains(out.String(), "FAIL rail outcomes not applied within a minute: [ib_stuck]") ||
		!strings.Contains(out.String(), "[ib_retrying]") {
		t.Errorf("verify with an outcome unapplied for two minutes: %v\n%s", err, out.String())
	}
}
