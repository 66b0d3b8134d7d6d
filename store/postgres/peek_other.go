//go:build !unix

package postgres

import "net"

// peek cannot look at a socket here: the pipeline is sent, and a
// connection found lost after its COMMIT was sent is an unknown outcome.
func peek(net.Conn) socketState { return socketUnknown }
