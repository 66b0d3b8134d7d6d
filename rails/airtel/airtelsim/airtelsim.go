// Package airtelsim simulates Airtel Money's Africa Open API (the
// operator's server), as OPERATORS.md describes it: OAuth2 client
// credentials with short-lived tokens, the data + status envelope with
// string codes, a USSD push answered DP00800001006 "in process" and then
// TS or TF on status, disbursements checked against the merchant's PIN
// (RSA-encrypted under the simulator's own public key, which its printed
// configuration carries), X-Country and X-Currency required, numbers
// without their country code, and one callback per collection to the URL
// set on the "developer portal" (PUT /_simulator/callback-url, or the
// CallbackURL option). Outcomes follow Malipo's sandbox convention on a
// number's last four digits: 0001 too little money, 0002 declined, 0003
// never answered (expires), 0004 not a wallet.
package airtelsim

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails/simnet"
)

// Options shape a simulator.
type Options struct {
	Country        string        // ISO 3166; default UG
	Currency       string        // default the country's
	CallbackURL    string        // the portal's callback URL; settable later
	CallbackDelay  time.Duration // how long the simulated customer takes; default 3 s
	ApprovalWindow time.Duration // after this an unanswered push expires; default 5 min
	DropCallbacks  bool
	FailRate       float64 // that fraction of product calls answer 500 (half after acting)
	TokenTTL       time.Duration
	Clock          clock.Clock
	Client         *http.Client
	Logger         *slog.Logger
	Seed           uint64
}

var currencies = map[string]string{"UG": "UGX", "KE": "KES", "TZ": "TZS", "RW": "RWF", "ZM": "ZMW", "MW": "MWK",
	"CD": "CDF", "NG": "NGN", "MG": "MGA", "NE": "XOF", "TD": "XAF", "GA": "XAF", "CG": "XAF", "SC": "SCR"}

// Server is a running simulator.
type Server struct {
	opt                    Options
	ClientID, ClientSecret string
	PIN                    string
	key                    *rsa.PrivateKey
	mu                     sync.Mutex
	tokens                 map[string]time.Time
	txs                    map[string]*transaction // kind + "/" + id
	callback               string
	rng                    *mrand.Rand // for identifiers, under mu
	faults                 *simnet.Faults
}

type transaction struct {
	kind, id, msisdn, status, code, message, moneyID string
	amount                                           json.Number
	decideAt                                         time.Time
	final, finalCode                                 string
	called                                           bool
}

// New returns a simulator with one app's credentials and a fresh key pair.
func New(opt Options) *Server {
	if opt.Country == "" {
		opt.Country = "UG"
	}
	if opt.Currency == "" {
		opt.Currency = currencies[opt.Country]
	}
	if opt.CallbackDelay == 0 {
		opt.CallbackDelay = 3 * time.Second
	}
	if opt.ApprovalWindow == 0 {
		opt.ApprovalWindow = 5 * time.Minute
	}
	if opt.TokenTTL == 0 {
		opt.TokenTTL = 180 * time.Second
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	pin := make([]byte, 2)
	rand.Read(pin)
	return &Server{opt: opt, ClientID: simnet.Hex(16), ClientSecret: simnet.Hex(16), PIN: fmt.Sprintf("%04d", (int(pin[0])<<8|int(pin[1]))%10000),
		key: key, tokens: map[string]time.Time{}, txs: map[string]*transaction{}, callback: opt.CallbackURL,
		rng: simnet.Rand(opt.Seed), faults: simnet.NewFaults(opt.FailRate, opt.Seed)}
}

// PublicKeyPEM is the key the merchant's PIN is encrypted under.
func (s *Server) PublicKeyPEM() string {
	der, _ := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Config is a ready configuration for Malipo's Airtel connector against
// this simulator at baseURL: what `malipo simulate airtel` prints.
func (s *Server) Config(baseURL string) map[string]any {
	country := strings.ToLower(s.opt.Country)
	return map[string]any{"name": "airtel-" + country, "base_url": baseURL, "country": s.opt.Country, "currency": s.opt.Currency,
		"operators": []string{"airtel-" + country}, "client_id": s.ClientID, "client_secret": s.ClientSecret,
		"pin": s.PIN, "public_key": s.PublicKeyPEM(), "pin_padding": "pkcs1"}
}

// SetCallbackURL is what setting the callback on Airtel's developer portal
// does.
func (s *Server) SetCallbackURL(u string) {
	s.mu.Lock()
	s.callback = u
	s.mu.Unlock()
}

// Transactions counts what the simulator holds, by kind and status.
func (s *Server) Transactions() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, t := range s.txs {
		s.settle(t)
		out[t.kind+" "+t.status]++
	}
	return out
}

// Handler serves the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/oauth2/token", s.issueToken)
	mux.HandleFunc("POST /merchant/v1/payments/", s.api(s.collect))
	mux.HandleFunc("GET /standard/v1/payments/{id}", s.api(s.get("collection")))
	mux.HandleFunc("POST /standard/v1/disbursements/", s.api(s.disburse))
	mux.HandleFunc("GET /standard/v1/disbursements/{id}", s.api(s.get("disbursement")))
	mux.HandleFunc("PUT /_simulator/callback-url", func(w http.ResponseWriter, r *http.Request) {
		var v struct{ URL string }
		json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&v)
		s.SetCallbackURL(v.URL)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		envelope(w, http.StatusNotFound, nil, "404", "Resource not found", "", false)
	})
	return mux
}

