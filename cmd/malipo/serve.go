package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/faces/checkout"
	"github.com/malipo/malipo/faces/cinetpay"
	"github.com/malipo/malipo/faces/clickpay"
	"github.com/malipo/malipo/faces/dashboard"
	"github.com/malipo/malipo/faces/ipay"
	"github.com/malipo/malipo/faces/kpay"
	"github.com/malipo/malipo/faces/native"
	"github.com/malipo/malipo/faces/paydunya"
	"github.com/malipo/malipo/faces/requestid"
	"github.com/malipo/malipo/faces/shed"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/notify"
	"github.com/malipo/malipo/rails"
	"github.com/malipo/malipo/rails/live"
	"github.com/malipo/malipo/rails/route"
	"github.com/malipo/malipo/rails/sandbox"
	"github.com/malipo/malipo/store"
)

type serveCmd struct {
	Addr           string        `envvar:"MALIPO_ADDR" default:"${addr}" help:"Listen address (env MALIPO_ADDR)."`
	BaseURL        string        `name:"base-url" envvar:"MALIPO_BASE_URL" default:"${base_url}" help:"Public URL customers reach, for checkout links (env MALIPO_BASE_URL; default http://localhost:PORT)."`
	PaymentTTL     time.Duration `name:"payment-ttl" envvar:"MALIPO_PAYMENT_TTL" default:"${payment_ttl}" help:"How long a payment stays payable (env MALIPO_PAYMENT_TTL)."`
	SandboxDelay   time.Duration `name:"sandbox-delay" envvar:"MALIPO_SANDBOX_DELAY" default:"${sandbox_delay}" help:"How long the simulated customer takes to answer a push (env MALIPO_SANDBOX_DELAY)."`
	RailTimeout    time.Duration `name:"rail-timeout" envvar:"MALIPO_RAIL_TIMEOUT" default:"${rail_timeout}" help:"How long one call to a rail may take (env MALIPO_RAIL_TIMEOUT)."`
	ReconcileAfter time.Duration `name:"reconcile-after" envvar:"MALIPO_RECONCILE_AFTER" default:"${reconcile_after}" help:"How long a rail attempt may go without a verdict before Malipo asks the rail (env MALIPO_RECONCILE_AFTER)."`
	DefaultRegion  string        `name:"default-region" envvar:"MALIPO_DEFAULT_REGION" default:"${region}" help:"Country (ISO 3166, e.g. RW) for phone numbers written without country code (env MALIPO_DEFAULT_REGION)."`
	WebhookTimeout time.Duration `name:"webhook-timeout" envvar:"MALIPO_WEBHOOK_TIMEOUT" default:"${webhook_timeout}" help:"How long one notification attempt may take (env MALIPO_WEBHOOK_TIMEOUT)."`
	WebhookWorkers int           `name:"webhook-workers" envvar:"MALIPO_WEBHOOK_WORKERS" default:"${webhook_workers}" help:"Notification attempts this node makes at once; it claims as many more ahead (env MALIPO_WEBHOOK_WORKERS)."`
	WebhookShare   int           `name:"webhook-receiver-share" envvar:"MALIPO_WEBHOOK_RECEIVER_SHARE" default:"0" help:"Attempts under way to one receiver (a URL's scheme and host) past which its deliveries wait for everyone else's, and the most a receiver not answering lately may have; 0 is a quarter of --webhook-workers (env MALIPO_WEBHOOK_RECEIVER_SHARE)."`
	PauseAfter     int           `name:"webhook-pause-after" envvar:"MALIPO_WEBHOOK_PAUSE_AFTER" default:"${webhook_pause_after}" help:"Attempts in a row a receiver may leave without any answer before this node pauses its attempts to it (env MALIPO_WEBHOOK_PAUSE_AFTER)."`
	PauseFor       time.Duration `name:"webhook-pause" envvar:"MALIPO_WEBHOOK_PAUSE" default:"${webhook_pause}" help:"How long the first pause of a receiver lasts; each trial that fails doubles it (env MALIPO_WEBHOOK_PAUSE)."`
	MaxPause       time.Duration `name:"webhook-max-pause" envvar:"MALIPO_WEBHOOK_MAX_PAUSE" default:"${webhook_max_pause}" help:"The longest a pause grows to (env MALIPO_WEBHOOK_MAX_PAUSE)."`
	PayDunyaAddr   string        `name:"paydunya-addr" envvar:"MALIPO_PAYDUNYA_ADDR" default:"${paydunya_addr}" help:"Also serve PayDunya's API at its original paths (/api/v1, /sandbox-api/v1) on this address (env MALIPO_PAYDUNYA_ADDR)."`
	CinetPayAddr   string        `name:"cinetpay-addr" envvar:"MALIPO_CINETPAY_ADDR" default:"${cinetpay_addr}" help:"Also serve CinetPay's API at its original paths (/v2/payment) on this address (env MALIPO_CINETPAY_ADDR)."`
	KPayAddr       string        `name:"kpay-addr" envvar:"MALIPO_KPAY_ADDR" default:"${kpay_addr}" help:"Also serve KPay's API at its original path (POST /) on this address (env MALIPO_KPAY_ADDR)."`
	IPayAddr       string        `name:"ipay-addr" envvar:"MALIPO_IPAY_ADDR" default:"${ipay_addr}" help:"Also serve iPay's B2B API at its original paths (/b2b/v1) on this address (env MALIPO_IPAY_ADDR)."`
	ClickPayAddr   string        `name:"clickpay-addr" envvar:"MALIPO_CLICKPAY_ADDR" default:"${clickpay_addr}" help:"Also serve ClickPay's API at its original paths (/api) on this address (env MALIPO_CLICKPAY_ADDR)."`
	LogLevel       string        `name:"log-level" envvar:"MALIPO_LOG_LEVEL" default:"${log_level}" enum:"debug,info,warn,error" help:"Log level (env MALIPO_LOG_LEVEL)."`
	LogFormat      string        `name:"log-format" envvar:"MALIPO_LOG_FORMAT" default:"text" enum:"text,json" help:"Log lines as text (key=value) or JSON, one object a line (env MALIPO_LOG_FORMAT)."`
	ReadTimeout    time.Duration `name:"read-timeout" envvar:"MALIPO_READ_TIMEOUT" default:"${read_timeout}" help:"How long a client may take to send a whole request, headers and body (env MALIPO_READ_TIMEOUT)."`
	AuditEvery     time.Duration `name:"audit-every" envvar:"MALIPO_AUDIT_EVERY" default:"1h" help:"How often this node audits the ledger (as malipo verify does) for the malipo_ledger_audit_failed metric; 0 never (env MALIPO_AUDIT_EVERY)."`
	OverloadAfter  time.Duration `name:"overload-latency" envvar:"MALIPO_OVERLOAD_LATENCY" default:"20ms" help:"When goroutines wait longer than this for a processor (p99 per 100 ms, three windows in a row), the node refuses a growing share of new requests at once with 503 and Retry-After until they do not; 0 turns this off (env MALIPO_OVERLOAD_LATENCY)."`
	QueueWait      time.Duration `name:"queue-wait" envvar:"MALIPO_QUEUE_WAIT" default:"25ms" help:"Writes waiting longer than this for a commit mean the node is overloaded: new requests are refused with 503 and Retry-After until the queue drains, and a request whose first write waits 4× this is refused without running (env MALIPO_QUEUE_WAIT)."`
	StopTimeout    time.Duration `name:"shutdown-timeout" envvar:"MALIPO_SHUTDOWN_TIMEOUT" default:"15s" help:"On SIGTERM, how long requests and notification attempts under way may take to finish; attempts still unanswered then are released to other nodes at once (env MALIPO_SHUTDOWN_TIMEOUT)."`
	CPUProfile     string        `name:"cpuprofile" hidden:"" help:"Write a CPU profile of this run to the file (for malipo bench --profile)."`
	collector
	TrustedProxies []string `name:"trusted-proxy" envvar:"MALIPO_TRUSTED_PROXIES" sep:"," help:"Addresses or CIDR ranges of proxies (load balancers) whose X-Forwarded-For names the client (env MALIPO_TRUSTED_PROXIES, comma-separated)."`
}

