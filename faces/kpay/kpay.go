// Package kpay is KPay's (Esicia) merchant API, spoken byte for byte over
// Malipo's gateway: one endpoint, POST /, whose action field selects a
// payment request, a status check, or card tokens (addtoken, tokenlist,
// tokenpay); Basic auth plus the Kpay-Key header, an IP allow-list, and
// KPay's retcodes 600-611. Postbacks are JSON, acknowledged only by
// {"reply":"OK"}. Like every face it only translates.
package kpay

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/client"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/gateway"
)

// MaxBodyBytes caps request bodies.
const MaxBodyBytes = 64 << 10

// Face serves KPay's API.
type Face struct {
	svc    *gateway.Service
	logger *slog.Logger
}

// New returns the KPay face over svc.
func New(svc *gateway.Service, logger *slog.Logger) *Face {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	svc.RegisterFlavor(integrations())
	return &Face{svc: svc, logger: logger}
}

// Register adds KPay's endpoint under prefix: "/kpay" beside the other
// faces, or "" on a listener of its own.
func (f *Face) Register(mux *http.ServeMux, prefix string) {
	mux.Handle("POST "+prefix+"/{$}", http.HandlerFunc(f.serve))
	if prefix != "" {
		mux.Handle("POST "+prefix, http.HandlerFunc(f.serve))
	}
	// Everything else gets KPay's JSON, never the mux's plain text.
	mux.HandleFunc(prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		msg := "KPay answers POST / only, not " + r.Method + " " + r.URL.Path
		write(w, http.StatusNotFound, lenient.Ordered{{Key: "reply", Value: msg}, {Key: "success", Value: 0},
			{Key: "retcode", Value: RetEmptyParameter}, {Key: "message", Value: msg}})
	})
}

// KPay's retcodes.
const (
	RetOK               = 0
	RetBadCredentials   = 600 // Invalid username / password combination
	RetRemoteUser       = 601 // Invalid remote user
	RetIPNotWhitelisted = 602 // Location / IP not whitelisted
	RetEmptyParameter   = 603 // Empty parameter. - missing required parameters
	RetUnknownRetailer  = 604 // Unknown retailer
	RetRetailerDisabled = 605 // Retailer not enabled
	RetProcessing       = 606 // Error processing
	RetMoMoFailed       = 607 // Failed mobile money transaction
	RetRefIDUsed        = 608 // Used ref id – error uniqueness
	RetUnknownMethod    = 609 // Unknown Payment method
	RetUnknownBank      = 610 // Unknown or not enabled Financial institution
	RetNotFound         = 611 // Transaction not found
	// RetTooManyFailures is Malipo's: KPay publishes no code for a caller
	// refused after too many failed authentications (HTTP 429).
	RetTooManyFailures = 429
)

// retError is an error in KPay's terms.
type retError struct {
	code  int
	reply string
	tid   string // the transaction's, when one was made (607)
	busy  bool   // refused for load: answered 503, not logged as a failure
}

func (e *retError) Error() string { return e.reply }

func fail(code int, reply string) error { return &retError{code: code, reply: reply} }

// scalarFields are the body fields KPay takes as values (strings or
// numbers): anything else in them is refused.
var scalarFields = []string{"action", "msisdn", "email", "details", "refid", "amount", "currency", "cname", "cnumber",
	"pmethod", "retailerid", "returl", "redirecturl", "bankid", "logourl", "token", "cvv", "tid", "cusname"}

// request is one authenticated call.
type request struct {
	ctx  context.Context
	in   malipo.Integration
	body lenient.Map
}

func (f *Face) serve(w http.ResponseWriter, r *http.Request) {
	body, err := lenient.Read(w, r, MaxBodyBytes)
	if err != nil {
		f.answerError(w, nil, fail(RetEmptyParameter, "The request body is not JSON"))
		return
	}
	if err := lenient.Scalars(body, scalarFields...); err != nil {
		f.answerError(w, nil, fail(RetEmptyParameter, err.Error()))
		return
	}
	done, err := f.svc.AuthBegin(client.Addr(r))
	if err != nil {
		f.answerError(w, body, err)
		return
	}
	in, err := f.auth(r, body)
	re, _ := err.(*retError)
	done(re != nil && (re.code == RetBadCredentials || re.code == RetRemoteUser))
	if err != nil {
		f.answerError(w, body, err)
		return
	}
	req := &request{ctx: r.Context(), in: in, body: body}
	var out any
	switch action := lenient.String(body, "action"); action {
	case "", "pay":
		out, err = f.pay(req)
	case "checkstatus":
		out, err = f.checkStatus(req)
	case "addtoken":
		out, err = f.addToken(req)
	case "tokenlist":
		out, err = f.tokenList(req)
	case "tokenpay":
		out, err = f.tokenPay(req)
	default:
		err = fail(RetEmptyParameter, "Unknown action "+action)
	}
	if err != nil {
		f.answerError(w, body, err)
		return
	}
	write(w, http.StatusOK, out)
}