// envelope writes Airtel's data + status answer.
func envelope(w http.ResponseWriter, httpStatus int, data any, code, message, responseCode string, success bool) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	st := map[string]any{"code": code, "message": message, "result_code": "ESB000010", "response_code": responseCode, "success": success}
	if !success {
		st["result_code"] = "ESB000001"
	}
	json.NewEncoder(w).Encode(map[string]any{"data": data, "status": st})
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		GrantType    string `json:"grant_type"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || req.ClientID != s.ClientID ||
		req.ClientSecret != s.ClientSecret || req.GrantType != "client_credentials" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error_description":"Invalid client authentication","error":"invalid_client"}`))
		return
	}
	tok := simnet.Hex(20)
	s.mu.Lock()
	s.tokens[tok] = s.opt.Clock.Now().Add(s.opt.TokenTTL)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":"%d","token_type":"bearer"}`, tok, int(s.opt.TokenTTL.Seconds()))
}

// api checks the token and headers, then applies the fail rate: a call
// lost before Airtel acts, or after it acted, is answered 500.
func (s *Server) api(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, ok := s.tokens[tok]
		s.mu.Unlock()
		switch {
		case !ok || !s.opt.Clock.Now().Before(exp):
			envelope(w, http.StatusUnauthorized, nil, "401", "Invalid or expired access token", "", false)
			return
		case r.Header.Get("X-Country") != s.opt.Country || r.Header.Get("X-Currency") != s.opt.Currency:
			envelope(w, http.StatusBadRequest, nil, "400", "X-Country and X-Currency must name this market ("+s.opt.Country+", "+s.opt.Currency+")", "DP00800001004", false)
			return
		}
		lost := func(w http.ResponseWriter) {
			envelope(w, http.StatusInternalServerError, nil, "500", "Internal Server Error", "", false)
		}
		s.faults.Serve(w, lost, lost, func(w http.ResponseWriter) { next(w, r) })
	}
}

// national checks a number is written as Airtel wants it: its national
// digits, without the country code.
func national(msisdn string) bool {
	return len(msisdn) >= 8 && len(msisdn) <= 10 && strings.Trim(msisdn, "0123456789") == ""
}

func positive(n json.Number, cur string) bool {
	v, err := malipo.ParseDecimal(n.String(), malipo.Currency(cur))
	return err == nil && v > 0
}

