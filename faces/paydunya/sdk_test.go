package paydunya_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/checkout"
	"github.com/malipo/malipo/faces/checkout/checkouttest"
	"github.com/malipo/malipo/faces/paydunya"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store/storetest"
)

// live is a running Malipo on the real clock, with the PayDunya face,
// the checkout pages, the sandbox rails and a notification dispatcher.
type live struct {
	url   string
	svc   *gateway.Service
	creds gateway.Credentials
	integ malipo.Integration
}

func startLive(t *testing.T) *live {
	t.Helper()
	st := storetest.SQLite(t)
	t.Cleanup(func() { st.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	clk := clock.Real{}
	flavors := map[malipo.Flavor]notify.Flavor{}
	disp := notify.New(notify.Config{Store: st, Clock: clk, Flavors: flavors, Poll: 50 * time.Millisecond})
	sb := sandbox.New(st, clk, 200*time.Millisecond, nil)
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, nil), BaseURL: base, Wake: disp.Wake,
		Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set()}})
	sb.Connect(svc)
	face := paydunya.New(svc, nil)
	flavors[malipo.FlavorPayDunya] = face.Flavor()
	mux := http.NewServeMux()
	face.Register(mux, "/paydunya")
	checkout.New(svc, nil, nil).Register(mux)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); disp.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	m, _ := svc.CreateMerchant(context.Background(), "Magasin le Choco", "")
	on := true
	integ, creds, err := svc.CreateIntegration(context.Background(), gateway.IntegrationInput{MerchantID: m.ID, Flavor: malipo.FlavorPayDunya, Mode: malipo.ModeTest, Payouts: &on})
	if err != nil {
		t.Fatal(err)
	}
	return &live{url: base, svc: svc, creds: creds, integ: integ}
}

// ipnReceiver is a merchant's callback endpoint written from PayDunya's
// rules: the form's data[hash] must be the SHA-512 of the master key.
type ipnReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []url.Values
	body []string
}

func newIPNReceiver(t *testing.T) *ipnReceiver {
	rc := &ipnReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(b))
		if err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(400)
			return
		}
		rc.mu.Lock()
		rc.got, rc.body = append(rc.got, form), append(rc.body, string(b))
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *ipnReceiver) wait(t *testing.T, n int) []url.Values {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc.mu.Lock()
		got := append([]url.Values(nil), rc.got...)
		rc.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// node runs one step of testdata/sdk/sdk.js and decodes what it prints.
func node(t *testing.T, l *live, step string, extra ...string) map[string]any {
	t.Helper()
	dir := filepath.Join("testdata", "sdk")
	nodeBin, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "paydunya")); err != nil || statErr != nil {
		if os.Getenv("MALIPO_REQUIRE_NODE") != "" {
			t.Fatalf("node and the PayDunya SDK are required: cd %s && npm ci", dir)
		}
		t.Skip("node or the PayDunya SDK is missing (cd faces/paydunya/testdata/sdk && npm ci)")
	}
	cmd := exec.Command(nodeBin, "sdk.js", step)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PAYDUNYA_BASE_URL="+l.url+"/paydunya/sandbox-api/v1",
		"PAYDUNYA_MASTER_KEY="+l.creds["master_key"], "PAYDUNYA_PRIVATE_KEY="+l.creds["private_key"],
		"PAYDUNYA_PUBLIC_KEY="+l.creds["public_key"], "PAYDUNYA_TOKEN="+l.creds["token"])
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.Output()
	var v map[string]any
	if jerr := json.Unmarshal(out, &v); jerr != nil || err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node sdk.js %s: %v\n%s\n%s", step, err, out, stderr)
	}
	return v
}

func TestOfficialNodeSDK(t *testing.T) {
	l := startLive(t)
	ipn := newIPNReceiver(t)
	ctx := context.Background()

	created := node(t, l, "create", "CALLBACK_URL="+ipn.URL+"/ipn")
	token, _ := created["token"].(string)
	if created["status"] != "pending" || created["totalAmount"] != 42300.0 || !strings.HasPrefix(token, "test_") ||
		!strings.HasPrefix(created["url"].(string), l.url+"/pay/") {
		t.Fatalf("create: %v", created)
	}
	// The customer opens the checkout page: the store, the items and the
	// taxes are there. They pay by mobile money (a sandbox number that
	// approves) and land on the "approve on your phone" page.
	page := checkouttest.Get(t, created["url"].(string))
	for _, want := range []string{"Magasin le Choco", "Chaussures Croco", "TVA (18%)", "42\u202f300\u00a0FCFA"} {
		if !strings.Contains(page, want) {
			t.Errorf("the checkout page lacks %q", want)
		}
	}
	if landed := checkouttest.PayMobileMoney(t, created["url"].(string), "+221770000000"); !strings.Contains(landed, `id="waiting"`) {
		t.Errorf("after paying, not the waiting page:\n%s", landed)
	}
	forms := ipn.wait(t, 1)
	if len(forms) != 1 {
		t.Fatalf("no callback arrived")
	}
	form := forms[0]
	if form.Get("data[hash]") != paydunya.Hash(l.creds["master_key"]) || form.Get("data[status]") != "completed" ||
		form.Get("data[invoice][token]") != token || form.Get("data[invoice][total_amount]") != "42300" ||
		form.Get("data[custom_data][categorie]") != "Jeu concours" || form.Get("data[invoice][items][item_0][name]") != "Chaussures Croco" {
		t.Errorf("callback form: %v", form)
	}
	confirmed := node(t, l, "confirm", "INVOICE_TOKEN="+token)
	if confirmed["status"] != "completed" || confirmed["totalAmount"] != 42300.0 || confirmed["receiptURL"] == nil {
		t.Errorf("confirm after payment: %v", confirmed)
	}
	if cd, _ := confirmed["customData"].(map[string]any); cd["categorie"] != "Jeu concours" || cd["numero_gagnant"] != 5.0 {
		t.Errorf("custom data: %v", confirmed["customData"])
	}

	opr := node(t, l, "opr")
	if opr["status"] != "completed" || opr["created"].(map[string]any)["oprToken"] == nil {
		t.Fatalf("opr: %v", opr)
	}
	// The OPR and the checkout invoice paid 47,300 FCFA: 4,500 can go out.
	dp := node(t, l, "directpay")
	if dp["responseText"] != "Transaction completed successfully" || !strings.HasPrefix(dp["transactionID"].(string), "po_") {
		t.Errorf("direct pay: %v", dp)
	}
	bad := node(t, l, "badkey")
	if data, _ := bad["data"].(map[string]any); bad["error"] != "Failed to create invoice." || data["response_code"] != "1001" {
		t.Errorf("bad key: %v", bad)
	}
	if r, err := l.svc.Verify(ctx); err != nil || !r.Clean() {
		t.Errorf("ledger: %+v %v", r, err)
	}
}
