package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/store"
)

// Config wires a Dispatcher. Zero fields get the defaults in their comments.
type Config struct {
	Store   store.Store
	Clock   clock.Clock
	Flavors map[malipo.Flavor]Flavor
	// Clients per mode; default NewClient(mode, Timeout, Workers).
	Clients map[malipo.Mode]*http.Client
	// Schedule of attempts; default DefaultSchedule.
	Schedule []time.Duration
	// Timeout of one attempt; default 15 s.
	Timeout time.Duration
	// Workers is how many attempts run at once on this node; default
	// DefaultWorkers. An attempt spends most of its time waiting (for the
	// receiver, then for its record's commit), so many run on few cores.
	// The node claims deliveries ahead, waiting for a worker, so that no
	// worker waits for a claim's commit: as many again as Workers, or up
	// to three times as many while the workers get through them within
	// aheadFor (see Dispatcher.ahead).
	Workers int
	// Poll is how often Run looks for due deliveries when nothing wakes
	// it (deliveries written by other nodes, retries); default 1 s.
	Poll time.Duration
	// Jitter spreads each retry by up to ± this fraction of its delay, so
	// that many deliveries failing together do not retry together;
	// default 0.1. Negative means none.
	Jitter float64
	// Rand returns uniform numbers in [0, 1) for the jitter.
	Rand func() float64
	// Grace is how long attempts under way may go on once Run is told to
	// stop; default Timeout. Those still unanswered then are cut and
	// their deliveries released, due at once, for another node.
	Grace time.Duration
	// FailuresToPause attempts in a row to one receiver (a URL's scheme
	// and host) that get no answer at all (timed out, refused, dropped)
	// pause this node's attempts to it (default 5): for PauseFor (default
	// 30 s), doubled at each pause that follows without an answer in
	// between, up to MaxPause (default 10 min). Then one trial attempt
	// goes; any answer ends the pause. An attempt due while its receiver
	// is paused is recorded as not sent, with a PausedError, and its
	// delivery moves on its schedule as if the receiver had not answered,
	// without holding a worker for the timeout.
	FailuresToPause int
	PauseFor        time.Duration
	MaxPause        time.Duration
	// ReceiverShare is how many attempts under way to one receiver make
	// its due deliveries wait until everyone else's are claimed (default
	// a quarter of Workers), and how many a receiver not answering lately
	// may have (see inFlight). A receiver alone with deliveries due still
	// gets every free worker once it answers.
	ReceiverShare int
	// OnAttempt, if set, is told of every attempt sent and recorded (for
	// metrics); attempts not sent because their receiver is paused are
	// not told.
	OnAttempt func(d malipo.Delivery, a malipo.Attempt, acknowledged bool)
	Logger    *slog.Logger
}

// DefaultWorkers is how many attempts a node makes at once unless told.
// Drains ran faster at 128 than at 64 on both stores, with paced latency
// unchanged (BENCHMARKS.md); 256 was faster still, but each worker may
// hold a connection to the same merchant's receiver.
const DefaultWorkers = 128

// The pause's defaults (see Config.FailuresToPause).
const (
	DefaultFailuresToPause = 5
	DefaultPauseFor        = 30 * time.Second
	DefaultMaxPause        = 10 * time.Minute
)

// Dispatcher sends due deliveries. Any number of nodes may run one over the
// same store: a claimed delivery is leased to its node for long enough to
// make and record one attempt, so a node that dies mid-attempt only delays
// that delivery until the lease runs out.
type Dispatcher struct {
	cfg  Config
	wake chan struct{}
	// slots holds a token for each delivery this node has claimed and not
	// yet attempted: up to Workers under way and as many claimed ahead;
	// beyond holds one for each claimed further ahead (see ahead), up to
	// maxAhead-1 times Workers.
	slots, beyond chan struct{}
	// finished counts the attempts this node's workers have made, for
	// the pace ahead reads.
	finished pace
	// A worker hands its answer to be recorded and takes the next
	// delivery at once: its slot is not held through the record's commit,
	// which the group committer shares among many. recording bounds the
	// records under way; records is waited for before Run or RunDue
	// returns.
	recording chan struct{}
	records   sync.WaitGroup
	receivers receivers
	inFlight  inFlight
	// othersIdleUntil (Unix ns, real time) is when claims look again for
	// deliveries of receivers that are not busy, after one found none.
	othersIdleUntil atomic.Int64
	// carrying holds Run's queue while Run takes carried deliveries
	// (see Carry); nil otherwise. carried counts those queued or under
	// way, up to Workers.
	carrying struct {
		sync.RWMutex
		q *jobQueue
	}
	carried atomic.Int64
}

