package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/malipo/malipo/rails/airtel/airtelsim"
	"github.com/malipo/malipo/rails/momo/momosim"
	"github.com/malipo/malipo/rails/mpesa/mpesasim"
)

// simulateCmd runs an operator's simulator: the operator's own API, for
// Malipo's connectors and for anyone's development.
type simulateCmd struct {
	Kind          string        `arg:"" enum:"mtn-momo,mpesa,airtel" help:"Operator to simulate: mtn-momo, mpesa (Safaricom Daraja, Kenya) or airtel."`
	Addr          string        `default:"127.0.0.1:0" help:"Listen address."`
	Country       string        `default:"" help:"ISO 3166 country served (default UG with its currency; mpesa: KE)."`
	CallbackURL   string        `name:"callback-url" help:"airtel: the callback URL set on Airtel's developer portal (the base URL plus the callback_path rails add printed); also settable later by PUT /_simulator/callback-url {\"url\":…}."`
	CallbackDelay time.Duration `name:"callback-delay" default:"3s" help:"How long the simulated customer takes to answer."`
	DropCallbacks bool          `name:"drop-callbacks" help:"Never call back: only status polling finishes a transaction."`
	FailRate      float64       `name:"fail-rate" default:"0" help:"Fraction (0 to 1) of calls answered 500/503."`
	LogLevel      string        `name:"log-level" default:"info" enum:"debug,info,warn,error" help:"Log level."`
}

func (s simulateCmd) Run(c *cli, e *env) error {
	if s.FailRate < 0 || s.FailRate > 1 {
		return errors.New("--fail-rate is a fraction between 0 and 1")
	}
	var level slog.Level
	level.UnmarshalText([]byte(s.LogLevel))
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	base := "http://" + displayAddr(ln.Addr())
	var handler http.Handler
	var config map[string]any
	switch s.Kind {
	case "mtn-momo":
		sim := momosim.New(momosim.Options{Country: strings.ToUpper(s.Country), CallbackDelay: s.CallbackDelay,
			DropCallbacks: s.DropCallbacks, FailRate: s.FailRate, Logger: logger})
		handler, config = sim.Handler(), sim.Config(base)
	case "mpesa":
		if s.Country != "" && strings.ToUpper(s.Country) != "KE" {
			return errors.New("the M-Pesa simulator serves Kenya (KE) only")
		}
		sim := mpesasim.New(mpesasim.Options{CallbackDelay: s.CallbackDelay, DropCallbacks: s.DropCallbacks, FailRate: s.FailRate, Logger: logger})
		handler, config = sim.Handler(), sim.Config(base)
	case "airtel":
		sim := airtelsim.New(airtelsim.Options{Country: strings.ToUpper(s.Country), CallbackURL: s.CallbackURL, CallbackDelay: s.CallbackDelay,
			DropCallbacks: s.DropCallbacks, FailRate: s.FailRate, Logger: logger})
		handler, config = sim.Handler(), sim.Config(base)
	}
	line, _ := json.Marshal(struct {
		Kind   string         `json:"kind"`
		Config map[string]any `json:"config"`
	}{s.Kind, config})
	fmt.Fprintf(e.stdout, "%s\n", line)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	return serveUntil(e.ctx, srv, ln)
}

// serveUntil serves ln with srv until ctx ends, then closes it.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
