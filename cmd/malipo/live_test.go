package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo/rails/momo/momosim"
	"github.com/malipo/malipo/secrets"
	"github.com/malipo/malipo/store/postgres/pgtest"
)

// liveSetup is a database with live rails added through `malipo rails
// add`, a master key file, and the flags `malipo serve` needs for them.
type liveSetup struct {
	db, keyFile string
}

func newLiveSetup(t *testing.T, db string) liveSetup {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return liveSetup{db: db, keyFile: keyFile}
}

// addRail adds a rail of kind with config, as an operator would.
func (l liveSetup) addRail(t *testing.T, kind string, config any, position int) map[string]any {
	t.Helper()
	b, _ := json.Marshal(config)
	var out map[string]any
	if err := json.Unmarshal([]byte(runCmd(t, "rails", "add", "--db", l.db, "--master-key-file", l.keyFile, "--kind", kind,
		"--config", string(b), "--position", fmt.Sprint(position))), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// liveKey creates a merchant and a live integration of flavor, and returns
// its credentials.
func (l liveSetup) liveKey(t *testing.T, flavor string, extra ...string) map[string]string {
	t.Helper()
	var m map[string]string
	json.Unmarshal([]byte(runCmd(t, "merchants", "create", "--name", "Duka", "--db", l.db)), &m)
	var creds map[string]string
	args := append([]string{"integrations", "create", "--merchant", m["id"], "--flavor", flavor, "--mode", "live", "--db", l.db}, extra...)
	if err := json.Unmarshal([]byte(runCmd(t, args...)), &creds); err != nil {
		t.Fatal(err)
	}
	return creds
}

// simulator is an MTN MoMo simulator on loopback.
func momoSimulator(t *testing.T, opt momosim.Options) (*momosim.Server, map[string]any) {
	t.Helper()
	sim := momosim.New(opt)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return sim, sim.Config(srv.URL)
}

// waitFor polls get until done says so, or fails after d.
func waitFor(t *testing.T, d time.Duration, what string, get func() map[string]any, done func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		v := get()
		if done(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after %s", what, v, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func final(v map[string]any) bool {
	s, _ := v["status"].(string)
	return s == "succeeded" || s == "failed" || s == "expired" || s == "cancelled"
}

// A live native integration against MTN MoMo simulators: a payment pushed
// to a phone succeeds through the operator's callback, and through status
// polling when callbacks are lost; MTN's failures come back as Malipo's
// failure codes; a payout reaches a phone by disbursement; calls the
// operator answers 500 after acting are asked about, never sent twice;
// routing skips a rail that does not serve a number; verify is clean.
func TestLiveMoMo(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "malipo.db")
			if engine == "postgres" {
				db = pgtest.URL(t)
			}
			liveMoMo(t, db)
		})
	}
}