// othersIdle is how long claims stop looking for deliveries of receivers
// that are not busy once one found none: the look scans every due
// delivery, and a node serving one merchant would scan its whole backlog
// at every claim. It bounds how long another receiver's delivery may wait
// behind a busy one's backlog for a free worker.
const othersIdle = 250 * time.Millisecond

// MaxResponseBytes caps how much of an answer is read; ResponseKeepBytes
// how much of it each attempt keeps for the merchant to read.
const (
	MaxResponseBytes  = 64 << 10
	ResponseKeepBytes = 1 << 10
)

// maxRetryAfter bounds how long a receiver's Retry-After can hold a delivery.
const maxRetryAfter = 24 * time.Hour

// New returns a dispatcher.
func New(cfg Config) *Dispatcher {
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = cfg.Timeout
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 0.1
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.FailuresToPause <= 0 {
		cfg.FailuresToPause = DefaultFailuresToPause
	}
	if cfg.PauseFor <= 0 {
		cfg.PauseFor = DefaultPauseFor
	}
	if cfg.MaxPause < cfg.PauseFor {
		cfg.MaxPause = max(DefaultMaxPause, cfg.PauseFor)
	}
	if cfg.ReceiverShare <= 0 {
		cfg.ReceiverShare = max(1, cfg.Workers/4)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	clients := map[malipo.Mode]*http.Client{}
	for _, m := range []malipo.Mode{malipo.ModeTest, malipo.ModeLive} {
		clients[m] = cfg.Clients[m]
		if clients[m] == nil {
			clients[m] = NewClient(m, cfg.Timeout, cfg.Workers)
		}
	}
	cfg.Clients = clients
	return &Dispatcher{cfg: cfg, wake: make(chan struct{}, 1), slots: make(chan struct{}, 2*cfg.Workers),
		beyond:    make(chan struct{}, (maxAhead-1)*cfg.Workers),
		recording: make(chan struct{}, 4*cfg.Workers), inFlight: inFlight{now: time.Now},
		receivers: receivers{failuresToPause: cfg.FailuresToPause, pauseFor: cfg.PauseFor, maxPause: cfg.MaxPause}}
}

// Paused counts the receivers this node is pausing attempts to now (see
// Config.FailuresToPause), those being tried included.
func (d *Dispatcher) Paused() int { return d.receivers.paused(d.now()) }

// Wake tells Run that deliveries may be due now. It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// lease is how long a claimed delivery is kept from other workers: one
// attempt, its recording, and room to spare. One that waits longer for a
// worker (behind others claimed ahead, while a receiver turns slow) has
// its lease renewed before its attempt (see attempt).
func (d *Dispatcher) lease() time.Duration { return 2*d.cfg.Timeout + 5*time.Second }

// recordTime is what an attempt's recording may take, kept in hand
// before an attempt starts.
const recordTime = time.Second

func (d *Dispatcher) now() time.Time { return d.cfg.Clock.Now().Truncate(time.Microsecond) }

// Run sends deliveries as they fall due until ctx ends. Then it claims no
// more and gives the attempts under way Config.Grace to finish and be
// recorded; those it cuts short, and those claimed ahead that no worker
// started, it releases, so another node sends them at once instead of
// waiting out their leases.
//
// It claims deliveries for its free workers and more ahead (see ahead):
// a claim waits for its commit (on SQLite, for a group commit's batch and
// its fsync), and workers with nothing claimed for them sat idle through
// it. Deliveries of receivers already busy (see inFlight) wait behind
// the others: a free worker takes another receiver's delivery first, so a
// slow receiver's backlog claimed ahead does not hold up everyone else's.
// A delivery claimed ahead waits about one attempt's timeout at most for
// a worker (beyond Workers ahead, only as many are claimed as the workers
// lately finished within aheadFor), unless it waits behind others; one
// whose lease has run short by the time a worker takes it has its lease
// renewed first (see attempt).
func (d *Dispatcher) Run(ctx context.Context) {
	attempts, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	var wg sync.WaitGroup
	defer func() {
		finished := make(chan struct{})
		go func() { wg.Wait(); d.records.Wait(); close(finished) }()
		grace := time.NewTimer(d.cfg.Grace)
		defer grace.Stop()
		select {
		case <-finished:
		case <-grace.C:
			cut()
			<-finished
		}
	}()
	// The workers live as long as Run: a goroutine started per attempt
	// grew its stack anew for every one (rendering an event decodes
	// JSON, deep), a twentieth of a delivery's CPU.
	// Each queue has room for every delivery claimed (a slot each) and
	// every one carried, so that queueing never blocks.
	room := cap(d.slots) + cap(d.beyond) + d.cfg.Workers
	q := jobQueue{first: make(chan job, room), behind: make(chan job, room)}
	for range d.cfg.Workers {
		wg.Go(func() {
			for {
				j, ok := q.next()
				if !ok {
					return
				}
				if ctx.Err() != nil {
					d.giveBack(j) // claimed ahead; not started before the stop
				} else {
					d.attempt(attempts, j)
					d.finished.add()
				}
				d.done(j)
			}
		})
	}
	d.carrying.Lock()
	d.carrying.q = &q
	d.carrying.Unlock()
	// Two claim loops, so that one claims while the other waits for its
	// claim's commit.
	var loops sync.WaitGroup
	for range claimLoops {
		loops.Go(func() { d.claimLoop(ctx, q) })
	}
	loops.Wait()
	d.carrying.Lock()
	d.carrying.q = nil
	d.carrying.Unlock()
	close(q.first)
	close(q.behind)
	// What was claimed ahead goes back now, not as workers free from the
	// attempts under way (which may take the whole grace).
	for range d.cfg.Workers {
		wg.Go(func() {
			for j, ok := q.next(); ok; j, ok = q.next() {
				d.giveBack(j)
				d.done(j)
			}
		})
	}
}

// done frees what a job held: its claim's slot, or its place among the
// carried.
func (d *Dispatcher) done(j job) {
	switch {
	case j.carried:
		d.carried.Add(-1)
	case j.beyond:
		<-d.beyond
	default:
		<-d.slots
	}
}

// Lease is how long a delivery written now to url should be leased to
// this node for Carry to take it once written, and whether Carry would
// take it: Run is running, fewer than Workers carried deliveries wait or
// are under way, and the receiver is not stalled (see inFlight). When it
// says no, the delivery is written due now, for a claim.
func (d *Dispatcher) Lease(url string) (until time.Time, ok bool) {
	d.carrying.RLock()
	running := d.carrying.q != nil
	d.carrying.RUnlock()
	if !running || d.carried.Load() >= int64(d.cfg.Workers) ||
		d.inFlight.isStalled(receiverOfURL(url), d.cfg.ReceiverShare) {
		return time.Time{}, false
	}
	return d.now().Add(d.lease()), true
}

// Carry takes a delivery this node has just written and committed,
// already leased to it as Lease said (its Lease 1, due when the lease
// ends), with its event and its endpoint or integration, and attempts it
// as if a claim had leased it: without the claim's transaction, and
// without waiting for one. A delivery it cannot take after all (Run
// stopped, or too many are carried since Lease said yes) is released,
// due at once for a claim; one written but never carried (the node
// stopped first) waits out its lease, as a claimed one would.
//
// Why: a claim is a transaction of its own, which reads back the rows the
// change has just written; the node that wrote them has them at hand.
func (d *Dispatcher) Carry(del malipo.Delivery, ev malipo.Event, ep *malipo.Endpoint, in malipo.Integration) {
	j := job{msg: Message{Delivery: del, Event: ev, Endpoint: ep, Integration: in}, receiver: receiverOfURL(del.URL), carried: true}
	d.carrying.RLock()
	q := d.carrying.q
	taken := q != nil && d.carried.Add(1) <= int64(d.cfg.Workers)
	if taken {
		d.inFlight.start(j.receiver)
		d.queue(*q, j)
	} else if q != nil {
		d.carried.Add(-1)
	}
	d.carrying.RUnlock()
	if !taken {
		d.release(del)
		d.Wake()
	}
}

// jobQueue holds claimed deliveries until a worker takes them: those of
// receivers that were busy when queued (see inFlight) behind the rest.
type jobQueue struct {
	first, behind chan job
}

// queue puts j in q for a worker: behind the rest if its receiver is
// busy (see inFlight).
func (d *Dispatcher) queue(q jobQueue, j job) {
	if d.inFlight.isBusy(j.receiver, d.cfg.ReceiverShare) {
		q.behind <- j
	} else {
		q.first <- j
	}
}

// next returns the next job, one from first if any waits, and false once
// both are closed and empty.
func (q jobQueue) next() (job, bool) {
	select {
	case j, ok := <-q.first:
		if ok {
			return j, true
		}
	default:
	}
	select {
	case j, ok := <-q.first:
		if ok {
			return j, true
		}
		j, ok = <-q.behind
		return j, ok
	case j, ok := <-q.behind:
		if ok {
			return j, true
		}
		j, ok = <-q.first
		return j, ok
	}
}

// giveBack releases a claimed delivery no worker started: due again at
// once, for this node or another.
func (d *Dispatcher) giveBack(j job) {
	d.inFlight.finish(j.receiver, d.cfg.ReceiverShare, false)
	d.release(j.msg.Delivery)
}

const claimLoops = 2

// How many deliveries a node claims ahead of its workers. As many as
// Workers always (slots): when attempts take long, one claimed ahead
// waits about one attempt's timeout at most, well within its lease. More,
// up to maxAhead times Workers (beyond), while the workers get through
// them within aheadFor at the pace of the last paceWindow: a claim's
// commit can wait behind a batch of records (on SQLite, one writer
// commits both), and with only Workers ahead the workers sat idle
// through it, nearly half of the time in a drain (BENCHMARKS.md, "Claims
// further ahead").
const (
	maxAhead   = 3
	aheadFor   = 100 * time.Millisecond
	paceWindow = 100 * time.Millisecond
)

// ahead is how many deliveries may wait claimed for a worker now: what
// the workers finish in aheadFor at their recent pace, at least Workers
// and at most maxAhead times Workers.
func (d *Dispatcher) ahead() int {
	recent := int(d.finished.perSecond(time.Now()) * aheadFor.Seconds())
	return min(max(recent, d.cfg.Workers), maxAhead*d.cfg.Workers)
}

// pace counts finished attempts and reports how many finished a second
// over the last window of at least paceWindow, in real time (a test's
// fake clock does not move while attempts run).
type pace struct {
	n     atomic.Int64
	mu    sync.Mutex
	at    time.Time // when the window now counting began
	count int64     // n then
	rate  float64   // over the window before
}

func (p *pace) add() { p.n.Add(1) }

func (p *pace) perSecond(now time.Time) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if took := now.Sub(p.at); took >= paceWindow {
		n := p.n.Load()
		if !p.at.IsZero() {
			p.rate = float64(n-p.count) / took.Seconds()
		}
		p.at, p.count = now, n
	}
	return p.rate
}

