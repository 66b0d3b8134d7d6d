package live_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/live"
	"github.com/malipo/malipo/rails/momo/momosim"
	"github.com/malipo/malipo/secrets"
)

func keyring(t *testing.T) *secrets.Keyring {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	k, err := secrets.Parse(base64.StdEncoding.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func momoConfig(t *testing.T) []byte {
	t.Helper()
	sim := momosim.New(momosim.Options{Country: "UG"})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	b, _ := json.Marshal(sim.Config(srv.URL))
	return b
}

// hints records what the callback handler hands the gateway.
type hints struct {
	mu   sync.Mutex
	got  []string
	fail error
}

func (h *hints) Hint(_ context.Context, rail string, o rails.Outcome) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, rail+" "+o.Key+" "+string(o.Verdict)+" "+string(o.Raw))
	return h.fail
}

func TestNewSealsWhatItIsGiven(t *testing.T) {
	keys := keyring(t)
	config := momoConfig(t)
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	r, path, err := live.New("mtn-momo", config, 2, keys, "rail_1", now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "mtn-ug" || r.Mode != malipo.ModeLive || r.Position != 2 || len(r.Currencies) != 1 || r.Currencies[0] != "UGX" {
		t.Errorf("rail %+v", r)
	}
	if !strings.HasPrefix(path, "/rails/mtn-ug/") || len(path) != len("/rails/mtn-ug/")+48 {
		t.Errorf("callback path %q", path)
	}
	var cfg map[string]any
	json.Unmarshal(config, &cfg)
	key := cfg["collection"].(map[string]any)["api_key"].(string)
	if strings.Contains(r.Sealed, key) || strings.Contains(r.Sealed, path[len("/rails/mtn-ug/"):]) {
		t.Error("the sealed configuration shows a secret")
	}

	for _, bad := range []struct{ kind, config, want string }{
		{"wave", string(config), "unknown kind"},
		{"mtn-momo", `{"name":"x"`, "config"},
		{"mtn-momo", strings.Replace(string(config), `"name":"mtn-ug"`, `"name":"MTN UG"`, 1), "lower-case"},
		{"mtn-momo", strings.Replace(string(config), `"countries":["UG"]`, `"countries":[]`, 1), "countries"},
		{"mtn-momo", strings.Replace(string(config), `"base_url"`, `"base_uri"`, 1), "unknown field"},
		{"mtn-momo", strings.Replace(string(config), `"UGX"`, `"UG$"`, 1), "currency"},
	} {
		if _, _, err := live.New(bad.kind, []byte(bad.config), 0, keys, "rail_2", now); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("New(%s, %.40s…) = %v, want an error about %s", bad.kind, bad.config, err, bad.want)
		}
	}
	empty, _ := secrets.Parse("")
	if _, _, err := live.New("mtn-momo", config, 0, empty, "rail_3", now); err != secrets.ErrNoKey {
		t.Errorf("without a master key: %v", err)
	}

}

func TestResealMovesToTheCurrentKey(t *testing.T) {
	oldKey, newKey := randomKey(), randomKey()
	old, _ := secrets.Parse(oldKey)
	r, _, err := live.New("mtn-momo", momoConfig(t), 0, old, "rail_1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	both, _ := secrets.Parse(newKey + "," + oldKey)
	if changed, err := live.Reseal(&r, both); !changed || err != nil {
		t.Fatalf("Reseal = %v, %v", changed, err)
	}
	if changed, _ := live.Reseal(&r, both); changed {
		t.Error("resealed twice")
	}
	if _, err := live.Open([]malipo.Rail{r}, old, live.Options{}); err == nil {
		t.Error("the retired key still opens the rail")
	}
	onlyNew, _ := secrets.Parse(newKey)
	l, err := live.Open([]malipo.Rail{r}, onlyNew, live.Options{})
	if err != nil || l.Describe() != "live rails mtn-ug" {
		t.Fatalf("Open = %v, %v", l, err)
	}
	empty, _ := secrets.Parse("")
	if _, err := live.Open([]malipo.Rail{r}, empty, live.Options{}); err == nil || !strings.Contains(err.Error(), "mtn-ug") {
		t.Errorf("Open without a key: %v", err)
	}
}

func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Callbacks are taken only at the rail's own secret URL, by PUT (MTN) or
// POST, and handed over as hints with the operator's own words.
func TestCallbacksComeOnlyToTheSecretURL(t *testing.T) {
	keys := keyring(t)
	r, path, err := live.New("mtn-momo", momoConfig(t), 0, keys, "rail_1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l, err := live.Open([]malipo.Rail{r}, keys, live.Options{BaseURL: "https://pay.example"})
	if err != nil {
		t.Fatal(err)
	}
	h := &hints{}
	mux := http.NewServeMux()
	l.Register(mux, h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := `{"externalId":"pay_1-1","amount":"5000","currency":"UGX","payer":{"partyIdType":"MSISDN","partyId":"256772120000"},"status":"SUCCESSFUL","financialTransactionId":"123"}`
	send := func(method, path, body string) int {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	wrong := path[:len(path)-1] + "0"
	if path[len(path)-1] == '0' {
		wrong = path[:len(path)-1] + "1"
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"PUT", wrong, body, 404},
		{"PUT", "/rails/mtn-rw/" + path[len("/rails/mtn-ug/"):], body, 404},
		{"GET", path, "", 405},
		{"PUT", path, `{"status":"SUCCESSFUL"}`, 400}, // no externalId: nothing to confirm
		{"PUT", path, `not json`, 400},
		{"PUT", path, body, 200},
		{"POST", path + "/extra", body, 200},
	} {
		if got := send(c.method, c.path, c.body); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}
	if len(h.got) != 2 || h.got[0] != "mtn-ug pay_1-1 succeeded "+body {
		t.Errorf("hints: %q", h.got)
	}
	h.fail = malipo.Errorf(malipo.KindInternal, "store_down", "the store is down")
	if got := send("PUT", path, body); got != 500 {
		t.Errorf("callback the gateway could not record: %d, want 500", got)
	}
}
