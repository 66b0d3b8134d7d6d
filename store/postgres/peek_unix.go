//go:build unix

package postgres

import (
	"errors"
	"net"
	"syscall"
)

// peek looks at c's socket without waiting and without taking anything
// from it (recv with MSG_PEEK and MSG_DONTWAIT).
//
// It looks through Control, not Read: a Read holds the socket's read
// lock, and pgx may have a read of its own still waiting on the socket
// (its background reader, started when a write was slow, stops only
// after its read returns, which is when the next answer comes). A peek
// through Read waited behind it for an answer to a pipeline it had not
// yet let be sent: the committer hung, and every write of the node
// with it (seen at twice the sustained rate, when writes are slow).
func peek(c net.Conn) socketState {
	sc, ok := socketOf(c).(syscall.Conn)
	if !ok {
		return socketUnknown
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return socketClosed
	}
	state := socketUnknown
	var b [1]byte
	err = raw.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK):
			state = socketIdle
		case errors.Is(err, syscall.EINTR):
			state = socketUnknown
		case err != nil, n == 0: // a reset, or the other side's FIN
			state = socketClosed
		default:
			state = socketPending
		}
	})
	if err != nil { // the socket itself is closed
		return socketClosed
	}
	return state
}

// socketOf is the socket under c: c itself, or what a TLS connection
// runs on.
func socketOf(c net.Conn) net.Conn {
	if t, ok := c.(interface{ NetConn() net.Conn }); ok {
		return t.NetConn()
	}
	return c
}
