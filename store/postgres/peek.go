package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/malipo/malipo/store/sqlstore"
)

// opensAndCommits reports a pipeline that holds a transaction's BEGIN and
// its COMMIT: sent whole before any answer is read, so a connection
// already closed would leave its COMMIT's fate unknown (see
// sqlstore.ErrNotSent).
func opensAndCommits(queries []string) bool {
	return len(queries) >= 2 && queries[0] == "BEGIN" && queries[len(queries)-1] == "COMMIT"
}

// checkOpen looks, without waiting, whether the server or the network has
// closed pc, before a pipeline is written to it. It returns nil if pc may
// be written to; if not, it leaves pc closed and returns an error
// wrapping sqlstore.ErrNotSent. What the server sent unasked while pc was
// idle is read first: a notice or a setting's new value is let be, and a
// FATAL error (a server told to stop) closes pc.
func checkOpen(pc *pgconn.PgConn) error {
	for range 8 { // more unasked messages than this in a row: send, and see
		var closed error
		switch peek(pc.Conn()) {
		case socketClosed:
			closed = errors.New("the server or the network closed it")
		case socketPending:
			// A message is there to read, so this does not wait (pgx's
			// CheckConn gives it at most a millisecond). It fails only
			// on a FATAL error or a broken connection.
			if closed = pc.CheckConn(); closed == nil {
				continue
			}
		default: // idle, or a socket that cannot be looked at
			return nil
		}
		closeNow(pc) // so that the store finds it lost (Dialect.ConnLost)
		return fmt.Errorf("postgres: %w: %w", sqlstore.ErrNotSent, closed)
	}
	return nil
}

// closeNow closes pc, giving its goodbye to the server a second at most.
func closeNow(pc *pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	pc.Close(ctx)
}

// socketState is what a look at a connection's socket found.
type socketState int

const (
	socketUnknown socketState = iota // not a socket this can look at
	socketIdle                       // open, nothing to read
	socketPending                    // bytes to read
	socketClosed                     // the other side closed it, or it failed
)
