// Package native is Malipo's own JSON API, /v1: Bearer secret keys,
// Stripe-style errors, idempotency keys and cursor pagination. Like every
// face it only translates: it parses and checks the wire format, calls one
// gateway use case and renders the answer.
package native

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/client"
	"github.com/malipo/malipo/faces/requestid"
	"github.com/malipo/malipo/gateway"
)

// MaxBodyBytes caps request bodies; larger ones are refused with 413.
const MaxBodyBytes = 64 << 10

// API serves /v1.
type API struct {
	svc    *gateway.Service
	logger *slog.Logger
}

// New returns the native API over svc.
func New(svc *gateway.Service, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{svc: svc, logger: logger}
}

// route is one endpoint: the mux pattern, its OpenAPI description and the
// handler. The same table registers the routes and writes the OpenAPI
// document, so the two cannot drift.
type route struct {
	method, path string
	summary      string
	auth         bool
	request      any // zero value of the JSON body type, or nil
	query        []param
	response     any // zero value of the answer type
	status       int // success status
	handle       func(a *API, w http.ResponseWriter, r *http.Request, in malipo.Integration) error
}

type param struct {
	name, in, description string
	integer               bool
}

func (a *API) routes() []route {
	return []route{
		{method: "POST", path: "/v1/payments", summary: "Create a payment (and push it to the customer's phone with method mobile_money)",
			auth: true, request: createPaymentRequest{}, response: paymentResource{}, status: 201, handle: (*API).createPayment},
		{method: "GET", path: "/v1/payments", summary: "List payments, newest first", auth: true,
			query: append([]param{{name: "reference", in: "query"}, {name: "status", in: "query"},
				{name: "q", in: "query", description: "a payment id or reference, or part of the phone number or of the customer's email or name"},
				{name: "method", in: "query", description: "mobile_money, card or bank_transfer"}, {name: "currency", in: "query"},
				{name: "operator", in: "query"}, {name: "limit", in: "query", integer: true},
				{name: "starting_after", in: "query", description: "a payment id: list payments older than it"}}, createdParams...),
			response: paymentList{}, status: 200, handle: (*API).listPayments},
		{method: "GET", path: "/v1/payments/{id}", summary: "Retrieve a payment", auth: true,
			query: []param{{name: "id", in: "path"}}, response: paymentResource{}, status: 200, handle: (*API).getPayment},
		{method: "POST", path: "/v1/payments/{id}/cancel", summary: "Cancel a payment that is not final", auth: true,
			query: []param{{name: "id", in: "path"}}, response: paymentResource{}, status: 200, handle: (*API).cancelPayment},
		{method: "GET", path: "/v1/balance", summary: "The merchant's balances, per currency", auth: true,
			response: balanceResource{}, status: 200, handle: (*API).getBalance},
		{method: "POST", path: "/v1/sandbox/payments/{id}/outcome", summary: "Test mode: force the outcome of a payment", auth: true,
			query: []param{{name: "id", in: "path"}}, request: outcomeRequest{}, response: paymentResource{}, status: 200,
			handle: (*API).forceOutcome},
		{method: "POST", path: "/v1/payouts", summary: "Send money to a phone, a paybill, a till or another merchant, from the available balance",
			auth: true, request: createPayoutRequest{}, response: payoutResource{}, status: 201, handle: (*API).createPayout},
		{method: "GET", path: "/v1/payouts", summary: "List payouts, newest first", auth: true,
			query: append([]param{{name: "reference", in: "query"}, {name: "limit", in: "query", integer: true}, {name: "starting_after", in: "query"}},
				createdParams...),
			response: payoutList{}, status: 200, handle: (*API).listPayouts},
		{method: "GET", path: "/v1/payouts/{id}", summary: "Retrieve a payout", auth: true,
			query: []param{{name: "id", in: "path"}}, response: payoutResource{}, status: 200, handle: (*API).getPayout},
		{method: "POST", path: "/v1/refunds", summary: "Refund all or part of a succeeded payment", auth: true,
			request: createRefundRequest{}, response: refundResource{}, status: 201, handle: (*API).createRefund},
		{method: "GET", path: "/v1/refunds", summary: "List refunds, newest first", auth: true,
			query:    append([]param{{name: "limit", in: "query", integer: true}, {name: "starting_after", in: "query"}}, createdParams...),
			response: refundList{}, status: 200, handle: (*API).listRefunds},
		{method: "GET", path: "/v1/balance_transactions", summary: "A statement of one balance: its movements, newest first, with the balance after each",
			auth: true, query: []param{{name: "currency", in: "query", description: "required"},
				{name: "bucket", in: "query", description: "available (default), pending or reserved"}, {name: "limit", in: "query", integer: true},
				{name: "starting_after", in: "query", description: "a balance transaction id: list older ones"}, createdParams[0], createdParams[1]},
			response: balanceTransactionList{}, status: 200, handle: (*API).listBalanceTransactions},
		{method: "GET", path: "/v1/refunds/{id}", summary: "Retrieve a refund", auth: true,
			query: []param{{name: "id", in: "path"}}, response: refundResource{}, status: 200, handle: (*API).getRefund},
		{method: "GET", path: "/v1/payments/{id}/refunds", summary: "A payment's refunds", auth: true,
			query: append([]param{{name: "id", in: "path"}}, createdParams...), response: refundList{}, status: 200, handle: (*API).paymentRefunds},
		{method: "POST", path: "/v1/sandbox/topup", summary: "Test mode: credit the available balance", auth: true,
			request: topupRequest{}, response: balanceResource{}, status: 200, handle: (*API).topup},
		{method: "POST", path: "/v1/card_setup", summary: "Open a page where a customer saves a card for later payments by card_token",
			auth: true, request: createCardSetupRequest{}, response: cardSetupResource{}, status: 201, handle: (*API).createCardSetup},
		{method: "GET", path: "/v1/card_setup/{id}", summary: "Retrieve a card setup, with the saved card once there is one", auth: true,
			query: []param{{name: "id", in: "path"}}, response: cardSetupResource{}, status: 200, handle: (*API).getCardSetup},
		{method: "GET", path: "/v1/customers/{phone}/cards", summary: "A customer's saved cards (masked), oldest first", auth: true,
			query:    append([]param{{name: "phone", in: "path", description: "the customer's number, +250788312934 or 250788312934"}}, createdParams...),
			response: cardList{}, status: 200, handle: (*API).listCards},
		{method: "POST", path: "/v1/webhook_endpoints", summary: "Register a URL for native notifications; the answer shows its signing secret once",
			auth: true, request: createEndpointRequest{}, response: endpointResource{}, status: 201, handle: (*API).createEndpoint},
		{method: "GET", path: "/v1/webhook_endpoints", summary: "List webhook endpoints", auth: true,
			query: createdParams, response: endpointList{}, status: 200, handle: (*API).listEndpoints},
		{method: "GET", path: "/v1/webhook_endpoints/{id}", summary: "Retrieve a webhook endpoint", auth: true,
			query: []param{{name: "id", in: "path"}}, response: endpointResource{}, status: 200, handle: (*API).getEndpoint},
		{method: "POST", path: "/v1/webhook_endpoints/{id}", summary: "Change a webhook endpoint's URL or events, or disable or re-enable it",
			auth: true, query: []param{{name: "id", in: "path"}}, request: updateEndpointRequest{}, response: endpointResource{},
			status: 200, handle: (*API).updateEndpoint},
		{method: "DELETE", path: "/v1/webhook_endpoints/{id}", summary: "Delete a webhook endpoint", auth: true,
			query: []param{{name: "id", in: "path"}}, response: deletedResource{}, status: 200, handle: (*API).deleteEndpoint},
		{method: "POST", path: "/v1/webhook_endpoints/{id}/rotate_secret",
			summary: "Give an endpoint a new signing secret, shown once; the old one keeps signing beside it for expires_in seconds",
			auth:    true, query: []param{{name: "id", in: "path"}}, request: rotateSecretRequest{}, response: endpointResource{},
			status: 200, handle: (*API).rotateSecret},
		{method: "GET", path: "/v1/events", summary: "List events, newest first", auth: true,
			query: append([]param{{name: "type", in: "query"}, {name: "limit", in: "query", integer: true},
				{name: "starting_after", in: "query", description: "an event id: list events older than it"}}, createdParams...),
			response: eventList{}, status: 200, handle: (*API).listEvents},
		{method: "GET", path: "/v1/events/{id}", summary: "Retrieve an event", auth: true,
			query: []param{{name: "id", in: "path"}}, response: eventResource{}, status: 200, handle: (*API).getEvent},
		{method: "GET", path: "/v1/events/{id}/deliveries", summary: "An event's deliveries, with every attempt", auth: true,
			query: append([]param{{name: "id", in: "path"}}, createdParams...), response: deliveryList{}, status: 200, handle: (*API).eventDeliveries},
		{method: "POST", path: "/v1/events/{id}/redeliver", summary: "Send an event again to every enabled destination it went to",
			auth: true, query: []param{{name: "id", in: "path"}}, response: deliveryList{}, status: 200, handle: (*API).redeliver},
	}
}

