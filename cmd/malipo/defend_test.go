package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// listeners are every address a serve with all provider listeners
// answers on.
func listeners(t *testing.T, s server) []string {
	t.Helper()
	addrs := []string{strings.TrimPrefix(s.url, "http://")}
	for _, m := range regexp.MustCompile(`API is also at http://([^/\s]+)`).FindAllStringSubmatch(s.out.String(), -1) {
		addrs = append(addrs, m[1])
	}
	if len(addrs) != 6 {
		t.Fatalf("listeners %v, want the main one and five providers'", addrs)
	}
	return addrs
}

// dribble opens a connection to addr and sends head, then one byte of
// body every 200 ms, until the server closes the connection; it reports
// how long that took.
func dribble(t *testing.T, addr, head string, bodyLen int) time.Duration {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, conn) // returns when the server closes
		close(closed)
	}()
	for _, c := range []byte(head) {
		if head != "" && strings.HasSuffix(head, "\r\n\r\n") {
			break
		}
		conn.Write([]byte{c})
		select {
		case <-closed:
			return time.Since(start)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if strings.HasSuffix(head, "\r\n\r\n") {
		conn.Write([]byte(head))
	}
	for range bodyLen {
		conn.Write([]byte("x"))
		select {
		case <-closed:
			return time.Since(start)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("%s kept a connection open for %s at one byte each 200 ms", addr, time.Since(start))
	return 0
}

// A client sending its request a byte at a time is cut off, on every
// listener: the main one and each provider's own.
func TestSlowClientsAreCutOff(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "malipo.db"), "--read-timeout", "1s",
		"--paydunya-addr", "127.0.0.1:0", "--cinetpay-addr", "127.0.0.1:0", "--kpay-addr", "127.0.0.1:0",
		"--ipay-addr", "127.0.0.1:0", "--clickpay-addr", "127.0.0.1:0")
	for _, addr := range listeners(t, s) {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()
			cutOff(t, addr)
		})
	}
}

func cutOff(t *testing.T, addr string) {
	{
		// The body, a byte at a time: cut off at --read-timeout.
		if took := dribble(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n", 60); took > 3*time.Second {
			t.Errorf("%s: slow body cut off after %s", addr, took)
		}
		// The headers, a byte at a time.
		if took := dribble(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nX-Slow: "+strings.Repeat("a", 40)+"\r\n", 0); took > 3*time.Second {
			t.Errorf("%s: slow headers cut off after %s", addr, took)
		}
		// Headers over 64 KiB are refused.
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 200<<10) + "\r\n\r\n"))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: 200 KiB of headers: %v %v", addr, res, err)
		}
		conn.Close()
	}
}

// Failed authentications are throttled per client: a guesser's 300 wrong
// keys get 20 answers and then 429, in every face's own format, while a
// good key from another client is answered as usual.
func TestAuthFailuresAreThrottled(t *testing.T) {
	db := filepath.Join(t.TempDir(), "malipo.db")
	// The processor shedder is off: a burst of 300 requests on a busy
	// machine may be refused 503 for overload, rightly, which is not what
	// this test is about.
	s := startServer(t, db, "--trusted-proxy", "127.0.0.1", "--overload-latency", "0")
	send := func(method, path, from string, set func(*http.Request), body string) (int, string) {
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("X-Forwarded-For", from)
		if set != nil {
			set(req)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	const guesser = "203.0.113.7"
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 300 {
		wg.Go(func() {
			status, _ := send("GET", "/v1/balance", guesser, func(r *http.Request) {
				r.Header.Set("Authorization", "Bearer sk_test_guess"+strings.Repeat("x", i%7))
			}, "")
			mu.Lock()
			counts[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	took := time.Since(start)
	// The budget refills continuously (one every 6 s): in the time the
	// burst takes, at most one more.
	if counts[401] < 20 || counts[401] > 21 || counts[401]+counts[429] != 300 {
		t.Errorf("300 wrong keys: %v; want about 20 answered 401 and the rest refused 429", counts)
	}
	// Every face refuses the guesser in its own format.
	for _, c := range []struct{ path, want string }{
		{"/v1/balance", `"code":"too_many_auth_failures"`},
		{"/paydunya/sandbox-api/v1/checkout-invoice/create", `"response_code":"4029"`},
		{"/cinetpay/v2/payment", `"code":"429"`},
		{"/kpay/", `"retcode":429`},
		{"/ipay/b2b/v1/transaction/status", `"status":429`},
		{"/clickpay/api/card/payment-url", `"status":429`},
	} {
		body := `{"apikey":"k","site_id":"1","vid":"v","hash":"h"}`
		status, b := send("POST", c.path, guesser, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+s.key)
			r.SetBasicAuth("u", "p")
			r.Header.Set("Kpay-Key", "k")
			r.Header.Set("PAYDUNYA-MASTER-KEY", "m")
			r.Header.Set("PAYDUNYA-PRIVATE-KEY", "p")
			r.Header.Set("PAYDUNYA-TOKEN", "t")
		}, body)
		if c.path == "/v1/balance" {
			status, b = send("GET", c.path, guesser, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+s.key) }, "")
		}
		if status != 429 || !strings.Contains(b, c.want) {
			t.Errorf("%s from the guesser: %d %s; want 429 with %s", c.path, status, b, c.want)
		}
	}
	// Another client's good key is not slowed.
	before := time.Now()
	if status, b := send("GET", "/v1/balance", "198.51.100.1", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+s.key) }, ""); status != 200 {
		t.Errorf("a good key from another client: %d %s", status, b)
	}
	if d := time.Since(before); d > time.Second {
		t.Errorf("a good key took %s", d)
	}
	t.Logf("300 wrong keys answered in %s: %v", took, counts)
}
