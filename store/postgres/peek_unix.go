//go:build unix

package postgres

import (
	"errors"
	"net"
	"syscall"
)

// peek looks at c's socket without waiting and without taking anything
// from it (recv with MSG_PEEK and MSG_DONTWAIT).
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
	err = raw.Read(func(fd uintptr) bool {
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
		return true // never wait for the socket to become readable
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