// claimLoop claims due deliveries for free slots and queues them for the
// workers, until ctx ends. Each job holds a slot, so queueing never
// blocks.
func (d *Dispatcher) claimLoop(ctx context.Context, q jobQueue) {
	poll := time.NewTicker(d.cfg.Poll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case d.slots <- struct{}{}:
		}
		n := 1
	more:
		for n < cap(d.slots) {
			select {
			case d.slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		further, limit := 0, d.cfg.Workers+d.ahead()
	beyond:
		for len(d.slots)+len(d.beyond) < limit {
			select {
			case d.beyond <- struct{}{}:
				further++
			default:
				break beyond
			}
		}
		asked := n + further
		claimed, err := d.claim(ctx, asked)
		if err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("claim deliveries", "err", err)
		}
		// What was not claimed frees the tokens from beyond first.
		unused := asked - len(claimed)
		for i := range unused {
			if i < further {
				<-d.beyond
			} else {
				<-d.slots
			}
		}
		further = max(further-unused, 0)
		for i, j := range claimed {
			j.beyond = i < further
			d.queue(q, j)
		}
		if err == nil && len(claimed) == asked {
			continue // there may be more due at once
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-poll.C:
		}
	}
}

// RunDue makes every attempt due now and waits for them, until nothing is
// due; it reports how many attempts it made. Tests drive a fake clock with
// it.
func (d *Dispatcher) RunDue(ctx context.Context) (int, error) {
	total := 0
	for {
		jobs, err := d.claim(ctx, d.cfg.Workers)
		if err != nil || len(jobs) == 0 {
			return total, err
		}
		var wg sync.WaitGroup
		for _, j := range jobs {
			wg.Go(func() { d.attempt(ctx, j) })
		}
		wg.Wait()
		d.records.Wait()
		total += len(jobs)
	}
}

