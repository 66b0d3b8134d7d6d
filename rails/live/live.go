// Package live turns the gateway's stored live rails into working ones. It
// knows each kind of connector (mtn-momo, mpesa and airtel), checks a new rail's
// configuration and seals it with its callback secret under the master
// key, opens the sealed rails at start, routes between them (package
// route) and serves the callbacks operators send to each rail's
// unguessable URL, handing them to the gateway as hints to confirm.
package live

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/airtel"
	"github.com/malipo/malipo/rails/momo"
	"github.com/malipo/malipo/rails/mpesa"
	"github.com/malipo/malipo/rails/route"
	"github.com/malipo/malipo/secrets"
)

// Served is what a rail's configuration says it serves.
type Served struct {
	Name       string
	Countries  []string
	Operators  []string
	Currencies []malipo.Currency
}

// Env is what Malipo gives a connector beside its configuration.
type Env struct {
	// CallbackURL is the rail's own callback URL; a connector may add a
	// path below it to tell its callbacks apart.
	CallbackURL string
	Client      *http.Client
	Clock       clock.Clock
}

// Connector is a built live rail.
type Connector struct {
	MobileMoney rails.MobileMoney // nil when the rail takes no payments
	Payouts     rails.Payouts     // nil when it sends none
	// PaysBusinesses says Payouts also pays paybills and tills.
	PaysBusinesses bool
	// Callback reads what the operator sent to the callback URL (sub is
	// the path below it) into the outcome it claims.
	Callback func(sub string, body []byte) (rails.Outcome, error)
	// Acknowledge answers the operator once its callback is recorded (err
	// nil) or could not be (the operator may retry).
	Acknowledge func(w http.ResponseWriter, err error)
}

// Kind is one kind of connector.
type Kind struct {
	// Describe checks a configuration and says what the rail serves.
	Describe func(config []byte) (Served, error)
	// Build makes the connector of a checked configuration.
	Build func(config []byte, env Env) (Connector, error)
}

// Kinds are the connectors Malipo has, by the name `malipo rails add
// --kind` takes.
var Kinds = map[string]Kind{
	momo.Kind: kindOf(func(c momo.Config) Served {
		return Served{Name: c.Name, Countries: c.Countries, Operators: c.Operators, Currencies: asCurrencies(c.Currencies...)}
	}, buildMoMo),
	mpesa.Kind: kindOf(func(c mpesa.Config) Served {
		return Served{Name: c.Name, Countries: c.Countries, Operators: c.Operators, Currencies: asCurrencies(c.Currencies...)}
	}, buildMpesa),
	airtel.Kind: kindOf(func(c airtel.Config) Served {
		return Served{Name: c.Name, Countries: []string{c.Country}, Operators: c.Operators, Currencies: asCurrencies(c.Currency)}
	}, buildAirtel),
}

