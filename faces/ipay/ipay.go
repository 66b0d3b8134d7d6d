// Package ipay is iPay Africa's B2B API, spoken byte for byte over
// Malipo's gateway: sending money to M-Pesa paybills and tills
// (external/send) or to another iPay merchant (internal/send/ipay), and
// the transaction status, with iPay's HMAC-SHA256 hash over the sorted
// fields, its IP allow-list and its {"status","text"} answers. These are
// payouts on the ledger. Like every face it only translates.
package ipay

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/client"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/snapshot"
)

// MaxBodyBytes caps request bodies.
const MaxBodyBytes = 64 << 10

// Face serves iPay's B2B API.
type Face struct {
	svc    *gateway.Service
	clock  clock.Clock
	logger *slog.Logger
}

// New returns the iPay face over svc.
func New(svc *gateway.Service, clk clock.Clock, logger *slog.Logger) *Face {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	svc.RegisterFlavor(integrations())
	return &Face{svc: svc, clock: clk, logger: logger}
}

// Register adds iPay's routes under prefix: "/ipay" beside the other
// faces, or "" on a listener of its own.
func (f *Face) Register(mux *http.ServeMux, prefix string) {
	b := prefix + "/b2b/v1"
	mux.Handle("POST "+b+"/external/send/{channel}", f.endpoint(f.send))
	mux.Handle("POST "+b+"/internal/send/{channel}", f.endpoint(f.send))
	mux.Handle("POST "+b+"/transaction/status", f.endpoint(f.status))
	mux.HandleFunc(b+"/", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusNotFound, "endpoint not found")
	})
}

// apiError is an answer in iPay's error shape.
type apiError struct {
	status int
	text   string
}

func (e *apiError) Error() string { return e.text }

func fail(status int, format string, args ...any) error {
	return &apiError{status, fmt.Sprintf(format, args...)}
}

// write answers {"status","text"} (and errormessage, which clients read
// too) with the status as the HTTP status.
func write(w http.ResponseWriter, status int, text string) {
	b, _ := json.Marshal(lenient.Ordered{{Key: "status", Value: status}, {Key: "text", Value: text}, {Key: "errormessage", Value: text}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

type request struct {
	ctx     context.Context
	r       *http.Request
	in      malipo.Integration
	body    lenient.Map
	channel string
}

func (f *Face) endpoint(h func(*request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := f.serve(w, r, h)
		if err != nil {
			ae, ok := err.(*apiError)
			if !ok {
				ae = fromDomain(err)
				if ae.status >= 500 {
					client.LogFailure(f.logger, r, "ipay request failed", err, "route", r.Pattern)
				}
			}
			write(w, ae.status, ae.text)
			return
		}
		b, _ := json.Marshal(out)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(b)
	})
}

func (f *Face) serve(w http.ResponseWriter, r *http.Request, h func(*request) (any, error)) (any, error) {
	body, err := lenient.Read(w, r, MaxBodyBytes)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "the request body could not be read")
	}
	if err := lenient.Scalars(body, "vid", "reference", "account", "hash", "amount", "narration", "curr"); err != nil {
		return nil, fail(http.StatusBadRequest, "%s", err)
	}
	vid := lenient.String(body, "vid")
	if vid == "" {
		return nil, fail(http.StatusBadRequest, "vid missing")
	}
	if lenient.String(body, "hash") == "" {
		return nil, fail(http.StatusBadRequest, "hash missing")
	}
	addr := client.Addr(r)
	done, err := f.svc.AuthBegin(addr)
	if err != nil {
		return nil, fail(http.StatusTooManyRequests, "too many failed requests: try again later")
	}
	failed := true
	defer func() { done(failed) }()
	in, err := f.svc.IntegrationBySecret(r.Context(), vid)
	if malipo.KindOf(err) == malipo.KindNotFound || (err == nil && in.Flavor != malipo.FlavorIPay) {
		return nil, fail(http.StatusBadRequest, "hash mismatch") // an unknown vendor cannot have signed anything
	}
	if err != nil {
		return nil, err
	}
	if !malipo.CallerAllowed(settings(in).AllowIPs, addr) {
		return nil, fail(http.StatusBadRequest, "Not allowed")
	}
	if !hmac.Equal([]byte(strings.ToLower(lenient.String(body, "hash"))), []byte(Hash(settings(in).SecurityKey, body))) {
		return nil, fail(http.StatusBadRequest, "hash mismatch")
	}
	failed = false
	return h(&request{ctx: r.Context(), r: r, in: in, body: body, channel: r.PathValue("channel")})
}

