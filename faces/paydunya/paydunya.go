// Package paydunya is PayDunya's merchant API, spoken byte for byte over
// Malipo's gateway: checkout invoices (PAR), onsite payments (OPR/PSR),
// SoftPay, direct pay and disbursements, with PayDunya's key headers,
// response codes and form-encoded callbacks. Like every face it only
// translates; the gateway decides.
//
// Test keys (test_private_…) belong to the sandbox, served at
// /sandbox-api/v1; live keys at /api/v1. Both sit under /paydunya, and
// at the root on a listener of their own so that an SDK needs only its
// host changed.
package paydunya

import (
	"context"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/client"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/gateway"
)

// MaxBodyBytes caps request bodies.
const MaxBodyBytes = 64 << 10

// Face serves PayDunya's API.
type Face struct {
	svc    *gateway.Service
	logger *slog.Logger
}

// New returns the PayDunya face over svc.
func New(svc *gateway.Service, logger *slog.Logger) *Face {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	svc.RegisterFlavor(integrations())
	return &Face{svc: svc, logger: logger}
}

// Register adds PayDunya's routes under prefix: "/paydunya" beside the
// other faces, or "" on a listener of its own.
func (f *Face) Register(mux *http.ServeMux, prefix string) {
	for base, mode := range map[string]malipo.Mode{"/api/v1": malipo.ModeLive, "/sandbox-api/v1": malipo.ModeTest} {
		b := prefix + base
		handle := func(pattern string, h func(*request) (any, error)) {
			mux.Handle(pattern, f.endpoint(mode, h))
		}
		handle("POST "+b+"/checkout-invoice/create", f.createInvoice)
		handle("GET "+b+"/checkout-invoice/confirm/{token}", f.confirm)
		handle("POST "+b+"/opr/create", f.oprCreate)
		handle("POST "+b+"/opr/charge", f.oprCharge)
		handle("POST "+b+"/softpay/{slug}", f.softpay)
		handle("POST "+b+"/direct-pay/credit-account", f.creditAccount)
		handle("POST "+b+"/disburse/get-invoice", f.disburseGetInvoice)
		handle("POST "+b+"/disburse/submit-invoice", f.disburseSubmit)
		handle("POST "+b+"/disburse/check-status", f.disburseCheck)
		if mode == malipo.ModeTest {
			handle("POST "+b+"/softpay/checkout/make-payment", f.sandboxMakePayment)
		}
		mux.HandleFunc(b+"/", func(w http.ResponseWriter, r *http.Request) {
			write(w, http.StatusNotFound, failure{"404", "Unknown endpoint " + r.Method + " " + r.URL.Path})
		})
	}
}

// request is one authenticated call.
type request struct {
	ctx  context.Context
	r    *http.Request
	in   malipo.Integration
	body lenient.Map
}

// failure is PayDunya's error shape.
type failure struct {
	Code string `json:"response_code"`
	Text string `json:"response_text"`
}

// Response codes. PayDunya documents "00" (success), 1001 (a key or token
// that does not match) and 4002 (insufficient funds); the others are
// Malipo's, in the same style, for cases PayDunya documents no code for
// (1006 and 1007: a direct-pay transfer still pending after DirectPayWait,
// or failed).
const (
	codeOK        = "00"
	codeAuth      = "1001"
	codeInvalid   = "1002"
	codeNotFound  = "1003"
	codeConflict  = "1004"
	codeForbidden = "1005"

	codeTransferPending = "1006"
	codeTransferFailed  = "1007"
	codeInsufficient    = "4002"
	codeRateLimited     = "4029"
	codeUnavailable     = "5003"
	codeInternal        = "5000"
)

// errorCodes maps each error kind to a response code and HTTP status: the
// one table where domain errors become PayDunya errors.
var errorCodes = map[malipo.Kind]struct {
	code   string
	status int
}{
	malipo.KindInvalid:           {codeInvalid, http.StatusBadRequest},
	malipo.KindUnauthorized:      {codeAuth, http.StatusUnauthorized},
	malipo.KindForbidden:         {codeForbidden, http.StatusForbidden},
	malipo.KindNotFound:          {codeNotFound, http.StatusNotFound},
	malipo.KindConflict:          {codeConflict, http.StatusConflict},
	malipo.KindInsufficientFunds: {codeInsufficient, http.StatusPaymentRequired},
	malipo.KindRateLimited:       {codeRateLimited, http.StatusTooManyRequests},
	malipo.KindUnavailable:       {codeUnavailable, http.StatusServiceUnavailable},
	malipo.KindInternal:          {codeInternal, http.StatusInternalServerError},
}

func write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"response_code":"5000","response_text":"Internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// scalarFields are the body fields PayDunya takes as values (strings or
// numbers): anything else in them is refused. custom_data is the
// merchant's own and may hold anything.
var scalarFields = []string{"invoice.total_amount", "invoice.description", "store.name", "store.tagline", "store.phone",
	"store.phone_number", "store.postal_address", "store.website_url", "store.logo_url", "store.cancel_url", "store.return_url",
	"store.callback_url", "actions.cancel_url", "actions.return_url", "actions.callback_url", "invoice.customer.name",
	"invoice.customer.email", "invoice.customer.phone", "customer.name", "customer.email", "customer.phone",
	"opr_data.account_alias", "account_alias", "amount", "withdraw_mode", "callback_url", "disburse_invoice", "disburse_id",
	"token", "confirm_token", "invoice_token", "phone_phone", "customer_email", "customer_name", "password"}