// job is one claimed delivery with what its attempt needs.
type job struct {
	msg Message
	// gone explains why the delivery can no longer be sent (its endpoint
	// was deleted or disabled); empty when it can.
	gone string
	// receiver is the delivery URL's, counted in flight from its claim to
	// the end of its attempt.
	receiver string
	// carried marks a delivery this node wrote and took at once (Carry),
	// which holds no claim's slot; beyond, one claimed further ahead,
	// which holds a token of Dispatcher.beyond instead of a slot.
	carried, beyond bool
}

// claim leases up to limit due deliveries with their events, and loads
// their endpoints and integrations in the same transaction: the writer has
// the pages it just wrote at hand (on SQLite a read connection would fetch
// them again after every commit), and a load that fails undoes the lease
// instead of leaving the deliveries to wait it out. It is a store lease
// (store.Store's Lease): on PostgreSQL it neither waits for a batch nor
// for its commit to be durable, since a lease lost in a crash only means a
// delivery is sent again.
func (d *Dispatcher) claim(ctx context.Context, limit int) ([]job, error) {
	var jobs []job
	err := d.cfg.Store.Lease(ctx, func(tx store.Tx) error {
		jobs = nil
		// The time is read here, as the transaction runs, not when the
		// claim was asked for: a claim that waited to run must not hand
		// out a lease that has already run out.
		now := d.now()
		until := now.Add(d.lease())
		busy, stalled := d.inFlight.busy(d.cfg.ReceiverShare)
		lookForOthers := len(busy) > 0 && time.Now().UnixNano() >= d.othersIdleUntil.Load()
		// Stalled receivers are always left out: their backlog would be
		// leased only to be given back (see inFlight.limit).
		except := stalled
		if lookForOthers {
			except = busy
		}
		claimed, err := tx.LeaseDueDeliveries(now, until, limit, except)
		if err == nil && lookForOthers && len(claimed) < limit {
			// Nobody else has as many due: the busy receivers that are
			// not stalled take the rest. A claim that found nobody else
			// scanned every due delivery for them; the claims of the
			// next moment do not look again.
			if len(claimed) == 0 {
				d.othersIdleUntil.Store(time.Now().Add(othersIdle).UnixNano())
			}
			var more []store.Leased
			more, err = tx.LeaseDueDeliveries(now, until, limit-len(claimed), stalled)
			claimed = append(claimed, more...)
		}
		if err != nil || len(claimed) == 0 {
			return err
		}
		claimed, receivers, back := d.inFlight.limit(claimed, d.cfg.ReceiverShare)
		if len(back) > 0 {
			if err := tx.GiveBackDeliveries(back, now); err != nil {
				return err
			}
		}
		type endpointState struct {
			ep   malipo.Endpoint
			gone string
		}
		endpoints := map[string]endpointState{}
		integrations := map[string]malipo.Integration{}
		jobs = make([]job, len(claimed))
		for i, del := range claimed {
			j := job{msg: Message{Delivery: del.Delivery, Event: del.Event}, receiver: receivers[i]}
			if del.EndpointID != "" {
				st, ok := endpoints[del.EndpointID]
				if !ok {
					// Listed, not read by ID: a read by ID in a write
					// transaction locks the endpoint until the claim
					// commits, and a merchant's list is read once a batch.
					eps, err := tx.ListEndpoints(del.MerchantID, del.Mode)
					if err != nil {
						return err
					}
					st.gone = "not sent: the webhook endpoint was deleted"
					for _, ep := range eps {
						if ep.ID == del.EndpointID {
							st.ep, st.gone = ep, ""
							if ep.Disabled {
								st.gone = "not sent: the webhook endpoint is disabled"
							}
						}
					}
					endpoints[del.EndpointID] = st
				}
				ep := st.ep
				j.gone, j.msg.Endpoint = st.gone, &ep
			}
			if del.IntegrationID != "" {
				in, ok := integrations[del.IntegrationID]
				if !ok {
					if in, err = tx.GetIntegration(del.IntegrationID); err != nil {
						return err
					}
					integrations[del.IntegrationID] = in
				}
				j.msg.Integration = in
			}
			jobs[i] = j
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		d.inFlight.start(j.receiver)
	}
	return jobs, nil
}

// result is what one attempt found out.
type result struct {
	at         time.Time
	status     int
	latency    time.Duration
	body       []byte
	err        error
	acked      bool
	abandon    bool // never to be tried again
	retryAfter time.Duration
	paused     bool // not sent: its receiver is paused
}

// attempt sends one delivery and records what happened. An attempt cut
// short because the node is stopping is not recorded: its delivery is
// released, due again at once.
func (d *Dispatcher) attempt(ctx context.Context, j job) {
	answered := false
	defer func() {
		if d.inFlight.finish(j.receiver, d.cfg.ReceiverShare, answered) {
			d.Wake() // a claim may give it more now
		}
	}()
	// An attempt must end, recorded, within its lease: with less lease
	// left than an attempt may take (the claim's commit was slow, or it
	// waited long behind others), another node could claim it midway. Its
	// lease is renewed first, as a claim would lease it now; one no longer
	// this node's is left alone.
	if left := j.msg.Delivery.NextAttemptAt.Sub(d.now()); left < d.cfg.Timeout+recordTime && !d.renew(&j.msg.Delivery) {
		d.Wake()
		return
	}
	r := d.send(ctx, j)
	answered = r.status != 0
	if ctx.Err() != nil {
		d.release(j.msg.Delivery)
		return
	}
	d.recording <- struct{}{}
	d.records.Go(func() {
		defer func() { <-d.recording }()
		d.recordAttempt(ctx, j, r)
	})
}

// recordAttempt records an attempt's answer and tells of it.
func (d *Dispatcher) recordAttempt(ctx context.Context, j job, r result) {
	a, err := d.record(ctx, j.msg.Delivery, r)
	if err != nil {
		d.cfg.Logger.Error("record delivery attempt", "delivery", j.msg.Delivery.ID, "err", err)
		return
	}
	if r.paused {
		return // told once, when the pause began
	}
	if d.cfg.OnAttempt != nil {
		d.cfg.OnAttempt(j.msg.Delivery, a, r.acked)
	}
	if !r.acked {
		// The URL stays out of the log: merchants put tokens in them.
		var uerr *url.Error
		logErr := r.err
		if errors.As(r.err, &uerr) {
			logErr = uerr.Err
		}
		d.cfg.Logger.Info("notification not acknowledged", "delivery", j.msg.Delivery.ID, "event", j.msg.Event.ID,
			"status", r.status, "err", logErr)
	}
}

func (d *Dispatcher) send(ctx context.Context, j job) result {
	r := result{at: d.now()}
	if j.gone != "" {
		r.err, r.abandon = errors.New(j.gone), true
		return r
	}
	del := j.msg.Delivery
	flavor, ok := d.cfg.Flavors[del.Flavor]
	if !ok {
		r.err = fmt.Errorf("no notification flavor %q is configured on this node", del.Flavor)
		return r
	}
	j.msg.Now = r.at
	req, err := flavor.Build(j.msg)
	if errors.Is(err, ErrSkip) {
		r.err, r.abandon = err, true
		return r
	}
	if err != nil {
		r.err = fmt.Errorf("build notification: %w", err)
		return r
	}
	if req.Method == "" {
		req.Method = http.MethodPost
	}
	if req.URL == "" {
		req.URL = del.URL
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		r.err = fmt.Errorf("build notification: %w", err)
		return r
	}
	for k, vs := range req.Header {
		hreq.Header[k] = vs
	}
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", "Malipo-Webhooks/1")
	}
	rcv := receiverOf(hreq.URL)
	trial, err := d.receivers.admit(rcv, r.at)
	if err != nil {
		r.err, r.paused = err, true
		return r
	}
	start := time.Now() // latency is measured, not scheduled: real time
	resp, err := d.cfg.Clients[del.Mode].Do(hreq)
	d.heard(ctx, rcv, trial, err)
	if err != nil {
		r.latency, r.err = time.Since(start), err
		return r
	}
	r.body, err = io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	resp.Body.Close()
	r.latency, r.status = time.Since(start), resp.StatusCode
	if err != nil {
		r.err = fmt.Errorf("read answer: %w", err)
		return r
	}
	r.acked = flavor.Acknowledged(resp.StatusCode, r.body)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		r.retryAfter = retryAfter(resp.Header.Get("Retry-After"), r.at)
	}
	return r
}