// collect is POST /merchant/v1/payments/.
func (s *Server) collect(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reference  string `json:"reference"`
		Subscriber struct {
			Country, Currency, Msisdn string
		} `json:"subscriber"`
		Transaction struct {
			Amount   json.Number `json:"amount"`
			Country  string      `json:"country"`
			Currency string      `json:"currency"`
			ID       string      `json:"id"`
		} `json:"transaction"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		envelope(w, http.StatusBadRequest, nil, "400", "Malformed JSON", "", false)
		return
	}
	t := req.Transaction
	switch {
	case t.ID == "":
		envelope(w, http.StatusBadRequest, nil, "400", "transaction.id is required", "DP00800001005", false)
		return
	case !positive(t.Amount, s.opt.Currency):
		envelope(w, http.StatusBadRequest, nil, "400", "Invalid amount", "DP00800001004", false)
		return
	case !national(req.Subscriber.Msisdn):
		envelope(w, http.StatusBadRequest, nil, "400", "msisdn must be the subscriber's number without the country code", "DP00800001010", false)
		return
	}
	now := s.opt.Clock.Now()
	tx := &transaction{kind: "collection", id: t.ID, msisdn: req.Subscriber.Msisdn, amount: t.Amount, status: "TIP", code: "DP00800001006",
		message: "In process"}
	switch {
	case strings.HasSuffix(tx.msisdn, "0001"):
		tx.final, tx.finalCode, tx.decideAt = "TF", "DP00800001007", now.Add(s.opt.CallbackDelay)
	case strings.HasSuffix(tx.msisdn, "0002"):
		tx.final, tx.finalCode, tx.decideAt = "TF", "DP00800001008", now.Add(s.opt.CallbackDelay)
	case strings.HasSuffix(tx.msisdn, "0003"):
		tx.final, tx.finalCode, tx.decideAt = "TE", "DP00800001029", now.Add(s.opt.ApprovalWindow)
	case strings.HasSuffix(tx.msisdn, "0004"):
		envelope(w, http.StatusOK, nil, "200", "The payer is not an Airtel Money user", "DP00800001010", false)
		return
	default:
		tx.final, tx.finalCode, tx.decideAt = "TS", "DP00800001001", now.Add(s.opt.CallbackDelay)
	}
	s.mu.Lock()
	if _, dup := s.txs["collection/"+t.ID]; dup {
		s.mu.Unlock()
		envelope(w, http.StatusOK, nil, "200", "Duplicate transaction id", "DP00800001005", false)
		return
	}
	s.txs["collection/"+t.ID] = tx
	s.mu.Unlock()
	s.opt.Clock.AfterFunc(tx.decideAt.Sub(now), func() { s.decide(tx) })
	envelope(w, http.StatusOK, map[string]any{"transaction": map[string]any{"id": t.ID, "status": "SUCCESS"}}, "200", "SUCCESS", "DP00800001006", true)
}

// settle makes a transaction whose time has come final; s.mu is held.
func (s *Server) settle(t *transaction) bool {
	if t.status != "TIP" || s.opt.Clock.Now().Before(t.decideAt) {
		return false
	}
	t.status, t.code = t.final, t.finalCode
	switch t.status {
	case "TS":
		t.message, t.moneyID = "Your transaction has been successfully processed", fmt.Sprintf("MP%d", 100000000+s.rng.IntN(900000000))
	case "TE":
		t.message = "Transaction expired"
	default:
		t.message = "Transaction failed"
	}
	return true
}

// decide makes a collection final and calls back once.
func (s *Server) decide(t *transaction) {
	s.mu.Lock()
	changed := s.settle(t)
	send := changed && !t.called && s.callback != "" && !s.opt.DropCallbacks
	t.called = t.called || changed
	body, _ := json.Marshal(map[string]any{"transaction": map[string]any{"id": t.id, "message": t.message, "status_code": t.status,
		"airtel_money_id": t.moneyID}})
	callback := s.callback
	s.mu.Unlock()
	if !send {
		return
	}
	res, err := s.opt.Client.Post(callback, "application/json", bytes.NewReader(body))
	if err != nil {
		s.opt.Logger.Info("callback not delivered", "id", t.id, "err", err)
		return
	}
	res.Body.Close()
}

func (s *Server) get(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		t, ok := s.txs[kind+"/"+r.PathValue("id")]
		var view map[string]any
		code := ""
		if ok {
			s.settle(t)
			view = map[string]any{"transaction": map[string]any{"airtel_money_id": t.moneyID, "id": t.id, "message": t.message, "status": t.status}}
			code = t.code
		}
		s.mu.Unlock()
		if !ok {
			envelope(w, http.StatusOK, nil, "200", "Transaction not found", "DP00800001025", false)
			return
		}
		envelope(w, http.StatusOK, view, "200", "SUCCESS", code, true)
	}
}

// disburse is POST /standard/v1/disbursements/: the PIN must decrypt,
// under the simulator's private key, to the merchant's PIN; the answer is
// final at once (TS or TF), as Airtel's usually is.
func (s *Server) disburse(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Payee struct {
			Msisdn string `json:"msisdn"`
		} `json:"payee"`
		Reference   string `json:"reference"`
		PIN         string `json:"pin"`
		Transaction struct {
			Amount json.Number `json:"amount"`
			ID     string      `json:"id"`
		} `json:"transaction"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		envelope(w, http.StatusBadRequest, nil, "400", "Malformed JSON", "", false)
		return
	}
	t := req.Transaction
	switch {
	case t.ID == "":
		envelope(w, http.StatusBadRequest, nil, "400", "transaction.id is required", "DP00800001005", false)
		return
	case !positive(t.Amount, s.opt.Currency):
		envelope(w, http.StatusBadRequest, nil, "400", "Invalid amount", "DP00800001004", false)
		return
	case !national(req.Payee.Msisdn):
		envelope(w, http.StatusBadRequest, nil, "400", "msisdn must be the payee's number without the country code", "DP00800001010", false)
		return
	case !s.pinOK(req.PIN):
		envelope(w, http.StatusOK, nil, "200", "Incorrect PIN", "DP00800001002", false)
		return
	}
	tx := &transaction{kind: "disbursement", id: t.ID, msisdn: req.Payee.Msisdn, amount: t.Amount, status: "TS", code: "DP00900001001",
		message: "You have deposited " + s.opt.Currency + " " + t.Amount.String()}
	switch {
	case strings.HasSuffix(tx.msisdn, "0001"):
		tx.status, tx.code, tx.message = "TF", "DP00800001003", "Exceeds the payee's limits"
	case strings.HasSuffix(tx.msisdn, "0004"):
		tx.status, tx.code, tx.message = "TF", "DP00800001010", "The payee is not an Airtel Money user"
	default:
		tx.moneyID = fmt.Sprintf("disburs-%d", 100000000+s.rng.IntN(900000000))
	}
	s.mu.Lock()
	if _, dup := s.txs["disbursement/"+t.ID]; dup {
		s.mu.Unlock()
		envelope(w, http.StatusOK, nil, "200", "Duplicate transaction id", "DP00800001005", false)
		return
	}
	s.txs["disbursement/"+t.ID] = tx
	s.mu.Unlock()
	data := map[string]any{"transaction": map[string]any{"reference_id": fmt.Sprint(100000000000 + s.rng.IntN(900000000)),
		"airtel_money_id": tx.moneyID, "id": t.ID, "status": tx.status}}
	envelope(w, http.StatusOK, data, "200", tx.message, tx.code, tx.status == "TS")
}

// pinOK decrypts an encrypted PIN (PKCS #1 v1.5 or OAEP-SHA256).
func (s *Server) pinOK(enc string) bool {
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(raw) != s.key.Size() {
		return false
	}
	if pin, err := rsa.DecryptPKCS1v15(nil, s.key, raw); err == nil && string(pin) == s.PIN {
		return true
	}
	pin, err := rsa.DecryptOAEP(sha256.New(), nil, s.key, raw, nil)
	return err == nil && string(pin) == s.PIN
}