// collector is how a node's Go garbage collector runs; the bench's no-op
// ceiling runs with the same, so that the ratios to it compare the work
// and not the settings.
type collector struct {
	MemoryLimit string `name:"memory-limit" envvar:"MALIPO_MEMORY_LIMIT" default:"96MiB" help:"Soft limit on the Go heap (as GOMEMLIMIT; e.g. 128MiB, 1GiB, 0 for none): the collector works harder near it, so a node under load stays small; it never refuses to allocate (env MALIPO_MEMORY_LIMIT)."`
	GCPercent   int    `name:"gc-percent" envvar:"MALIPO_GC_PERCENT" default:"${gc_percent}" help:"How much the Go heap may grow past what a collection left live before the next starts (as GOGC; -1 for only near --memory-limit). A node's live heap is a few megabytes, so at Go's 100 it collects dozens of times a second under load (env MALIPO_GC_PERCENT)."`
}

// defaultGCPercent is --gc-percent's default, and the bench's in-process
// dispatcher's (see BENCHMARKS.md).
const defaultGCPercent = 400

// set applies the settings and returns what puts back the ones before:
// they are the process's, and whoever runs a command in process (the
// tests) gets them back when it returns.
func (c collector) set() (restore func(), err error) {
	limit, err := parseBytes(c.MemoryLimit)
	if err != nil {
		return nil, fmt.Errorf("--memory-limit: %w", err)
	}
	switch {
	case c.GCPercent < -1:
		return nil, errors.New("--gc-percent must be -1 (collect only near --memory-limit) or more")
	case c.GCPercent == -1 && limit == 0:
		return nil, errors.New("--gc-percent -1 needs a --memory-limit: without one the heap would never be collected")
	}
	oldLimit := debug.SetMemoryLimit(-1) // -1 reads it
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	oldPercent := debug.SetGCPercent(c.GCPercent)
	return func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}, nil
}