// heard counts what an attempt to rcv learned of it, and tells the log
// when that pauses the receiver or ends its pause.
func (d *Dispatcher) heard(ctx context.Context, rcv string, trial bool, err error) {
	o := answered
	switch {
	case ctx.Err() != nil:
		o = unknown
	case err != nil:
		var blocked *BlockedError
		if errors.As(err, &blocked) {
			o = unknown // refused here, not by the receiver
		} else {
			o = unanswered
		}
	}
	paused, resumed := d.receivers.done(rcv, trial, o, d.now())
	switch {
	case paused:
		d.cfg.Logger.Warn("webhook receiver paused: its last attempts got no answer", "receiver", rcv,
			"failures", d.cfg.FailuresToPause)
	case resumed:
		d.cfg.Logger.Info("webhook receiver answered: attempts to it resume", "receiver", rcv)
	}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n > int64(maxRetryAfter/time.Second) {
			n = int64(maxRetryAfter / time.Second)
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// renew leases again a claimed delivery whose lease ran short before its
// attempt, under a new lease number, as a claim would lease it now. It
// reports false, and the delivery is not to be attempted, when the
// delivery is no longer this node's (its lease ran out and another node
// claimed it, or it is done) or the renewal failed (it then waits out its
// lease, for this node or another).
func (d *Dispatcher) renew(claimed *malipo.Delivery) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var renewed malipo.Delivery
	err := d.cfg.Store.Lease(ctx, func(tx store.Tx) (err error) {
		renewed, err = d.moveLease(tx, *claimed, d.lease())
		return err
	})
	if err != nil {
		d.cfg.Logger.Warn("delivery's lease not renewed; it waits out its lease", "delivery", claimed.ID, "err", err)
		return false
	}
	if renewed.ID == "" {
		return false
	}
	*claimed = renewed
	return true
}

// release gives up a claimed delivery that was not attempted or whose
// attempt was cut short: due now, under a new lease number so that
// nothing this node still does can move it. A delivery another node holds
// by now, or that is done, is left alone. A release that fails is logged:
// the delivery then waits out its lease.
func (d *Dispatcher) release(claimed malipo.Delivery) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := d.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		_, err := d.moveLease(tx, claimed, 0)
		return err
	})
	if err != nil {
		d.cfg.Logger.Warn("delivery not released; it waits out its lease", "delivery", claimed.ID, "err", err)
	}
}