func (f *Face) endpoint(mode malipo.Mode, h func(*request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in malipo.Integration
		done, err := f.svc.AuthBegin(client.Addr(r))
		if err == nil {
			in, err = f.auth(r, mode)
			done(malipo.KindOf(err) == malipo.KindUnauthorized)
		}
		if err == nil {
			var body lenient.Map
			if body, err = lenient.Read(w, r, MaxBodyBytes); err != nil {
				err = malipo.Invalid("", "body_invalid", "%v", err)
			} else if terr := lenient.Scalars(body, scalarFields...); terr != nil {
				err = malipo.Invalid(terr.(*lenient.TypeError).Field, "parameter_invalid", "%v", terr)
			}
			if err == nil {
				var out any
				if out, err = h(&request{ctx: r.Context(), r: r, in: in, body: body}); err == nil {
					write(w, http.StatusOK, out)
					return
				}
			}
		}
		e := malipo.AsError(err)
		m, ok := errorCodes[e.Kind]
		if !ok {
			m = errorCodes[malipo.KindInternal]
		}
		text := e.Message
		if e.Kind == malipo.KindInternal {
			client.LogFailure(f.logger, r, "paydunya request failed", err, "route", r.Pattern)
			text = "Internal error"
		}
		write(w, m.status, failure{m.code, text})
	})
}

// auth checks PayDunya's three key headers. Test keys work only on the
// sandbox paths, live keys only on the live ones.
func (f *Face) auth(r *http.Request, mode malipo.Mode) (malipo.Integration, error) {
	master, private, token := r.Header.Get("PAYDUNYA-MASTER-KEY"), r.Header.Get("PAYDUNYA-PRIVATE-KEY"), r.Header.Get("PAYDUNYA-TOKEN")
	deny := func(msg string) (malipo.Integration, error) {
		return malipo.Integration{}, malipo.Errorf(malipo.KindUnauthorized, "invalid_keys", "%s", msg)
	}
	if master == "" || private == "" || token == "" {
		return deny("PAYDUNYA-MASTER-KEY, PAYDUNYA-PRIVATE-KEY and PAYDUNYA-TOKEN are required")
	}
	in, err := f.svc.IntegrationBySecret(r.Context(), private)
	if malipo.KindOf(err) == malipo.KindNotFound || (err == nil && in.Flavor != malipo.FlavorPayDunya) {
		return deny("Invalid Private Key Specified")
	}
	if err != nil {
		return in, err
	}
	if subtle.ConstantTimeCompare([]byte(master), []byte(settings(in).MasterKey)) != 1 {
		return deny("Invalid Masterkey Specified")
	}
	if subtle.ConstantTimeCompare([]byte(gateway.HashKey(token)), []byte(settings(in).TokenHash)) != 1 {
		return deny("Invalid Token Specified")
	}
	if in.Mode != mode {
		if mode == malipo.ModeTest {
			return deny("Live keys cannot be used on the sandbox API (/sandbox-api/v1)")
		}
		return deny("Test keys cannot be used on the live API (/api/v1): use /sandbox-api/v1")
	}
	return in, nil
}

// Hash is what PayDunya sends to prove a message came from it: the
// lowercase hex SHA-512 of the merchant's master key.
func Hash(masterKey string) string {
	sum := sha512.Sum512([]byte(masterKey))
	return hex.EncodeToString(sum[:])
}

// amount reads an XOF amount sent as a number or a string ("5000",
// "5000.00"); anything that is not a whole number of francs is refused.
func amount(v any, param string) (int64, error) {
	s := lenient.Str(v)
	if s == "" {
		return 0, malipo.Invalid(param, "parameter_missing", "%s is required", param)
	}
	n, err := malipo.ParseDecimal(s, "XOF")
	if err != nil {
		return 0, malipo.Invalid(param, "amount_invalid", "%s must be a whole number of FCFA", param)
	}
	return n, malipo.ValidateAmount(n, param)
}

// withToken adds PayDunya's ?token= to a return URL.
func withToken(raw, token string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String()
}

var errNoInvoice = &malipo.Error{Kind: malipo.KindNotFound, Code: "invoice_missing", Message: "Invoice not found"}

// invoice finds the payment behind an invoice token.
func (f *Face) invoice(req *request, token string) (malipo.Payment, error) {
	if token == "" {
		return malipo.Payment{}, malipo.Invalid("token", "parameter_missing", "the invoice token is required")
	}
	p, err := f.svc.PaymentByReference(req.ctx, req.in, token)
	if malipo.KindOf(err) == malipo.KindNotFound {
		return p, errNoInvoice
	}
	return p, err
}

// firstKey returns the value of the first key (in sorted order) that
// matches, for SoftPay bodies whose field names change with each wallet.
func firstKey(m lenient.Map, match func(string) bool) string {
	var best string
	var val string
	for k, v := range m {
		if match(strings.ToLower(k)) && lenient.Str(v) != "" && (best == "" || k < best) {
			best, val = k, strings.TrimSpace(lenient.Str(v))
		}
	}
	return val
}

// Refuse answers a request the node will not serve (busy, say) with err,
// as PayDunya answers errors.
func (f *Face) Refuse(w http.ResponseWriter, r *http.Request, err error) {
	e := malipo.AsError(err)
	m, ok := errorCodes[e.Kind]
	if !ok {
		m = errorCodes[malipo.KindInternal]
	}
	write(w, m.status, failure{m.code, e.Message})
}
