// Package checkout is the hosted payment pages customers see: the page at
// each payment's checkout_url (mobile money, cards with 3-D Secure, the
// final states) and the page where a customer saves a card. Like every face
// it only translates: HTML forms in, one gateway use case, HTML out.
//
// The pages work without JavaScript (tabs are CSS, waiting pages refresh
// themselves); a small script polls and checks card numbers. Templates and
// assets are embedded. Every answer forbids framing, sends no referrer (the
// URL is a secret) and is not cached; every form carries a CSRF token
// matched against a SameSite cookie.
package checkout

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/client"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/rails"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Pages serves the checkout and card-saving pages.
type Pages struct {
	svc    *gateway.Service
	logger *slog.Logger
	pages  map[string]*template.Template
	random io.Reader
	secure bool // served over https: cookies are Secure and __Host-
}

// New returns the pages over svc. random supplies CSRF tokens (nil: the
// system's secure source).
func New(svc *gateway.Service, logger *slog.Logger, random io.Reader) *Pages {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if random == nil {
		random = rand.Reader
	}
	base := template.Must(template.New("layout").ParseFS(templateFS, "templates/layout.html", "templates/summary.html", "templates/card.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"pay", "waiting", "message", "threeds", "setup"} {
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html"))
	}
	return &Pages{svc: svc, logger: logger, pages: pages, random: random, secure: strings.HasPrefix(svc.BaseURL(), "https://")}
}

// Register adds the pages' routes to mux.
func (p *Pages) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /pay/{token}", p.pay)
	mux.HandleFunc("GET /pay/{token}/status", p.status)
	mux.HandleFunc("GET /pay/{token}/receipt.pdf", p.receipt)
	mux.HandleFunc("POST /pay/{token}/mobile-money", p.form(p.payMobileMoney))
	mux.HandleFunc("POST /pay/{token}/card", p.form(p.payCard))
	mux.HandleFunc("POST /pay/{token}/bank", p.form(p.payBank))
	mux.HandleFunc("GET /pay/{token}/3ds", p.threeDS)
	mux.HandleFunc("POST /pay/{token}/3ds", p.form(p.authenticate))
	mux.HandleFunc("POST /pay/{token}/cancel", p.form(p.cancel))
	mux.HandleFunc("GET /cards/{token}", p.setup)
	mux.HandleFunc("POST /cards/{token}", p.form(p.saveCard))
	assets, _ := fs.Sub(assetFS, "assets")
	files := http.FileServerFS(assets)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})))
}

