package notify

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/malipo/malipo"
)

// NewClient returns the HTTP client notifications in mode are sent with.
// Its dialer checks the address it is about to connect to, after DNS
// resolution, against malipo.NotifyAddressAllowed: a host name that
// resolves (or re-resolves, as in DNS rebinding) to a forbidden address
// cannot be reached. It uses no proxy, follows no redirect and gives up
// after timeout. It keeps up to conns idle connections to each receiver:
// as many as attempts run at once, so that a busy receiver's connections
// are reused, not closed and dialled again.
func NewClient(mode malipo.Mode, timeout time.Duration, conns int) *http.Client {
	dialer := &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("notify: unexpected address %q", address)
			}
			if !malipo.NotifyAddressAllowed(mode, ap.Addr()) {
				return &BlockedError{Addr: ap.Addr(), Mode: mode}
			}
			return nil
		},
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would hide the real destination from the check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          max(256, conns),
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// BlockedError says a notification was not sent because its destination
// resolved to an address the mode forbids.
type BlockedError struct {
	Addr netip.Addr
	Mode malipo.Mode
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("destination address %s is not allowed in %s mode (private, loopback, link-local or reserved)", e.Addr, e.Mode)
}
