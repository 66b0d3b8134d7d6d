package dashboard

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/checkout"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/store"
)

// pageSize is how many payments a list page shows.
const pageSize = 50

// filter is a payments list's selection, as its query string says it:
// q (search), status, method, operator, currency, from and to (dates,
// inclusive) and after (the last payment of the previous page).
type filter struct {
	Q, Status, Method, Operator, Currency, From, To, After string
	Query                                                  url.Values // to keep in links
	Store                                                  store.PaymentFilter
}

// readFilter reads a filter from the query; a value it cannot read is an
// error for the user to fix.
func readFilter(q url.Values) (filter, error) {
	f := filter{Q: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Method: q.Get("method"), Operator: q.Get("operator"),
		Currency: strings.ToUpper(q.Get("currency")), From: q.Get("from"), To: q.Get("to"), After: q.Get("after")}
	f.Query = url.Values{}
	for k, v := range map[string]string{"q": f.Q, "status": f.Status, "method": f.Method, "operator": f.Operator, "currency": f.Currency, "from": f.From, "to": f.To} {
		if v != "" {
			f.Query.Set(k, v)
		}
	}
	if len(f.Q) > 200 || len(f.Operator) > 40 {
		return f, malipo.Invalid("q", "parameter_invalid", "the search is too long")
	}
	f.Store.Search, f.Store.Operator, f.Store.StartingAfter = f.Q, strings.ToLower(f.Operator), f.After
	if f.Status != "" {
		st, err := malipo.ParsePaymentStatus(f.Status)
		if err != nil {
			return f, err
		}
		f.Store.Status = &st
	}
	if f.Method != "" {
		ch, err := malipo.ParseChannel(f.Method)
		if err != nil {
			return f, err
		}
		f.Store.Method = ch
	}
	if f.Currency != "" {
		c, err := malipo.ParseCurrency(f.Currency)
		if err != nil {
			return f, err
		}
		f.Store.Currency = c
	}
	var err error
	f.Store.CreatedFrom, f.Store.CreatedTo, err = days(f.From, f.To)
	return f, err
}

