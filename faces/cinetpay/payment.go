package cinetpay

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/lenient"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/snapshot"
)

// faceData is what the face keeps with each payment to answer about it.
type faceData struct {
	Metadata string            `json:"metadata,omitempty"`
	Customer map[string]string `json:"customer,omitempty"`
	Channels string            `json:"channels,omitempty"`
}

// cardFields are the customer fields CinetPay needs to offer card payment.
var cardFields = []string{"customer_name", "customer_surname", "customer_email", "customer_phone_number", "customer_address",
	"customer_city", "customer_country", "customer_state", "customer_zip_code"}

// fieldSizes are the sizes CinetPay's table gives its sized fields.
var fieldSizes = map[string]int{"currency": 3, "customer_country": 2, "customer_state": 2, "customer_zip_code": 5}

// multipleOf5 reports whether a whole number written in decimal digits
// ends in 0 or 5.
func multipleOf5(digits string) bool {
	return digits != "" && (strings.HasSuffix(digits, "0") || strings.HasSuffix(digits, "5"))
}

// initPayment is POST /v2/payment.
func (f *Face) initPayment(req *request) (int, any, error) {
	b := req.body
	for _, k := range []string{"transaction_id", "amount", "currency", "description", "notify_url", "return_url"} {
		if lenient.String(b, k) == "" {
			return 0, nil, errFields("%s is required", k)
		}
	}
	cur, err := malipo.ParseCurrency(lenient.String(b, "currency"))
	if err != nil {
		return 0, nil, errFields("currency %s is not supported", lenient.String(b, "currency"))
	}
	if account := settings(req.in).Currency; account != "" && string(cur) != account {
		return 0, nil, errFields("You cannot create a transaction in a different currency than the one allowed to your account. Transaction currency:'%s' Account currency:'%s'", cur, account)
	}
	raw := lenient.String(b, "amount")
	amount, err := malipo.ParseDecimal(raw, cur)
	if err != nil || amount <= 0 || strings.Contains(raw, ".") && cur != "USD" {
		return 0, nil, errFields("amount must be a positive integer")
	}
	// A multiple of 5 of the amount as sent (34 CDF, not 3400 centimes).
	if whole, frac, _ := strings.Cut(raw, "."); cur != "USD" && (strings.Trim(frac, "0") != "" || !multipleOf5(whole)) {
		return 0, nil, errFields("The amount must be a multiple of 5")
	}
	for k, size := range fieldSizes {
		if v := lenient.String(b, k); utf8.RuneCountInString(v) > size {
			return 0, nil, errFields("%s is at most %d characters", k, size)
		}
	}
	channels, err := channelsOf(lenient.String(b, "channels"))
	if err != nil {
		return 0, nil, err
	}
	customer := map[string]string{}
	var missing []string
	for _, k := range append(cardFields, "customer_id") {
		if v := lenient.String(b, k); v != "" {
			customer[strings.TrimPrefix(k, "customer_")] = v
		} else if k != "customer_id" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		// Without the card fields the card universe is not offered; asked
		// for on its own, it is an error.
		if len(channels) == 1 && channels[0] == string(malipo.ChannelCard) {
			return 0, nil, errFields("card payment needs %s", strings.Join(missing, ", "))
		}
		channels = without(channels, string(malipo.ChannelCard))
	}
	fd := faceData{Customer: customer, Channels: lenient.String(b, "channels")}
	if md, ok := b["metadata"]; ok && md != nil {
		if s, isString := md.(string); isString {
			fd.Metadata = s
		} else {
			j, _ := json.Marshal(md)
			fd.Metadata = string(j)
		}
	}
	in := gateway.PaymentInput{Amount: amount, Currency: string(cur), Reference: lenient.String(b, "transaction_id"),
		Description: lenient.String(b, "description"), NotifyURL: lenient.String(b, "notify_url"), ReturnURL: lenient.String(b, "return_url"),
		Channels: channels, Lang: lenient.String(b, "lang"),
		Customer: malipo.Customer{Name: strings.TrimSpace(customer["surname"] + " " + customer["name"]), Email: customer["email"],
			Phone: customer["phone_number"]},
		LockPhone: truthy(b["lock_phone_number"]), FrameOrigin: req.origin}
	if inv, ok := b["invoice_data"].(lenient.Map); ok {
		// Shown in the merchant's order.
		keys := lenient.ObjectKeys(req.raw, "invoice_data")
		if len(keys) != len(inv) {
			keys = slices.Sorted(maps.Keys(inv))
		}
		if len(keys) > 3 {
			return 0, nil, errFields("invoice_data holds at most three values")
		}
		for _, k := range keys {
			in.Details = append(in.Details, malipo.Detail{Label: k, Value: lenient.Str(inv[k])})
		}
	}
	in.FaceData, _ = json.Marshal(fd)
	p, _, err := f.svc.CreatePayment(req.ctx, req.in, in, gateway.Idempotency{})
	if err != nil {
		if errors.Is(err, malipo.ErrReferenceInUse) {
			return 0, nil, errFields("transaction_id %s is already used", in.Reference)
		}
		return 0, nil, err
	}
	return http.StatusCreated, lenient.Ordered{{Key: "code", Value: "201"}, {Key: "message", Value: "CREATED"},
		{Key: "description", Value: "Transaction created with success"},
		{Key: "data", Value: lenient.Ordered{{Key: "payment_token", Value: p.CheckoutToken}, {Key: "payment_url", Value: f.svc.CheckoutURL(p)}}},
		{Key: "api_response_id", Value: f.responseID()}}, nil
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "true" || x == "1" || x == "TRUE" || x == "True"
	}
	return false
}

