package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/malipo/malipo/store/postgres/pgtest"
	"github.com/malipo/malipo/webhook"
)

// binDir holds the binary buildMalipo makes; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildMalipo compiles this command into a temporary binary, once per test
// run.
var buildMalipo = sync.OnceValues(func() (string, error) {
	var err error
	if binDir, err = os.MkdirTemp("", "malipo-bin-"); err != nil {
		return "", err
	}
	bin := filepath.Join(binDir, "malipo")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is `malipo serve` running as a real operating-system process.
type process struct {
	cmd      *exec.Cmd
	url, key string
	out      *syncBuffer
}

func startProcess(t *testing.T, db string, extra ...string) *process {
	t.Helper()
	bin, err := buildMalipo()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, out: out}
	t.Cleanup(func() { p.kill() })
	urlRe := regexp.MustCompile(`listening on (http://\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			if res, err := http.Get(m[1] + "/healthz"); err == nil {
				res.Body.Close()
				p.url = m[1]
				p.key = regexp.MustCompile(`sk_test_[a-z2-7]+`).FindString(out.String())
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("malipo serve did not start:\n%s", out.String())
	return nil
}

// kill ends the process with SIGKILL: no shutdown, no flushing.
func (p *process) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// slowReceiver takes its time over each notification, like a merchant's
// busy server, and keeps what it was sent.
type slowReceiver struct {
	*httptest.Server
	secret      string
	mu          sync.Mutex
	delivered   map[string]int // webhook-id → acknowledged deliveries
	interrupted map[string]int // webhook-id → attempts cut off mid-answer
	inFlight    int            // attempts being answered right now
	lastStart   time.Time      // when the latest of them came in
	delay       time.Duration  // how long each answer takes
	bad         []string
}

func newSlowReceiver(t *testing.T, delay time.Duration) *slowReceiver {
	rc := &slowReceiver{delivered: map[string]int{}, interrupted: map[string]int{}, delay: delay}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get(webhook.HeaderID)
		rc.mu.Lock()
		secret := rc.secret
		rc.mu.Unlock()
		if err := webhook.Verify(secret, r.Header, body, time.Minute, time.Now()); err != nil {
			rc.mu.Lock()
			rc.bad = append(rc.bad, fmt.Sprintf("%s: %v", id, err))
			rc.mu.Unlock()
			w.WriteHeader(400)
			return
		}
		rc.mu.Lock()
		rc.inFlight++
		rc.lastStart = time.Now()
		rc.mu.Unlock()
		select {
		case <-time.After(delay):
		case <-r.Context().Done(): // the sender died while we worked
			rc.mu.Lock()
			rc.inFlight--
			rc.interrupted[id]++
			rc.mu.Unlock()
			return
		}
		rc.mu.Lock()
		rc.inFlight--
		rc.delivered[id]++
		rc.mu.Unlock()
		w.WriteHeader(204)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *slowReceiver) counts() (delivered, interrupted int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.delivered), len(rc.interrupted)
}

// eachDatabase runs fn as a subtest on a fresh SQLite file and on a fresh
// PostgreSQL schema (skipped without MALIPO_TEST_DATABASE_URL).
func eachDatabase(t *testing.T, fn func(t *testing.T, db string)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "malipo.db")
			if engine == "postgres" {
				db = pgtest.URL(t)
			}
			fn(t, db)
		})
	}
}

func TestCrashMidDeliveryLosesNothing(t *testing.T) {
	eachDatabase(t, crashMidDelivery)
}

func crashMidDelivery(t *testing.T, db string) {
	const events = 24
	// Four workers, each answer taking 400 ms: the deliveries take about
	// 2.4 s, and the kill lands while four are in flight.
	flags := []string{"--webhook-workers", "4", "--webhook-timeout", "2s"}
	rc := newSlowReceiver(t, 400*time.Millisecond)
	p := startProcess(t, db, flags...)
	key := p.key
	ep := call(t, "POST", p.url+"/v1/webhook_endpoints", key, `{"url":"`+rc.URL+`"}`)
	secret, _ := ep["secret"].(string)
	if secret == "" {
		t.Fatalf("create endpoint: %v", ep)
	}
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()

	for i := range events {
		pay := call(t, "POST", p.url+"/v1/payments", key, fmt.Sprintf(`{"amount":%d,"currency":"XOF","reference":"crash-%d"}`, 100*(i+1), i))
		id, _ := pay["id"].(string)
		if got := call(t, "POST", p.url+"/v1/sandbox/payments/"+id+"/outcome", key, `{"outcome":"succeeded"}`); got["status"] != "succeeded" {
			t.Fatalf("outcome: %v", got)
		}
	}
	// Kill once some notifications are through and others are mid-answer:
	// a wave of attempts that came in lately, not the last of a wave that
	// is finishing (its attempts end together, so one may still count as
	// in flight while the others are delivered).
	deadline := time.Now().Add(20 * time.Second)
	for {
		rc.mu.Lock()
		ready := len(rc.delivered) >= 4 && rc.inFlight > 0 && time.Since(rc.lastStart) < rc.delay/2
		rc.mu.Unlock()
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notification arrived before the kill:\n%s", p.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.kill()
	before, _ := rc.counts()
	if before >= events {
		t.Fatalf("all %d events were delivered before the kill: the test proves nothing", events)
	}
	// Let the receiver see the dropped connections.
	for wait := time.Now().Add(2 * time.Second); time.Now().Before(wait); time.Sleep(10 * time.Millisecond) {
		if _, cut := rc.counts(); cut > 0 {
			break
		}
	}

	// Restart on the same database: every event arrives at least once.
	p = startProcess(t, db, flags...)
	var all []string
	list := call(t, "GET", p.url+"/v1/events?limit=100", key, "")
	for _, e := range list["data"].([]any) {
		all = append(all, e.(map[string]any)["id"].(string))
	}
	if len(all) != events {
		t.Fatalf("%d events stored, want %d", len(all), events)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		if d, _ := rc.counts(); d == events {
			break
		}
		if time.Now().After(deadline) {
			d, _ := rc.counts()
			t.Fatalf("after the restart %d of %d events were delivered:\n%s", d, events, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Errorf("badly signed notifications: %v", rc.bad)
	}
	if len(rc.interrupted) == 0 {
		t.Errorf("no attempt was in flight when the process was killed: the test proves nothing")
	}
	for _, id := range all {
		if rc.delivered[id] == 0 {
			t.Errorf("event %s was never delivered", id)
		}
	}
	// Duplicates are allowed (at least once), but they are the same
	// message: an interrupted attempt comes back under the same webhook-id.
	for id := range rc.interrupted {
		if rc.delivered[id] == 0 {
			t.Errorf("event %s was cut off by the kill and never delivered after the restart", id)
		}
	}
	for id := range rc.delivered {
		if !contains(all, id) {
			t.Errorf("the receiver got webhook-id %s, which is no event", id)
		}
	}
	t.Logf("delivered %d before the kill, %d cut off mid-answer, all %d after the restart", before, len(rc.interrupted), events)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
