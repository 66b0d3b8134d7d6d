// Package cinetpay is CinetPay's payment API v2, spoken byte for byte over
// Malipo's gateway: POST /v2/payment to start a payment on the checkout
// page, POST /v2/payment/check to read it, and notifications as the 16
// cpm_* form fields signed with the x-token HMAC. Credentials (apikey,
// site_id) travel in the body; bodies may be JSON or forms. Like every
// face it only translates.
package cinetpay

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/client"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/faces/ratelimit"
	"github.com/malipo/malipo/gateway"
)

// MaxBodyBytes caps request bodies.
const MaxBodyBytes = 64 << 10

// Face serves CinetPay's API.
type Face struct {
	svc     *gateway.Service
	clock   clock.Clock
	logger  *slog.Logger
	limiter *ratelimit.PerSecond
}

// Config wires a Face.
type Config struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// RequestsPerSecond bounds each site's calls, as CinetPay's
	// TOO_MANY_REQUEST does; default 50.
	RequestsPerSecond int
}

// New returns the CinetPay face over svc.
func New(svc *gateway.Service, cfg Config) *Face {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestsPerSecond <= 0 {
		cfg.RequestsPerSecond = 50
	}
	svc.RegisterFlavor(integrations())
	return &Face{svc: svc, clock: cfg.Clock, logger: cfg.Logger, limiter: &ratelimit.PerSecond{Limit: cfg.RequestsPerSecond}}
}

// Register adds CinetPay's routes under prefix: "/cinetpay" beside the
// other faces, or "" on a listener of its own.
func (f *Face) Register(mux *http.ServeMux, prefix string) {
	mux.Handle("POST "+prefix+"/v2/payment", f.endpoint(f.initPayment))
	mux.Handle("POST "+prefix+"/v2/payment/check", f.endpoint(f.check))
	f.registerSeamless(mux, prefix)
	mux.HandleFunc(prefix+"/v2/", func(w http.ResponseWriter, r *http.Request) {
		f.write(w, http.StatusNotFound, failure{"404", "NOT_FOUND", "no endpoint " + r.Method + " " + r.URL.Path, f.responseID()})
	})
}

// failure is CinetPay's error shape.
type failure struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	Description   string `json:"description"`
	APIResponseID string `json:"api_response_id"`
}

// cinetError is an error in CinetPay's terms.
type cinetError struct {
	status        int
	code, message string
	description   string
}

func (e *cinetError) Error() string { return e.code + " " + e.message + ": " + e.description }

// The seed's error codes.
func errFields(desc string, args ...any) error {
	return &cinetError{http.StatusBadRequest, "608", "MINIMUM_REQUIRED_FIELDS", fmt.Sprintf(desc, args...)}
}

var (
	errAuth     = &cinetError{http.StatusForbidden, "609", "AUTH_NOT_FOUND", "apikey provided is not correct"}
	errSite     = &cinetError{http.StatusForbidden, "613", "ERROR_SITE_ID_NOTVALID", "site_id provided is not correct"}
	errTooMany  = &cinetError{http.StatusTooManyRequests, "429", "TOO_MANY_REQUEST", "The system has detected that your activity on the API is suspicious"}
	errNotFound = &cinetError{http.StatusNotFound, "404", "TRANSACTION_NOT_FOUND", "no transaction with this transaction_id or token"}
)

// responseID is CinetPay's api_response_id: the time, with a fraction.
func (f *Face) responseID() string {
	t := f.clock.Now()
	return fmt.Sprintf("%d.%04d", t.Unix(), t.Nanosecond()/100000)
}

func (f *Face) write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"code":"500","message":"INTERNAL_ERROR"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// request is one authenticated call.
type request struct {
	ctx  context.Context
	in   malipo.Integration
	body lenient.Map
	raw  []byte // the body as sent
	// origin is the merchant page's that sent the request from a
	// browser (Seamless): that page may show the checkout in a frame.
	origin string
}

