// Package dashboard is the merchants' and the operator's web console:
// server-rendered pages under /dashboard/ over the gateway service, with
// its own users, roles and sessions. It decides nothing the API could not;
// everything it shows the API returns too. A merchant's user sees only
// that merchant's data, in the session's mode.
package dashboard

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/checkout"
	"github.com/malipo/malipo/faces/client"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/rails/route"
)

//go:embed templates
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Pages serves the dashboard.
type Pages struct {
	svc    *gateway.Service
	logger *slog.Logger
	pages  map[string]*template.Template
	secure bool // served over https: the cookie is Secure and __Host-
	// RailHealth, when set, tells the live rails' circuits (the
	// operator's platform page shows them).
	RailHealth func() []route.Health
}

// New returns the dashboard over svc.
func New(svc *gateway.Service, logger *slog.Logger) *Pages {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	funcs := template.FuncMap{"money": checkout.FormatMoney, "when": when, "query": withQuery, "phone": malipo.FormatMSISDN,
		"list": func(args ...any) []any { return args }}
	base := template.Must(template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	pages := map[string]*template.Template{}
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, name := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if page != "layout" {
			pages[page] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, name))
		}
	}
	return &Pages{svc: svc, logger: logger, pages: pages, secure: strings.HasPrefix(svc.BaseURL(), "https://")}
}

