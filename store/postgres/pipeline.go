package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
)

// Why a batch's last writes skip pgx's own batches: pgx encodes each
// statement's arguments into buffers it shrinks again after any statement
// of more than 64 arguments or 256 bytes (ExtendedQueryBuilder.reset), so
// a batch's multi-row statements (hundreds of arguments each) grow them
// anew every time. That was about a quarter of the bytes a success
// allocated, and a fifth of the committer's CPU. Here the arguments are
// written as text into buffers each connection keeps, and sent to
// statements prepared on that connection (pipedStatements).

// pipeline sends queries (with their args) on driverConn, a pgx connection
// of the pool, as one pipeline ending in one Sync, and reads the rows each
// affected: up to the first that failed, and its error. A COMMIT answered
// ROLLBACK is an error.
func pipeline(ctx context.Context, driverConn any, queries []string, args [][]any) ([]int64, error) {
	c, err := pgxConn(driverConn)
	if err != nil {
		return nil, err
	}
	if opensAndCommits(queries) {
		if err := checkOpen(c.PgConn()); err != nil {
			return nil, err
		}
	}
	if !textArgs(args) {
		return batchPipeline(ctx, driverConn, queries, args)
	}
	pc := c.PgConn()
	ps := pipedOn(pc)
	names := make([]string, len(queries))
	prepared := make([]bool, len(queries))
	for i, q := range queries {
		if len(args[i]) > 0 { // not BEGIN or COMMIT
			var known bool
			names[i], known = ps.name(q)
			prepared[i] = !known
		}
	}
	p := pc.StartPipeline(ctx)
	// The statements evicted (none is used here under its name) are
	// closed first, so that a connection never holds more than
	// pipedCapacity.
	closing := len(ps.evicted)
	for _, name := range ps.evicted {
		p.SendDeallocate(name)
	}
	ps.evicted = ps.evicted[:0]
	for i, q := range queries {
		switch {
		case names[i] == "": // no arguments (BEGIN, COMMIT): not prepared
			p.SendQueryParams(q, nil, nil, nil, nil)
			continue
		case prepared[i]:
			p.SendPrepare(names[i], q, nil)
		}
		p.SendQueryPrepared(names[i], ps.encode(args[i]), nil, nil)
	}
	if err := p.Sync(); err != nil {
		p.Close()
		ps.forget()
		return nil, err
	}
	affected, preparedUpTo, err := readPiped(p, queries, prepared, closing)
	if err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code == "26000" || pgErr.Code == "0A000" {
			// The connection broke, or a statement prepared here is gone
			// or no longer fits the schema: prepare them all again.
			ps.forget()
		} else {
			// The statements prepared before the failure stay prepared;
			// the preparations after it were skipped.
			ps.unprepare(queries[preparedUpTo:], prepared[preparedUpTo:])
		}
		p.Close()
		return affected, err
	}
	return affected, p.Close()
}

// readPiped reads what pipeline sent: closing deallocations, then for each
// query its preparation (if prepared[i]) and its answer, then the Sync.
// preparedUpTo is how many queries' preparations, if any, were read.
func readPiped(p *pgconn.Pipeline, queries []string, prepared []bool, closing int) (affected []int64, preparedUpTo int, err error) {
	for range closing {
		if _, err := p.GetResults(); err != nil {
			return nil, 0, err
		}
	}
	affected = make([]int64, 0, len(queries))
	for i, q := range queries {
		if prepared[i] {
			if _, err := p.GetResults(); err != nil {
				return affected, i, err
			}
		}
		preparedUpTo = i + 1
		res, err := p.GetResults()
		if err != nil {
			return affected, preparedUpTo, err
		}
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			return affected, preparedUpTo, errors.New("postgres: a piped statement had no answer")
		}
		tag, err := rr.Close()
		if err == nil {
			err = rolledBack(q, tag)
		}
		if err != nil {
			return affected, preparedUpTo, err
		}
		affected = append(affected, tag.RowsAffected())
	}
	if res, err := p.GetResults(); err != nil {
		return affected, preparedUpTo, err
	} else if _, ok := res.(*pgconn.PipelineSync); !ok {
		return affected, preparedUpTo, errors.New("postgres: the pipeline did not end where it was synced")
	}
	return affected, preparedUpTo, nil
}

// batchPipeline is pipeline through pgx's own batch, which encodes any
// argument pgx knows.
func batchPipeline(ctx context.Context, driverConn any, queries []string, args [][]any) ([]int64, error) {
	results, err := sendBatch(ctx, driverConn, queries, args)
	if err != nil {
		return nil, err
	}
	affected := make([]int64, 0, len(queries))
	for _, q := range queries {
		tag, err := results.Exec()
		if err == nil {
			err = rolledBack(q, tag)
		}
		if err != nil {
			results.Close()
			return affected, err
		}
		affected = append(affected, tag.RowsAffected())
	}
	return affected, results.Close()
}