// fromDomain maps gateway errors to iPay's table.
func fromDomain(err error) *apiError {
	e := malipo.AsError(err)
	switch {
	case errors.Is(e, malipo.ErrReferenceInUse):
		return &apiError{http.StatusBadRequest, "transaction reference exists"}
	case e.Kind == malipo.KindInsufficientFunds:
		return &apiError{http.StatusBadRequest, e.Message + " please fund your iPay bulkpay Account"}
	case e.Kind == malipo.KindRateLimited:
		return &apiError{http.StatusForbidden, "too many requests to the same phone within specified period"}
	case e.Kind == malipo.KindInvalid:
		return &apiError{http.StatusBadRequest, e.Message}
	case e.Kind == malipo.KindForbidden:
		return &apiError{http.StatusBadRequest, "Not allowed: " + e.Message}
	case e.Kind == malipo.KindNotFound:
		return &apiError{http.StatusNotFound, "transaction not found"}
	}
	return &apiError{http.StatusServiceUnavailable, "internal server error"}
}

// Hash is iPay's signature: lowercase hex HMAC-SHA256, keyed with the
// vendor's security key, of the fields sorted by name as key=value joined
// with "&", not URL-encoded, leaving out the hash itself and empty values.
func Hash(securityKey string, fields map[string]any) string {
	keys := make([]string, 0, len(fields))
	for k, v := range fields {
		if k != "hash" && v != nil && lenient.Str(v) != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + lenient.Str(fields[k])
	}
	mac := hmac.New(sha256.New, []byte(securityKey))
	mac.Write([]byte(strings.Join(parts, "&")))
	return hex.EncodeToString(mac.Sum(nil))
}

func (f *Face) timestamp() string { return f.clock.Now().Format("2006-01-02 15:04:05") }

// send is external/send/{mpesapaybill|mpesatill} and internal/send/ipay.
func (f *Face) send(req *request) (any, error) {
	internal := strings.Contains(req.r.URL.Path, "/internal/send/")
	dest := malipo.Destination{Account: lenient.String(req.body, "account")}
	switch {
	case internal && req.channel == "ipay":
		dest.Type = malipo.DestinationMerchant
	case !internal && req.channel == "mpesapaybill":
		dest.Type, dest.AccountReference = malipo.DestinationPaybill, lenient.String(req.body, "narration")
	case !internal && req.channel == "mpesatill":
		dest.Type = malipo.DestinationTill
	default:
		return nil, fail(http.StatusBadRequest, "channel %s is not available here: use external/send/mpesapaybill, external/send/mpesatill or internal/send/ipay", req.channel)
	}
	for _, k := range []string{"reference", "account", "amount", "curr"} {
		if lenient.String(req.body, k) == "" {
			return nil, fail(http.StatusBadRequest, "%s missing", k)
		}
	}
	if dest.Type == malipo.DestinationPaybill && dest.AccountReference == "" {
		return nil, fail(http.StatusBadRequest, "narration missing")
	}
	cur := strings.ToUpper(lenient.String(req.body, "curr"))
	amount, err := malipo.ParseDecimal(lenient.String(req.body, "amount"), malipo.Currency(cur))
	if err != nil {
		return nil, fail(http.StatusBadRequest, "amount is not a valid amount of %s", cur)
	}
	var receiver *malipo.Integration
	if dest.Type == malipo.DestinationMerchant {
		to, err := f.svc.IntegrationBySecret(req.ctx, dest.Account)
		if err != nil || to.Flavor != malipo.FlavorIPay || to.Mode != req.in.Mode {
			return nil, fail(http.StatusBadRequest, "account %s is not an iPay merchant", dest.Account)
		}
		// The vendor ID as sent is kept: callbacks name it in account.
		dest.Account, dest.AccountReference, receiver = to.MerchantID, dest.Account, &to
	}
	p, _, err := f.svc.CreatePayout(req.ctx, req.in, gateway.PayoutInput{Amount: amount, Currency: cur, Reference: lenient.String(req.body, "reference"),
		Destination: dest, Narration: lenient.String(req.body, "narration"), Receiver: receiver}, gateway.Idempotency{})
	if err != nil {
		return nil, err
	}
	// "The transaction is queued in our system for processing. The
	// callback url will be triggered": the answer is QUEUED even when the
	// money has already moved (an internal transfer), as the seed shows.
	return lenient.Ordered{{Key: "status", Value: 200}, {Key: "text", Value: "QUEUED"}, {Key: "reference", Value: p.Reference},
		{Key: "timestamp", Value: f.timestamp()}}, nil
}