func write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"reply":"ERROR","success":0,"retcode":606,"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// answerError writes KPay's error answer. Credential and allow-list
// failures are HTTP errors carrying a message; the others are 200 with a
// retcode, as KPay answers them.
func (f *Face) answerError(w http.ResponseWriter, body lenient.Map, err error) {
	re, ok := err.(*retError)
	if !ok {
		re = fromDomain(err)
		if re.code == RetProcessing && !re.busy {
			f.logger.Error("kpay request failed", "err", err)
		}
	}
	status := http.StatusOK
	switch re.code {
	case RetBadCredentials, RetRemoteUser:
		status = http.StatusUnauthorized
	case RetIPNotWhitelisted:
		status = http.StatusForbidden
	case RetTooManyFailures:
		status = http.StatusTooManyRequests
	}
	if re.busy {
		status = http.StatusServiceUnavailable // so that clients and proxies back off
	}
	write(w, status, lenient.Ordered{{Key: "reply", Value: re.reply}, {Key: "url", Value: ""}, {Key: "success", Value: 0},
		{Key: "authkey", Value: f.svc.Token("", 16)}, {Key: "tid", Value: re.tid}, {Key: "refid", Value: lenient.String(body, "refid")},
		{Key: "retcode", Value: re.code}, {Key: "message", Value: re.reply}})
}

// fromDomain maps gateway errors to retcodes.
func fromDomain(err error) *retError {
	e := malipo.AsError(err)
	switch {
	case errors.Is(e, malipo.ErrTooManyAuthFailures):
		return &retError{code: RetTooManyFailures, reply: "Too many failed authentications: try again later"}
	case errors.Is(e, malipo.ErrReferenceInUse):
		return &retError{code: RetRefIDUsed, reply: "Used ref id – error uniqueness"}
	case errors.Is(e, malipo.ErrBusy):
		return &retError{code: RetProcessing, reply: "Error processing: the gateway is busy and did nothing; send the same request again in a moment", busy: true}
	case e.Kind == malipo.KindInvalid:
		return &retError{code: RetEmptyParameter, reply: e.Message}
	case e.Kind == malipo.KindNotFound:
		return &retError{code: RetNotFound, reply: "Transaction not found"}
	case e.Kind == malipo.KindUnavailable:
		return &retError{code: RetRetailerDisabled, reply: "Retailer not enabled"}
	case errors.Is(e, malipo.ErrMerchantSuspended):
		return &retError{code: RetRetailerDisabled, reply: "Retailer not enabled: " + e.Message}
	}
	return &retError{code: RetProcessing, reply: "Error processing"}
}

// auth checks Basic auth (which alone authenticates, as KPay's document
// says), the Kpay-Key when one is sent, the caller's address and the
// retailer.
func (f *Face) auth(r *http.Request, body lenient.Map) (malipo.Integration, error) {
	badBasic := fail(RetBadCredentials, "Invalid username / password combination")
	user, password, ok := r.BasicAuth()
	if !ok {
		return malipo.Integration{}, badBasic
	}
	key := r.Header.Get("Kpay-Key")
	in, err := f.svc.IntegrationBySecret(r.Context(), basicSecret(user, password))
	switch {
	case err == nil && in.Flavor != malipo.FlavorKPay:
		return malipo.Integration{}, badBasic
	case err == nil && key != "":
		byKey, err := f.svc.IntegrationBySecret(r.Context(), key)
		if malipo.KindOf(err) == malipo.KindNotFound || (err == nil && byKey.ID != in.ID) {
			return malipo.Integration{}, fail(RetRemoteUser, "Invalid remote user")
		}
		if err != nil {
			return in, err
		}
	case malipo.KindOf(err) == malipo.KindNotFound && key != "":
		// Integrations made before Basic alone was enough are found by
		// their Kpay-Key.
		if in, err = f.svc.IntegrationBySecret(r.Context(), key); malipo.KindOf(err) == malipo.KindNotFound || (err == nil && in.Flavor != malipo.FlavorKPay) {
			return malipo.Integration{}, fail(RetRemoteUser, "Invalid remote user")
		}
		if err != nil {
			return in, err
		}
		if subtle.ConstantTimeCompare([]byte(user), []byte(settings(in).Username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(gateway.HashKey(password)), []byte(settings(in).PasswordHash)) != 1 {
			return malipo.Integration{}, badBasic
		}
	case malipo.KindOf(err) == malipo.KindNotFound:
		return malipo.Integration{}, badBasic
	case err != nil:
		return in, err
	}
	if !malipo.CallerAllowed(settings(in).AllowIPs, client.Addr(r)) {
		return malipo.Integration{}, fail(RetIPNotWhitelisted, "Location / IP not whitelisted")
	}
	if rid := lenient.String(body, "retailerid"); rid != "" && rid != settings(in).RetailerID {
		return malipo.Integration{}, fail(RetUnknownRetailer, "Unknown retailer")
	}
	return in, nil
}

// Refuse answers a request the node will not serve (busy, say) with err,
// as KPay answers errors.
func (f *Face) Refuse(w http.ResponseWriter, r *http.Request, err error) { f.answerError(w, nil, err) }
