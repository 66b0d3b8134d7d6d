// Package facetest builds what a provider face's tests stand on: a real
// SQLite store, a fake clock, the sandbox rails, a notification
// dispatcher and the gateway service, behind a real HTTP server whose mux
// the face and the checkout pages register on.
package facetest

import (
	"context"
	"math/rand"
	"net/http"
	"net/http/httptest"
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
func New(t *testing.T, delay time.Duration, seed int64) *Stack {
	t.Helper()
	s := &Stack{Store: storetest.SQLite(t), Clock: clock.NewFake(Start), Flavors: map[malipo.Flavor]notify.Flavor{}, Mux: http.NewServeMux()}
	t.Cleanup(func() { s.Store.Close() })
	s.Sandbox = sandbox.New(s.Clock, delay, nil)
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
func (s *Stack) Integration(t *testing.T, name string, in gateway.IntegrationInput) (malipo.Integration, gateway.Credentials) {
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
