// Package momosim is a faithful simulator of MTN's MoMo Open API (the
// operator's server): API users and keys, per-product tokens that expire,
// request-to-pay and transfers keyed by X-Reference-Id (a UUID v4; reused,
// 409), their status, balances, account holders, and callbacks sent as MTN
// sends them (once, by PUT, never again). Outcomes follow MTN's sandbox
// numbers (46733123450…454) and Malipo's sandbox convention on a number's
// last four digits (0001 too little money, 0002 declined, 0003 never
// answers, 0004 not a wallet), so any number of the country exercises every
// outcome. `malipo simulate mtn-momo` serves it.
package momosim

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails/simnet"
)

// Options shape a simulator.
type Options struct {
	Country           string        // ISO 3166 alpha-2; default UG
	Currency          string        // default the country's (UGX); the target environment "sandbox" takes EUR only
	TargetEnvironment string        // default mtn<country name>, e.g. mtnuganda
	CallbackDelay     time.Duration // how long the simulated customer takes; default 3 s
	ApprovalWindow    time.Duration // how long a customer may take before the request fails EXPIRED; default 5 min
	DropCallbacks     bool          // never call back: only status polling finishes a transaction
	FailRate          float64       // that fraction of product calls fail with 500/503 (half before acting, half after)
	TokenTTL          time.Duration // default 1 h
	Balance           int64         // the disbursement account's opening balance, minor units; default 10^12
	Clock             clock.Clock
	Client            *http.Client // for callbacks; default a 10 s client
	Logger            *slog.Logger
	Seed              uint64 // for FailRate; 0: random
}

var countries = map[string]struct{ env, currency string }{
	"UG": {"mtnuganda", "UGX"}, "GH": {"mtnghana", "GHS"}, "CI": {"mtnivorycoast", "XOF"}, "ZM": {"mtnzambia", "ZMW"},
	"CM": {"mtncameroon", "XAF"}, "BJ": {"mtnbenin", "XOF"}, "CG": {"mtncongo", "XAF"}, "SZ": {"mtnswaziland", "SZL"},
	"GN": {"mtnguineaconakry", "GNF"}, "ZA": {"mtnsouthafrica", "ZAR"}, "LR": {"mtnliberia", "LRD"}, "RW": {"mtnrwanda", "RWF"},
}

// Server is a running simulator's state, served by Handler.
type Server struct {
	opt   Options
	mu    sync.Mutex
	users map[string]*apiUser // API user id → user
	keys  map[string]string   // subscription key → product
	// tokens by their value
	tokens map[string]token
	txs    map[string]*transaction // product + "/" + reference id
	rng    *mrand.Rand             // for identifiers, under mu
	faults *simnet.Faults          // FailRate
	// Product subscription keys and the API user this simulator starts with.
	CollectionKey, DisbursementKey, APIUser, APIKey string
	balance                                         int64
}

type apiUser struct {
	key, callbackHost string
}

type token struct {
	product string
	expires time.Time
}

// transaction is a request-to-pay or a transfer.
type transaction struct {
	product, ref                                 string
	amount, currency, externalID, party, message string
	note, status, reason, financialID, callback  string
	decideAt                                     time.Time
	finalStatus, finalReason                     string
	ongoingUntil                                 time.Time // 46733123453: PENDING when asked before this
	called                                       bool
}