// Register adds the API's routes to mux, including JSON answers for
// unknown paths under /v1 and for wrong methods.
func (a *API) Register(mux *http.ServeMux) {
	paths := map[string]bool{}
	for _, rt := range a.routes() {
		mux.Handle(rt.method+" "+rt.path, a.endpoint(rt))
		paths[rt.path] = true
	}
	for p := range paths {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, &malipo.Error{Kind: kindMethodNotAllowed, Code: "method_not_allowed",
				Message: fmt.Sprintf("%s is not allowed on %s", r.Method, p)})
		})
	}
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &malipo.Error{Kind: malipo.KindNotFound, Code: "route_missing",
			Message: fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path)})
	})
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(a.OpenAPI())
	})
}

func (a *API) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.IndexByte(r.URL.Path, 0) >= 0 || strings.Contains(r.URL.RawQuery, "%00") {
			writeError(w, r, malipo.Invalid("", "parameter_invalid", "the path and query must not contain NUL characters"))
			return
		}
		var in malipo.Integration
		if rt.auth {
			done, err := a.svc.AuthBegin(client.Addr(r))
			if err != nil {
				writeError(w, r, err)
				return
			}
			key, ok := bearer(r)
			if !ok {
				done(false) // no key is no guess
				writeError(w, r, malipo.Errorf(malipo.KindUnauthorized, "missing_api_key", "send your secret key as Authorization: Bearer sk_…"))
				return
			}
			in, err = a.svc.Authenticate(r.Context(), key)
			done(malipo.KindOf(err) == malipo.KindUnauthorized)
			if err != nil {
				writeError(w, r, err)
				return
			}
		}
		if err := rt.handle(a, w, r, in); err != nil {
			if malipo.KindOf(err) == malipo.KindInternal {
				client.LogFailure(a.logger, r, "request failed", err, "method", r.Method, "route", r.Pattern)
			}
			writeError(w, r, err)
		}
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return "", false
	}
	return strings.TrimSpace(key), true
}

