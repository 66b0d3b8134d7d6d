package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/faces/checkout"
	"github.com/malipo/malipo/faces/client"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/faces/shed"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/sqlstore"
)

// fromProxy makes the client a trusted proxy forwarded for the request's
// RemoteAddr, so allow-lists and the authentication throttle see the
// client, not the load balancer: the rightmost X-Forwarded-For address
// that is not itself a trusted proxy. Requests from anyone else keep their
// own address, whatever they claim.
func fromProxy(next http.Handler, trusted []netip.Prefix) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isTrusted(client.Addr(r)) {
			next.ServeHTTP(w, r)
			return
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a garbled hop: trust nothing before it
			}
			if a = a.Unmap(); !isTrusted(a) {
				r2 := *r
				r2.RemoteAddr = netip.AddrPortFrom(a, 0).String()
				r = &r2
				break
			}
		}
		next.ServeHTTP(w, r)
	})
}

// parsePrefixes reads addresses and CIDR ranges.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an address nor a CIDR range", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// newHandler is every route Malipo serves.
// face is a provider face and the prefix it answers under.
type face struct {
	face   interface{ Register(*http.ServeMux, string) }
	prefix string
}

func newHandler(api *native.API, faces []face, pages *checkout.Pages, st store.Store, reg *prometheus.Registry, logger *slog.Logger, more ...func(*http.ServeMux)) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", healthz(st, stuckAfter))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusSeeOther) // people who open the root want the dashboard
	})
	api.Register(mux)
	for _, f := range faces {
		f.face.Register(mux, f.prefix)
	}
	pages.Register(mux)
	for _, register := range more {
		register(mux)
	}
	return observe(mux, logger, reg)
}

// stuckAfter is how long a batch of writes may run before the node calls
// itself stuck: twice the time a batch's statements are given
// (sqlstore.BatchTimeout), so a batch that runs longer is held where no
// timeout reaches.
const stuckAfter = 2 * sqlstore.BatchTimeout

// healthz answers 200 {"status":"ok"} while the node can take writes,
// and 503 {"status":"stuck",…} once the store's longest batch has run past
// after (stuckAfter in a node; see store.BatchClock): every write of the node waits behind
// it, so a balancer should send the node nothing, and an operator restart
// it (after SIGQUIT's goroutine dump, which shows where it is held).
func healthz(st store.Store, after time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if c, ok := st.(store.BatchClock); ok {
			if d := c.LongestBatch(); d > after {
				w.WriteHeader(http.StatusServiceUnavailable)
				json.NewEncoder(w).Encode(map[string]string{"status": "stuck",
					"detail": fmt.Sprintf("a batch of writes has run for %s (a batch's statements time out after %s): every write waits behind it", d.Round(time.Second), sqlstore.BatchTimeout)})
				return
			}
		}
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	}
}

// observe logs each request (never its headers or body: they carry keys
// and customer data) and counts it for /metrics.
func observe(next http.Handler, logger *slog.Logger, reg *prometheus.Registry) http.Handler {
	requests := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "malipo_http_request_duration_seconds", Help: "HTTP requests by route and status.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"route", "status"})
	reg.MustRegister(requests)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		next.ServeHTTP(rec, r)
		d := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		requests.WithLabelValues(route, strconv.Itoa(rec.status)).Observe(d.Seconds())
		// The route, not the path: checkout and card-saving URLs carry
		// their secret token in the path. A failure of Malipo's own is
		// worth an operator's eye; the request ID ties it to the client's
		// report.
		level := slog.LevelDebug
		if rec.status == http.StatusInternalServerError {
			level = slog.LevelError
		}
		logger.Log(r.Context(), level, "request", "method", r.Method, "route", route, "status", rec.status, "duration", d)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// newRegistry is where every metric /metrics shows is registered.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// attemptMetrics counts notification attempts by flavor and result, and
// times them.
func attemptMetrics(reg *prometheus.Registry) func(malipo.Delivery, malipo.Attempt, bool) {
	attempts := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "malipo_notification_attempt_duration_seconds", Help: "Notification attempts by flavor and result (acknowledged, refused, error).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	}, []string{"flavor", "result"})
	reg.MustRegister(attempts)
	return func(d malipo.Delivery, a malipo.Attempt, acked bool) {
		result := "refused"
		switch {
		case acked:
			result = "acknowledged"
		case a.StatusCode == 0:
			result = "error"
		}
		attempts.WithLabelValues(string(d.Flavor), result).Observe(a.Latency.Seconds())
	}
}

// pausedMetric shows how many webhook receivers the dispatcher pauses for
// not answering.
func pausedMetric(reg *prometheus.Registry, paused func() int) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "malipo_notification_receivers_paused", Help: "Webhook receivers this node pauses attempts to, for leaving attempts in a row without an answer.",
	}, func() float64 { return float64(paused()) }))
}

