// Package mpesasim simulates Safaricom's M-Pesa Daraja API (the
// operator's server), as OPERATORS.md describes it: OAuth with Basic
// credentials and tokens whose expires_in is a string, M-Pesa Express
// (the STK push checked against shortcode + passkey + timestamp, its
// query answering 500.001.1001 while pending and a string ResultCode when
// final, and one callback with a numeric ResultCode and CallbackMetadata
// on success only), B2C payment requests (v1 as Safaricom's own Node
// library sends them, v3 with OriginatorConversationID) whose
// SecurityCredential is really decrypted with the simulator's own key (its
// certificate is in the printed configuration), B2B payments to paybills
// and tills, B2C and B2B results posted to the ResultURL, and Transaction Status queries answered at their ResultURL.
// Daraja's error bodies are {requestId, errorCode, errorMessage}. Outcomes
// follow Malipo's sandbox convention on a number's last four digits: 0001
// too little money, 0002 declined, 0003 never answered, 0004 not an M-Pesa
// customer.
package mpesasim

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/rails/simnet"
)

// Options shape a simulator.
type Options struct {
	CallbackDelay  time.Duration // how long the simulated customer takes; default 3 s
	ApprovalWindow time.Duration // an unanswered prompt times out after this; default 2 min
	DropCallbacks  bool          // never send STK callbacks or B2C results (transaction-status answers still come)
	FailRate       float64       // that fraction of API calls answer 500 (half after acting)
	TokenTTL       time.Duration // default 3599 s
	Clock          clock.Clock
	Client         *http.Client
	Logger         *slog.Logger
	Seed           uint64
}

// Server is a running simulator.
type Server struct {
	opt                         Options
	ConsumerKey, ConsumerSecret string
	ShortCode, Passkey          string
	B2CShortCode, Initiator     string
	InitiatorPassword           string
	key                         *rsa.PrivateKey
	cert                        []byte // PEM
	mu                          sync.Mutex
	tokens                      map[string]time.Time
	stk                         map[string]*push   // by CheckoutRequestID
	b2c                         map[string]*payout // by OriginatorConversationID
	rng                         *mrand.Rand        // for identifiers, under mu
	faults                      *simnet.Faults
}

type push struct {
	checkout, merchant, phone, callback string
	amount                              int64
	decideAt                            time.Time
	code, desc, receipt                 string // code "" while pending
	finalCode, finalDesc                string
	called                              bool
}

type payout struct {
	originator, conversation, party, resultURL string
	amount                                     int64
	decideAt                                   time.Time
	code, desc, receipt                        string
	finalCode, finalDesc                       string
	called                                     bool
}