// Wire-only kinds: the domain never produces them.
const (
	kindMethodNotAllowed malipo.Kind = "method_not_allowed"
	kindTooLarge         malipo.Kind = "too_large"
)

// errorStatus maps each error kind to its HTTP status and error type: the
// one table where domain errors become wire errors.
var errorStatus = map[malipo.Kind]struct {
	status int
	typ    string
}{
	malipo.KindInvalid:           {400, "invalid_request_error"},
	malipo.KindUnauthorized:      {401, "authentication_error"},
	malipo.KindForbidden:         {403, "permission_error"},
	malipo.KindNotFound:          {404, "invalid_request_error"},
	kindMethodNotAllowed:         {405, "invalid_request_error"},
	kindTooLarge:                 {413, "invalid_request_error"},
	malipo.KindConflict:          {409, "invalid_request_error"},
	malipo.KindInsufficientFunds: {402, "balance_error"},
	malipo.KindRateLimited:       {429, "rate_limit_error"},
	malipo.KindUnavailable:       {503, "api_error"},
	malipo.KindInternal:          {500, "api_error"},
}

// errorBody is the shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
	// RequestID is the request's X-Request-Id: what a merchant quotes to
	// support, and what finds the request in the gateway's logs.
	RequestID string `json:"request_id,omitempty"`
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := malipo.AsError(err)
	m, ok := errorStatus[e.Kind]
	if !ok {
		m = errorStatus[malipo.KindInternal]
	}
	typ := m.typ
	if errors.Is(e, malipo.ErrIdempotencyKeyReused) {
		typ = "idempotency_error"
	}
	writeJSON(w, m.status, errorBody{Error: errorDetail{Type: typ, Code: e.Code, Message: e.Message, Param: e.Param, RequestID: requestid.From(r.Context())}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":{"type":"api_error","code":"internal_error","message":"could not encode the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// body reads the capped request body.
func body(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &malipo.Error{Kind: kindTooLarge, Code: "body_too_large", Message: fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes)}
	}
	if err != nil {
		return nil, malipo.Invalid("", "body_unreadable", "the request body could not be read")
	}
	return b, nil
}

