package momosim_test

import (
	"encoding/json"
	"io"
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

	"github.com/malipo/malipo/rails/momo/momosim"
)

// MTN's own Node SDK (mtn-momo 2.0.0, pinned in testdata/sdk) works against
// the simulator unchanged: provisioning, request-to-pay, its status and
// callback, a rejected request, balance, account holders and a transfer.
func TestMTNNodeSDK(t *testing.T) {
	dir := filepath.Join("testdata", "sdk")
	nodeBin, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "mtn-momo")); err != nil || statErr != nil {
		if os.Getenv("MALIPO_REQUIRE_NODE") != "" {
			t.Fatalf("node and MTN's SDK are required: cd %s && npm ci", dir)
		}
		t.Skip("node or MTN's SDK is missing (cd rails/momo/momosim/testdata/sdk && npm ci)")
	}
	sim := momosim.New(momosim.Options{Country: "UG", CallbackDelay: 200 * time.Millisecond})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	var callbacks []string
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		callbacks = append(callbacks, r.Method+" "+string(b))
		mu.Unlock()
	}))
	t.Cleanup(cb.Close)
	u, _ := url.Parse(cb.URL)
	cmd := exec.Command(nodeBin, "sdk.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MOMO_BASE_URL="+srv.URL, "MOMO_ENVIRONMENT="+sim.TargetEnvironment(),
		"CURRENCY="+sim.Currency(), "COLLECTION_KEY="+sim.CollectionKey, "DISBURSEMENT_KEY="+sim.DisbursementKey,
		"API_USER="+sim.APIUser, "API_KEY="+sim.APIKey, "CALLBACK_HOST="+u.Hostname(), "CALLBACK_URL="+cb.URL+"/momo", "WAIT_MS=600")
	out, err := cmd.Output()
	var got map[string]any
	if jerr := json.Unmarshal(out, &got); jerr != nil || err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node sdk.js: %v\n%s\n%s", err, out, stderr)
	}
	for k, want := range map[string]any{"provisioned": true, "pending": "PENDING", "final": "SUCCESSFUL", "amount": "5000",
		"rejected": "ApprovalRejectedError", "payerActive": map[string]any{"result": true}, "transfer": "SUCCESSFUL"} {
		if g, _ := json.Marshal(got[k]); string(g) != mustJSON(want) {
			t.Errorf("%s = %s, want %s", k, g, mustJSON(want))
		}
	}
	if got["financialTransactionId"] == "" || got["balance"].(map[string]any)["currency"] != "UGX" {
		t.Errorf("answer %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	// Only the request that named a callback URL is called back: once, by PUT.
	if len(callbacks) != 1 || !strings.HasPrefix(callbacks[0], "PUT ") || !strings.Contains(callbacks[0], `"status":"SUCCESSFUL"`) ||
		!strings.Contains(callbacks[0], `"externalId":"sdk-1"`) {
		t.Errorf("callbacks %v; want one PUT of the success", callbacks)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