// moveLease moves a delivery still pending under claimed's lease to a
// new lease number, due after wait from now (0: due at once, for any
// node's claim), and returns it as moved; it returns the zero delivery
// when the delivery is no longer held so (another node claimed it once
// the lease ran out, or it is done), and leaves it alone.
func (d *Dispatcher) moveLease(tx store.Tx, claimed malipo.Delivery, wait time.Duration) (malipo.Delivery, error) {
	cur, err := tx.GetDelivery(claimed.ID)
	if err != nil || cur.Lease != claimed.Lease || cur.Status != malipo.DeliveryPending {
		return malipo.Delivery{}, err
	}
	now := d.now()
	cur.Lease++
	cur.NextAttemptAt, cur.UpdatedAt = now.Add(wait), now
	return cur, tx.UpdateDelivery(cur)
}

// record records an attempt's answer and moves its delivery on. Almost
// always the delivery is as this node leased it, and the attempt is
// settled without reading it again (SettleDelivery checks that at
// commit); if another node claimed it or recorded an attempt since, it is
// read and recorded as it now stands.
func (d *Dispatcher) record(ctx context.Context, claimed malipo.Delivery, r result) (malipo.Attempt, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var a malipo.Attempt
	err := d.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		cur := claimed
		a = d.attemptOf(cur, r)
		if err := tx.AddAttempt(a); err != nil {
			return err
		}
		if err := d.moveOn(tx, &cur, r); err != nil {
			return err
		}
		return tx.SettleDelivery(cur)
	})
	if !errors.Is(err, store.ErrLeaseLost) {
		return a, err
	}
	err = d.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		cur, err := tx.GetDelivery(claimed.ID)
		if err != nil {
			return err
		}
		a = d.attemptOf(cur, r)
		if err := tx.AddAttempt(a); err != nil {
			return err
		}
		if cur.Lease != claimed.Lease || cur.Status != malipo.DeliveryPending {
			// Another node claimed it since (our lease ran out) or finished
			// it: the attempt is logged, but the delivery is its holder's to
			// move on; only an acknowledgement is good news for everyone.
			cur.Attempts++
			cur.UpdatedAt = d.now()
			if r.acked && cur.Status == malipo.DeliveryPending {
				cur.Status = malipo.DeliverySucceeded
			}
			return tx.UpdateDelivery(cur)
		}
		if err := d.moveOn(tx, &cur, r); err != nil {
			return err
		}
		return tx.UpdateDelivery(cur)
	})
	return a, err
}