// New returns a simulator with one app's credentials, a shortcode with its
// passkey, a B2C initiator, and a fresh key pair with its certificate.
func New(opt Options) *Server {
	if opt.CallbackDelay == 0 {
		opt.CallbackDelay = 3 * time.Second
	}
	if opt.ApprovalWindow == 0 {
		opt.ApprovalWindow = 2 * time.Minute
	}
	if opt.TokenTTL == 0 {
		opt.TokenTTL = 3599 * time.Second
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
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "apicrypt.safaricom.co.ke (Malipo simulator)"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return &Server{opt: opt, ConsumerKey: simnet.Hex(16), ConsumerSecret: simnet.Hex(8), ShortCode: "174379", Passkey: simnet.Hex(32),
		B2CShortCode: "600999", Initiator: "testapi", InitiatorPassword: "Safaricom" + simnet.Hex(4) + "!",
		key: key, cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		tokens: map[string]time.Time{}, stk: map[string]*push{}, b2c: map[string]*payout{},
		rng: simnet.Rand(opt.Seed), faults: simnet.NewFaults(opt.FailRate, opt.Seed)}
}

// CertificatePEM is the certificate whose key encrypts the initiator's
// password: Safaricom's, in this simulator.
func (s *Server) CertificatePEM() string { return string(s.cert) }

// Config is a ready configuration for Malipo's Daraja connector against
// this simulator at baseURL: what `malipo simulate mpesa` prints.
func (s *Server) Config(baseURL string) map[string]any {
	return map[string]any{"name": "mpesa-ke", "base_url": baseURL, "countries": []string{"KE"}, "currencies": []string{"KES"},
		"operators": []string{"mpesa-ke"}, "consumer_key": s.ConsumerKey, "consumer_secret": s.ConsumerSecret,
		"shortcode": s.ShortCode, "passkey": s.Passkey, "transaction_type": "CustomerPayBillOnline",
		"b2c": map[string]string{"shortcode": s.B2CShortCode, "initiator_name": s.Initiator, "initiator_password": s.InitiatorPassword,
			"certificate": s.CertificatePEM(), "command_id": "BusinessPayment"}}
}

// Transactions counts what the simulator holds: "stk <code>" and
// "b2c <code>" ("pending" while undecided).
func (s *Server) Transactions() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, p := range s.stk {
		s.settlePush(p)
		out["stk "+cmpOr(p.code, "pending")]++
	}
	for _, p := range s.b2c {
		s.settlePayout(p)
		out["b2c "+cmpOr(p.code, "pending")]++
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Handler serves the Daraja API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/v1/generate", s.issueToken)
	mux.HandleFunc("POST /mpesa/stkpush/v1/processrequest", s.api(s.stkPush))
	mux.HandleFunc("POST /mpesa/stkpushquery/v1/query", s.api(s.stkQuery))
	mux.HandleFunc("POST /mpesa/b2c/v1/paymentrequest", s.api(s.b2cRequest))
	mux.HandleFunc("POST /mpesa/b2c/v3/paymentrequest", s.api(s.b2cRequest))
	mux.HandleFunc("POST /mpesa/b2b/v1/paymentrequest", s.api(s.b2bRequest))
	mux.HandleFunc("POST /mpesa/transactionstatus/v1/query", s.api(s.transactionStatus))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "404.001.01", "Resource not found")
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail writes Daraja's error body.
func fail(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"requestId": fmt.Sprintf("%d-%d-1", 10000+time.Now().Nanosecond()%90000, time.Now().Unix()%100000000),
		"errorCode": code, "errorMessage": message})
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.ConsumerKey || pass != s.ConsumerSecret || r.URL.Query().Get("grant_type") != "client_credentials" {
		fail(w, http.StatusBadRequest, "400.008.01", "Invalid Authentication passed")
		return
	}
	tok := simnet.Hex(14)
	s.mu.Lock()
	s.tokens[tok] = s.opt.Clock.Now().Add(s.opt.TokenTTL)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tok, "expires_in": fmt.Sprint(int(s.opt.TokenTTL.Seconds()))})
}

// api checks the token and the body, then applies the fail rate: a call
// lost before Safaricom acts, or after it acted, is answered 500.
func (s *Server) api(next func(w http.ResponseWriter, body map[string]json.RawMessage)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, ok := s.tokens[tok]
		s.mu.Unlock()
		if !ok || !s.opt.Clock.Now().Before(exp) {
			fail(w, http.StatusNotFound, "404.001.03", "Invalid Access Token")
			return
		}
		var body map[string]json.RawMessage
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil {
			fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid JSON")
			return
		}
		lost := func(w http.ResponseWriter) {
			fail(w, http.StatusInternalServerError, "500.003.02", "Error occurred while processing the request")
		}
		s.faults.Serve(w, lost, lost, func(w http.ResponseWriter) { next(w, body) })
	}
}

// text reads a field sent as a JSON string or number.
func text(body map[string]json.RawMessage, name string) string {
	raw := strings.TrimSpace(string(body[name]))
	var str string
	if json.Unmarshal([]byte(raw), &str) == nil {
		return str
	}
	return raw
}

var (
	timestampRe = regexp.MustCompile(`^\d{14}$`)
	phoneRe     = regexp.MustCompile(`^254[17]\d{8}$`)
	amountRe    = regexp.MustCompile(`^[1-9]\d{0,9}$`)
)

func (s *Server) checkPassword(w http.ResponseWriter, body map[string]json.RawMessage) bool {
	ts := text(body, "Timestamp")
	switch {
	case text(body, "BusinessShortCode") != s.ShortCode:
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid BusinessShortCode")
	case !timestampRe.MatchString(ts):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid Timestamp")
	case text(body, "Password") != base64.StdEncoding.EncodeToString([]byte(s.ShortCode+s.Passkey+ts)):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid Password")
	default:
		return true
	}
	return false
}

func httpURL(u string) bool {
	return strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")
}