// Register adds the dashboard's routes to mux.
func (p *Pages) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /dashboard/login", p.loginForm)
	mux.HandleFunc("POST /dashboard/login", p.login)
	mux.HandleFunc("POST /dashboard/logout", p.signedIn(p.logout))
	mux.HandleFunc("POST /dashboard/mode", p.signedIn(p.switchMode))
	mux.HandleFunc("GET /dashboard/{$}", p.signedIn(p.home))
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /dashboard/payments", p.signedIn(p.merchantOnly(p.payments)))
	mux.HandleFunc("GET /dashboard/payments.csv", p.signedIn(p.merchantOnly(p.paymentsCSV)))
	mux.HandleFunc("GET /dashboard/payments/{id}", p.signedIn(p.merchantOnly(p.payment)))
	mux.HandleFunc("POST /dashboard/payments/{id}/refund", p.signedIn(p.merchantOnly(p.may(malipo.PermRefund, p.refund))))
	mux.HandleFunc("POST /dashboard/payments/{id}/cancel", p.signedIn(p.merchantOnly(p.may(malipo.PermRefund, p.cancel))))
	mux.HandleFunc("GET /dashboard/balance", p.signedIn(p.merchantOnly(p.balance)))
	mux.HandleFunc("GET /dashboard/balance.csv", p.signedIn(p.merchantOnly(p.balanceCSV)))
	mux.HandleFunc("GET /dashboard/settlements.csv", p.signedIn(p.merchantOnly(p.settlements)))
	mux.HandleFunc("GET /dashboard/refunds", p.signedIn(p.merchantOnly(p.refunds)))
	mux.HandleFunc("GET /dashboard/refunds.csv", p.signedIn(p.merchantOnly(p.refundsCSV)))
	mux.HandleFunc("GET /dashboard/webhooks", p.signedIn(p.merchantOnly(p.may(malipo.PermWebhooks, p.webhooks))))
	mux.HandleFunc("POST /dashboard/webhooks/{id}", p.signedIn(p.merchantOnly(p.may(malipo.PermWebhooks, p.endpointAction))))
	mux.HandleFunc("POST /dashboard/webhooks/events/{id}/replay", p.signedIn(p.merchantOnly(p.may(malipo.PermWebhooks, p.replay))))
	mux.HandleFunc("GET /dashboard/payouts", p.signedIn(p.merchantOnly(p.payouts)))
	mux.HandleFunc("GET /dashboard/payouts.csv", p.signedIn(p.merchantOnly(p.payoutsCSV)))
	mux.HandleFunc("GET /dashboard/payouts/new", p.signedIn(p.merchantOnly(p.may(malipo.PermPayout, p.newPayout))))
	mux.HandleFunc("POST /dashboard/payouts/new", p.signedIn(p.merchantOnly(p.may(malipo.PermPayout, p.newPayout))))
	mux.HandleFunc("POST /dashboard/payouts", p.signedIn(p.merchantOnly(p.may(malipo.PermPayout, p.createPayout))))
	mux.HandleFunc("GET /dashboard/payouts/{id}", p.signedIn(p.merchantOnly(p.payout)))
	mux.HandleFunc("GET /dashboard/merchants", p.signedIn(p.operatorOnly(p.merchants)))
	mux.HandleFunc("GET /dashboard/account", p.signedIn(p.account))
	mux.HandleFunc("GET /dashboard/users", p.signedIn(p.merchantOnly(p.may(malipo.PermUsers, p.users))))
	mux.HandleFunc("POST /dashboard/users", p.signedIn(p.merchantOnly(p.may(malipo.PermUsers, p.addUser))))
	mux.HandleFunc("POST /dashboard/users/{id}", p.signedIn(p.merchantOnly(p.may(malipo.PermUsers, p.changeUser))))
	mux.HandleFunc("POST /dashboard/account/totp", p.signedIn(p.enrollTOTP))
	mux.HandleFunc("POST /dashboard/account/totp/confirm", p.signedIn(p.confirmTOTP))
	mux.HandleFunc("POST /dashboard/merchants/{id}/suspend", p.signedIn(p.operatorOnly(p.suspend)))
	mux.HandleFunc("GET /dashboard/merchants/{id}", p.signedIn(p.operatorOnly(p.merchant)))
	mux.HandleFunc("POST /dashboard/merchants", p.signedIn(p.operatorOnly(p.createMerchant)))
	mux.HandleFunc("GET /dashboard/platform", p.signedIn(p.operatorOnly(p.platform)))
	mux.HandleFunc("GET /dashboard/developers", p.signedIn(p.merchantOnly(p.may(malipo.PermKeys, p.developers))))
	mux.HandleFunc("POST /dashboard/developers/{id}/roll", p.signedIn(p.merchantOnly(p.may(malipo.PermKeys, p.roll))))
	mux.HandleFunc("POST /dashboard/developers/{id}/revoke", p.signedIn(p.merchantOnly(p.may(malipo.PermKeys, p.revoke))))
	mux.HandleFunc("POST /dashboard/developers/{id}/settings", p.signedIn(p.merchantOnly(p.may(malipo.PermKeys, p.settings))))
	mux.HandleFunc("POST /dashboard/developers/new", p.signedIn(p.merchantOnly(p.may(malipo.PermKeys, p.createIntegration))))
	mux.HandleFunc("/dashboard/", func(w http.ResponseWriter, r *http.Request) { p.notFound(w, r, nil) })
	assets, _ := fs.Sub(assetFS, "assets")
	files := http.FileServerFS(assets)
	mux.Handle("GET /dashboard/assets/", http.StripPrefix("/dashboard/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})))
}

// cookieName is the session cookie's name: __Host- (so Secure, and bound
// to Malipo's host) when Malipo is served over https.
func (p *Pages) cookieName() string {
	if p.secure {
		return "__Host-malipo_session"
	}
	return "malipo_session"
}

// request is a signed-in page request.
type request struct {
	*http.Request
	token   string
	user    malipo.User
	session malipo.Session
	scope   malipo.Integration // the merchant's data in the session's mode
	lang    string
}

// csrf is the value every form of a session carries: an HMAC of the
// session's token, which only that browser's pages show.
func (r *request) csrf() string {
	mac := hmac.New(sha256.New, []byte(r.token))
	mac.Write([]byte("dashboard form"))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

// signedIn wraps a page that needs a signed-in user: without one the
// browser goes to the sign-in page (and back after). A form must carry
// the session's CSRF value and not come from another site.
func (p *Pages) signedIn(next func(w http.ResponseWriter, r *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(p.cookieName())
		var u malipo.User
		var sess malipo.Session
		if err == nil {
			u, sess, err = p.svc.Session(r.Context(), c.Value)
		}
		if err != nil {
			if !errors.Is(err, http.ErrNoCookie) && malipo.KindOf(err) != malipo.KindUnauthorized {
				p.failed(w, r, err)
				return
			}
			if r.Method != http.MethodGet {
				http.Redirect(w, r, "/dashboard/login", http.StatusSeeOther)
				return
			}
			http.Redirect(w, r, "/dashboard/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		req := &request{Request: r, token: c.Value, user: u, session: sess, scope: gateway.Scope(u, sess), lang: language(r)}
		rememberLanguage(w, r)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
			if err := r.ParseForm(); err != nil || r.Header.Get("Sec-Fetch-Site") == "cross-site" ||
				!hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(req.csrf())) {
				secure(w)
				http.Error(w, "This form has expired: go back, reload the page and try again.", http.StatusForbidden)
				return
			}
		}
		next(w, req)
	}
}

// merchantOnly keeps a page for a merchant's users: an operator has no
// merchant whose payments it would show.
func (p *Pages) merchantOnly(next func(w http.ResponseWriter, r *request)) func(w http.ResponseWriter, r *request) {
	return func(w http.ResponseWriter, r *request) {
		if r.user.MerchantID == "" {
			http.Redirect(w, r.Request, "/dashboard/merchants", http.StatusSeeOther)
			return
		}
		next(w, r)
	}
}

// may keeps an action for roles that grant perm; others are refused.
func (p *Pages) may(perm malipo.Permission, next func(w http.ResponseWriter, r *request)) func(w http.ResponseWriter, r *request) {
	return func(w http.ResponseWriter, r *request) {
		if !r.user.Role.Can(perm) || (r.session.Mode == malipo.ModeLive && !r.user.Role.Can(malipo.PermLive)) {
			secure(w)
			http.Error(w, t(r.lang, "forbidden"), http.StatusForbidden)
			return
		}
		next(w, r)
	}
}

// operatorOnly keeps a page for the gateway's operators.
func (p *Pages) operatorOnly(next func(w http.ResponseWriter, r *request)) func(w http.ResponseWriter, r *request) {
	return func(w http.ResponseWriter, r *request) {
		if !r.user.Role.Can(malipo.PermOperate) {
			p.notFound(w, r.Request, r)
			return
		}
		next(w, r)
	}
}

// view is what every page's template gets.
type view struct {
	Lang     string
	Title    string
	User     malipo.User
	Merchant malipo.Merchant
	Live     bool
	CanLive  bool
	CSRF     string
	Nav      string // the section the page belongs to
	Path     string // the page's own path and query, to come back to
	Error    string
	Data     any
}

// T looks up a text in the view's language.
func (v view) T(key string, args ...any) string { return t(v.Lang, key, args...) }

func (p *Pages) view(r *request, nav, title string) view {
	v := view{Lang: r.lang, User: r.user, Live: r.session.Mode == malipo.ModeLive, CanLive: r.user.Role.Can(malipo.PermLive),
		CSRF: r.csrf(), Nav: nav, Path: r.URL.RequestURI()}
	v.Title = v.T(title)
	if r.user.MerchantID != "" {
		v.Merchant, _ = p.svc.Merchant(r.Context(), r.user.MerchantID)
	}
	return v
}

// secure sets the headers every page carries: nothing but Malipo's own
// styles, no script, no framing, no caching.
func secure(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

func (p *Pages) render(w http.ResponseWriter, status int, page string, v view) {
	var buf bytes.Buffer
	if err := p.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		p.logger.Error("render dashboard page", "page", page, "err", err)
		secure(w)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	secure(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// notFound is the page for what does not exist or is not the user's:
// the two look the same, so a user learns nothing of other merchants.
func (p *Pages) notFound(w http.ResponseWriter, r *http.Request, req *request) {
	v := view{Lang: language(r), Path: r.URL.RequestURI()}
	if req != nil {
		v = p.view(req, "", "notfound_title")
	}
	v.Title = v.T("notfound_title")
	p.render(w, http.StatusNotFound, "notfound", v)
}

// csvFile starts a CSV download, name.csv, and writes its header row.
func csvFile(w http.ResponseWriter, name string, header ...string) *csv.Writer {
	secure(w)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	out := csv.NewWriter(w)
	out.Write(header)
	return out
}

// exportFailed answers an export whose rows could not be read: 400 with
// the reason for bad input, 500 otherwise. It reports whether it
// answered, that is whether err was not nil.
func (p *Pages) exportFailed(w http.ResponseWriter, r *request, err error) bool {
	switch {
	case err == nil:
		return false
	case malipo.KindOf(err) == malipo.KindInvalid:
		secure(w)
		http.Error(w, malipo.AsError(err).Message, http.StatusBadRequest)
	default:
		p.failed(w, r.Request, err)
	}
	return true
}

// lookupFailed answers a page whose object could not be read: not found
// (also another merchant's or mode's) or failed. It reports whether it
// answered, that is whether err was not nil.
func (p *Pages) lookupFailed(w http.ResponseWriter, r *request, err error) bool {
	switch {
	case err == nil:
		return false
	case malipo.KindOf(err) == malipo.KindNotFound:
		p.notFound(w, r.Request, r)
	default:
		p.failed(w, r.Request, err)
	}
	return true
}

func (p *Pages) failed(w http.ResponseWriter, r *http.Request, err error) {
	client.LogFailure(p.logger, r, "dashboard request failed", err, "route", r.Pattern)
	secure(w)
	http.Error(w, "Something went wrong. Please try again.", http.StatusInternalServerError)
}

// loginForm is the sign-in page: fields email and password.
func (p *Pages) loginForm(w http.ResponseWriter, r *http.Request) {
	rememberLanguage(w, r)
	v := view{Lang: language(r), Path: r.URL.RequestURI(), Data: safeNext(r.URL.Query().Get("next"))}
	v.Title = v.T("signin_title")
	p.render(w, http.StatusOK, "login", v)
}

func (p *Pages) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	v := view{Lang: language(r), Path: r.URL.RequestURI()}
	v.Title = v.T("signin_title")
	if err := r.ParseForm(); err != nil || r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		v.Error = v.T("signin_again")
		p.render(w, http.StatusBadRequest, "login", v)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	v.Data = next
	token, _, err := p.svc.SignIn(r.Context(), r.PostForm.Get("email"), r.PostForm.Get("password"), r.PostForm.Get("code"), client.Addr(r))
	switch kind := malipo.KindOf(err); {
	case err == nil:
	case malipo.AsError(err).Code == "totp_required":
		v.Error = v.T("signin_code")
		p.render(w, http.StatusUnauthorized, "login", v)
		return
	case kind == malipo.KindUnauthorized:
		v.Error = v.T("signin_wrong")
		p.render(w, http.StatusUnauthorized, "login", v)
		return
	case kind == malipo.KindRateLimited:
		v.Error = v.T("signin_throttled")
		p.render(w, http.StatusTooManyRequests, "login", v)
		return
	case errors.Is(err, malipo.ErrMerchantSuspended):
		v.Error = v.T("signin_suspended")
		p.render(w, http.StatusForbidden, "login", v)
		return
	default:
		p.failed(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(), Value: token, Path: "/", HttpOnly: true, Secure: p.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(gateway.SessionTTL.Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// safeNext keeps a return address inside the dashboard.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/dashboard/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/dashboard/"
	}
	return next
}

func (p *Pages) logout(w http.ResponseWriter, r *request) {
	if err := p.svc.SignOut(r.Context(), r.token); err != nil {
		p.failed(w, r.Request, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(), Value: "", Path: "/", HttpOnly: true, Secure: p.secure, MaxAge: -1})
	http.Redirect(w, r.Request, "/dashboard/login", http.StatusSeeOther)
}

func (p *Pages) switchMode(w http.ResponseWriter, r *request) {
	err := p.svc.SwitchMode(r.Context(), r.token, malipo.Mode(r.PostForm.Get("mode")))
	if err != nil && malipo.KindOf(err) != malipo.KindForbidden && malipo.KindOf(err) != malipo.KindInvalid {
		p.failed(w, r.Request, err)
		return
	}
	// Back where the switch was pressed, but not to a page of the other
	// mode's data (a payment exists in one mode only).
	back := safeNext(r.PostForm.Get("back"))
	if strings.HasPrefix(back, "/dashboard/payments/") {
		back = "/dashboard/payments"
	}
	http.Redirect(w, r.Request, back, http.StatusSeeOther)
}

// shortMonths are the months as a date in a list writes them, in each
// language the dashboard speaks (CLDR's abbreviations).
var shortMonths = map[string][12]string{
	"en": {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	"fr": {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
}

// when writes a time for people in lang: "4 Dec 2026 14:05 UTC",
// "4 déc. 2026 14:05 UTC". It says UTC because a merchant in Nairobi
// reads a bare 14:05 as her own time, three hours off.
func when(t time.Time, lang string) string {
	if t.IsZero() {
		return ""
	}
	months, ok := shortMonths[lang]
	if !ok {
		months = shortMonths["en"]
	}
	t = t.UTC()
	return fmt.Sprintf("%d %s %d %s UTC", t.Day(), months[t.Month()-1], t.Year(), t.Format("15:04"))
}

// withQuery returns path with one query value set, the others kept.
func withQuery(path string, q url.Values, key, value string) string {
	c := url.Values{}
	for k, v := range q {
		c[k] = v
	}
	if value == "" {
		c.Del(key)
	} else {
		c.Set(key, value)
	}
	if len(c) == 0 {
		return path
	}
	return path + "?" + c.Encode()
}