// decode parses a JSON object strictly: unknown fields, trailing data and
// wrong types are input errors naming the parameter.
func decode(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	if !utf8.Valid(b) {
		return malipo.Invalid("", "json_invalid", "the request body must be UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, end := dec.Token(); end != io.EOF {
			return malipo.Invalid("", "json_invalid", "the request body must be one JSON object and nothing after it")
		}
		// A NUL can only come as \u0000: look for the field only then.
		if bytes.Contains(b, []byte(`\u0000`)) {
			if field, ok := nulField(reflect.ValueOf(v), ""); ok {
				return malipo.Invalid(field, "parameter_invalid", "%s must not contain NUL characters", cmp.Or(field, "the body"))
			}
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var merr *malipo.Error
	switch {
	case errors.As(err, &merr):
		return merr
	case errors.As(err, &typeErr):
		return malipo.Invalid(typeErr.Field, "parameter_invalid", "%s must be %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return malipo.Invalid("", "json_invalid", "the request body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for this case; its text is stable.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return malipo.Invalid(field, "parameter_unknown", "unknown parameter %q", field)
	}
	return malipo.Invalid("", "json_invalid", "the request body must be a JSON object")
}

// nulField finds the first string in v holding a NUL character and names
// it as the request did (a JSON path, dotted).
func nulField(v reflect.Value, path string) (string, bool) {
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return nulField(v.Elem(), path)
		}
	case reflect.String:
		return path, strings.IndexByte(v.String(), 0) >= 0
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if p, ok := nulField(v.Field(i), join(cmp.Or(name, f.Name))); ok {
				return p, true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if p, ok := nulField(v.Index(i), join(strconv.Itoa(i))); ok {
				return p, true
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if strings.IndexByte(k.String(), 0) >= 0 {
				return path, true
			}
			if p, ok := nulField(v.MapIndex(k), join(k.String())); ok {
				return p, true
			}
		}
	}
	return "", false
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int64", "int":
		return "an integer"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}

// idempotency reads the Idempotency-Key header and fingerprints the request.
func idempotency(r *http.Request, b []byte) gateway.Idempotency {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return gateway.Idempotency{}
	}
	h := sha256.New()
	io.WriteString(h, r.Method+" "+r.URL.Path+"\n")
	h.Write(b)
	return gateway.Idempotency{Key: key, RequestHash: hex.EncodeToString(h.Sum(nil))}
}

func markReplay(w http.ResponseWriter, replayed bool) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
}

// query reads the query string, refusing any parameter not named (the
// first in alphabetical order, so that the same request always hears of
// the same one).
func query(r *http.Request, names ...string) (url.Values, error) {
	q := r.URL.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(names, k) {
			return nil, malipo.Invalid(k, "parameter_unknown", "unknown parameter %q", k)
		}
	}
	return q, nil
}

// page is what a paged list's query asks for besides its own filters.
type page struct {
	q             url.Values
	want          int // items on the page
	startingAfter string
	from, to      time.Time // created bounds, inclusive; zero if none
}

// listQuery reads a paged list's query string: the list's own parameters
// named, and the limit, starting_after and created bounds every list
// takes.
func listQuery(r *http.Request, names ...string) (page, error) {
	q, err := query(r, append(names, "limit", "starting_after", "created[gte]", "created[lte]")...)
	if err != nil {
		return page{}, err
	}
	want, err := pageSize(q)
	if err != nil {
		return page{}, err
	}
	from, to, err := created(q)
	if err != nil {
		return page{}, err
	}
	return page{q: q, want: want, startingAfter: q.Get("starting_after"), from: from, to: to}, nil
}

// created reads a list's created[gte] and created[lte] bounds: RFC 3339
// times or Unix seconds, both inclusive.
func created(q url.Values) (from, to time.Time, err error) {
	read := func(name string) (time.Time, error) {
		raw := q.Get(name)
		if raw == "" {
			return time.Time{}, nil
		}
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil && n >= 0 && n < 1<<40 {
			return time.Unix(n, 0).UTC(), nil
		}
		t, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			return time.Time{}, malipo.Invalid(name, "parameter_invalid", "%s must be an RFC 3339 time or Unix seconds", name)
		}
		return t.UTC(), nil
	}
	if from, err = read("created[gte]"); err == nil {
		to, err = read("created[lte]")
	}
	return from, to, err
}

// within reports whether t is inside a list's creation-time bounds (zero:
// no bound).
func within(t, from, to time.Time) bool {
	return (from.IsZero() || !t.Before(from)) && (to.IsZero() || !t.After(to))
}

// createdParams are the creation-time bounds every list takes.
var createdParams = []param{
	{name: "created[gte]", in: "query", description: "only what was created at or after this time (RFC 3339 or Unix seconds)"},
	{name: "created[lte]", in: "query", description: "only what was created at or before this time (RFC 3339 or Unix seconds)"},
}

// pageSize reads a list's limit: 10 unless set, at most MaxPageSize.
func pageSize(q url.Values) (int, error) {
	if !q.Has("limit") {
		return 10, nil
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n < 1 || n > gateway.MaxPageSize {
		return 0, malipo.Invalid("limit", "parameter_invalid", "limit must be an integer between 1 and %d", gateway.MaxPageSize)
	}
	return n, nil
}

// nextPage trims a list fetched with one item more than asked for: that
// extra item only tells whether there is a next page.
func nextPage[T any](items []T, want int) ([]T, bool) {
	if len(items) > want {
		return items[:want], true
	}
	return items, false
}

// Refuse answers a request the node will not serve (busy, say) with err,
// as the API answers errors.
func (a *API) Refuse(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, err) }