// railMetrics counts live rails' calls by rail, operation and result, and
// shows each rail's circuit (1 while the router skips it).
func railMetrics(reg *prometheus.Registry) func(rail, op string, failed, open bool) {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "malipo_rail_calls_total", Help: "Calls to live rails by rail, operation and result (ok, failed: unreachable or outcome unknown).",
	}, []string{"rail", "op", "result"})
	circuit := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "malipo_rail_circuit_open", Help: "1 while a live rail keeps failing and is skipped by routing, else 0.",
	}, []string{"rail"})
	reg.MustRegister(calls, circuit)
	return func(rail, op string, failed, open bool) {
		result, isOpen := "ok", 0.0
		if failed {
			result = "failed"
		}
		if open {
			isOpen = 1
		}
		calls.WithLabelValues(rail, op, result).Inc()
		circuit.WithLabelValues(rail).Set(isOpen)
	}
}

// backlogMetrics shows, at each scrape, what waits in the store: the
// notification backlog and its age, and rail attempts without a verdict
// and the oldest one's age. Every node reports the same store, so alerts
// take the max over nodes.
type backlogMetrics struct {
	read                             func(context.Context) (store.Backlog, error)
	now                              func() time.Time
	due, dueAge, inFlight, flightAge *prometheus.Desc
}

func newBacklogMetrics(read func(context.Context) (store.Backlog, error), now func() time.Time) *backlogMetrics {
	return &backlogMetrics{read: read, now: now,
		due:       prometheus.NewDesc("malipo_notification_backlog", "Notifications due and not yet sent.", nil, nil),
		dueAge:    prometheus.NewDesc("malipo_notification_backlog_age_seconds", "How long the oldest notification due has waited (0 when none).", nil, nil),
		inFlight:  prometheus.NewDesc("malipo_rail_attempts_in_flight", "Rail attempts (payments, payouts, refunds) without a verdict yet.", nil, nil),
		flightAge: prometheus.NewDesc("malipo_rail_attempt_oldest_age_seconds", "How long ago the oldest rail attempt without a verdict was made (0 when none).", nil, nil),
	}
}

func (m *backlogMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.due
	ch <- m.dueAge
	ch <- m.inFlight
	ch <- m.flightAge
}

func (m *backlogMetrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := m.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.due, err)
		return
	}
	age := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return max(m.now().Sub(t).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(m.due, prometheus.GaugeValue, float64(b.DeliveriesDue))
	ch <- prometheus.MustNewConstMetric(m.dueAge, prometheus.GaugeValue, age(b.OldestDeliveryDue))
	ch <- prometheus.MustNewConstMetric(m.inFlight, prometheus.GaugeValue, float64(b.AttemptsInFlight))
	ch <- prometheus.MustNewConstMetric(m.flightAge, prometheus.GaugeValue, age(b.OldestAttemptSentAt))
}

// auditMetrics shows the result of the latest ledger audit this node ran.
func auditMetrics(reg *prometheus.Registry) func(malipo.AuditReport, error) {
	failed := prometheus.NewGauge(prometheus.GaugeOpts{Name: "malipo_ledger_audit_failed",
		Help: "1 if the latest ledger audit (malipo verify) found a problem or could not run, else 0."})
	last := prometheus.NewGauge(prometheus.GaugeOpts{Name: "malipo_ledger_audit_timestamp_seconds",
		Help: "When this node last ran the ledger audit (Unix time)."})
	reg.MustRegister(failed, last)
	return func(r malipo.AuditReport, err error) {
		v := 0.0
		if err != nil || !r.Clean() {
			v = 1
		}
		failed.Set(v)
		last.SetToCurrentTime()
	}
}

// admission marks each request that may start new work as one the store
// may refuse while overloaded (store.Shedding): its first write is refused
// at once while writes are queueing, or without running once it has
// waited in the queue too long. Reads (GET, HEAD) and rails' callbacks,
// which report money already moved, are never marked. Every 503 answer
// gets Retry-After, whatever face wrote it.
func admission(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !strings.HasPrefix(r.URL.Path, "/rails/") {
			r = r.WithContext(store.Shedding(r.Context()))
		}
		next.ServeHTTP(retryAfter{w}, r)
	})
}

// retryAfter adds "Retry-After: 1" to a 503 that names no time itself.
type retryAfter struct{ http.ResponseWriter }

