package postgres_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	neturl "net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/postgres"
	"github.com/malipo/malipo/store/postgres/pgtest"
	"github.com/malipo/malipo/store/sqlstore"
	"github.com/malipo/malipo/store/storetest"
)

// What the store does when PostgreSQL, a pooler or the network ends a
// connection under it, or takes its prepared statements away.

// A pooler in front of PostgreSQL, or a DISCARD ALL, can drop the
// statements a connection has prepared. The transaction that next uses
// one fails (SQLSTATE 26000) before it commits anything; the committer
// runs it again, and the statements are prepared again: the caller sees
// its write committed, once.
func TestDroppedStatementsArePreparedAgain(t *testing.T) {
	ctx := context.Background()
	s, db := openBeside(t, pgtest.URL(t))
	seed(t, s, func(store.Tx) error { return nil })
	// The first two payments inserted drop every statement their
	// session has prepared, as a pooler would between two transactions.
	_, err := db.ExecContext(ctx, `CREATE SEQUENCE drops;
		CREATE FUNCTION drop_statements() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('drops') <= 2 THEN
				EXECUTE 'DEALLOCATE ALL';
			END IF;
			RETURN NULL;
		END $$;
		CREATE TRIGGER drop_statements AFTER INSERT ON payments FOR EACH STATEMENT EXECUTE FUNCTION drop_statements()`)
	if err != nil {
		t.Fatal(err)
	}
	aborted := s.(interface{ Aborts() int64 }).Aborts()
	const n = 4
	for i := range n {
		id := fmt.Sprintf("pay_%d", i)
		pay := pendingPayment(id)
		if err := s.Transact(ctx, func(tx store.Tx) error { return tx.CreatePayment(pay) }); err != nil {
			t.Fatalf("payment %d, after its connection's statements were dropped: %v", i, err)
		}
		// A hinted read goes with the BEGIN through pgx's own cache of
		// statements, which the drop leaves stale too.
		err := s.Transact(ctx, func(tx store.Tx) error {
			pay.Status = malipo.PaymentFailed
			if _, err := tx.GetPayment(id); err != nil {
				return err
			}
			return tx.UpdatePayment(pay)
		}, store.Hint{Payment: id})
		if err != nil {
			t.Fatalf("payment %d read ahead and failed, after its connection's statements were dropped: %v", i, err)
		}
	}
	if again := s.(interface{ Aborts() int64 }).Aborts() - aborted; again == 0 {
		t.Error("no transaction met a dropped statement: the test did not test it")
	}
	var payments int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM payments`).Scan(&payments); err != nil {
		t.Fatal(err)
	}
	if payments != n {
		t.Errorf("%d payments, want %d", payments, n)
	}
}

// A database that restarts, fails over or ends a session (an
// administrator, an idle timeout) leaves the pool's connections dead,
// and the next batch on each fails at once. Whatever the batch had sent,
// none of its COMMIT had run: it runs again on another connection, and
// no caller hears of it. Each kind of batch is checked: a caller alone
// whose BEGIN, writes and COMMIT are one pipeline, a caller alone whose
// hinted read goes with the BEGIN, a batch of several, and a lease; and
// a read-only transaction, which changes nothing and runs again too.
func TestConnectionsEndedByTheDatabaseFailNoCaller(t *testing.T) {
	ctx := context.Background()
	const app = "malipo-ended-test"
	s, other := openBeside(t, pgtest.URL(t)+"&application_name="+app)
	seed(t, s, func(store.Tx) error { return nil })
	// end has the database end the store's connections, each used just
	// before, twice: pgx pings a connection before it hands it out again
	// if it is idle for over a second, or handed out for the first time
	// since it was opened, and only those would be found dead before a
	// batch met them.
	end := func() {
		t.Helper()
		for range 2 {
			if err := s.Transact(ctx, readMerchant); err != nil {
				t.Fatal(err)
			}
			if err := s.Lease(ctx, readMerchant); err != nil {
				t.Fatal(err)
			}
			if err := s.Read(ctx, readMerchant); err != nil {
				t.Fatal(err)
			}
		}
		n, err := endSessions(ctx, other, app)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("the store had no connection to end")
		}
	}
	create := func(id string) func(tx store.Tx) error {
		return func(tx store.Tx) error { return tx.CreatePayment(pendingPayment(id)) }
	}
	cases := []struct {
		name string
		run  func(round int) error
	}{
		{"a create alone", func(round int) error {
			return s.Transact(ctx, create(fmt.Sprintf("pay_alone_%d", round)))
		}},
		{"a hinted read and update alone", func(round int) error {
			id := fmt.Sprintf("pay_alone_%d", round)
			return s.Transact(ctx, func(tx store.Tx) error {
				p, err := tx.GetPayment(id)
				if err != nil {
					return err
				}
				p.Status = malipo.PaymentFailed
				return tx.UpdatePayment(p)
			}, store.Hint{Payment: id})
		}},
		{"a batch of two creates", func(round int) error {
			errs := storetest.InOneBatch(t, s, storetest.Call{Fn: create(fmt.Sprintf("pay_first_%d", round))},
				storetest.Call{Fn: create(fmt.Sprintf("pay_second_%d", round))})
			return errors.Join(errs...)
		}},
		{"a lease", func(int) error { return s.Lease(ctx, readMerchant) }},
		{"a read", func(int) error { return s.Read(ctx, readMerchant) }},
	}
	aborts := func() int64 { return s.(interface{ Aborts() int64 }).Aborts() }
	met := make([]int, len(cases))
	const rounds = 3
	for round := range rounds {
		for i, c := range cases {
			end()
			before := aborts()
			if err := c.run(round); err != nil {
				t.Fatalf("round %d, %s, on an ended connection: %v", round, c.name, err)
			}
			if aborts() > before {
				met[i]++
			}
		}
	}
	for i, c := range cases {
		if met[i] == 0 {
			t.Errorf("%s never met an ended connection in %d rounds: the test did not test it", c.name, rounds)
		}
	}
	var payments, failed int
	err := other.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'failed') FROM payments`).Scan(&payments, &failed)
	if err != nil {
		t.Fatal(err)
	}
	if payments != 3*rounds || failed != rounds {
		t.Errorf("%d payments, %d of them failed; want %d and %d", payments, failed, 3*rounds, rounds)
	}
}