func (s *Server) stkPush(w http.ResponseWriter, body map[string]json.RawMessage) {
	if !s.checkPassword(w, body) {
		return
	}
	phone, amount := text(body, "PhoneNumber"), text(body, "Amount")
	tt := text(body, "TransactionType")
	switch {
	case tt != "CustomerPayBillOnline" && tt != "CustomerBuyGoodsOnline":
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid TransactionType")
		return
	case !amountRe.MatchString(amount):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid Amount")
		return
	case !phoneRe.MatchString(phone) || text(body, "PartyA") != phone || strings.HasSuffix(phone, "0004"):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid PhoneNumber")
		return
	case text(body, "PartyB") != s.ShortCode:
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid PartyB")
		return
	case !httpURL(text(body, "CallBackURL")):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid CallBackURL")
		return
	case len(text(body, "AccountReference")) == 0 || len(text(body, "AccountReference")) > 12:
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid AccountReference")
		return
	}
	now := s.opt.Clock.Now()
	var n int64
	fmt.Sscan(amount, &n)
	p := &push{phone: phone, amount: n, callback: text(body, "CallBackURL"), decideAt: now.Add(s.opt.CallbackDelay),
		finalCode: "0", finalDesc: "The service request is processed successfully."}
	switch {
	case strings.HasSuffix(phone, "0001"):
		p.finalCode, p.finalDesc = "1", "The balance is insufficient for the transaction."
	case strings.HasSuffix(phone, "0002"):
		p.finalCode, p.finalDesc = "1032", "Request cancelled by user"
	case strings.HasSuffix(phone, "0003"):
		p.finalCode, p.finalDesc, p.decideAt = "1037", "DS timeout user cannot be reached", now.Add(s.opt.ApprovalWindow)
	}
	s.mu.Lock()
	p.merchant = fmt.Sprintf("%d-%d-%d", 10000+s.rng.IntN(90000), 10000000+s.rng.IntN(90000000), 1+s.rng.IntN(9))
	p.checkout = "ws_CO_" + now.Format("020120061504") + fmt.Sprintf("%09d", s.rng.IntN(1000000000))
	s.stk[p.checkout] = p
	s.mu.Unlock()
	s.opt.Clock.AfterFunc(p.decideAt.Sub(now), func() { s.callBack(p) })
	writeJSON(w, http.StatusOK, map[string]string{"MerchantRequestID": p.merchant, "CheckoutRequestID": p.checkout, "ResponseCode": "0",
		"ResponseDescription": "Success. Request accepted for processing", "CustomerMessage": "Success. Request accepted for processing"})
}

// settlePush decides a push whose time has come; s.mu is held.
func (s *Server) settlePush(p *push) bool {
	if p.code != "" || s.opt.Clock.Now().Before(p.decideAt) {
		return false
	}
	p.code, p.desc = p.finalCode, p.finalDesc
	if p.code == "0" {
		p.receipt = receipt(s.rng)
	}
	return true
}

func receipt(rng *mrand.Rand) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 10)
	for i := range b {
		b[i] = letters[rng.IntN(len(letters))]
	}
	return string(b)
}

// callBack posts a push's outcome once.
func (s *Server) callBack(p *push) {
	s.mu.Lock()
	changed := s.settlePush(p)
	send := changed && !p.called && !s.opt.DropCallbacks
	p.called = p.called || changed
	cb := map[string]any{"MerchantRequestID": p.merchant, "CheckoutRequestID": p.checkout, "ResultCode": json.Number(p.code), "ResultDesc": p.desc}
	if p.code == "0" {
		var phone json.Number = json.Number(p.phone)
		cb["CallbackMetadata"] = map[string]any{"Item": []map[string]any{
			{"Name": "Amount", "Value": p.amount}, {"Name": "MpesaReceiptNumber", "Value": p.receipt}, {"Name": "Balance"},
			{"Name": "TransactionDate", "Value": json.Number(s.opt.Clock.Now().In(time.FixedZone("EAT", 3*3600)).Format("20060102150405"))},
			{"Name": "PhoneNumber", "Value": phone}}}
	}
	url := p.callback
	s.mu.Unlock()
	if send {
		s.post(url, map[string]any{"Body": map[string]any{"stkCallback": cb}})
	}
}

func (s *Server) post(url string, v any) {
	b, _ := json.Marshal(v)
	res, err := s.opt.Client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		s.opt.Logger.Info("callback not delivered", "err", err)
		return
	}
	res.Body.Close()
}

func (s *Server) stkQuery(w http.ResponseWriter, body map[string]json.RawMessage) {
	if !s.checkPassword(w, body) {
		return
	}
	s.mu.Lock()
	p, ok := s.stk[text(body, "CheckoutRequestID")]
	var code, desc, merchant, checkout string
	if ok {
		s.settlePush(p)
		code, desc, merchant, checkout = p.code, p.desc, p.merchant, p.checkout
	}
	s.mu.Unlock()
	switch {
	case !ok:
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
	case code == "":
		fail(w, http.StatusInternalServerError, "500.001.1001", "The transaction is being processed")
	default:
		writeJSON(w, http.StatusOK, map[string]string{"ResponseCode": "0", "ResponseDescription": "The service request has been accepted successsfully",
			"MerchantRequestID": merchant, "CheckoutRequestID": checkout, "ResultCode": code, "ResultDesc": desc})
	}
}