func liveMoMo(t *testing.T, db string) {
	l := newLiveSetup(t, db)
	ug, ugConfig := momoSimulator(t, momosim.Options{Country: "UG", CallbackDelay: 300 * time.Millisecond})
	rw, rwConfig := momoSimulator(t, momosim.Options{Country: "RW", CallbackDelay: 300 * time.Millisecond, DropCallbacks: true})
	gh, ghConfig := momoSimulator(t, momosim.Options{Country: "GH", CallbackDelay: 300 * time.Millisecond, FailRate: 0.5, Seed: 7})
	added := l.addRail(t, "mtn-momo", ugConfig, 0)
	if p, _ := added["callback_path"].(string); !strings.HasPrefix(p, "/rails/mtn-ug/") || len(p) < len("/rails/mtn-ug/")+40 {
		t.Fatalf("rails add printed %v", added)
	}
	l.addRail(t, "mtn-momo", rwConfig, 0)
	l.addRail(t, "mtn-momo", ghConfig, 0)

	// rails list shows what each serves, never a credential.
	list := runCmd(t, "rails", "list", "--db", db)
	for _, secret := range []string{ugConfig["collection"].(map[string]string)["api_key"], ugConfig["collection"].(map[string]string)["subscription_key"], "callback"} {
		if strings.Contains(list, secret) {
			t.Errorf("rails list shows %q:\n%s", secret, list)
		}
	}
	if !strings.Contains(list, `"mtn-rw"`) || !strings.Contains(list, `"UGX"`) {
		t.Errorf("rails list:\n%s", list)
	}

	key := l.liveKey(t, "native")["secret_key"]
	s := startServer(t, db, "--master-key-file", l.keyFile, "--reconcile-after", "500ms")
	pay := func(ref, phone, currency string) map[string]any {
		return call(t, "POST", s.url+"/v1/payments", key, fmt.Sprintf(`{"amount":5000,"currency":%q,"reference":%q,"method":"mobile_money","phone":%q}`, currency, ref, phone))
	}
	get := func(kind, id string) func() map[string]any {
		return func() map[string]any { return call(t, "GET", s.url+"/v1/"+kind+"/"+id, key, "") }
	}
	settle := func(what string, p map[string]any, want, code string) map[string]any {
		t.Helper()
		id, _ := p["id"].(string)
		if id == "" {
			t.Fatalf("%s: %v", what, p)
		}
		kind := "payments"
		if strings.HasPrefix(id, "po_") {
			kind = "payouts"
		}
		got := waitFor(t, 15*time.Second, what, get(kind, id), final)
		failure, _ := got["failure"].(map[string]any)
		if got["status"] != want || (code != "" && (failure == nil || failure["code"] != code)) {
			t.Errorf("%s: %s %v, want %s %s", what, got["status"], failure, want, code)
		}
		return got
	}

	// The callback finishes a payment (after Malipo asks MTN to confirm it).
	settle("UG payment", pay("ug-1", "+256772120000", "UGX"), "succeeded", "")
	// MTN's failures, as Malipo's codes.
	settle("UG 0001", pay("ug-2", "+256772120001", "UGX"), "failed", "insufficient_funds")
	settle("UG 0002", pay("ug-3", "+256772120002", "UGX"), "failed", "customer_declined")
	settle("UG 0004", pay("ug-4", "+256772120004", "UGX"), "failed", "invalid_account")
	// Rwanda's callbacks are lost: status polling finishes the payment.
	settle("RW payment, no callback", pay("rw-1", "+250788120000", "RWF"), "succeeded", "")
	// No rail serves Kenya: a clear 503, nothing created.
	if got := pay("ke-1", "+254712120000", "KES"); got["error"] == nil || got["error"].(map[string]any)["code"] != "rail_unavailable" {
		t.Errorf("payment no rail serves: %v", got)
	}
	// Ghana's operator fails half its calls, some after acting: every
	// payment ends, and MTN holds one transaction per attempt.
	var ghIDs []string
	for i := range 8 {
		p := pay(fmt.Sprintf("gh-%d", i), "+233241120000", "GHS")
		if id, _ := p["id"].(string); id != "" {
			ghIDs = append(ghIDs, id)
		}
	}
	// A push lost before MTN acted ends its attempt (MTN never had it):
	// the payment stays payable. Any other ends the payment.
	waitFor(t, 30*time.Second, "GH attempts", func() map[string]any {
		return map[string]any{"in flight": countInFlight(t, db).attempts}
	}, func(v map[string]any) bool { return v["in flight"] == 0 })
	ghSucceeded := 0
	for _, id := range ghIDs {
		if got := get("payments", id)(); got["status"] == "succeeded" {
			ghSucceeded++
		}
	}
	if ghSucceeded == 0 {
		t.Errorf("no payment went through MTN Ghana")
	}
	if n := gh.Transactions()["collection SUCCESSFUL"]; n != ghSucceeded {
		t.Errorf("MTN Ghana took %d payments, Malipo recorded %d succeeded", n, ghSucceeded)
	}

	// A payout reaches a phone by disbursement; MTN's refusal fails one.
	settle("UG payout", call(t, "POST", s.url+"/v1/payouts", key, `{"amount":1000,"currency":"UGX","reference":"po-1","destination":{"type":"mobile_money","account":"+256772120000"}}`), "succeeded", "")
	settle("UG payout 0004", call(t, "POST", s.url+"/v1/payouts", key, `{"amount":1000,"currency":"UGX","reference":"po-2","destination":{"type":"mobile_money","account":"+256772120004"}}`), "failed", "invalid_account")

	if n := ug.Transactions()["collection SUCCESSFUL"]; n != 1 {
		t.Errorf("MTN Uganda took %d payments, want 1", n)
	}
	if n := rw.Transactions()["collection SUCCESSFUL"]; n != 1 {
		t.Errorf("MTN Rwanda took %d payments, want 1", n)
	}
	if n := ug.Transactions()["disbursement SUCCESSFUL"]; n != 1 {
		t.Errorf("MTN Uganda sent %d transfers, want 1", n)
	}
	metrics := getText(t, s.url+"/metrics")
	if !strings.Contains(metrics, `malipo_rail_calls_total{op="push",rail="mtn-gh",result="failed"}`) ||
		!strings.Contains(metrics, `malipo_rail_circuit_open{rail="mtn-ug"} 0`) {
		t.Errorf("metrics do not show the rails:\n%s", grepLines(metrics, "malipo_rail"))
	}
	s.stop()
	if out := runCmd(t, "verify", "--db", db); !strings.Contains(out, "ok") {
		t.Errorf("verify: %s", out)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}

func grepLines(text, substr string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// Live rails without the master key that sealed them do not start, and
// say why; rekey moves them to a new key.
func TestLiveRailsNeedTheirMasterKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "malipo.db")
	l := newLiveSetup(t, db)
	_, config := momoSimulator(t, momosim.Options{})
	l.addRail(t, "mtn-momo", config, 0)
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0", "--db", db}, {"serve", "--addr", "127.0.0.1:0", "--db", db, "--master-key-file", newLiveSetup(t, db).keyFile}} {
		var out, errOut syncBuffer
		err := run(t.Context(), args, noEnv, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "mtn-ug") {
			t.Errorf("malipo %s: %v, want a refusal naming the rail", strings.Join(args, " "), err)
		}
	}
	// Rotate: the new key first, the old one second; rekey; the old key alone no longer opens it.
	newKey := newLiveSetup(t, db)
	oldText, _ := os.ReadFile(l.keyFile)
	newText, _ := os.ReadFile(newKey.keyFile)
	both := filepath.Join(t.TempDir(), "both.key")
	os.WriteFile(both, []byte(strings.TrimSpace(string(newText))+","+string(oldText)), 0o600)
	if out := runCmd(t, "rails", "rekey", "--db", db, "--master-key-file", both); !strings.Contains(out, `"resealed": 1`) {
		t.Fatalf("rekey: %s", out)
	}
	newRing, _ := secrets.Parse(string(newText))
	if out := runCmd(t, "rails", "list", "--db", db); !strings.Contains(out, `"sealed_with": "`+newRing.Current()+`"`) {
		t.Fatalf("list after rekey, want sealed with %s: %s", newRing.Current(), out)
	}
	var out, errOut syncBuffer
	if err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--master-key-file", l.keyFile}, noEnv, &out, &errOut); err == nil {
		t.Error("serve started with the retired key")
	}
	s := startServer(t, db, "--master-key-file", newKey.keyFile)
	if !strings.Contains(s.out.String(), "live rails mtn-ug") {
		t.Errorf("start-up line: %s", s.out.String())
	}
}

// `malipo simulate mtn-momo` prints a ready configuration on one line and
// serves MTN's API.
func TestSimulateCommand(t *testing.T) {
	bin, err := buildMalipo()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "simulate", "mtn-momo", "--country", "RW", "--drop-callbacks")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var printed struct {
		Kind   string
		Config map[string]any
	}
	if err := json.Unmarshal([]byte(line), &printed); err != nil || printed.Kind != "mtn-momo" || !strings.HasPrefix(line, `{"kind":"mtn-momo","config":{`) {
		t.Fatalf("printed %q (%v)", line, err)
	}
	c := printed.Config
	if c["target_environment"] != "mtnrwanda" || fmt.Sprint(c["currencies"]) != "[RWF]" {
		t.Errorf("config %v", c)
	}
	col := c["collection"].(map[string]any)
	req, _ := http.NewRequest("POST", c["base_url"].(string)+"/collection/token/", nil)
	req.Header.Set("Ocp-Apim-Subscription-Key", col["subscription_key"].(string))
	req.Header.Set("Authorization", momosim.BasicAuth(col["api_user"].(string), col["api_key"].(string)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("token: %d", res.StatusCode)
	}
}