// account is the account a payout went to as the sender named it: the
// receiving vendor ID of an internal transfer.
func account(p malipo.Payout) string {
	if p.Destination.Type == malipo.DestinationMerchant && p.Destination.AccountReference != "" {
		return p.Destination.AccountReference
	}
	return p.Destination.Account
}

func statusText(p malipo.Payout) string {
	switch p.Status {
	case malipo.PayoutSucceeded:
		return "SUCCESS"
	case malipo.PayoutFailed:
		return "FAILED"
	}
	return "QUEUED"
}

// status is transaction/status.
func (f *Face) status(req *request) (any, error) {
	ref := lenient.String(req.body, "reference")
	if ref == "" {
		return nil, fail(http.StatusBadRequest, "reference missing")
	}
	p, err := f.svc.PayoutByReference(req.ctx, req.in, ref)
	if err != nil {
		return nil, err
	}
	return lenient.Ordered{{Key: "status", Value: 200}, {Key: "text", Value: statusText(p)}, {Key: "ipay_reference", Value: p.ID},
		{Key: "mmref", Value: p.RailReference}}, nil
}

// channelOf names a payout's iPay channel.
func channelOf(d malipo.Destination) string {
	switch d.Type {
	case malipo.DestinationPaybill:
		return "mpesapaybill"
	case malipo.DestinationTill:
		return "mpesatill"
	case malipo.DestinationMerchant:
		return "ipay"
	}
	return string(d.Type)
}

// Flavor is the B2B callback, which iPay does not publish: a form POST
// to the integration's notify URL with status, text, reference,
// ipay_reference, mmref, amount, account, channel and timestamp, signed
// in hash by the same rule as requests. Any 2xx acknowledges it.
func (f *Face) Flavor() notify.Flavor { return flavor{f} }

type flavor struct{ f *Face }

func (fl flavor) Build(m notify.Message) (notify.Request, error) {
	if m.Event.ObjectType != "payout" {
		return notify.Request{}, fmt.Errorf("iPay callbacks are sent for payouts only, not %s events", m.Event.ObjectType)
	}
	var p malipo.Payout
	if err := snapshot.Decode(m.Event.Data, &p); err != nil {
		return notify.Request{}, err
	}
	status := "200"
	if p.Status == malipo.PayoutFailed {
		status = "400"
	}
	fields := map[string]any{"status": status, "text": statusText(p), "reference": p.Reference, "ipay_reference": p.ID,
		"mmref": p.RailReference, "amount": malipo.FormatDecimal(p.Amount, p.Currency), "account": account(p),
		"channel": channelOf(p.Destination), "timestamp": p.CompletedAt.Format("2006-01-02 15:04:05")}
	form := url.Values{}
	for k, v := range fields {
		form.Set(k, lenient.Str(v))
	}
	form.Set("hash", Hash(settings(m.Integration).SecurityKey, fields))
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return notify.Request{Header: h, Body: []byte(form.Encode())}, nil
}

func (flavor) Acknowledged(status int, _ []byte) bool { return notify.Acknowledged2xx(status) }

// Refuse answers a request the node will not serve (busy, say) with err,
// as iPay answers errors.
func (f *Face) Refuse(w http.ResponseWriter, r *http.Request, err error) {
	ae := fromDomain(err)
	write(w, ae.status, ae.text)
}