// KindNames lists the kinds, sorted.
func KindNames() []string {
	var out []string
	for k := range Kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func strict(config []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(config)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if dec.More() {
		return errors.New("config: trailing data after the JSON object")
	}
	return nil
}

// kindOf is the Kind whose configuration is a C, decoded strictly and
// validated the same way for Describe and for Build; serves says what a
// configuration serves, build makes its connector.
func kindOf[C interface{ Validate() error }](serves func(C) Served, build func(C, Env) (Connector, error)) Kind {
	decode := func(config []byte) (C, error) {
		var c C
		if err := strict(config, &c); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	return Kind{
		Describe: func(config []byte) (Served, error) {
			c, err := decode(config)
			if err != nil {
				return Served{}, err
			}
			s := serves(c)
			for i, cur := range s.Currencies {
				if s.Currencies[i], err = malipo.ParseCurrency(string(cur)); err != nil {
					return Served{}, err
				}
			}
			return s, nil
		},
		Build: func(config []byte, env Env) (Connector, error) {
			c, err := decode(config)
			if err != nil {
				return Connector{}, err
			}
			return build(c, env)
		},
	}
}

func asCurrencies(list ...string) []malipo.Currency {
	out := make([]malipo.Currency, len(list))
	for i, c := range list {
		out[i] = malipo.Currency(c)
	}
	return out
}

func buildMoMo(c momo.Config, env Env) (Connector, error) {
	r := momo.New(c, momo.Options{CallbackURL: env.CallbackURL, Client: env.Client, Clock: env.Clock})
	conn := Connector{
		Callback:    func(_ string, body []byte) (rails.Outcome, error) { return momo.ParseCallback(body) },
		Acknowledge: acknowledgeStatus,
	}
	if c.Collection.SubscriptionKey != "" {
		conn.MobileMoney = r.Collections()
	}
	if c.Disbursement.SubscriptionKey != "" {
		conn.Payouts = r.Disbursements()
	}
	return conn, nil
}

// buildMpesa makes a Daraja rail: every request names its callback URL,
// below the rail's, with the attempt's key.
func buildMpesa(c mpesa.Config, env Env) (Connector, error) {
	r, err := mpesa.New(c, mpesa.Options{CallbackURL: env.CallbackURL, Client: env.Client, Clock: env.Clock})
	if err != nil {
		return Connector{}, err
	}
	conn := Connector{MobileMoney: r.Express(), Callback: r.Callback, Acknowledge: mpesa.Acknowledge}
	if p := r.Payouts(); p != nil {
		conn.Payouts, conn.PaysBusinesses = p, true
	}
	return conn, nil
}

// buildAirtel makes an Airtel rail. Airtel calls back to the URL set on
// its developer portal: the rail's callback URL, which `rails add` prints.
func buildAirtel(c airtel.Config, env Env) (Connector, error) {
	r, err := airtel.New(c, airtel.Options{Client: env.Client, Clock: env.Clock})
	if err != nil {
		return Connector{}, err
	}
	conn := Connector{
		MobileMoney: r.Collections(),
		Callback:    func(_ string, body []byte) (rails.Outcome, error) { return airtel.ParseCallback(body) },
		Acknowledge: acknowledgeStatus,
	}
	if d := r.Disbursements(); d != nil {
		conn.Payouts = d
	}
	return conn, nil
}

// acknowledgeStatus answers 200 with no body, or 500 so that an operator
// that retries does.
func acknowledgeStatus(w http.ResponseWriter, err error) {
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// sealed is what a rail's record keeps under the master key.
type sealed struct {
	CallbackSecret string          `json:"callback_secret"`
	Config         json.RawMessage `json:"config"`
}

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// New checks a configuration of kind and makes the rail record to store:
// its configuration and a fresh callback secret sealed under the current
// master key. It returns the record and the rail's callback path.
func New(kind string, config []byte, position int, keys *secrets.Keyring, id string, now time.Time) (malipo.Rail, string, error) {
	k, ok := Kinds[kind]
	if !ok {
		return malipo.Rail{}, "", fmt.Errorf("unknown kind %q: one of %s", kind, strings.Join(KindNames(), ", "))
	}
	if keys.Empty() {
		return malipo.Rail{}, "", secrets.ErrNoKey
	}
	served, err := k.Describe(config)
	if err != nil {
		return malipo.Rail{}, "", err
	}
	if !nameRe.MatchString(served.Name) {
		return malipo.Rail{}, "", fmt.Errorf("name %q: lower-case letters, digits and dashes, at most 40", served.Name)
	}
	secret := make([]byte, 24)
	rand.Read(secret)
	var compact bytes.Buffer
	if err := json.Compact(&compact, config); err != nil {
		return malipo.Rail{}, "", fmt.Errorf("config: %w", err)
	}
	plain, _ := json.Marshal(sealed{CallbackSecret: hex.EncodeToString(secret), Config: compact.Bytes()})
	r := malipo.Rail{ID: id, Kind: kind, Name: served.Name, Mode: malipo.ModeLive, Countries: served.Countries,
		Operators: served.Operators, Currencies: served.Currencies, Position: position, CreatedAt: now}
	if r.Sealed, err = keys.Seal(plain, r.ID); err != nil {
		return malipo.Rail{}, "", err
	}
	return r, CallbackPath(r.Name, hex.EncodeToString(secret)), nil
}

// CallbackPath is where the operator of rail name calls back.
func CallbackPath(name, secret string) string { return "/rails/" + name + "/" + secret }

// Reseal seals r again under the current master key, if another key
// sealed it, and reports whether it did.
func Reseal(r *malipo.Rail, keys *secrets.Keyring) (bool, error) {
	if secrets.KeyOf(r.Sealed) == keys.Current() {
		return false, nil
	}
	plain, err := keys.Open(r.Sealed, r.ID)
	if err != nil {
		return false, fmt.Errorf("rail %s: %w", r.Name, err)
	}
	if r.Sealed, err = keys.Seal(plain, r.ID); err != nil {
		return false, err
	}
	return true, nil
}

// Options shape the live rails at start.
type Options struct {
	BaseURL string // Malipo's public URL: callbacks come to BaseURL + CallbackPath
	Client  *http.Client
	Clock   clock.Clock
	Router  route.Options
	Logger  *slog.Logger
}

// Rails are the live rails a node runs.
type Rails struct {
	Router *route.Router
	hooks  map[string]hook
	logger *slog.Logger
}

type hook struct {
	secret string
	conn   Connector
}

// Open builds the live rails of list. Rails without a master key able to
// open them are an error: a gateway must not start half live.
func Open(list []malipo.Rail, keys *secrets.Keyring, opt Options) (*Rails, error) {
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	out := &Rails{hooks: map[string]hook{}, logger: opt.Logger}
	var routed []route.Rail
	for _, r := range list {
		if r.Mode != malipo.ModeLive {
			continue
		}
		if keys.Empty() {
			return nil, fmt.Errorf("live rail %s is configured: %w", r.Name, secrets.ErrNoKey)
		}
		k, ok := Kinds[r.Kind]
		if !ok {
			return nil, fmt.Errorf("rail %s is of kind %q, which this Malipo does not know", r.Name, r.Kind)
		}
		plain, err := keys.Open(r.Sealed, r.ID)
		if err != nil {
			return nil, fmt.Errorf("rail %s: %w", r.Name, err)
		}
		var s sealed
		if err := json.Unmarshal(plain, &s); err != nil {
			return nil, fmt.Errorf("rail %s: sealed configuration: %w", r.Name, err)
		}
		conn, err := k.Build(s.Config, Env{CallbackURL: strings.TrimRight(opt.BaseURL, "/") + CallbackPath(r.Name, s.CallbackSecret),
			Client: opt.Client, Clock: opt.Clock})
		if err != nil {
			return nil, fmt.Errorf("rail %s: %w", r.Name, err)
		}
		out.hooks[r.Name] = hook{secret: s.CallbackSecret, conn: conn}
		routed = append(routed, route.Rail{Meta: r, MobileMoney: conn.MobileMoney, Payouts: conn.Payouts, PaysBusinesses: conn.PaysBusinesses})
	}
	if len(routed) > 0 {
		out.Router = route.New(routed, opt.Router)
	}
	return out, nil
}

// Describe says which live rails there are, for the start-up line.
func (l *Rails) Describe() string {
	if l.Router == nil {
		return "no live rails"
	}
	var names []string
	for _, h := range l.Router.Health() {
		names = append(names, h.Rail)
	}
	return "live rails " + strings.Join(names, ", ")
}

// Set is the live mode's rails for the gateway: no cards and no refunds
// until a connector offers them.
func (l *Rails) Set() rails.Set {
	if l.Router == nil {
		return rails.Set{}
	}
	return rails.Set{MobileMoney: l.Router.MobileMoney(), Payouts: l.Router.Payouts()}
}

// Hinter takes a callback to confirm: the gateway.
type Hinter interface {
	Hint(ctx context.Context, rail string, o rails.Outcome) error
}

// MaxCallbackBytes bounds a callback's body.
const MaxCallbackBytes = 64 << 10

// Register serves the rails' callbacks at /rails/{name}/{secret}[/...],
// by POST or PUT (MTN PUTs, Safaricom POSTs). A wrong name or secret is
// 404, as for any path that does not exist.
func (l *Rails) Register(mux *http.ServeMux, h Hinter) {
	handle := func(w http.ResponseWriter, r *http.Request) {
		hk, ok := l.hooks[r.PathValue("name")]
		if !ok || subtle.ConstantTimeCompare([]byte(hk.secret), []byte(r.PathValue("secret"))) != 1 {
			http.NotFound(w, r)
			return
		}
		name := r.PathValue("name")
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCallbackBytes))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		o, err := hk.conn.Callback(r.PathValue("sub"), body)
		if err != nil {
			l.logger.WarnContext(r.Context(), "a rail's callback could not be read", "rail", name, "err", err)
			http.Error(w, "unreadable callback", http.StatusBadRequest)
			return
		}
		o.Raw = body
		err = h.Hint(r.Context(), name, o)
		if err != nil {
			l.logger.ErrorContext(r.Context(), "a rail's callback could not be recorded; the reconciler will ask", "rail", name, "err", err)
		}
		hk.conn.Acknowledge(w, err)
	}
	for _, method := range []string{"POST", "PUT"} {
		mux.HandleFunc(method+" /rails/{name}/{secret}", handle)
		mux.HandleFunc(method+" /rails/{name}/{secret}/{sub...}", handle)
	}
}