func (f *Face) endpoint(h func(*request) (int, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A merchant's page calls the API from the browser (Seamless).
		if origin := browserOrigin(r); origin != "" {
			allowOrigin(w, origin)
		}
		// CinetPay sits behind a firewall that refuses clients sending no
		// User-Agent (its "error code: 1010"); merchant code that works
		// with CinetPay sends one.
		if r.UserAgent() == "" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte("error code: 1010"))
			return
		}
		status, out, err := f.serve(r, w, h)
		if err != nil {
			var ce *cinetError
			if !asCinet(err, &ce) {
				ce = fromDomain(err)
				if ce.status >= 500 {
					client.LogFailure(f.logger, r, "cinetpay request failed", err, "route", r.Pattern)
				}
			}
			f.write(w, ce.status, failure{ce.code, ce.message, ce.description, f.responseID()})
			return
		}
		f.write(w, status, out)
	})
}

// scalarFields are the body fields CinetPay takes as values (strings or
// numbers): anything else in them is refused. lock_phone_number is a
// boolean and invoice_data an object.
var scalarFields = []string{"apikey", "site_id", "transaction_id", "token", "amount", "currency", "description", "notify_url",
	"return_url", "channels", "lang", "metadata", "customer_id", "customer_name", "customer_surname", "customer_email",
	"customer_phone_number", "customer_address", "customer_city", "customer_country", "customer_state", "customer_zip_code"}

// auth finds the site an apikey and site_id name, counting a wrong pair
// against the caller's address.
func (f *Face) auth(r *http.Request, apikey, site string) (malipo.Integration, error) {
	done, err := f.svc.AuthBegin(client.Addr(r))
	if err != nil {
		return malipo.Integration{}, err
	}
	in, err := f.svc.IntegrationBySecret(r.Context(), apikey)
	switch {
	case malipo.KindOf(err) == malipo.KindNotFound || (err == nil && in.Flavor != malipo.FlavorCinetPay):
		err = errAuth
	case err == nil && subtle.ConstantTimeCompare([]byte(site), []byte(settings(in).SiteID)) != 1:
		err = errSite
	}
	done(err == errAuth || err == errSite)
	return in, err
}

func (f *Face) serve(r *http.Request, w http.ResponseWriter, h func(*request) (int, any, error)) (int, any, error) {
	raw, body, err := lenient.ReadRaw(w, r, MaxBodyBytes)
	if err != nil {
		return 0, nil, errFields("the request body could not be read: %v", err)
	}
	if err := lenient.Scalars(body, scalarFields...); err != nil {
		return 0, nil, errFields("%v", err)
	}
	apikey, site := lenient.String(body, "apikey"), lenient.String(body, "site_id")
	if apikey == "" || site == "" {
		return 0, nil, errFields("apikey and site_id are required")
	}
	in, err := f.auth(r, apikey, site)
	if err != nil {
		return 0, nil, err
	}
	if !f.limiter.Allow(in.ID, f.clock.Now()) {
		return 0, nil, errTooMany
	}
	return h(&request{ctx: r.Context(), in: in, body: body, raw: raw, origin: browserOrigin(r)})
}

func asCinet(err error, target **cinetError) bool {
	ce, ok := err.(*cinetError)
	if ok {
		*target = ce
	}
	return ok
}

// fromDomain maps a gateway error to CinetPay's codes: input errors are
// 608, as CinetPay reports every invalid field.
func fromDomain(err error) *cinetError {
	e := malipo.AsError(err)
	switch e.Kind {
	case malipo.KindInvalid, malipo.KindConflict:
		return &cinetError{http.StatusBadRequest, "608", "MINIMUM_REQUIRED_FIELDS", e.Message}
	case malipo.KindNotFound:
		return errNotFound
	case malipo.KindRateLimited:
		return errTooMany
	case malipo.KindUnavailable:
		return &cinetError{http.StatusServiceUnavailable, "503", "SERVICE_UNAVAILABLE", e.Message}
	case malipo.KindForbidden:
		return &cinetError{http.StatusForbidden, "403", "FORBIDDEN", e.Message}
	}
	return &cinetError{http.StatusInternalServerError, "500", "INTERNAL_ERROR", "an internal error occurred"}
}

// XToken is the x-token header of a notification: lowercase hex
// HMAC-SHA256, keyed with the site's secret key, of the values joined in
// order.
func XToken(secretKey string, values []string) string {
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(strings.Join(values, "")))
	return hex.EncodeToString(mac.Sum(nil))
}

// Refuse answers a request the node will not serve (busy, say) with err,
// as CinetPay answers errors.
func (f *Face) Refuse(w http.ResponseWriter, r *http.Request, err error) {
	ce := fromDomain(err)
	f.write(w, ce.status, failure{ce.code, ce.message, ce.description, f.responseID()})
}