// A batch whose COMMIT was sent and whose connection was then lost:
//   - without the COMMIT's answer, it may have committed, so it is not run
//     again (its work would then be done twice) and its callers are told
//     it failed;
//   - nor is it when the answer is a FATAL error in the COMMIT's place,
//     which a server told to stop just after it committed sends, though
//     the error is the server's own answer;
//   - with the COMMIT's answer, it committed, and its callers are told so,
//     though the server never said it was ready again.
//
// A proxy between the store and the database cuts the connection at that
// point, once the database has committed; the next batch takes another
// connection.
func TestACommitWhoseConnectionIsLost(t *testing.T) {
	for _, c := range []struct {
		name    string
		cut     cut
		wantErr bool
	}{
		{"sent and never answered", cutAfterCommit, true},
		{"answered with a FATAL error", fatalForCommit, true},
		{"answered, then the connection lost", cutAfterCommitAnswer, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s2, proxy, other := throughProxy(t)
			aborts := s2.Aborts()
			proxy.at.Store(int32(c.cut))
			pay := pendingPayment("pay_cut")
			err := s2.Transact(ctx, func(tx store.Tx) error { return tx.CreatePayment(pay) })
			if !proxy.done.Load() {
				t.Fatalf("the proxy cut nothing: %v", err)
			}
			if (err != nil) != c.wantErr {
				t.Errorf("the caller was told %v; want an error: %v", err, c.wantErr)
			}
			if again := s2.Aborts() - aborts; again != 0 {
				t.Errorf("the batch ran again %d times after its COMMIT was sent", again)
			}
			if n := countPayment(t, other, pay.ID); n != 1 {
				t.Errorf("%d payments committed, want the one the COMMIT committed", n)
			}
			if err := s2.Transact(ctx, readMerchant); err != nil {
				t.Errorf("the next batch: %v", err)
			}
		})
	}
}