// secure sets the headers every page carries. No page may be framed but
// by the one origin a payment names (frame, the merchant's page that
// shows the checkout over itself).
func secure(w http.ResponseWriter, frame ...string) {
	h := w.Header()
	ancestors := "'none'"
	if len(frame) > 0 && frame[0] != "" {
		ancestors = frame[0]
	} else {
		h.Set("X-Frame-Options", "DENY")
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "+
		"img-src 'self' https: http: data:; form-action 'self'; base-uri 'none'; frame-ancestors "+ancestors)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// view is what every template gets.
type view struct {
	Lang     string
	Title    string
	Merchant malipo.Merchant
	Store    malipo.Store // tagline and contact lines, when the payment names them
	// FrameOrigin is the one origin that may show the page in a frame.
	FrameOrigin string
	Initial     string
	Test        bool
	Base        string // the page's own path, for form actions
	Self        string // the page to come back to
	CSRF        string
	Refresh     string // a meta refresh ("3" or "3;url=…")
	Error       string

	// The payment.
	Amount      string
	Description string
	Reference   string
	Items       []itemView
	Taxes       []taxView
	Details     []malipo.Detail
	Status      string

	// The payment form.
	Momo, Card, Bank bool
	Both             bool   // more than one way to pay: tabs
	BankName         string // the bank a transfer comes from
	ByBank           bool   // waiting for the customer's bank
	Method           string
	Phone            string
	PhoneExample     string // a mobile number of the customer's likely country
	LockPhone        bool
	// Who pays, asked (optionally) when the merchant did not say.
	AskName, AskEmail           bool
	CustomerName, CustomerEmail string
	Operators                   []operatorView

	// Message pages.
	State, Tone, Icon, Heading, Text, Reason, Link, LinkText string
	Receipt                                                  string // a succeeded payment's PDF receipt

	// The waiting page.
	OperatorName string

	// Card setup.
	CardName string
}

type itemView struct {
	Name, Description, UnitPrice, Total string
	Quantity                            int64
}

type taxView struct{ Name, Amount string }

type operatorView struct{ Value, Name string }

// T translates a message key, formatting args into it.
func (v view) T(key string, args ...any) string {
	msg, ok := messages[v.Lang][key]
	if !ok {
		msg = messages["en"][key]
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

func (p *Pages) render(w http.ResponseWriter, status int, page string, v view) {
	var buf bytes.Buffer
	if err := p.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		p.logger.Error("render checkout page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	secure(w, v.FrameOrigin)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// notFound is the page for an unknown or forged link.
func (p *Pages) notFound(w http.ResponseWriter, r *http.Request) {
	lang := language(r, "", "")
	v := view{Lang: lang, Merchant: malipo.Merchant{Name: "Malipo"}, Initial: "M", Self: r.URL.Path, State: "not_found", Tone: "bad", Icon: "unknown"}
	v.Title, v.Heading, v.Text = v.T("notfound_title"), v.T("notfound_title"), v.T("notfound_text")
	p.render(w, http.StatusNotFound, "message", v)
}

func (p *Pages) failed(w http.ResponseWriter, r *http.Request, err error) {
	if malipo.KindOf(err) == malipo.KindNotFound {
		p.notFound(w, r)
		return
	}
	client.LogFailure(p.logger, r, "checkout", err, "route", r.Pattern) // never the path: it holds the page's secret token
	secure(w)
	http.Error(w, "Something went wrong. Please try again.", http.StatusInternalServerError)
}

// paymentView fills the parts of a view that show the payment.
func (p *Pages) paymentView(r *http.Request, c gateway.Checkout) view {
	pay := c.Payment
	lang := language(r, pay.Lang, pay.Currency)
	token := r.PathValue("token")
	merchant := c.Merchant
	// The payment's store, when it names one, is who is paid.
	if pay.Store.Name != "" {
		merchant.Name = pay.Store.Name
	}
	if pay.Store.LogoURL != "" {
		merchant.LogoURL = pay.Store.LogoURL
	}
	v := view{Lang: lang, Merchant: merchant, Store: pay.Store, FrameOrigin: pay.FrameOrigin, Initial: initial(merchant.Name), Test: pay.Mode == malipo.ModeTest,
		Base: "/pay/" + token, Self: "/pay/" + token, Amount: formatMoney(pay.Amount, pay.Currency, lang),
		Description: pay.Description, Reference: pay.Reference, Status: string(pay.Status), Details: pay.Details}
	v.Title = v.T("title", merchant.Name)
	for _, it := range pay.Items {
		v.Items = append(v.Items, itemView{Name: it.Name, Description: it.Description, Quantity: it.Quantity,
			UnitPrice: formatMoney(it.UnitPrice, pay.Currency, lang), Total: formatMoney(it.Total, pay.Currency, lang)})
	}
	for _, t := range pay.Taxes {
		v.Taxes = append(v.Taxes, taxView{Name: t.Name, Amount: formatMoney(t.Amount, pay.Currency, lang)})
	}
	return v
}

func initial(name string) string {
	r, _ := utf8.DecodeRuneInString(strings.TrimSpace(name))
	if r == utf8.RuneError {
		return "?"
	}
	return strings.ToUpper(string(r))
}

// pay shows a payment as it stands: the form while it can be paid, the
// waiting page while the customer's phone decides, a clear final page
// otherwise.
func (p *Pages) pay(w http.ResponseWriter, r *http.Request) {
	c, err := p.svc.Checkout(r.Context(), r.PathValue("token"))
	if err != nil {
		p.failed(w, r, err)
		return
	}
	v := p.paymentView(r, c)
	pay := c.Payment
	switch {
	case pay.Status == malipo.PaymentPending && !c.Expired && pay.NextAction == malipo.NextActionThreeDSecure:
		http.Redirect(w, r, v.Base+"/3ds", http.StatusSeeOther)
	case pay.Status == malipo.PaymentPending && !c.Expired:
		p.payForm(w, r, c, v, declineText(v, pay.Method, pay.FailureCode, pay.FailureReason), http.StatusOK)
	case pay.Status == malipo.PaymentProcessing && !c.Expired && pay.Method == malipo.ChannelBank:
		v.Refresh, v.BankName, v.ByBank = "5", pay.Operator, true
		p.render(w, http.StatusOK, "waiting", v)
	case pay.Status == malipo.PaymentProcessing && !c.Expired:
		v.Phone, v.Refresh, v.OperatorName = malipo.FormatMSISDN(pay.Phone), "5", operatorName(pay.Operator)
		p.render(w, http.StatusOK, "waiting", v)
	default:
		p.final(w, c, v)
	}
}

// payForm renders the form to pay, with an error when the last try failed.
func (p *Pages) payForm(w http.ResponseWriter, r *http.Request, c gateway.Checkout, v view, errText string, status int) {
	pay := c.Payment
	v.Error = errText
	v.Momo, v.Card, v.Bank = c.Offers(malipo.ChannelMobileMoney), c.Offers(malipo.ChannelCard), c.Offers(malipo.ChannelBank)
	v.Both = len(c.Methods) > 1
	v.BankName = pay.Operator
	if !v.Momo && !v.Card && !v.Bank && v.Error == "" {
		v.Error = inputError(v, malipo.Errorf(malipo.KindUnavailable, "no_method", "no rail takes this payment"))
	}
	v.Method = string(pay.Method)
	if !v.Momo && !v.Card && v.Bank {
		v.Method = string(malipo.ChannelBank)
	}
	// Grouped as people read a number; the push reads it either way.
	v.Phone, v.LockPhone = malipo.FormatMSISDN(pay.Customer.Phone), pay.LockPhone && pay.Customer.Phone != ""
	v.AskName, v.AskEmail = pay.Customer.Name == "", pay.Customer.Email == ""
	if r.Method == http.MethodPost {
		v.CustomerName, v.CustomerEmail = r.PostForm.Get("customer_name"), r.PostForm.Get("customer_email")
	}
	if pay.Phone != "" {
		v.Phone = malipo.FormatMSISDN(pay.Phone)
	}
	for _, op := range c.Operators {
		v.Operators = append(v.Operators, operatorView{Value: op, Name: operatorName(op)})
	}
	v.PhoneExample = cmp.Or(malipo.ExampleMSISDN(c.Country), v.T("phone_example"))
	v.CSRF = p.csrf(w, r, v.FrameOrigin != "")
	p.render(w, status, "pay", v)
}

// final renders a payment that can no longer be paid.
func (p *Pages) final(w http.ResponseWriter, c gateway.Checkout, v view) {
	pay := c.Payment
	status := pay.Status
	if c.Expired {
		status = malipo.PaymentExpired
	}
	v.State = string(status)
	switch status {
	case malipo.PaymentSucceeded:
		v.Tone, v.Icon, v.Heading = "ok", "ok", v.T("paid_title")
		v.Text = v.T("paid_text", v.Amount, v.Merchant.Name)
		v.Receipt = v.Base + "/receipt.pdf"
		if pay.ReturnURL != "" {
			v.Link, v.LinkText, v.Refresh = pay.ReturnURL, v.T("return"), "3;url="+pay.ReturnURL
		}
	case malipo.PaymentFailed:
		v.Tone, v.Icon, v.Heading, v.Text = "bad", "cross", v.T("failed_title"), v.T("failed_text")
		v.Reason = declineText(v, pay.Method, pay.FailureCode, pay.FailureReason)
		v.Link, v.LinkText = cmp.Or(pay.CancelURL, pay.ReturnURL), v.T("return")
	case malipo.PaymentCancelled:
		v.Tone, v.Icon, v.Heading, v.Text = "bad", "cross", v.T("cancelled_title"), v.T("cancelled_text")
		v.Link, v.LinkText = cmp.Or(pay.CancelURL, pay.ReturnURL), v.T("return")
		if pay.CancelURL != "" && c.Now.Sub(pay.CompletedAt) < time.Minute {
			v.Refresh = "1;url=" + pay.CancelURL // just cancelled here: back to the shop
		}
	default:
		v.State, v.Tone, v.Icon, v.Heading, v.Text = "expired", "bad", "time", v.T("expired_title"), v.T("expired_text")
		v.Link, v.LinkText = cmp.Or(pay.CancelURL, pay.ReturnURL), v.T("return")
	}
	p.render(w, http.StatusOK, "message", v)
}

// declineText explains a failure code in the page's language, falling
// back to the rail's own words.
func declineText(v view, method malipo.Channel, code, reason string) string {
	if code == "" {
		return ""
	}
	if msg, ok := messages[v.Lang]["decline.bank."+code]; ok && method == malipo.ChannelBank {
		return msg
	}
	if msg, ok := messages[v.Lang]["decline."+code]; ok {
		return msg
	}
	return reason
}

// status answers the waiting page's polls.
func (p *Pages) status(w http.ResponseWriter, r *http.Request) {
	c, err := p.svc.Checkout(r.Context(), r.PathValue("token"))
	secure(w)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"status":"not_found"}`))
		return
	}
	st := c.Payment.Status
	if c.Expired {
		st = malipo.PaymentExpired
	}
	json.NewEncoder(w).Encode(map[string]string{"status": string(st)})
}

// maxFormBytes caps what a checkout form may post.
const maxFormBytes = 8 << 10

// form wraps a POST handler with the checks every form needs: a size
// cap, a same-site request and a CSRF token matching the cookie.
func (p *Pages) form(next func(http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			secure(w)
			http.Error(w, "The form could not be read.", http.StatusBadRequest)
			return
		}
		cookie, err := r.Cookie(p.cookieName())
		crossSite := r.Header.Get("Sec-Fetch-Site") == "cross-site"
		if crossSite || err != nil || cookie.Value == "" ||
			!hmac.Equal([]byte(formToken(r.PathValue("token"), cookie.Value)), []byte(r.PostForm.Get("csrf"))) {
			p.formExpired(w, r)
			return
		}
		next(w, r)
	}
}

// formExpired answers a form that failed the CSRF check: nothing is done,
// and the customer is sent back to the page to try again.
func (p *Pages) formExpired(w http.ResponseWriter, r *http.Request) {
	lang := language(r, "", "")
	back := "/" + strings.Join(strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)[:2], "/")
	v := view{Lang: lang, Merchant: malipo.Merchant{Name: "Malipo"}, Initial: "M", Self: back, State: "form_expired",
		Tone: "bad", Icon: "unknown", Link: back}
	v.Title, v.Heading, v.Text, v.LinkText = v.T("error_title"), v.T("error_title"), v.T("form_expired"), v.T("refresh")
	p.render(w, http.StatusForbidden, "message", v)
}

// How forms are protected from cross-site requests.
//
// The browser holds a random value in a SameSite=Strict cookie; each form
// carries an HMAC of that value keyed by the page's own secret token. A
// post is taken only if its field matches the HMAC of the cookie it came
// with: a site that planted a cookie of its choosing still cannot compute
// the field without the page's secret. Over https the cookie is
// __Host-malipo_csrf, Secure and bound to Malipo's host, so it cannot be
// planted at all.

// cookieName is the CSRF cookie's name: with the __Host- prefix when
// Malipo is served over https (browsers accept it only on a Secure cookie).
func (p *Pages) cookieName() string {
	if p.secure {
		return "__Host-malipo_csrf"
	}
	return "malipo_csrf"
}

// formToken is the CSRF field a page's forms carry for a cookie value.
func formToken(page, cookie string) string {
	mac := hmac.New(sha256.New, []byte(page))
	io.WriteString(mac, "malipo csrf\x00"+cookie)
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// csrf returns the CSRF field for this page's forms, setting the browser's
// cookie if it has none.
func (p *Pages) csrf(w http.ResponseWriter, r *http.Request, framed bool) string {
	if c, err := r.Cookie(p.cookieName()); err == nil && len(c.Value) == 32 {
		return formToken(r.PathValue("token"), c.Value)
	}
	b := make([]byte, 16)
	if _, err := io.ReadFull(p.random, b); err != nil {
		panic(err) // the system's random source failing is not survivable
	}
	value := hex.EncodeToString(b)
	c := &http.Cookie{Name: p.cookieName(), Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: p.secure || r.TLS != nil, MaxAge: int((2 * time.Hour).Seconds())}
	if framed && c.Secure {
		// Framed by the merchant's page (another site): a partitioned
		// cookie, sent only within that site's frames.
		c.SameSite, c.Partitioned = http.SameSiteNoneMode, true
	}
	http.SetCookie(w, c)
	return formToken(r.PathValue("token"), value)
}

// afterAttempt re-renders the form for input the customer can fix, or
// sends the browser to the page showing where the payment now stands.
func (p *Pages) afterAttempt(w http.ResponseWriter, r *http.Request, err error) {
	token := r.PathValue("token")
	if kind := malipo.KindOf(err); err != nil && (kind == malipo.KindInvalid || kind == malipo.KindUnavailable) {
		c, cerr := p.svc.Checkout(r.Context(), token)
		if cerr != nil {
			p.failed(w, r, cerr)
			return
		}
		v := p.paymentView(r, c)
		status := http.StatusUnprocessableEntity
		if kind == malipo.KindUnavailable { // no rail takes it now: another number or method may do
			status = http.StatusServiceUnavailable
		}
		p.payForm(w, r, c, v, inputError(v, err), status)
		return
	}
	if err != nil && malipo.KindOf(err) != malipo.KindConflict {
		p.failed(w, r, err)
		return
	}
	http.Redirect(w, r, "/pay/"+token, http.StatusSeeOther)
}

// inputError words a validation error for the customer.
func inputError(v view, err error) string {
	e := malipo.AsError(err)
	fr := map[string]string{
		"phone_invalid":       "Ce numéro n’est pas un numéro mobile valide. Indiquez-le avec l’indicatif du pays.",
		"parameter_missing":   "Merci de remplir tous les champs.",
		"operator_invalid":    "Cet opérateur ne sert pas ce numéro.",
		"card_number_invalid": "Le numéro de carte n’est pas valide.",
		"cvv_invalid":         "Le code de sécurité doit comporter 3 ou 4 chiffres.",
		"expiry_invalid":      "La date d’expiration n’est pas valide (MM/AA).",
		"expired_card":        "Cette carte a expiré.",
		"email_invalid":       "Cette adresse e-mail n’est pas valide.",
		"account_invalid":     "Ce numéro de compte n’est pas valide : 5 à 34 lettres et chiffres.",
		"invalid_account":     "Votre banque ne connaît pas ce compte. Vérifiez le numéro et réessayez.",
		"rail_unavailable":    "Ce moyen de paiement n’est pas disponible pour ce numéro en ce moment. Essayez un autre numéro ou réessayez plus tard.",
		"no_method":           "Ce paiement ne peut pas être réglé ici pour le moment. Revenez chez le marchand.",
		malipo.CodeBusy:       "Le service est très sollicité en ce moment et rien n’a été débité. Réessayez dans un instant.",
	}
	en := map[string]string{
		"phone_invalid":       "This is not a valid mobile number. Write it with the country code.",
		"parameter_missing":   "Please fill in every field.",
		"operator_invalid":    "This operator does not serve this number.",
		"card_number_invalid": "The card number is not valid.",
		"cvv_invalid":         "The security code must be 3 or 4 digits.",
		"expiry_invalid":      "The expiry date is not valid (MM/YY).",
		"expired_card":        "This card has expired.",
		"email_invalid":       "This email address is not valid.",
		"account_invalid":     "This account number is not valid: 5 to 34 letters and digits.",
		"invalid_account":     "Your bank has no such account. Check the number and try again.",
		"rail_unavailable":    "This way of paying is not available for this number right now. Try another number, or try again later.",
		"no_method":           "This payment cannot be paid here right now. Please go back to the merchant.",
		malipo.CodeBusy:       "We are very busy right now and nothing was charged. Please try again in a moment.",
	}
	table := en
	if v.Lang == "fr" {
		table = fr
	}
	if msg, ok := table[e.Code]; ok {
		return msg
	}
	return e.Message
}

func (p *Pages) payMobileMoney(w http.ResponseWriter, r *http.Request) {
	err := p.svc.NameCustomer(r.Context(), r.PathValue("token"), r.PostForm.Get("customer_name"), r.PostForm.Get("customer_email"))
	if err == nil {
		_, err = p.svc.PayWithMobileMoney(r.Context(), r.PathValue("token"), r.PostForm.Get("phone"), r.PostForm.Get("operator"))
	}
	p.afterAttempt(w, r, err)
}

func (p *Pages) payBank(w http.ResponseWriter, r *http.Request) {
	err := p.svc.NameCustomer(r.Context(), r.PathValue("token"), r.PostForm.Get("customer_name"), r.PostForm.Get("customer_email"))
	if err == nil {
		_, err = p.svc.PayByBank(r.Context(), r.PathValue("token"), r.PostForm.Get("account"))
	}
	p.afterAttempt(w, r, err)
}

// cardFromForm reads the card fields. The card stays in this request.
func cardFromForm(r *http.Request) (rails.Card, error) {
	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' {
				return -1
			}
			return r
		}, s)
	}
	c := rails.Card{Number: digits(r.PostForm.Get("number")), CVV: strings.TrimSpace(r.PostForm.Get("cvv")),
		Name: strings.TrimSpace(r.PostForm.Get("name"))}
	if c.Number == "" || c.CVV == "" || r.PostForm.Get("expiry") == "" {
		return c, malipo.Invalid("card", "parameter_missing", "card number, expiry and security code are required")
	}
	mm, yy, ok := strings.Cut(digits(r.PostForm.Get("expiry")), "/")
	month, err1 := strconv.Atoi(mm)
	year, err2 := strconv.Atoi(yy)
	// Atoi takes a sign too: "12/+5" is not a two-digit year.
	if !ok || err1 != nil || err2 != nil || (len(yy) != 2 && len(yy) != 4) || strings.Trim(mm+yy, "0123456789") != "" {
		return c, malipo.Invalid("expiry", "expiry_invalid", "the expiry must be MM/YY")
	}
	if len(yy) == 2 {
		year += 2000
	}
	c.Month, c.Year = month, year
	return c, nil
}

func (p *Pages) payCard(w http.ResponseWriter, r *http.Request) {
	card, err := cardFromForm(r)
	if err == nil {
		// The cardholder is who pays, when the merchant did not say.
		err = p.svc.NameCustomer(r.Context(), r.PathValue("token"), card.Name, r.PostForm.Get("customer_email"))
	}
	if err == nil {
		_, err = p.svc.PayWithCard(r.Context(), r.PathValue("token"), card)
	}
	p.afterAttempt(w, r, err)
}

// threeDS is the sandbox's stand-in for the issuer's 3-D Secure page.
func (p *Pages) threeDS(w http.ResponseWriter, r *http.Request) {
	c, err := p.svc.Checkout(r.Context(), r.PathValue("token"))
	if err != nil {
		p.failed(w, r, err)
		return
	}
	v := p.paymentView(r, c)
	if c.Payment.NextAction != malipo.NextActionThreeDSecure || c.Expired || c.Payment.Status != malipo.PaymentPending {
		http.Redirect(w, r, v.Base, http.StatusSeeOther)
		return
	}
	v.Self, v.CSRF = v.Base+"/3ds", p.csrf(w, r, v.FrameOrigin != "")
	v.Title = v.T("tds_title")
	p.render(w, http.StatusOK, "threeds", v)
}

func (p *Pages) authenticate(w http.ResponseWriter, r *http.Request) {
	_, err := p.svc.AuthenticateCard(r.Context(), r.PathValue("token"), r.PostForm.Get("result") == "approve")
	p.afterAttempt(w, r, err)
}

// cancel cancels the payment. The browser goes to the cancelled page,
// which sends it on to cancel_url: the pages' CSP lets forms lead only to
// Malipo itself.
func (p *Pages) cancel(w http.ResponseWriter, r *http.Request) {
	_, err := p.svc.CancelCheckout(r.Context(), r.PathValue("token"))
	p.afterAttempt(w, r, err)
}

// setupView fills a view for the card-saving page.
func (p *Pages) setupView(r *http.Request, page gateway.CardSetupPage) view {
	cs := page.Setup
	lang := language(r, cs.Lang, "")
	token := r.PathValue("token")
	v := view{Lang: lang, Merchant: page.Merchant, Initial: initial(page.Merchant.Name), Test: cs.Mode == malipo.ModeTest,
		Base: "/cards/" + token, Self: "/cards/" + token, CardName: cs.Customer.Name}
	v.Title = v.T("setup_title")
	return v
}

// setup shows the card-saving page, or what became of it.
func (p *Pages) setup(w http.ResponseWriter, r *http.Request) {
	page, err := p.svc.CardSetupByToken(r.Context(), r.PathValue("token"))
	if err != nil {
		p.failed(w, r, err)
		return
	}
	v := p.setupView(r, page)
	switch page.Setup.Status {
	case malipo.CardSetupPending:
		v.CSRF = p.csrf(w, r, v.FrameOrigin != "")
		p.render(w, http.StatusOK, "setup", v)
	case malipo.CardSetupSucceeded:
		v.State, v.Tone, v.Icon, v.Heading = "saved", "ok", "ok", v.T("saved_title")
		if page.Card != nil {
			v.Text = v.T("saved_text", page.Card.Scheme+" "+page.Card.Masked, page.Merchant.Name)
		}
		if page.Setup.ReturnURL != "" {
			v.Link, v.LinkText, v.Refresh = page.Setup.ReturnURL, v.T("return"), "3;url="+page.Setup.ReturnURL
		}
		p.render(w, http.StatusOK, "message", v)
	default:
		v.State, v.Tone, v.Icon, v.Heading, v.Text = "expired", "bad", "time", v.T("setup_done_title"), v.T("setup_done_text")
		p.render(w, http.StatusOK, "message", v)
	}
}

func (p *Pages) saveCard(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	card, err := cardFromForm(r)
	if err == nil {
		_, err = p.svc.SaveCard(r.Context(), token, card)
	}
	if err != nil && malipo.KindOf(err) == malipo.KindInvalid {
		page, perr := p.svc.CardSetupByToken(r.Context(), token)
		if perr != nil {
			p.failed(w, r, perr)
			return
		}
		v := p.setupView(r, page)
		v.Error, v.CSRF = inputError(v, err), p.csrf(w, r, v.FrameOrigin != "")
		p.render(w, http.StatusUnprocessableEntity, "setup", v)
		return
	}
	if err != nil && malipo.KindOf(err) != malipo.KindConflict {
		p.failed(w, r, err)
		return
	}
	http.Redirect(w, r, "/cards/"+token, http.StatusSeeOther)
}