// rolledBack is an error if q, a COMMIT, was answered ROLLBACK: what
// PostgreSQL answers, without an error, to the COMMIT of a transaction
// that failed.
func rolledBack(q string, tag pgconn.CommandTag) error {
	if q == "COMMIT" && tag.String() == "ROLLBACK" {
		return errors.New("postgres: the transaction was rolled back at its commit")
	}
	return nil
}

// textArgs reports whether every argument is one pipedStatements.encode
// writes as text: a string, an integer or nil. Anything else (bytes, a
// time) goes through pgx's encoders.
func textArgs(args [][]any) bool {
	for _, a := range args {
		for _, v := range a {
			switch v.(type) {
			case nil, string, int64, int, int32:
			default:
				return false
			}
		}
	}
	return true
}

// pipedStatements are the statements pipeline prepared on one connection,
// by SQL text, and the buffers it encodes arguments into.
type pipedStatements struct {
	names   map[string]*pipedStatement
	next    int      // for the next statement's name
	used    int      // a clock for the least recently used
	evicted []string // names to deallocate before the next pipeline
	values  [][]byte
	bytes   []byte
}

type pipedStatement struct {
	name string
	used int
}

// pipedCapacity bounds the statements prepared on a connection (each holds
// a plan in its backend), as pgx's own statement cache does.
const pipedCapacity = 512

// maxPipedBytes bounds the encoding buffer a connection keeps between
// pipelines.
const maxPipedBytes = 1 << 20

const pipedKey = "malipo.piped"

// pipedOn returns the connection's piped statements.
func pipedOn(pc *pgconn.PgConn) *pipedStatements {
	data := pc.CustomData()
	if ps, ok := data[pipedKey].(*pipedStatements); ok {
		return ps
	}
	ps := &pipedStatements{names: map[string]*pipedStatement{}}
	data[pipedKey] = ps
	return ps
}

// name returns the name of the statement prepared for query, and whether
// it was prepared already; if not, it is taken as prepared from now on,
// and the least recently used statement is evicted if there are too many.
func (ps *pipedStatements) name(query string) (string, bool) {
	ps.used++
	if s, ok := ps.names[query]; ok {
		s.used = ps.used
		return s.name, true
	}
	if len(ps.names) >= pipedCapacity {
		var oldest string
		for q, s := range ps.names {
			if oldest == "" || s.used < ps.names[oldest].used {
				oldest = q
			}
		}
		ps.evicted = append(ps.evicted, ps.names[oldest].name)
		delete(ps.names, oldest)
	}
	ps.next++
	s := &pipedStatement{name: "malipo_piped_" + strconv.Itoa(ps.next), used: ps.used}
	ps.names[query] = s
	return s.name, false
}

// unprepare forgets the statements of queries whose preparation was sent
// but skipped after an earlier statement failed.
func (ps *pipedStatements) unprepare(queries []string, prepared []bool) {
	for i, q := range queries {
		if prepared[i] {
			delete(ps.names, q)
		}
	}
}

// forget forgets every statement, to be prepared again; those that are
// still prepared are deallocated first.
func (ps *pipedStatements) forget() {
	for _, s := range ps.names {
		ps.evicted = append(ps.evicted, s.name)
	}
	clear(ps.names)
}

// encode writes args as text parameters (see textArgs) into the
// connection's buffers. The values stay valid until the next call: a
// statement's parameters are copied into the connection's output as it
// is queued.
func (ps *pipedStatements) encode(args []any) [][]byte {
	if ps.bytes == nil || cap(ps.bytes) > maxPipedBytes {
		// Never nil: an empty string's value is then empty, not nil,
		// which would be NULL.
		ps.bytes = make([]byte, 0, 4096)
	}
	ps.values, ps.bytes = ps.values[:0], ps.bytes[:0]
	for _, v := range args {
		from := len(ps.bytes)
		switch v := v.(type) {
		case nil:
			ps.values = append(ps.values, nil)
			continue
		case string:
			ps.bytes = append(ps.bytes, v...)
		case int64:
			ps.bytes = strconv.AppendInt(ps.bytes, v, 10)
		case int:
			ps.bytes = strconv.AppendInt(ps.bytes, int64(v), 10)
		case int32:
			ps.bytes = strconv.AppendInt(ps.bytes, int64(v), 10)
		}
		ps.values = append(ps.values, ps.bytes[from:len(ps.bytes):len(ps.bytes)])
	}
	return ps.values
}