func without(list []string, x string) []string {
	var out []string
	for _, s := range list {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}

// channelsOf reads CinetPay's universes (ALL, MOBILE_MONEY, CREDIT_CARD,
// WALLET; comma-separated) as Malipo channels.
func channelsOf(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		s = "ALL"
	}
	var out []string
	add := func(c malipo.Channel) {
		for _, x := range out {
			if x == string(c) {
				return
			}
		}
		out = append(out, string(c))
	}
	for _, u := range strings.Split(strings.ToUpper(s), ",") {
		switch strings.TrimSpace(u) {
		case "ALL":
			add(malipo.ChannelMobileMoney)
			add(malipo.ChannelCard)
		case "MOBILE_MONEY", "WALLET":
			add(malipo.ChannelMobileMoney)
		case "CREDIT_CARD":
			add(malipo.ChannelCard)
		default:
			return nil, errFields("channels must be ALL, MOBILE_MONEY, CREDIT_CARD or WALLET, not %s", u)
		}
	}
	return out, nil
}

// check is POST /v2/payment/check, by transaction_id or payment token.
func (f *Face) check(req *request) (int, any, error) {
	var p malipo.Payment
	var err error
	switch id, token := lenient.String(req.body, "transaction_id"), lenient.String(req.body, "token"); {
	case id != "":
		p, err = f.svc.PaymentByReference(req.ctx, req.in, id)
	case token != "":
		p, err = f.svc.PaymentByCheckoutToken(req.ctx, token)
		if err == nil && p.IntegrationID != req.in.ID {
			err = malipo.ErrNotFound
		}
	default:
		return 0, nil, errFields("transaction_id or token is required")
	}
	if malipo.KindOf(err) == malipo.KindNotFound {
		return 0, nil, errNotFound
	}
	if err != nil {
		return 0, nil, err
	}
	code, message, status := "662", "WAITING_CUSTOMER_PAYMENT", "PENDING"
	switch p.Status {
	case malipo.PaymentSucceeded:
		code, message, status = "00", "SUCCES", "ACCEPTED"
	case malipo.PaymentFailed, malipo.PaymentCancelled, malipo.PaymentExpired:
		code, message, status = "600", "PAYMENT_FAILED", "REFUSED"
	}
	var fd faceData
	json.Unmarshal(p.FaceData, &fd)
	prefix, number := malipo.SplitMSISDN(p.Phone)
	data := lenient.Ordered{
		{Key: "amount", Value: malipo.FormatDecimal(p.Amount, p.Currency)}, {Key: "currency", Value: string(p.Currency)},
		{Key: "status", Value: status}, {Key: "payment_method", Value: paymentMethod(p)}, {Key: "description", Value: p.Description},
		{Key: "metadata", Value: nullable(fd.Metadata)}, {Key: "operator_id", Value: nullable(p.RailReference)},
		{Key: "payment_date", Value: cinetTime(p.CompletedAt, p.Status == malipo.PaymentSucceeded)},
		{Key: "fund_availability_date", Value: cinetTime(p.AvailableAt, p.Status == malipo.PaymentSucceeded)},
		{Key: "phone_number", Value: nullable(number)}, {Key: "phone_prefix", Value: nullable(prefix)},
	}
	return http.StatusOK, lenient.Ordered{{Key: "code", Value: code}, {Key: "message", Value: message}, {Key: "data", Value: data},
		{Key: "api_response_id", Value: f.responseID()}}, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// cinetTime is CinetPay's date form, "2021-09-20 12:00:00" ("" when not
// yet).
func cinetTime(t time.Time, ok bool) string {
	if !ok {
		return ""
	}
	return t.Format("2006-01-02 15:04:05")
}

// paymentMethod names how a payment was paid, with CinetPay's codes.
func paymentMethod(p malipo.Payment) string {
	switch {
	case p.Method == malipo.ChannelCard:
		return "VISAM"
	case strings.HasPrefix(p.Operator, "orange"):
		return "OM"
	case strings.HasPrefix(p.Operator, "mtn"):
		return "MOMO"
	case strings.HasPrefix(p.Operator, "moov"):
		return "FLOOZ"
	case strings.HasPrefix(p.Operator, "wave"):
		return "WAVECI"
	case p.Method == malipo.ChannelMobileMoney:
		return "MOBILE_MONEY"
	}
	return ""
}

// Fields is the order of a notification's form fields; x-token signs
// their values joined in this order.
var Fields = []string{"cpm_site_id", "cpm_trans_id", "cpm_trans_date", "cpm_amount", "cpm_currency", "signature",
	"payment_method", "cel_phone_num", "cpm_phone_prefixe", "cpm_language", "cpm_version", "cpm_payment_config",
	"cpm_page_action", "cpm_custom", "cpm_designation", "cpm_error_message"}

// Flavor is CinetPay's notification: a form POST of the 16 cpm_* fields
// in order, with the x-token header. Merchants then call check, which
// already shows the final status. Any 2xx acknowledges it.
func (f *Face) Flavor() notify.Flavor { return flavor{} }

type flavor struct{}

func (flavor) Build(m notify.Message) (notify.Request, error) {
	if m.Event.ObjectType != "payment" {
		return notify.Request{}, fmt.Errorf("CinetPay notifications are sent for payments only, not %s events", m.Event.ObjectType)
	}
	var p malipo.Payment
	if err := snapshot.Decode(m.Event.Data, &p); err != nil {
		return notify.Request{}, err
	}
	var fd faceData
	json.Unmarshal(p.FaceData, &fd)
	prefix, number := malipo.SplitMSISDN(p.Phone)
	lang := p.Lang
	if lang == "" {
		lang = "fr"
	}
	message := "SUCCES"
	if p.Status != malipo.PaymentSucceeded {
		message = "PAYMENT_FAILED"
	}
	sig := sha256.Sum256([]byte(p.ID + p.Reference))
	values := []string{settings(m.Integration).SiteID, p.Reference, p.CompletedAt.Format("2006-01-02 15:04:05"),
		malipo.FormatDecimal(p.Amount, p.Currency), string(p.Currency), hex.EncodeToString(sig[:]), paymentMethod(p), number, prefix,
		lang, "V4", "SINGLE", "PAYMENT", fd.Metadata, p.Description, message}
	pairs := make([]string, len(Fields))
	for i, k := range Fields {
		pairs[i] = k + "=" + url.QueryEscape(values[i])
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("x-token", XToken(settings(m.Integration).SecretKey, values))
	return notify.Request{Header: h, Body: []byte(strings.Join(pairs, "&"))}, nil
}

func (flavor) Acknowledged(status int, _ []byte) bool { return notify.Acknowledged2xx(status) }
