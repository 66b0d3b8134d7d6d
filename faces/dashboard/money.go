package dashboard

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/store"
)

type statementData struct {
	Currency, Bucket, From, To string
	Currencies                 []string
	Buckets                    []string
	Movements                  []malipo.Movement
	Export, Next, Settlements  string // links: the selection's export, the older page, the days' settlement report
}

// statementFilter reads a statement's selection from the query: the
// balance's bucket and the UTC days from and to (inclusive), and the
// page's start. keep is the days, for links.
func statementFilter(q url.Values) (bucket string, keep url.Values, f store.MovementFilter, err error) {
	f.StartingAfter = q.Get("after")
	keep, f.CreatedFrom, f.CreatedTo, err = dated(q)
	return q.Get("bucket"), keep, f, err
}

// balance is the statement of one balance: every movement with the
// balance after it, newest first.
func (p *Pages) balance(w http.ResponseWriter, r *request) {
	q := r.URL.Query()
	bucket, selection, f, dayErr := statementFilter(q)
	data := statementData{Currency: strings.ToUpper(q.Get("currency")), Bucket: bucket, From: q.Get("from"), To: q.Get("to"),
		Buckets: []string{gateway.BucketAvailable, gateway.BucketPending, gateway.BucketReserved}}
	bs, err := p.svc.Balances(r.Context(), r.scope)
	if err != nil {
		p.failed(w, r.Request, err)
		return
	}
	for _, b := range bs {
		data.Currencies = append(data.Currencies, string(b.Currency))
	}
	if data.Currency == "" && len(data.Currencies) > 0 {
		data.Currency = data.Currencies[0]
	}
	if data.Bucket == "" {
		data.Bucket = gateway.BucketAvailable
	}
	selection.Set("currency", data.Currency)
	data.Settlements = "/dashboard/settlements.csv?" + selection.Encode()
	selection.Set("bucket", data.Bucket)
	data.Export = "/dashboard/balance.csv?" + selection.Encode()
	err = dayErr
	if data.Currency != "" && err == nil {
		f.Limit = pageSize + 1
		data.Movements, err = p.svc.Statement(r.Context(), r.scope, data.Currency, data.Bucket, f)
		data.Movements, data.Next = olderPage(data.Movements, pageSize, "/dashboard/balance", selection,
			func(m malipo.Movement) string { return m.EntryID })
	}
	p.renderListed(w, r, "balance", "balance_title", data, err)
}

// balanceCSV exports a balance's statement, whole or between two days;
// the file's name says which.
func (p *Pages) balanceCSV(w http.ResponseWriter, r *request) {
	q := r.URL.Query()
	currency := q.Get("currency")
	bucket, _, f, err := statementFilter(q)
	if p.exportFailed(w, r, err) {
		return
	}
	var rows []malipo.Movement
	f.StartingAfter, f.Limit = "", gateway.MaxPageSize
	for {
		ms, err := p.svc.Statement(r.Context(), r.scope, currency, bucket, f)
		if err == nil && len(rows)+len(ms) > maxExport {
			err = exportTooLong() // read whole before a byte is sent: refused, not cut
		}
		if p.exportFailed(w, r, err) {
			return
		}
		rows = append(rows, ms...)
		if len(ms) < gateway.MaxPageSize {
			break
		}
		f.StartingAfter = ms[len(ms)-1].EntryID
	}
	out := csvFile(w, datedName("statement-"+string(r.session.Mode)+"-"+strings.ToUpper(currency), q),
		"entry", "created_at", "type", "source_type", "source", "amount", "currency", "balance_after")
	for _, m := range rows {
		out.Write([]string{m.EntryID, rfc3339(m.CreatedAt), m.Kind, m.RefType, m.RefID,
			malipo.FormatDecimal(m.Amount, m.Currency), string(m.Currency), malipo.FormatDecimal(m.BalanceAfter, m.Currency)})
	}
	out.Flush()
}

// refunds lists the merchant's refunds, between two days if asked.
func (p *Pages) refunds(w http.ResponseWriter, r *request) {
	list, err := listDated(r.URL.Query(), "/dashboard/refunds", func(from, to time.Time, after string) ([]malipo.Refund, error) {
		return p.svc.ListRefunds(r.Context(), r.scope, store.RefundFilter{CreatedFrom: from, CreatedTo: to, StartingAfter: after, Limit: pageSize + 1})
	}, func(re malipo.Refund) string { return re.ID })
	p.renderListed(w, r, "refunds", "refunds", list, err)
}

// refundsCSV exports the mode's refunds, all or between two days.
func (p *Pages) refundsCSV(w http.ResponseWriter, r *request) {
	_, from, to, err := dated(r.URL.Query())
	if p.exportFailed(w, r, err) {
		return
	}
	out := csvFile(w, datedName("refunds-"+string(r.session.Mode), r.URL.Query()),
		"id", "created_at", "status", "amount", "currency", "payment", "reason", "rail_reference", "failure_code", "completed_at")
	streamRows(p, r, "export refunds", out, func(after string) ([]malipo.Refund, error) {
		return p.svc.ListRefunds(r.Context(), r.scope, store.RefundFilter{CreatedFrom: from, CreatedTo: to, StartingAfter: after, Limit: gateway.MaxPageSize})
	}, func(re malipo.Refund) string { return re.ID }, func(re malipo.Refund) []string {
		return []string{re.ID, rfc3339(re.CreatedAt), string(re.Status), malipo.FormatDecimal(re.Amount, re.Currency), string(re.Currency),
			re.PaymentID, cell(re.Reason), cell(re.RailReference), re.FailureCode, rfc3339(re.CompletedAt)}
	})
}

// settlements is the daily settlement report of one currency, as CSV: per
// UTC day, from and to if given (a month's report; a bound not given is
// 89 days from the other, or today), else over the last days (90 unless
// ?days=), the payments made and succeeded, the money received, the fees
// kept and what is the merchant's.
func (p *Pages) settlements(w http.ResponseWriter, r *request) {
	q := r.URL.Query()
	_, first, last, err := dated(q)
	if p.exportFailed(w, r, err) {
		return
	}
	var st gateway.Stats
	if first.IsZero() && last.IsZero() {
		days := 90
		if raw := q.Get("days"); raw != "" {
			if days, err = strconv.Atoi(raw); err != nil {
				err = malipo.Invalid("days", "parameter_invalid", "days is a number of days, not %q", raw)
			}
		}
		if err == nil {
			st, err = p.svc.PaymentStats(r.Context(), r.scope, q.Get("currency"), days)
		}
	} else {
		if last.IsZero() {
			last = p.svc.Now()
		}
		if first.IsZero() {
			first = last.AddDate(0, 0, -89)
		}
		st, err = p.svc.PaymentStatsBetween(r.Context(), r.scope, q.Get("currency"), first, last)
	}
	if p.exportFailed(w, r, err) {
		return
	}
	out := csvFile(w, datedName("settlements-"+string(r.session.Mode)+"-"+string(st.Currency), q),
		"day", "currency", "payments", "succeeded", "gross", "fees", "net")
	for _, d := range st.Days {
		out.Write([]string{d.Day.Format("2006-01-02"), string(st.Currency), strconv.Itoa(d.Payments), strconv.Itoa(d.Succeeded),
			malipo.FormatDecimal(d.Volume, st.Currency), malipo.FormatDecimal(d.Fees, st.Currency), malipo.FormatDecimal(d.Volume-d.Fees, st.Currency)})
	}
	out.Flush()
}