// A batch whose BEGIN and COMMIT go in one pipeline looks at its
// connection before writing to it:
//   - one the server or the network closed without a word while it sat in
//     the pool (a backend killed, a proxy's idle timeout) is not written
//     to, where the COMMIT's fate would be unknown and its callers failed
//     for nothing: the batch runs again on another connection;
//   - one holding a message the server sent unasked (a notice) is read,
//     and the batch is sent on it.
func TestABatchLooksAtItsConnectionBeforeSendingItsCommit(t *testing.T) {
	for _, c := range []struct {
		name      string
		meanwhile func(*proxy) int
		runAgain  bool
	}{
		{"closed without a word", (*proxy).drop, true},
		{"a notice waiting", (*proxy).notice, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s2, proxy, other := throughProxy(t)
			// Twice: the driver checks a connection on its first reuse,
			// and on any after a second idle, and this one must reach the
			// batch unchecked.
			for range 2 {
				if err := s2.Transact(ctx, readMerchant); err != nil {
					t.Fatal(err)
				}
			}
			if c.meanwhile(proxy) == 0 {
				t.Fatal("no connection through the proxy")
			}
			time.Sleep(50 * time.Millisecond) // for the store's side to hear of it
			aborts := s2.Aborts()
			pay := pendingPayment("pay_look")
			if err := s2.Transact(ctx, func(tx store.Tx) error { return tx.CreatePayment(pay) }); err != nil {
				t.Errorf("the caller was told %v", err)
			}
			if ranAgain := s2.Aborts() > aborts; ranAgain != c.runAgain {
				t.Errorf("the batch ran again: %v, want %v", ranAgain, c.runAgain)
			}
			if n := countPayment(t, other, pay.ID); n != 1 {
				t.Errorf("%d payments committed, want 1", n)
			}
		})
	}
}

// pendingPayment is a pending payment of the seeded integration, its
// reference and checkout token made from id.
func pendingPayment(id string) malipo.Payment {
	return malipo.Payment{ID: id, MerchantID: intA.MerchantID, IntegrationID: intA.ID, Mode: intA.Mode, Amount: 5000,
		Currency: "XOF", Reference: id, Status: malipo.PaymentPending, CheckoutToken: "tok_" + id}
}

