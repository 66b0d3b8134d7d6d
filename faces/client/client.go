// Package client tells the faces about the caller of a request: its
// address (for allow-lists and the authentication throttle) and whether it
// is still there (a client that hung up is not a server error).
package client

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
)

// Addr is the address of the request's caller. Behind a trusted proxy the
// server's wiring has already put the forwarded client in RemoteAddr.
func Addr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, _ := netip.ParseAddr(host)
	return addr.Unmap()
}

// Gone reports whether err only says that the caller hung up before its
// answer was ready.
func Gone(r *http.Request, err error) bool {
	return r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// LogFailure logs a request that failed on the server's side at ERROR,
// or, when the caller simply hung up, at DEBUG: that is no fault to page
// anyone about.
func LogFailure(logger *slog.Logger, r *http.Request, msg string, err error, args ...any) {
	level := slog.LevelError
	if Gone(r, err) {
		level, msg = slog.LevelDebug, msg+": the client went away"
	}
	logger.Log(r.Context(), level, msg, append(args, "err", err)...)
}