// New returns a simulator with one API user and a subscription key per
// product already provisioned (printed by Config).
func New(opt Options) *Server {
	if opt.Country == "" {
		opt.Country = "UG"
	}
	c := countries[opt.Country]
	if opt.TargetEnvironment == "" {
		opt.TargetEnvironment = c.env
		if c.env == "" {
			opt.TargetEnvironment = "sandbox"
		}
	}
	if opt.Currency == "" {
		opt.Currency = c.currency
		if opt.TargetEnvironment == "sandbox" || c.currency == "" {
			opt.Currency = "EUR"
		}
	}
	if opt.CallbackDelay == 0 {
		opt.CallbackDelay = 3 * time.Second
	}
	if opt.ApprovalWindow == 0 {
		opt.ApprovalWindow = 5 * time.Minute
	}
	if opt.TokenTTL == 0 {
		opt.TokenTTL = time.Hour
	}
	if opt.Balance == 0 {
		opt.Balance = 1_000_000_000_000
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
	s := &Server{opt: opt, users: map[string]*apiUser{}, keys: map[string]string{}, tokens: map[string]token{},
		txs: map[string]*transaction{}, rng: simnet.Rand(opt.Seed), faults: simnet.NewFaults(opt.FailRate, opt.Seed), balance: opt.Balance}
	s.CollectionKey, s.DisbursementKey = simnet.Hex(16), simnet.Hex(16)
	s.keys[s.CollectionKey], s.keys[s.DisbursementKey] = "collection", "disbursement"
	s.APIUser, s.APIKey = uuid4(), simnet.Hex(16)
	s.users[s.APIUser] = &apiUser{key: s.APIKey}
	return s
}

// Currency is the currency the simulator takes.
func (s *Server) Currency() string { return s.opt.Currency }

// TargetEnvironment is the X-Target-Environment the simulator takes.
func (s *Server) TargetEnvironment() string { return s.opt.TargetEnvironment }

// Config is a ready configuration for Malipo's MoMo connector against this
// simulator at baseURL: what `malipo simulate mtn-momo` prints.
func (s *Server) Config(baseURL string) map[string]any {
	product := func(key string) map[string]string {
		return map[string]string{"subscription_key": key, "api_user": s.APIUser, "api_key": s.APIKey}
	}
	country := strings.ToLower(s.opt.Country)
	return map[string]any{"name": "mtn-" + country, "base_url": baseURL, "target_environment": s.opt.TargetEnvironment,
		"countries": []string{s.opt.Country}, "currencies": []string{s.opt.Currency}, "operators": []string{"mtn-" + country},
		"collection": product(s.CollectionKey), "disbursement": product(s.DisbursementKey)}
}

func uuid4() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

var uuid4Re = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`)

// Handler serves the MoMo Open API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1_0/apiuser", s.createUser)
	mux.HandleFunc("POST /v1_0/apiuser/{user}/apikey", s.createKey)
	mux.HandleFunc("GET /v1_0/apiuser/{user}", s.getUser)
	for _, product := range []string{"collection", "disbursement"} {
		mux.HandleFunc("POST /"+product+"/token/", s.issueToken(product))
		mux.HandleFunc("GET /"+product+"/v1_0/account/balance", s.product(product, s.getBalance))
		mux.HandleFunc("GET /"+product+"/v1_0/accountholder/{type}/{id}/active", s.product(product, s.accountHolder))
	}
	mux.HandleFunc("POST /collection/v1_0/requesttopay", s.product("collection", s.create("payer")))
	mux.HandleFunc("GET /collection/v1_0/requesttopay/{ref}", s.product("collection", s.get))
	mux.HandleFunc("POST /disbursement/v1_0/transfer", s.product("disbursement", s.create("payee")))
	mux.HandleFunc("GET /disbursement/v1_0/transfer/{ref}", s.product("disbursement", s.get))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"statusCode": 404, "message": "Resource not found"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"code": code, "message": message})
}

// subscription checks the product key the API gateway wants on every call.
func (s *Server) subscription(w http.ResponseWriter, r *http.Request, product string) bool {
	s.mu.Lock()
	p, ok := s.keys[r.Header.Get("Ocp-Apim-Subscription-Key")]
	s.mu.Unlock()
	if !ok || (product != "" && p != product) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"statusCode": 401,
			"message": "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."})
		return false
	}
	return true
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	if !s.subscription(w, r, "") {
		return
	}
	id := r.Header.Get("X-Reference-Id")
	if !uuid4Re.MatchString(id) {
		fail(w, http.StatusBadRequest, "BAD_REQUEST", "X-Reference-Id must be a UUID v4")
		return
	}
	var body struct {
		ProviderCallbackHost string `json:"providerCallbackHost"`
	}
	json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.users[id]; dup {
		fail(w, http.StatusConflict, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
		return
	}
	s.users[id] = &apiUser{callbackHost: body.ProviderCallbackHost}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	if !s.subscription(w, r, "") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[r.PathValue("user")]
	if !ok {
		fail(w, http.StatusNotFound, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
		return
	}
	u.key = simnet.Hex(16)
	writeJSON(w, http.StatusCreated, map[string]string{"apiKey": u.key})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	if !s.subscription(w, r, "") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[r.PathValue("user")]
	if !ok {
		fail(w, http.StatusNotFound, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"providerCallbackHost": u.callbackHost, "targetEnvironment": s.opt.TargetEnvironment})
}

func (s *Server) issueToken(product string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.subscription(w, r, product) {
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<10))
		if b := strings.TrimSpace(string(body)); b != "" && b != "{}" && b != "null" {
			fail(w, http.StatusBadRequest, "BAD_REQUEST", "the token request takes no body")
			return
		}
		user, key, ok := r.BasicAuth()
		s.mu.Lock()
		defer s.mu.Unlock()
		u := s.users[user]
		if !ok || u == nil || u.key == "" || u.key != key {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "login_failed"})
			return
		}
		t := simnet.Hex(24)
		s.tokens[t] = token{product: product, expires: s.opt.Clock.Now().Add(s.opt.TokenTTL)}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": t, "token_type": "access_token",
			"expires_in": int(s.opt.TokenTTL / time.Second)})
	}
}

// product checks what every product call needs (subscription key, bearer
// token of that product, target environment) and applies the fail rate:
// a call lost before MTN acts is answered 503, one lost after it acted 500.
func (s *Server) product(product string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.subscription(w, r, product) {
			return
		}
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		t, ok := s.tokens[bearer]
		valid := ok && t.product == product && s.opt.Clock.Now().Before(t.expires)
		s.mu.Unlock()
		if !valid {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"statusCode": 401, "message": "Invalid or expired access token"})
			return
		}
		if env := r.Header.Get("X-Target-Environment"); env != s.opt.TargetEnvironment {
			fail(w, http.StatusInternalServerError, "NOT_ALLOWED_TARGET_ENVIRONMENT", "Access to target environment is forbidden.")
			return
		}
		s.faults.Serve(w,
			func(w http.ResponseWriter) {
				fail(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Service unavailable")
			},
			func(w http.ResponseWriter) {
				fail(w, http.StatusInternalServerError, "INTERNAL_PROCESSING_ERROR", "An internal error occurred while processing.")
			},
			func(w http.ResponseWriter) { next(w, r) })
	}
}

func (s *Server) getBalance(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b := s.balance
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"availableBalance": malipo.FormatDecimal(b, malipo.Currency(s.opt.Currency)),
		"currency": s.opt.Currency})
}

func (s *Server) accountHolder(w http.ResponseWriter, r *http.Request) {
	typ, id := strings.ToLower(r.PathValue("type")), r.PathValue("id")
	if typ != "msisdn" && typ != "email" && typ != "party_code" {
		fail(w, http.StatusBadRequest, "BAD_REQUEST", "accountHolderIdType must be msisdn, email or party_code")
		return
	}
	if id == "46733123450" || strings.HasSuffix(id, "0004") || id == "notfound@email.com" {
		fail(w, http.StatusNotFound, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"result": id != "46733123451" && id != "notactive@email.com"})
}

// request is the body of a request-to-pay or a transfer.
type request struct {
	Amount     any    `json:"amount"`
	Currency   string `json:"currency"`
	ExternalID string `json:"externalId"`
	Payer      *party `json:"payer"`
	Payee      *party `json:"payee"`
	PayerMsg   string `json:"payerMessage"`
	PayeeNote  string `json:"payeeNote"`
}

type party struct {
	PartyIDType string `json:"partyIdType"`
	PartyID     string `json:"partyId"`
}

var digits = regexp.MustCompile(`^[0-9]{6,15}$`)

func (s *Server) create(partyField string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		product := "collection"
		if partyField == "payee" {
			product = "disbursement"
		}
		ref := r.Header.Get("X-Reference-Id")
		if !uuid4Re.MatchString(ref) {
			fail(w, http.StatusBadRequest, "BAD_REQUEST", "X-Reference-Id must be a UUID v4")
			return
		}
		var req request
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			fail(w, http.StatusBadRequest, "BAD_REQUEST", "the body is not valid JSON")
			return
		}
		amountText, isString := req.Amount.(string)
		amount, err := malipo.ParseDecimal(amountText, malipo.Currency(s.opt.Currency))
		p := req.Payer
		if partyField == "payee" {
			p = req.Payee
		}
		switch {
		case !isString || err != nil || amount <= 0:
			fail(w, http.StatusBadRequest, "INVALID_AMOUNT", "amount must be a positive number written as a string")
			return
		case req.Currency != s.opt.Currency:
			fail(w, http.StatusInternalServerError, "INVALID_CURRENCY", "Currency not supported.")
			return
		case p == nil || !strings.EqualFold(p.PartyIDType, "MSISDN") || !digits.MatchString(p.PartyID):
			fail(w, http.StatusBadRequest, "INVALID_PARTY", partyField+" must be an MSISDN: digits with the country code, no +")
			return
		case len(req.PayerMsg) > 160 || len(req.PayeeNote) > 160 || strings.ContainsAny(req.PayerMsg+req.PayeeNote, "'<>"):
			fail(w, http.StatusBadRequest, "INVALID_MESSAGE", "payerMessage and payeeNote are at most 160 characters, without ' < >")
			return
		}
		callback := r.Header.Get("X-Callback-Url")
		if callback != "" && !s.callbackAllowed(r, callback) {
			fail(w, http.StatusInternalServerError, "INVALID_CALLBACK_URL_HOST", "Callback URL with different host to that configured for API User.")
			return
		}
		now := s.opt.Clock.Now()
		t := &transaction{product: product, ref: ref, amount: amountText, currency: req.Currency, externalID: req.ExternalID,
			party: p.PartyID, message: req.PayerMsg, note: req.PayeeNote, status: "PENDING", callback: callback}
		t.finalStatus, t.finalReason, t.decideAt = s.outcome(product, p.PartyID, now)
		if t.finalStatus == "ONGOING" {
			t.finalStatus, t.ongoingUntil = "SUCCESSFUL", now.Add(30*time.Second)
			t.decideAt = t.ongoingUntil
		}
		s.mu.Lock()
		if _, dup := s.txs[product+"/"+ref]; dup {
			s.mu.Unlock()
			fail(w, http.StatusConflict, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
			return
		}
		if product == "disbursement" && t.finalStatus == "SUCCESSFUL" {
			if s.balance < amount {
				t.finalStatus, t.finalReason = "FAILED", "NOT_ENOUGH_FUNDS"
			} else {
				s.balance -= amount
			}
		}
		s.txs[product+"/"+ref] = t
		s.mu.Unlock()
		if !t.decideAt.IsZero() {
			s.opt.Clock.AfterFunc(t.decideAt.Sub(now), func() { s.decide(t) })
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

// callbackAllowed checks a callback URL's host against the API user's
// provider callback host (none set: any host).
func (s *Server) callbackAllowed(r *http.Request, callback string) bool {
	u, err := http.NewRequest("PUT", callback, nil)
	if err != nil || (u.URL.Scheme != "http" && u.URL.Scheme != "https") {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, user := range s.users { // the API user is not named on product calls: any user's host will do
		if user.callbackHost == "" || strings.EqualFold(user.callbackHost, u.URL.Hostname()) {
			return true
		}
	}
	return false
}

// outcome decides what becomes of a transaction with a party: the final
// status, its reason, and when ("" status: it stays pending).
func (s *Server) outcome(product, party string, now time.Time) (status, reason string, at time.Time) {
	later := now.Add(s.opt.CallbackDelay)
	switch party {
	case "46733123450":
		return "FAILED", "INTERNAL_PROCESSING_ERROR", later
	case "46733123451":
		return "FAILED", "APPROVAL_REJECTED", later
	case "46733123452":
		return "FAILED", "EXPIRED", now.Add(s.opt.ApprovalWindow)
	case "46733123453":
		return "ONGOING", "", later
	case "46733123454":
		return "PENDING", "", time.Time{}
	}
	switch {
	case strings.HasSuffix(party, "0001"):
		if product == "disbursement" {
			return "FAILED", "PAYEE_NOT_ALLOWED_TO_RECEIVE", later
		}
		return "FAILED", "NOT_ENOUGH_FUNDS", later
	case strings.HasSuffix(party, "0002"):
		return "FAILED", "APPROVAL_REJECTED", later
	case strings.HasSuffix(party, "0003"):
		return "FAILED", "EXPIRED", now.Add(s.opt.ApprovalWindow)
	case strings.HasSuffix(party, "0004"):
		if product == "disbursement" {
			return "FAILED", "PAYEE_NOT_FOUND", now
		}
		return "FAILED", "PAYER_NOT_FOUND", now
	}
	return "SUCCESSFUL", "", later
}

// decide makes a transaction final and calls back, once.
func (s *Server) decide(t *transaction) {
	s.mu.Lock()
	if t.status != "PENDING" {
		s.mu.Unlock()
		return
	}
	t.status, t.reason = t.finalStatus, t.finalReason
	if t.status == "SUCCESSFUL" {
		t.financialID = fmt.Sprintf("%d", 100000000+s.rng.IntN(900000000))
	}
	body := t.view()
	callback := t.callback
	send := callback != "" && !s.opt.DropCallbacks && !t.called
	t.called = true
	s.mu.Unlock()
	if !send {
		return
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPut, callback, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	res, err := s.opt.Client.Do(req) // once: MTN does not retry
	if err != nil {
		s.opt.Logger.Info("callback not delivered (not retried, as MTN does)", "ref", t.ref, "err", err)
		return
	}
	res.Body.Close()
}

// view is a transaction as GET and callbacks show it.
func (t *transaction) view() map[string]any {
	partyKey := "payer"
	if t.product == "disbursement" {
		partyKey = "payee"
	}
	v := map[string]any{"externalId": t.externalID, "amount": t.amount, "currency": t.currency,
		partyKey: party{PartyIDType: "MSISDN", PartyID: t.party}, "payerMessage": t.message, "payeeNote": t.note, "status": t.status}
	if t.financialID != "" {
		v["financialTransactionId"] = t.financialID
	}
	if t.status == "FAILED" {
		v["reason"] = t.reason
	}
	return v
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	product := "collection"
	if strings.HasPrefix(r.URL.Path, "/disbursement/") {
		product = "disbursement"
	}
	s.mu.Lock()
	t, ok := s.txs[product+"/"+r.PathValue("ref")]
	s.mu.Unlock()
	if !ok {
		fail(w, http.StatusNotFound, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
		return
	}
	now := s.opt.Clock.Now()
	if !t.decideAt.IsZero() && !now.Before(t.decideAt) {
		s.decide(t) // decided by now, even if the timer has not run
	}
	s.mu.Lock()
	v := t.view()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

// Transactions counts what the simulator holds, by product and status, for
// tests that check nothing was charged twice.
func (s *Server) Transactions() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, t := range s.txs {
		out[t.product+" "+t.status]++
	}
	return out
}

// BasicAuth is what a client sends to the token endpoint.
func BasicAuth(user, key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+key))
}