// dated reads a list's from and to from the query (see days), and gives
// them back as the query its links keep.
func dated(q url.Values) (keep url.Values, first, last time.Time, err error) {
	keep = url.Values{}
	for _, k := range []string{"from", "to"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	first, last, err = days(q.Get("from"), q.Get("to"))
	return keep, first, last, err
}

// datedList is a page of a list between two days, newest first: its rows,
// the days asked (YYYY-MM-DD, or empty), and its links.
type datedList[T any] struct {
	Rows         []T
	From, To     string
	Export, Next string // the selection's export, the older page
}

// listDated reads the page of path's list that the query asks for, the
// days and the page's start: list reads up to pageSize+1 rows after the
// one whose ID it is given, between two instants (zero for no bound); id
// names a row. A day that is none is the error, with nothing read.
func listDated[T any](q url.Values, path string, list func(from, to time.Time, after string) ([]T, error), id func(T) string) (datedList[T], error) {
	keep, from, to, err := dated(q)
	d := datedList[T]{From: q.Get("from"), To: q.Get("to"), Export: withQuery(path+".csv", keep, "", "")}
	if err != nil {
		return d, err
	}
	d.Rows, err = list(from, to, q.Get("after"))
	d.Rows, d.Next = olderPage(d.Rows, pageSize, path, keep, id)
	return d, err
}

// olderPage cuts rows, read one beyond size, to a page and gives the link
// to the older page: path with the query keep and the page's last row as
// after ("" when no row is left beyond). The link is whole, for a
// template to take as it is: html/template escapes a query's "=" and "&"
// written into one.
func olderPage[T any](rows []T, size int, path string, keep url.Values, id func(T) string) ([]T, string) {
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	return rows, withQuery(path, keep, "after", id(rows[size-1]))
}

// renderListed renders a list page: a bad selection is the page with its
// error, 400; any other failure is the failure page.
func (p *Pages) renderListed(w http.ResponseWriter, r *request, page, title string, data any, err error) {
	v := p.view(r, page, title)
	status := http.StatusOK
	switch {
	case malipo.KindOf(err) == malipo.KindInvalid:
		v.Error, status = malipo.AsError(err).Message, http.StatusBadRequest
	case err != nil:
		p.failed(w, r.Request, err)
		return
	}
	v.Data = data
	p.render(w, status, page, v)
}

// datedName is an export's file name with the days it covers, if given:
// "statement-live-XOF-2026-11-01-2026-11-30". Only once they were read as
// dates: digits and dashes.
func datedName(name string, q url.Values) string {
	for _, day := range []string{q.Get("from"), q.Get("to")} {
		if day != "" {
			name += "-" + day
		}
	}
	return name
}

// days reads a filter's from and to, UTC days as YYYY-MM-DD, either one
// empty for no bound, as the instants they bound: from's first
// microsecond and to's last.
func days(from, to string) (first, last time.Time, err error) {
	for _, d := range []struct {
		raw string
		at  *time.Time
		end bool
	}{{from, &first, false}, {to, &last, true}} {
		if d.raw == "" {
			continue
		}
		day, err := time.Parse("2006-01-02", d.raw)
		if err != nil {
			return first, last, malipo.Invalid("from", "date_invalid", "dates are YYYY-MM-DD, not %q", d.raw)
		}
		if d.end {
			day = day.Add(24*time.Hour - time.Microsecond)
		}
		*d.at = day
	}
	return first, last, nil
}

type paymentsData struct {
	Filter   filter
	Payments []malipo.Payment
	Next     string // the link to the next page, "" on the last
	Statuses []string
	Methods  []string
}

func (p *Pages) payments(w http.ResponseWriter, r *request) {
	v := p.view(r, "payments", "payments_title")
	data := paymentsData{Statuses: []string{"pending", "processing", "succeeded", "failed", "cancelled", "expired"},
		Methods: []string{string(malipo.ChannelMobileMoney), string(malipo.ChannelCard), string(malipo.ChannelBank)}}
	f, err := readFilter(r.URL.Query())
	data.Filter = f
	status := http.StatusOK
	if err == nil {
		f.Store.Limit = pageSize + 1
		data.Payments, err = p.svc.ListPayments(r.Context(), r.scope, f.Store)
		data.Payments, data.Next = olderPage(data.Payments, pageSize, "/dashboard/payments", f.Query, func(pay malipo.Payment) string { return pay.ID })
	}
	if err != nil {
		if malipo.KindOf(err) != malipo.KindInvalid && malipo.KindOf(err) != malipo.KindNotFound {
			p.failed(w, r.Request, err)
			return
		}
		v.Error, status = malipo.AsError(err).Message, http.StatusBadRequest
	}
	v.Data = data
	p.render(w, status, "payments", v)
}

// csvInjection are the first characters that make a spreadsheet read a
// cell as a formula.
const csvInjection = "=+-@\t\r"

// cell writes a value a spreadsheet shows as text.
func cell(s string) string {
	if s != "" && strings.ContainsRune(csvInjection, rune(s[0])) {
		return "'" + s
	}
	return s
}

// maxExport bounds one CSV export's rows. A variable only for tests.
var maxExport = 100_000

// cutExport ends an export that cannot be whole once its status is sent:
// it logs why and cuts the connection before the file's end, so that the
// download fails. A file that simply ended short read as a whole one, and
// a merchant reconciles with what the file says.
func (p *Pages) cutExport(r *request, what string, err error) {
	p.logger.ErrorContext(r.Context(), what+": the file is cut", "err", err)
	panic(http.ErrAbortHandler)
}

// streamRows writes a list's rows to out page after page, as long as the
// pages come full (gateway.MaxPageSize): page reads the page after the
// item whose ID it is given ("" for the first). An export that cannot be
// whole, past maxExport rows or on an error, is cut (cutExport).
func streamRows[T any](p *Pages, r *request, what string, out *csv.Writer, page func(after string) ([]T, error),
	id func(T) string, row func(T) []string) {
	after := ""
	for written := 0; ; {
		list, err := page(after)
		if err == nil && written+len(list) > maxExport {
			err = exportTooLong()
		}
		if err != nil {
			p.cutExport(r, what, err)
		}
		for _, x := range list {
			out.Write(row(x))
		}
		written += len(list)
		if len(list) < gateway.MaxPageSize {
			break
		}
		after = id(list[len(list)-1])
	}
	out.Flush()
}

// rfc3339 writes a time for an export, UTC; no time is an empty cell.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// exportTooLong is why an export is refused or cut past maxExport rows.
func exportTooLong() error {
	return malipo.Invalid("to", "export_too_long", "an export holds at most %d rows: choose fewer days", maxExport)
}

// paymentsCSV exports the payments the list's filter selects, all pages.
func (p *Pages) paymentsCSV(w http.ResponseWriter, r *request) {
	f, err := readFilter(r.URL.Query())
	if err != nil {
		secure(w)
		http.Error(w, malipo.AsError(err).Message, http.StatusBadRequest)
		return
	}
	out := csvFile(w, "payments-"+string(r.session.Mode)+"-"+p.svc.Now().UTC().Format("20060102"),
		"id", "created_at", "status", "amount", "currency", "fee", "amount_refunded", "reference", "description",
		"method", "operator", "phone", "customer_name", "customer_email", "rail_reference", "completed_at")
	streamRows(p, r, "export payments", out, func(after string) ([]malipo.Payment, error) {
		f.Store.StartingAfter, f.Store.Limit = after, gateway.MaxPageSize
		return p.svc.ListPayments(r.Context(), r.scope, f.Store)
	}, func(pay malipo.Payment) string { return pay.ID }, func(pay malipo.Payment) []string {
		return []string{pay.ID, rfc3339(pay.CreatedAt), string(pay.Status),
			malipo.FormatDecimal(pay.Amount, pay.Currency), string(pay.Currency), malipo.FormatDecimal(pay.Fee, pay.Currency),
			malipo.FormatDecimal(pay.AmountRefunded, pay.Currency), cell(pay.Reference), cell(pay.Description), string(pay.Method),
			pay.Operator, pay.Phone, cell(pay.Customer.Name), cell(pay.Customer.Email), cell(pay.RailReference), rfc3339(pay.CompletedAt)}
	})
}

// story is everything that happened to a payment, for its page.
type story struct {
	Payment   malipo.Payment
	Net       int64
	Attempts  []malipo.RailAttempt
	Events    []eventStory
	Refunds   []malipo.Refund
	Checkout  string
	Receipt   string
	Failure   string
	Operators string
	Entries   []malipo.Entry // the ledger's postings of the payment
	// What the user may do, with the form's idempotency key.
	CanRefund, CanCancel bool
	Key                  string
	Done                 string // what the last action did
}

type eventStory struct {
	Event      malipo.Event
	Deliveries []gateway.DeliveryLog
}

// payment is a payment's page: its whole story. A payment of another
// merchant, or of the other mode, is not found.
func (p *Pages) payment(w http.ResponseWriter, r *request) {
	pay, err := p.svc.GetPayment(r.Context(), r.scope, r.PathValue("id"))
	if p.lookupFailed(w, r, err) {
		return
	}
	s := story{Payment: pay, Checkout: p.svc.CheckoutURL(pay), Receipt: p.svc.ReceiptURL(pay)}
	if pay.Status == malipo.PaymentSucceeded {
		s.Net = pay.Amount - pay.Fee
	}
	if pay.FailureCode != "" {
		s.Failure = pay.FailureCode + ": " + pay.FailureReason
	}
	if s.Attempts, err = p.svc.RailAttempts(r.Context(), r.scope, pay.ID); err == nil {
		var events []malipo.Event
		if events, err = p.svc.ListEvents(r.Context(), r.scope, store.EventFilter{ObjectID: pay.ID, Limit: gateway.MaxPageSize}); err == nil {
			for i := len(events) - 1; i >= 0; i-- { // oldest first, as a story reads
				logs, derr := p.svc.EventDeliveries(r.Context(), r.scope, events[i].ID)
				if derr != nil {
					err = derr
					break
				}
				s.Events = append(s.Events, eventStory{Event: events[i], Deliveries: logs})
			}
		}
	}
	if err == nil {
		s.Refunds, err = p.svc.PaymentRefunds(r.Context(), r.scope, pay.ID)
	}
	if err == nil {
		s.Entries, err = p.svc.Entries(r.Context(), r.scope, pay.ID)
	}
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	s.CanRefund = r.user.Role.Can(malipo.PermRefund) && pay.Status == malipo.PaymentSucceeded && pay.AmountRefunded < pay.Amount
	s.CanCancel = r.user.Role.Can(malipo.PermRefund) && pay.Status == malipo.PaymentPending
	s.Key = newKey()
	v := p.view(r, "payments", "payment_title")
	v.Title = v.T("payment_title") + " " + pay.Reference
	s.Done, v.Error = takeFlash(w, r.Request)
	v.Data = s
	p.render(w, http.StatusOK, "payment", v)
}

type homeData struct {
	Balances []malipo.Balance
	Recent   []malipo.Payment
	Stats    gateway.Stats
	Chart    template.HTML
	Rate     string
}

func (p *Pages) home(w http.ResponseWriter, r *request) {
	if r.user.MerchantID == "" {
		http.Redirect(w, r.Request, "/dashboard/merchants", http.StatusSeeOther)
		return
	}
	var data homeData
	var err error
	if data.Balances, err = p.svc.Balances(r.Context(), r.scope); err == nil {
		data.Recent, err = p.svc.ListPayments(r.Context(), r.scope, store.PaymentFilter{Limit: 10})
	}
	currency := r.URL.Query().Get("currency")
	if currency == "" && len(data.Balances) > 0 {
		currency = string(data.Balances[0].Currency)
	}
	if err == nil && currency != "" {
		data.Stats, err = p.svc.PaymentStats(r.Context(), r.scope, currency, 30)
		if malipo.KindOf(err) == malipo.KindInvalid {
			err = nil
		}
		data.Chart = chart(data.Stats, r.lang)
		if data.Stats.Payments > 0 {
			data.Rate = fmt.Sprintf("%d%%", data.Stats.Succeeded*100/data.Stats.Payments)
		}
	}
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	v := p.view(r, "home", "home_title")
	v.Data = data
	p.render(w, http.StatusOK, "home", v)
}

type merchantsData struct {
	Q         string
	Merchants []malipo.Merchant
	Next      string // the link to the next page, "" on the last
}

// merchants is the operator's list of merchants, newest first, a page at
// a time, searchable.
func (p *Pages) merchants(w http.ResponseWriter, r *request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	list, err := p.svc.ListMerchants(r.Context(), store.MerchantFilter{Search: q, StartingAfter: r.URL.Query().Get("after"), Limit: pageSize + 1})
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	search := url.Values{}
	if q != "" {
		search.Set("q", q)
	}
	data := merchantsData{Q: q}
	data.Merchants, data.Next = olderPage(list, pageSize, "/dashboard/merchants", search, func(m malipo.Merchant) string { return m.ID })
	v := p.view(r, "merchants", "merchants_title")
	_, v.Error = takeFlash(w, r.Request)
	v.Data = data
	p.render(w, http.StatusOK, "merchants", v)
}

// refund gives a succeeded payment's customer money back, all that is
// left or the amount typed (in the currency's major units), as the
// payment's own integration would through the API. The form's key makes
// a double submit one refund.
func (p *Pages) refund(w http.ResponseWriter, r *request) {
	id := r.PathValue("id")
	integ, err := p.svc.PaymentIntegration(r.Context(), r.scope, id)
	if err == nil {
		var pay malipo.Payment
		if pay, err = p.svc.GetPayment(r.Context(), r.scope, id); err == nil {
			var amount int64
			if raw := strings.TrimSpace(r.PostForm.Get("amount")); raw != "" {
				amount, err = malipo.ParseDecimal(raw, pay.Currency)
				if err == nil && amount <= 0 {
					err = malipo.Invalid("amount", "amount_invalid", "the amount must be positive")
				}
			}
			if err == nil {
				var re malipo.Refund
				re, _, err = p.svc.CreateRefund(r.Context(), integ, gateway.RefundInput{PaymentID: id, Amount: amount,
					Reason: r.PostForm.Get("reason")}, gateway.Idempotency{Key: formKey(r, "refund")})
				if err == nil {
					p.afterAction(w, r, id, t(r.lang, "refunded", malipoMoney(re.Amount, re.Currency, r.lang)))
					return
				}
			}
		}
	}
	p.actionFailed(w, r, id, err)
}

// cancel cancels a payment that is not final.
func (p *Pages) cancel(w http.ResponseWriter, r *request) {
	id := r.PathValue("id")
	integ, err := p.svc.PaymentIntegration(r.Context(), r.scope, id)
	if err == nil {
		if _, _, err = p.svc.CancelPayment(r.Context(), integ, id, gateway.Idempotency{Key: formKey(r, "cancel")}); err == nil {
			p.afterAction(w, r, id, t(r.lang, "cancelled"))
			return
		}
	}
	p.actionFailed(w, r, id, err)
}

// formKey is an action's idempotency key: the form's own key, so that
// the same form posted twice acts once.
func formKey(r *request, action string) string {
	k := r.PostForm.Get("key")
	if k == "" || len(k) > 64 {
		return ""
	}
	return "dashboard:" + action + ":" + r.user.ID + ":" + k
}

func (p *Pages) afterAction(w http.ResponseWriter, r *request, id, done string) {
	setFlash(w, "done", done)
	http.Redirect(w, r.Request, "/dashboard/payments/"+id, http.StatusSeeOther)
}

func (p *Pages) actionFailed(w http.ResponseWriter, r *request, id string, err error) {
	switch malipo.KindOf(err) {
	case malipo.KindNotFound:
		p.notFound(w, r.Request, r)
	case malipo.KindInternal:
		p.failed(w, r.Request, err)
	default:
		setFlash(w, "error", malipo.AsError(err).Message)
		http.Redirect(w, r.Request, "/dashboard/payments/"+id, http.StatusSeeOther)
	}
}

// newKey is a fresh idempotency key for a form.
func newKey() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func malipoMoney(amount int64, c malipo.Currency, lang string) string {
	return checkout.FormatMoney(amount, c, lang)
}

// setFlash keeps what an action did (kind done or error) for the page the
// browser is sent to next: in a short-lived cookie, not in the URL, where
// a crafted link could make the dashboard say anything.
func setFlash(w http.ResponseWriter, kind, text string) {
	http.SetCookie(w, &http.Cookie{Name: "malipo_flash", Value: kind + ":" + base64.RawURLEncoding.EncodeToString([]byte(text)),
		Path: "/dashboard/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: 60})
}

// takeFlash reads and clears the flash: what was done, or the error.
func takeFlash(w http.ResponseWriter, r *http.Request) (done, failed string) {
	c, err := r.Cookie("malipo_flash")
	if err != nil {
		return "", ""
	}
	http.SetCookie(w, &http.Cookie{Name: "malipo_flash", Value: "", Path: "/dashboard/", HttpOnly: true, MaxAge: -1})
	kind, enc, _ := strings.Cut(c.Value, ":")
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(b) > 500 {
		return "", ""
	}
	if kind == "done" {
		return string(b), ""
	}
	return "", string(b)
}

// suspend suspends a merchant (action suspend) or lifts it (resume).
func (p *Pages) suspend(w http.ResponseWriter, r *request) {
	_, err := p.svc.SuspendMerchant(r.Context(), r.PathValue("id"), r.PostForm.Get("action") == "suspend")
	switch {
	case malipo.KindOf(err) == malipo.KindNotFound:
		p.notFound(w, r.Request, r)
		return
	case err != nil:
		p.failed(w, r.Request, err)
		return
	}
	http.Redirect(w, r.Request, "/dashboard/merchants", http.StatusSeeOther)
}