// attemptOf is the record of an attempt r at cur.
func (d *Dispatcher) attemptOf(cur malipo.Delivery, r result) malipo.Attempt {
	a := malipo.Attempt{DeliveryID: cur.ID, Number: cur.Attempts + 1, At: r.at, StatusCode: r.status,
		Latency: r.latency, Response: keep(r.body)}
	if r.err != nil {
		a.Error = r.err.Error()
	}
	return a
}

// moveOn moves cur, pending under this node's lease, on after attempt r:
// delivered, failed for good (disabling an endpoint that answered 410
// Gone), or due again on the schedule.
func (d *Dispatcher) moveOn(tx store.Tx, cur *malipo.Delivery, r result) error {
	now := d.now()
	cur.Attempts++
	cur.UpdatedAt = now
	switch {
	case r.acked:
		cur.Status = malipo.DeliverySucceeded
	case r.abandon:
		cur.Status = malipo.DeliveryFailed
	case r.status == http.StatusGone:
		cur.Status = malipo.DeliveryFailed
		if cur.EndpointID != "" {
			return disable(tx, cur.EndpointID, "the endpoint answered 410 Gone")
		}
	case cur.Attempts >= len(d.cfg.Schedule):
		cur.Status = malipo.DeliveryFailed
	default:
		cur.NextAttemptAt = now.Add(max(d.jitter(d.cfg.Schedule[cur.Attempts]), r.retryAfter))
	}
	return nil
}

func disable(tx store.Tx, endpointID, reason string) error {
	ep, err := tx.GetEndpoint(endpointID)
	if malipo.KindOf(err) == malipo.KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	ep.Disabled, ep.DisabledReason = true, reason
	return tx.UpdateEndpoint(ep)
}

func (d *Dispatcher) jitter(delay time.Duration) time.Duration {
	if d.cfg.Jitter <= 0 {
		return delay
	}
	spread := float64(delay) * d.cfg.Jitter * (2*d.cfg.Rand() - 1)
	return (delay + time.Duration(spread)).Truncate(time.Millisecond)
}

// keep is the part of an answer an attempt stores: its first bytes, as
// valid UTF-8.
func keep(body []byte) string {
	if len(body) > ResponseKeepBytes {
		body = body[:ResponseKeepBytes]
	}
	return strings.ToValidUTF8(string(body), "\uFFFD")
}