func (w retryAfter) WriteHeader(code int) {
	if code == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (w retryAfter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// refuser answers, in its face's format, a request the node will not serve.
type refuser interface {
	Refuse(w http.ResponseWriter, r *http.Request, err error)
}

// busyAnswers answers a request refused for load as the face it was for
// would: provider faces by their path prefixes, the checkout and the
// dashboard with a page, anything else as the native API does.
func busyAnswers(native refuser, faces map[string]refuser) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for prefix, f := range faces {
			if strings.HasPrefix(r.URL.Path, prefix) {
				f.Refuse(w, r, malipo.ErrBusy)
				return
			}
		}
		if strings.HasPrefix(r.URL.Path, "/pay/") || strings.HasPrefix(r.URL.Path, "/dashboard/") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(busyPage))
			return
		}
		native.Refuse(w, r, malipo.ErrBusy)
	}
}

// busyPage is what a customer or a merchant sees when the node refuses a
// page for load: nothing happened, try again.
const busyPage = `<!doctype html><html lang="fr"><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
	`<title>Un instant… / One moment…</title><body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5">` +
	`<h1>Un instant…</h1><p>Le service est très sollicité. Rien n’a été fait ni débité : revenez en arrière et réessayez dans quelques secondes.</p>` +
	`<h1 lang="en">One moment…</h1><p lang="en">We are very busy. Nothing was done or charged: go back and try again in a few seconds.</p></body></html>`

// exemptFromShedding: health checks and metrics must answer while the node
// is busy (a balancer would take a busy node out of rotation; an operator
// needs to see it), and rails' callbacks report money already moved.
func exemptFromShedding(r *http.Request) bool {
	return r.URL.Path == "/healthz" || r.URL.Path == "/metrics" || strings.HasPrefix(r.URL.Path, "/rails/")
}

// storeMetrics shows how the store's group committers keep up, for a
// store that batches writes: the writes waiting for a committer, and of
// each batch its size, how long its oldest write waited for it, what the
// database took and whether it failed as a whole; and the transactions
// the database aborted (deadlocks, serialization failures).
func storeMetrics(reg prometheus.Registerer, st store.Store) {
	if q, ok := st.(interface{ Queued() int64 }); ok {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "malipo_store_writes_queued",
			Help: "Writes waiting for a committer."}, func() float64 { return float64(q.Queued()) }))
	}
	if a, ok := st.(interface{ Aborts() int64 }); ok {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "malipo_store_aborts_total",
			Help: "Transactions run again because the database aborted them (a deadlock, a serialization failure, a prepared statement gone) or their connection was lost before commit."}, func() float64 { return float64(a.Aborts()) }))
	}
	if c, ok := st.(store.BatchClock); ok {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "malipo_store_batch_running_seconds",
			Help: "How long the batch of writes running longest now has run (0: none is running). Past a minute, a committer is stuck and every write waits."},
			func() float64 { return c.LongestBatch().Seconds() }))
	}
	obs, ok := st.(store.BatchObserver)
	if !ok {
		return
	}
	seconds := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	writes := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "malipo_store_batch_writes",
		Help: "Writes (callers' transactions) per batch a committer ran.", Buckets: prometheus.ExponentialBuckets(1, 2, 11)})
	waited := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "malipo_store_batch_wait_seconds",
		Help: "How long each batch's oldest write waited for it: the queue and the gathering.", Buckets: seconds})
	took := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "malipo_store_batch_seconds",
		Help: "What the database took for each batch, from its first statement to its commit.", Buckets: seconds})
	failed := prometheus.NewCounter(prometheus.CounterOpts{Name: "malipo_store_batches_failed_total",
		Help: "Batches that failed as a whole (the database's error); their writes ran again alone."})
	reg.MustRegister(writes, waited, took, failed)
	obs.ObserveBatches(func(b store.Batch) {
		writes.Observe(float64(b.Writes))
		waited.Observe(b.Waited.Seconds())
		took.Observe(b.Took.Seconds())
		if b.Failed {
			failed.Inc()
		}
	})
}

// shedMetric counts requests refused for load, by the shedder and by the
// store's admission.
func shedMetric(s *shed.Shedder, st store.Store) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "malipo_requests_shed_total",
		Help: "Requests refused with 503 because the node was overloaded (processors or store)."}, func() float64 {
		var n int64
		if s != nil {
			n += s.Refused()
		}
		if q, ok := st.(interface{ Shed() int64 }); ok {
			n += q.Shed()
		}
		return float64(n)
	})
}