// server is an HTTP server that defends itself: a client must send its
// headers within 10 s and its whole request within --read-timeout, an
// answer may take 2 minutes to write, an idle connection lives 2 minutes,
// and headers are at most 64 KiB. Every listener uses one.
func (s serveCmd) server(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: min(10*time.Second, s.ReadTimeout), ReadTimeout: s.ReadTimeout,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
}

// logger writes --log-format lines at --log-level, each tagged with the
// ID of the request that caused it, if any.
func (s serveCmd) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(s.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if s.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(requestid.LogHandler(h))
}

func (s serveCmd) Run(c *cli, e *env) error {
	logger := s.logger(e.stderr)
	switch {
	case s.WebhookShare < 0:
		return errors.New("--webhook-receiver-share must be 0 (a quarter of --webhook-workers) or more")
	case s.PauseAfter < 1:
		return errors.New("--webhook-pause-after must be at least 1")
	case s.PauseFor <= 0 || s.MaxPause < s.PauseFor:
		return errors.New("--webhook-pause must be positive and --webhook-max-pause at least as long")
	}
	restore, err := s.collector.set()
	if err != nil {
		return err
	}
	defer restore()
	if s.CPUProfile != "" {
		stop, err := startCPUProfile(s.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}

	st, err := openStore(e.ctx, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	if l, ok := st.(interface{ SetLogger(*slog.Logger) }); ok {
		l.SetLogger(logger)
	}

	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	// Provider faces may also answer at their providers' own paths, each
	// on a listener of its own, so an SDK needs only its host changed.
	own := []struct {
		addr, name, path string
		ln               net.Listener
	}{
		{addr: s.PayDunyaAddr, name: "PayDunya", path: "/sandbox-api/v1 and /api/v1"},
		{addr: s.CinetPayAddr, name: "CinetPay", path: "/v2/payment"},
		{addr: s.KPayAddr, name: "KPay", path: "/"},
		{addr: s.IPayAddr, name: "iPay", path: "/b2b/v1"},
		{addr: s.ClickPayAddr, name: "ClickPay", path: "/api"},
	}
	for i := range own {
		if own[i].addr == "" {
			continue
		}
		if own[i].ln, err = net.Listen("tcp", own[i].addr); err != nil {
			ln.Close()
			for _, o := range own[:i] {
				if o.ln != nil {
					o.ln.Close()
				}
			}
			return fmt.Errorf("%s listener: %w", own[i].name, err)
		}
	}
	baseURL := s.BaseURL
	if baseURL == "" {
		baseURL = "http://" + displayAddr(ln.Addr())
	}

	clk := clock.Real{}
	flavors := map[malipo.Flavor]notify.Flavor{} // filled once the faces exist
	reg := newRegistry()
	liveRails, err := openLiveRails(e, c, st, baseURL, s.RailTimeout, reg, logger)
	if err != nil {
		ln.Close()
		return err
	}
	dispatcher := notify.New(notify.Config{Store: st, Clock: clk, Flavors: flavors, Timeout: s.WebhookTimeout,
		Workers: s.WebhookWorkers, ReceiverShare: s.WebhookShare, FailuresToPause: s.PauseAfter, PauseFor: s.PauseFor, MaxPause: s.MaxPause,
		Grace: s.StopTimeout, Logger: logger, OnAttempt: attemptMetrics(reg)})
	pausedMetric(reg, dispatcher.Paused)
	sb := sandbox.New(st, clk, s.SandboxDelay, logger)
	svc := gateway.New(gateway.Config{
		Store: st, Clock: clk, IDs: ids.New(clk.Now, nil), Logger: logger, BaseURL: baseURL,
		Rails:      map[malipo.Mode]rails.Set{malipo.ModeTest: sb.Set(), malipo.ModeLive: liveRails.Set()},
		PaymentTTL: s.PaymentTTL, DefaultRegion: s.DefaultRegion, Wake: dispatcher.Wake, Courier: dispatcher,
		RailTimeout: s.RailTimeout, ReconcileAfter: s.ReconcileAfter,
	})
	sb.Connect(svc)
	fs := newFaces(svc, clk, logger)
	api, pd, cp, kp, ip, cl := fs.native, fs.paydunya, fs.cinetpay, fs.kpay, fs.ipay, fs.clickpay
	flavors[malipo.FlavorNative], flavors[malipo.FlavorPayDunya] = api.Flavor(), pd.Flavor()
	flavors[malipo.FlavorCinetPay], flavors[malipo.FlavorKPay], flavors[malipo.FlavorIPay] = cp.Flavor(), kp.Flavor(), ip.Flavor()
	flavors[malipo.FlavorClickPay] = cl.Flavor()

	demo, err := svc.EnsureDemo(e.ctx)
	if err != nil {
		return fmt.Errorf("create demo merchant: %w", err)
	}

	trusted, err := parsePrefixes(s.TrustedProxies)
	if err != nil {
		return err
	}
	requestIDs := ids.New(clk.Now, nil)
	if q, ok := st.(interface{ SetQueueTarget(time.Duration) }); ok {
		q.SetQueueTarget(s.QueueWait)
	}
	workers, stopWorkers := context.WithCancel(context.WithoutCancel(e.ctx))
	var shedder *shed.Shedder
	if s.OverloadAfter > 0 {
		shedder = shed.New(shed.Config{Threshold: s.OverloadAfter})
		go shedder.Run(workers)
	}
	reg.MustRegister(shedMetric(shedder, st))
	storeMetrics(reg, st)
	// Every listener: a request ID first, then the shedder (refusing costs
	// least before anything else is done), then the store's admission.
	withID := func(h http.Handler, refuse func(http.ResponseWriter, *http.Request)) http.Handler {
		h = admission(h)
		if shedder != nil {
			h = shedder.Handler(h, refuse, exemptFromShedding)
		}
		return requestid.Handler(h, func() string { return requestIDs.ID("req") })
	}
	refuseByPath := busyAnswers(api, map[string]refuser{"/paydunya/": pd, "/cinetpay/": cp, "/kpay/": kp, "/ipay/": ip, "/clickpay/": cl})
	srv := s.server(withID(fromProxy(newHandler(api, []face{{pd, "/paydunya"}, {cp, "/cinetpay"}, {kp, "/kpay"}, {ip, "/ipay"}, {cl, "/clickpay"}},
		checkout.New(svc, logger, nil), st, reg, logger, func(mux *http.ServeMux) { liveRails.Register(mux, svc) },
		dashboardPages(svc, logger, liveRails).Register), trusted), refuseByPath), logger)
	reg.MustRegister(newBacklogMetrics(svc.Backlog, clk.Now))
	done := runWorkers(workers, svc, sb, s.ReconcileAfter, logger)
	audited := make(chan struct{})
	go func() {
		defer close(audited)
		runAudits(workers, svc, s.AuditEvery, auditMetrics(reg), logger)
	}()
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		dispatcher.Run(workers)
	}()

	serveErr := make(chan error, 1+len(own))
	servers := []*http.Server{srv}
	providers := map[string]interface {
		refuser
		Register(*http.ServeMux, string)
	}{"PayDunya": pd, "CinetPay": cp, "KPay": kp, "iPay": ip, "ClickPay": cl}
	for _, o := range own {
		if o.ln == nil {
			continue
		}
		mux := http.NewServeMux()
		p := providers[o.name]
		p.Register(mux, "")
		ownSrv := s.server(withID(fromProxy(mux, trusted), func(w http.ResponseWriter, r *http.Request) { p.Refuse(w, r, malipo.ErrBusy) }), logger)
		go func() { serveErr <- ownSrv.Serve(o.ln) }()
		servers = append(servers, ownSrv)
		fmt.Fprintf(e.stdout, "%s's API is also at http://%s%s\n", o.name, displayAddr(o.ln.Addr()), o.path)
	}
	if demo != nil {
		printDemo(e, baseURL, demo)
	}
	// Last, so that whoever waits for this line has read all the rest.
	fmt.Fprintf(e.stdout, "Malipo is listening on %s (%s, sandbox rails in test mode, %s)\n", baseURL, describeStore(c.DB), liveRails.Describe())
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err = <-serveErr:
	case <-e.ctx.Done():
		logger.Info("shutting down", "within", s.StopTimeout)
	}
	// Stop accepting, let requests and notification attempts under way
	// finish within the bound, and release what is cut short.
	stopWorkers()
	shutdown, cancel := context.WithTimeout(context.Background(), s.StopTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, hs := range servers {
		wg.Go(func() {
			if err := hs.Shutdown(shutdown); err != nil {
				logger.Warn("requests still under way at the shutdown timeout were cut", "err", err)
				hs.Close()
			}
		})
	}
	wg.Wait()
	<-done
	<-sending
	<-audited
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func displayAddr(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func printDemo(e *env, baseURL string, d *gateway.Demo) {
	fmt.Fprintf(e.stdout, `
First start: created the demo merchant %q (%s).
Its test secret key, shown only this once:

  %s

Create a payment and push it to a sandbox phone (numbers ending 0000 approve):

  curl -s %s/v1/payments -H "Authorization: Bearer %s" -d '{"amount":5000,"currency":"XOF","reference":"order-1","method":"mobile_money","phone":"+2250707120000"}'

`, d.Merchant.Name, d.Merchant.ID, d.SecretKey, strings.TrimRight(baseURL, "/"), d.SecretKey)
}

// runWorkers starts the background jobs: expiring payments, making
// collections available once settled, asking rails about attempts without
// a verdict, applying rail outcomes whose first application failed,
// delivering the sandbox's due answers, and forgetting old idempotency
// keys. Every node may run them; the store hands each object to one node.
func runWorkers(ctx context.Context, svc *gateway.Service, sb *sandbox.Rails, reconcileAfter time.Duration, logger *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	// drain runs a job until it finds less than a full batch to do.
	drain := func(name string, job func(context.Context, int) (int, error)) {
		for {
			n, err := job(ctx, 100)
			if err != nil && ctx.Err() == nil {
				logger.Error(name, "err", err)
			}
			if err != nil || n < 100 {
				return
			}
		}
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		// Attempts are asked about ReconcileAfter after their rail call, so
		// look for due ones at least twice as often (and at most every 5 s).
		reconcile := time.NewTicker(min(max(reconcileAfter/2, 100*time.Millisecond), 5*time.Second))
		forget := time.NewTicker(time.Hour)
		defer tick.Stop()
		defer reconcile.Stop()
		defer forget.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				drain("expire payments", svc.ExpireDue)
				drain("settle collections", svc.SettleDue)
				drain("deliver sandbox answers", func(ctx context.Context, _ int) (int, error) { return sb.Deliver(ctx) })
			case <-reconcile.C:
				drain("reconcile rail attempts", svc.Reconcile)
				drain("apply rail outcomes", svc.ApplyInbox)
			case <-forget.C:
				if _, err := svc.ForgetIdempotencyKeys(ctx); err != nil {
					logger.Error("forget idempotency keys", "err", err)
				}
			}
		}
	}()
	return done
}

// runAudits audits the ledger now and then every interval until ctx ends,
// telling report each result; interval 0 means never.
func runAudits(ctx context.Context, svc *gateway.Service, interval time.Duration, report func(malipo.AuditReport, error), logger *slog.Logger) {
	if interval <= 0 {
		return
	}
	for {
		r, err := svc.Verify(ctx)
		if ctx.Err() != nil {
			return
		}
		report(r, err)
		if err != nil || !r.Clean() {
			logger.Error("the ledger audit failed; run malipo verify for the details", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// openLiveRails opens the gateway's live rails, which must all open: a
// node that cannot read its rails' credentials does not start.
func openLiveRails(e *env, c *cli, st store.Store, baseURL string, timeout time.Duration, reg *prometheus.Registry, logger *slog.Logger) (*live.Rails, error) {
	var list []malipo.Rail
	if err := st.Read(e.ctx, func(tx store.Tx) (err error) {
		list, err = tx.ListRails()
		return err
	}); err != nil {
		return nil, err
	}
	keys, err := c.keyring(e)
	if err != nil {
		return nil, err
	}
	return live.Open(list, keys, live.Options{BaseURL: baseURL, Client: &http.Client{Timeout: timeout}, Logger: logger,
		Router: route.Options{OnCall: railMetrics(reg)}})
}

// faces are the wire protocols Malipo speaks. Making them registers each
// provider's flavor with the service, which every command that creates
// integrations needs.
type faces struct {
	native   *native.API
	paydunya *paydunya.Face
	cinetpay *cinetpay.Face
	kpay     *kpay.Face
	ipay     *ipay.Face
	clickpay *clickpay.Face
}

func newFaces(svc *gateway.Service, clk clock.Clock, logger *slog.Logger) faces {
	return faces{
		native:   native.New(svc, logger),
		paydunya: paydunya.New(svc, logger),
		cinetpay: cinetpay.New(svc, cinetpay.Config{Clock: clk, Logger: logger}),
		kpay:     kpay.New(svc, logger),
		ipay:     ipay.New(svc, clk, logger),
		clickpay: clickpay.New(svc, clk, logger, 0),
	}
}

// dashboardPages is the dashboard, showing the operator the live rails'
// circuits.
func dashboardPages(svc *gateway.Service, logger *slog.Logger, live *live.Rails) *dashboard.Pages {
	d := dashboard.New(svc, logger)
	if live != nil && live.Router != nil {
		d.RailHealth = live.Router.Health
	}
	return d
}

// startCPUProfile profiles the process into file until stop.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// parseBytes reads a size: a number of bytes with an optional KiB, MiB or
// GiB suffix; 0 means none.
func parseBytes(v string) (int64, error) {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size such as 128MiB", v)
	}
	return n * mult, nil
}