// credentialOK decrypts a SecurityCredential with the simulator's key.
func (s *Server) credentialOK(cred string) bool {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil || len(raw) != s.key.Size() {
		return false
	}
	plain, err := rsa.DecryptPKCS1v15(nil, s.key, raw)
	return err == nil && string(plain) == s.InitiatorPassword
}

func (s *Server) b2cRequest(w http.ResponseWriter, body map[string]json.RawMessage) {
	party, amount, command := text(body, "PartyB"), text(body, "Amount"), text(body, "CommandID")
	switch {
	case command != "BusinessPayment" && command != "SalaryPayment" && command != "PromotionPayment":
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid CommandID")
		return
	case !amountRe.MatchString(amount):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid Amount")
		return
	case text(body, "PartyA") != s.B2CShortCode:
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid PartyA")
		return
	case !phoneRe.MatchString(party):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid PartyB")
		return
	case !httpURL(text(body, "ResultURL")) || !httpURL(text(body, "QueueTimeOutURL")):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid ResultURL")
		return
	}
	s.acceptPayout(w, body, party, amount, text(body, "InitiatorName"))
}

var businessRe = regexp.MustCompile(`^\d{5,7}$`)

// b2bRequest pays a paybill (BusinessPayBill, receiver type 4, with an
// AccountReference) or a till (BusinessBuyGoods, receiver type 2).
func (s *Server) b2bRequest(w http.ResponseWriter, body map[string]json.RawMessage) {
	party, amount, command, receiver := text(body, "PartyB"), text(body, "Amount"), text(body, "CommandID"), text(body, "RecieverIdentifierType")
	switch {
	case !(command == "BusinessPayBill" && receiver == "4") && !(command == "BusinessBuyGoods" && receiver == "2"):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid CommandID")
		return
	case text(body, "SenderIdentifierType") != "4":
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid SenderIdentifierType")
		return
	case !amountRe.MatchString(amount):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid Amount")
		return
	case text(body, "PartyA") != s.B2CShortCode:
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid PartyA")
		return
	case !businessRe.MatchString(party):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid PartyB")
		return
	case command == "BusinessPayBill" && text(body, "AccountReference") == "":
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid AccountReference")
		return
	case !httpURL(text(body, "ResultURL")) || !httpURL(text(body, "QueueTimeOutURL")):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid ResultURL")
		return
	}
	s.acceptPayout(w, body, party, amount, text(body, "Initiator"))
}

// acceptPayout records a B2C or B2B payment and answers; its result is
// posted to the ResultURL once decided.
func (s *Server) acceptPayout(w http.ResponseWriter, body map[string]json.RawMessage, party, amount, initiator string) {
	now := s.opt.Clock.Now()
	var n int64
	fmt.Sscan(amount, &n)
	s.mu.Lock()
	originator := text(body, "OriginatorConversationID")
	if originator == "" { // v1 has none: Safaricom makes one
		originator = fmt.Sprintf("%d-%d-1", 10000+s.rng.IntN(90000), 10000000+s.rng.IntN(90000000))
	}
	if p, dup := s.b2c[originator]; dup { // the same request again: the same answer, nothing paid twice
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"ConversationID": p.conversation, "OriginatorConversationID": originator,
			"ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."})
		return
	}
	p := &payout{originator: originator, conversation: fmt.Sprintf("AG_%s_%016x", now.Format("20060102"), s.rng.Uint64()),
		party: party, amount: n, resultURL: text(body, "ResultURL"), decideAt: now.Add(s.opt.CallbackDelay),
		finalCode: "0", finalDesc: "The service request is processed successfully."}
	switch {
	case initiator != s.Initiator || !s.credentialOK(text(body, "SecurityCredential")):
		p.finalCode, p.finalDesc = "2001", "The initiator information is invalid."
	case strings.HasSuffix(party, "0001"):
		p.finalCode, p.finalDesc = "1", "The balance is insufficient for the transaction."
	case strings.HasSuffix(party, "0004"):
		p.finalCode, p.finalDesc = "2040", "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service."
	}
	s.b2c[originator] = p
	s.mu.Unlock()
	s.opt.Clock.AfterFunc(p.decideAt.Sub(now), func() { s.sendResult(p) })
	writeJSON(w, http.StatusOK, map[string]string{"ConversationID": p.conversation, "OriginatorConversationID": originator,
		"ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."})
}