// countPayment counts the payments db holds under id: 1 once committed,
// whatever ran again.
func countPayment(t *testing.T, db *sql.DB, id string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM payments WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// readMerchant is a transaction that only reads: the seeded merchant.
func readMerchant(tx store.Tx) error { _, err := tx.GetMerchant(intA.MerchantID); return err }

// endSessions has the database end the sessions of application app but
// the one of db it asks on, waiting until they have ended, and returns
// how many it ended.
func endSessions(ctx context.Context, db *sql.DB, app string) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid()`, app).Scan(&n)
	return n, err
}

// throughProxy seeds a store on a fresh schema and opens a second store
// on the same schema through a proxy (see cuttingProxy); other is a plain
// pool beside them, to look.
func throughProxy(t *testing.T) (s2 *sqlstore.DB, p *proxy, other *sql.DB) {
	t.Helper()
	url := pgtest.URL(t)
	s, other := openBeside(t, url)
	seed(t, s, func(store.Tx) error { return nil })
	p = cuttingProxy(t, url)
	s2, err := postgres.Open(context.Background(), p.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2, p, other
}

// cut is where a proxy cuts a connection, once (see proxy).
type cut int32

const (
	// cutAfterCommit: the first time a client sends a COMMIT, the
	// server's answers stop reaching that client, and once the server has
	// had time to run what it was sent, both sides are closed.
	cutAfterCommit cut = iota + 1
	// fatalForCommit: the first time the server answers a COMMIT, the
	// client gets a FATAL error in its place, as from a server told to
	// stop just after it committed, and both sides are closed.
	fatalForCommit
	// cutAfterCommitAnswer: the first time the server answers a COMMIT,
	// that answer reaches the client, and both sides are closed before
	// the server says it is ready again.
	cutAfterCommitAnswer
)

// proxy forwards connections to a PostgreSQL server, and cuts one where
// at says (none while it is 0); done is set once it has. down stops it.
type proxy struct {
	url     string
	at      atomic.Int32
	done    atomic.Bool
	ln      net.Listener
	mu      sync.Mutex
	conns   []net.Conn // both sides of every connection
	clients []net.Conn // the clients' sides
}

// down closes the proxy and every connection through it: the database
// can no longer be reached.
func (p *proxy) down() {
	p.ln.Close()
	p.drop()
}

// drop closes every connection through the proxy, both sides, without a
// word to the client, and returns how many it closed; new ones are still
// taken.
func (p *proxy) drop() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	n := len(p.conns)
	p.conns, p.clients = nil, nil
	return n
}

// notice sends every client of the proxy a NoticeResponse, as a server
// may send unasked, and returns to how many.
func (p *proxy) notice() int {
	fields := "SNOTICE\x00VNOTICE\x00C00000\x00Ma notice sent unasked\x00\x00"
	msg := []byte{'N', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(msg[1:], uint32(4+len(fields)))
	msg = append(msg, fields...)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		c.Write(msg)
	}
	return len(p.clients)
}

// keep notes c, to be closed by down.
func (p *proxy) keep(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
}

// cutting reports whether to cut here, the first time.
func (p *proxy) cutting(here cut) bool {
	return p.at.Load() == int32(here) && p.done.CompareAndSwap(false, true)
}

func cuttingProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := neturl.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &proxy{ln: ln}
	server := u.Host
	u.Host = ln.Addr().String()
	p.url = u.String()
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(client, server)
		}
	}()
	return p
}

func (p *proxy) serve(client net.Conn, server string) {
	defer client.Close()
	p.keep(client)
	p.mu.Lock()
	p.clients = append(p.clients, client)
	p.mu.Unlock()
	db, err := net.Dial("tcp", server)
	if err != nil {
		return
	}
	defer db.Close()
	p.keep(db)
	var muted atomic.Bool
	go func() {
		defer client.Close()
		answers := bufio.NewReader(db)
		for {
			msg, err := nextMessage(answers)
			if err != nil {
				return
			}
			if muted.Load() {
				continue
			}
			// CommandComplete ('C') tagged COMMIT.
			commitAnswer := msg[0] == 'C' && bytes.Equal(msg[5:], []byte("COMMIT\x00"))
			if commitAnswer && p.cutting(fatalForCommit) {
				client.Write(fatal)
				db.Close()
				return
			}
			if _, err := client.Write(msg); err != nil {
				return
			}
			if commitAnswer && p.cutting(cutAfterCommitAnswer) {
				db.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if bytes.Contains(buf[:n], []byte("COMMIT")) && p.cutting(cutAfterCommit) {
				muted.Store(true)
				time.AfterFunc(200*time.Millisecond, func() { client.Close(); db.Close() })
			}
			if _, err := db.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// fatal is the ErrorResponse of a server told to stop (SQLSTATE 57P01).
var fatal = func() []byte {
	fields := "SFATAL\x00VFATAL\x00C57P01\x00Mterminating connection due to administrator command\x00\x00"
	msg := []byte{'E', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(msg[1:], uint32(4+len(fields)))
	return append(msg, fields...)
}()

// nextMessage reads one message of the server's: its type, its length and
// the rest. The first bytes a server sends (SSL refused, 'N') are a byte
// alone, and the proxy's clients do not ask for SSL.
func nextMessage(r *bufio.Reader) ([]byte, error) {
	head := make([]byte, 5)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	msg := make([]byte, 1+binary.BigEndian.Uint32(head[1:]))
	copy(msg, head)
	_, err := io.ReadFull(r, msg[5:])
	return msg, err
}

// A connection can be found lost after the driver has already said so to
// database/sql, which then hands it out no more: a batch rerun with
// savepoints, whose caller's read met the ended connection and whose
// ROLLBACK TO SAVEPOINT was then refused as a bad connection. The batch
// runs again on another connection, and every caller's work commits.
func TestABatchWhoseConnectionEndsBetweenSavepointsRunsAgain(t *testing.T) {
	ctx := context.Background()
	const app = "malipo-savepoint-test"
	s, other := openBeside(t, pgtest.URL(t)+"&application_name="+app)
	seed(t, s, func(store.Tx) error { return nil })
	var aCalls, bCalls atomic.Int32
	errs := storetest.InOneBatch(t, s,
		// Fails its first run, so that the batch runs again with a
		// savepoint around each caller.
		storetest.Call{Fn: func(tx store.Tx) error {
			if aCalls.Add(1) == 1 {
				return errors.New("not this time")
			}
			return tx.CreatePayment(pendingPayment("pay_a"))
		}},
		// Has the database end the batch's connection the first time it
		// runs, then reads on it.
		storetest.Call{Fn: func(tx store.Tx) error {
			if bCalls.Add(1) == 1 {
				if _, err := endSessions(ctx, other, app); err != nil {
					return err
				}
			}
			return readMerchant(tx)
		}},
	)
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("a batch whose connection ended between savepoints: %v", errs)
	}
	if aCalls.Load() < 3 || bCalls.Load() < 2 {
		t.Fatalf("the callers ran %d and %d times: the batch never ran again after a savepoint on an ended connection", aCalls.Load(), bCalls.Load())
	}
	var n int
	if err := other.QueryRowContext(ctx, `SELECT count(*) FROM payments`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d payments, want 1", n)
	}
}

// A database that cannot be reached at all: every caller is refused as
// busy (each face answers its own busy code, with Retry-After), nothing
// is written, and the node says why in its log, once, not once a
// request.
func TestADatabaseThatCannotBeReachedRefusesAsBusy(t *testing.T) {
	ctx := context.Background()
	s2, proxy, other := throughProxy(t)
	var log strings.Builder
	var logMu sync.Mutex
	s2.SetLogger(slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return log.Write(b)
	}), nil)))
	for _, f := range []func() error{
		func() error { return s2.Transact(ctx, readMerchant) },
		func() error { return s2.Lease(ctx, readMerchant) },
		func() error { return s2.Read(ctx, readMerchant) },
	} {
		if err := f(); err != nil {
			t.Fatalf("before the database went out of reach: %v", err)
		}
	}
	proxy.down()
	pay := pendingPayment("pay_unreached")
	for _, c := range []struct {
		name string
		run  func() error
	}{
		// First a batch whose first round trip holds no COMMIT: it finds
		// the pool's connections lost, and runs again on a new one,
		// which cannot be made. (A batch whose first round trip held its
		// COMMIT, met on a connection lost without a word, could not
		// know whether it committed: TestACommitWhoseConnectionIsLost.)
		{"a hinted read", func() error { return s2.Transact(ctx, readMerchant, store.Hint{Payment: "pay_x"}) }},
		{"a create", func() error { return s2.Transact(ctx, func(tx store.Tx) error { return tx.CreatePayment(pay) }) }},
		{"a lease", func() error { return s2.Lease(ctx, readMerchant) }},
		{"a read", func() error { return s2.Read(ctx, readMerchant) }},
	} {
		err := c.run()
		if !errors.Is(err, malipo.ErrBusy) || malipo.KindOf(err) != malipo.KindUnavailable {
			t.Errorf("%s with the database out of reach: %v (kind %s), want busy", c.name, err, malipo.KindOf(err))
		}
	}
	var n int
	if err := other.QueryRowContext(ctx, `SELECT count(*) FROM payments`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d payments written with the database out of reach", n)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if lines := strings.Count(log.String(), "the database cannot be reached"); lines != 1 {
		t.Errorf("the log says the database cannot be reached %d times, want once:\n%s", lines, log.String())
	}
	if !strings.Contains(log.String(), "connect") {
		t.Errorf("the log does not say why:\n%s", log.String())
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
