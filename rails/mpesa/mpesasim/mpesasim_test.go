package mpesasim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo/rails/mpesa/mpesasim"
)

// Safaricom's own Node library (mpesa-node 0.1.3, pinned in testdata/sdk)
// works against the simulator with only its base URL changed: OAuth, an
// STK push, its query (pending, then final with a string ResultCode), the
// STK callback (a numeric ResultCode, CallbackMetadata on success), a
// refused AccountReference, and a B2C request whose SecurityCredential the
// library encrypts with the simulator's certificate and the simulator
// decrypts, answered by a Result at the ResultURL.
func TestSafaricomNodeLibrary(t *testing.T) {
	dir := filepath.Join("testdata", "sdk")
	nodeBin, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "mpesa-node")); err != nil || statErr != nil {
		if os.Getenv("MALIPO_REQUIRE_NODE") != "" {
			t.Fatalf("node and mpesa-node are required: cd %s && npm ci", dir)
		}
		t.Skip("node or mpesa-node is missing (cd rails/mpesa/mpesasim/testdata/sdk && npm ci)")
	}
	sim := mpesasim.New(mpesasim.Options{CallbackDelay: 200 * time.Millisecond})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	posts := map[string]string{}
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts[r.URL.Path] = string(b)
		mu.Unlock()
		w.Write([]byte(`{"ResultCode":0,"ResultDesc":"Accepted"}`))
	}))
	t.Cleanup(cb.Close)
	cert := filepath.Join(t.TempDir(), "cert.cer")
	os.WriteFile(cert, []byte(sim.CertificatePEM()), 0o600)
	cmd := exec.Command(nodeBin, "sdk.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE_URL="+srv.URL, "CONSUMER_KEY="+sim.ConsumerKey, "CONSUMER_SECRET="+sim.ConsumerSecret,
		"SHORTCODE="+sim.ShortCode, "PASSKEY="+sim.Passkey, "B2C_SHORTCODE="+sim.B2CShortCode, "INITIATOR="+sim.Initiator,
		"INITIATOR_PASSWORD="+sim.InitiatorPassword, "CERT_PATH="+cert, "CALLBACK_URL="+cb.URL+"/mpesa", "WAIT_MS=600")
	out, err := cmd.Output()
	var got map[string]any
	if jerr := json.Unmarshal(out, &got); jerr != nil || err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node sdk.js: %v\n%s\n%s", err, out, stderr)
	}
	push, _ := got["push"].(map[string]any)
	if push["ResponseCode"] != "0" || !strings.HasPrefix(push["CheckoutRequestID"].(string), "ws_CO_") {
		t.Errorf("push: %v", push)
	}
	if pending := mustJSON(got["pending"]); !strings.Contains(pending, `"status":500`) || !strings.Contains(pending, `"errorCode":"500.001.1001"`) {
		t.Errorf("query while pending: %s", pending)
	}
	if final, _ := got["final"].(map[string]any); final["ResultCode"] != "0" || final["ResponseCode"] != "0" {
		t.Errorf("query when final: %v (ResultCode must be the string \"0\")", final)
	}
	if bad := mustJSON(got["badReference"]); !strings.Contains(bad, `"status":400`) || !strings.Contains(bad, "AccountReference") {
		t.Errorf("a 20-character AccountReference: %s", bad)
	}
	if b2c, _ := got["b2c"].(map[string]any); b2c["ResponseCode"] != "0" || !strings.HasPrefix(b2c["ConversationID"].(string), "AG_") {
		t.Errorf("b2c: %v", b2c)
	}
	mu.Lock()
	defer mu.Unlock()
	var stk struct {
		Body struct {
			StkCallback struct {
				ResultCode        json.RawMessage
				CheckoutRequestID string
				CallbackMetadata  struct {
					Item []struct {
						Name  string
						Value json.RawMessage
					}
				}
			} `json:"stkCallback"`
		}
	}
	if err := json.Unmarshal([]byte(posts["/mpesa/stk"]), &stk); err != nil || string(stk.Body.StkCallback.ResultCode) != "0" ||
		len(stk.Body.StkCallback.CallbackMetadata.Item) != 5 {
		t.Errorf("STK callback %s", posts["/mpesa/stk"])
	}
	for _, item := range stk.Body.StkCallback.CallbackMetadata.Item {
		if item.Name == "PhoneNumber" && string(item.Value) != "254708370000" {
			t.Errorf("PhoneNumber %s, want a JSON number", item.Value)
		}
	}
	if res := posts["/mpesa/result"]; !strings.Contains(res, `"ResultCode":0`) || !strings.Contains(res, `"ResultParameter":[`) {
		t.Errorf("B2C result %s (the SecurityCredential the library made did not decrypt?)", res)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