// settlePayout decides a payout whose time has come; s.mu is held.
func (s *Server) settlePayout(p *payout) bool {
	if p.code != "" || s.opt.Clock.Now().Before(p.decideAt) {
		return false
	}
	p.code, p.desc = p.finalCode, p.finalDesc
	if p.code == "0" {
		p.receipt = receipt(s.rng)
	}
	return true
}

// resultOf is a payout's B2C Result envelope.
func (s *Server) resultOf(p *payout) map[string]any {
	r := map[string]any{"ResultType": 0, "ResultCode": json.Number(p.code), "ResultDesc": p.desc, "OriginatorConversationID": p.originator,
		"ConversationID": p.conversation, "TransactionID": cmpOr(p.receipt, "0000000000"),
		"ReferenceData": map[string]any{"ReferenceItem": map[string]string{"Key": "QueueTimeoutURL", "Value": "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"}}}
	if p.code == "0" {
		r["ResultParameters"] = map[string]any{"ResultParameter": []map[string]any{
			{"Key": "TransactionAmount", "Value": p.amount}, {"Key": "TransactionReceipt", "Value": p.receipt},
			{"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"}, {"Key": "ReceiverPartyPublicName", "Value": p.party + " - Simulated Customer"},
			{"Key": "TransactionCompletedDateTime", "Value": s.opt.Clock.Now().In(time.FixedZone("EAT", 3*3600)).Format("02.01.2006 15:04:05")}}}
	}
	return map[string]any{"Result": r}
}

// sendResult posts a payout's result once.
func (s *Server) sendResult(p *payout) {
	s.mu.Lock()
	changed := s.settlePayout(p)
	send := changed && !p.called && !s.opt.DropCallbacks
	p.called = p.called || changed
	body, url := s.resultOf(p), p.resultURL
	s.mu.Unlock()
	if send {
		s.post(url, body)
	}
}

// transactionStatus acknowledges at once and posts the result to the
// query's ResultURL: R000002 for an unknown transaction, else the
// transaction's status (Completed, Failed, or Pending).
func (s *Server) transactionStatus(w http.ResponseWriter, body map[string]json.RawMessage) {
	resultURL := text(body, "ResultURL")
	switch {
	case text(body, "CommandID") != "TransactionStatusQuery":
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid CommandID")
		return
	case text(body, "Initiator") != s.Initiator || !s.credentialOK(text(body, "SecurityCredential")):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid SecurityCredential")
		return
	case !httpURL(resultURL):
		fail(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid ResultURL")
		return
	}
	originator := text(body, "OriginatorConversationID")
	s.mu.Lock()
	p, ok := s.b2c[originator]
	if !ok {
		for _, q := range s.b2c {
			if q.receipt != "" && q.receipt == text(body, "TransactionID") {
				p, ok = q, true
			}
		}
	}
	conversation := fmt.Sprintf("AG_%s_%016x", s.opt.Clock.Now().Format("20060102"), s.rng.Uint64())
	result := map[string]any{"ResultType": 0, "ResultCode": "R000002", "ResultDesc": "The OriginatorConversationID is invalid.",
		"OriginatorConversationID": originator, "ConversationID": conversation, "TransactionID": "0000000000"}
	if ok {
		s.settlePayout(p)
		status, reason := "Pending", ""
		switch p.code {
		case "0":
			status = "Completed"
		case "":
		default:
			status, reason = "Failed", p.code
		}
		result["ResultCode"], result["ResultDesc"] = json.Number("0"), "The service request is processed successfully."
		result["ResultParameters"] = map[string]any{"ResultParameter": []map[string]any{
			{"Key": "ReceiptNo", "Value": p.receipt}, {"Key": "TransactionStatus", "Value": status}, {"Key": "Amount", "Value": p.amount},
			{"Key": "ReasonType", "Value": p.desc}, {"Key": "ReasonCode", "Value": reason}, {"Key": "OriginatorConversationID", "Value": p.originator}}}
	}
	s.mu.Unlock()
	// Posted even with DropCallbacks: it is the answer to a question, the
	// only way Daraja gives one, not a callback that may be lost.
	go s.post(resultURL, map[string]any{"Result": result})
	writeJSON(w, http.StatusOK, map[string]string{"OriginatorConversationID": originator, "ConversationID": conversation,
		"ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."})
}
