//go:build unix

package postgres

import (
	"net"
	"testing"
	"time"
)

// A look at a socket does not wait for a read already waiting on it (as
// pgx's background reader does), and still tells idle, pending and
// closed apart.
func TestPeekDoesNotWaitBehindARead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	read := make(chan []byte)
	go func() {
		b := make([]byte, 1)
		n, _ := client.Read(b) // waits, holding the socket's read lock
		read <- b[:n]
	}()
	time.Sleep(50 * time.Millisecond) // let the read start waiting

	looked := make(chan socketState)
	go func() { looked <- peek(client) }()
	select {
	case got := <-looked:
		if got != socketIdle {
			t.Errorf("an open socket with nothing to read: %v, want idle", got)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the look waited behind the read in progress")
	}

	server.Write([]byte("x"))
	if b := <-read; string(b) != "x" {
		t.Fatalf("the waiting read got %q", b)
	}
	server.Write([]byte("y"))
	waitFor(t, client, socketPending)
	b := make([]byte, 1)
	client.Read(b)
	server.Close()
	waitFor(t, client, socketClosed)
}

// waitFor looks at c until it is in state want (what the other side
// sent takes a moment to arrive).
func waitFor(t *testing.T, c net.Conn, want socketState) {
	t.Helper()
	var got socketState
	for range 100 {
		if got = peek(c); got == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("peek: %v, want %v", got, want)
}
