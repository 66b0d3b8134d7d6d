// Package facetest builds what a provider face's tests stand on: a real
// SQLite store, a fake clock, the sandbox rails, a notification
// dispatcher and the gateway service, behind a real HTTP server whose mux
// the face and the checkout pages register on.
package facetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/checkout"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/storetest"
)

// Start is when every stack's fake clock starts.
var Start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// Stack is a running Malipo for one test.
type Stack struct {
	Store      store.Store
	Clock      *clock.Fake
	Sandbox    *sandbox.Rails
	Flavors    map[malipo.Flavor]notify.Flavor
	Dispatcher *notify.Dispatcher // driven with RunDue; jitter off
	Service    *gateway.Service
	Mux        *http.ServeMux // the checkout pages are on it
	Server     *httptest.Server
}

// New builds a stack whose sandbox answers after delay; seed fixes the
// random part of IDs.
func New(t testing.TB, delay time.Duration, seed int64) *Stack {
	t.Helper()
	s := &Stack{Store: storetest.SQLite(t), Clock: clock.NewFake(Start), Flavors: map[malipo.Flavor]notify.Flavor{}, Mux: http.NewServeMux()}
	t.Cleanup(func() { s.Store.Close() })
	s.Sandbox = sandbox.New(s.Store, s.Clock, delay, nil)
	s.Server = httptest.NewServer(s.Mux)
	t.Cleanup(s.Server.Close)
	s.Dispatcher = notify.New(notify.Config{Store: s.Store, Clock: s.Clock, Flavors: s.Flavors, Jitter: -1})
	s.Service = gateway.New(gateway.Config{Store: s.Store, Clock: s.Clock, IDs: ids.New(s.Clock.Now, rand.New(rand.NewSource(seed))),
		BaseURL: s.Server.URL, Wake: s.Dispatcher.Wake, Rails: map[malipo.Mode]rails.Set{malipo.ModeTest: s.Sandbox.Set()}})
	s.Sandbox.Connect(s.Service)
	checkout.New(s.Service, nil, nil).Register(s.Mux)
	return s
}

// Integration creates a merchant named name and an integration as in
// describes (its MerchantID is filled in).
func (s *Stack) Integration(t testing.TB, name string, in gateway.IntegrationInput) (malipo.Integration, gateway.Credentials) {
	t.Helper()
	m, err := s.Service.CreateMerchant(context.Background(), name, "")
	if err != nil {
		t.Fatal(err)
	}
	in.MerchantID = m.ID
	integ, creds, err := s.Service.CreateIntegration(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return integ, creds
}

// Seeds adds to a fuzz target the examples of its provider's document kept
// under the face's testdata/seed and the request bodies of its seed
// conformance examples, each with every selector below n.
func Seeds(f *testing.F, n int) {
	f.Helper()
	files, _ := filepath.Glob("testdata/seed/*")
	if len(files) == 0 {
		f.Fatal("no seed examples under testdata/seed")
	}
	var bodies [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	for _, ex := range LoadExamples(f, "testdata/conformance") {
		if ex.Body != "" {
			bodies = append(bodies, []byte(ex.Body))
		}
	}
	for _, b := range bodies {
		for i := range n {
			f.Add(b, uint8(i))
		}
	}
}

// Post sends body to url with the headers set, as a client of the face
// would, and checks what every answer to any input must be: not a server
// error, and JSON. It returns the status and the decoded answer.
func Post(t testing.TB, url string, body []byte, set func(*http.Request)) (int, any) {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		set(req)
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("POST %s with %q took %s", url, body, took)
	}
	if res.StatusCode >= 500 {
		t.Fatalf("POST %s with %q: %d %s", url, body, res.StatusCode, b)
	}
	var v any
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || json.Unmarshal(b, &v) != nil {
		t.Fatalf("POST %s with %q: %d %q is not a JSON answer (%s)", url, body, res.StatusCode, b, res.Header.Get("Content-Type"))
	}
	return res.StatusCode, v
}
