package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every request has an ID: the client's X-Request-Id when it sent one, else
// a fresh one; it comes back in the header, in a native error body, and in
// the JSON log lines the request causes.
func TestRequestIDsFollowARequest(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "malipo.db"), "--log-format", "json", "--log-level", "debug")
	send := func(method, path, id, body string) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.key)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}

	res, b := send("POST", "/v1/payments", "order-42-attempt-1", `{"amount":"lots"}`)
	var e struct {
		Error struct {
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	json.Unmarshal(b, &e)
	if res.StatusCode != 400 || res.Header.Get("X-Request-Id") != "order-42-attempt-1" || e.Error.RequestID != "order-42-attempt-1" {
		t.Errorf("client's ID: %d %q %s", res.StatusCode, res.Header.Get("X-Request-Id"), b)
	}

	res, b = send("GET", "/v1/payments/pay_nope", "", "")
	json.Unmarshal(b, &e)
	minted := res.Header.Get("X-Request-Id")
	if !strings.HasPrefix(minted, "req_") || e.Error.RequestID != minted {
		t.Errorf("minted ID: %q %s", minted, b)
	}

	// Provider faces keep their seeds' bodies and carry the ID in the header.
	res, _ = send("POST", "/paydunya/sandbox-api/v1/checkout-invoice/create", "pd-1", "{}")
	if res.Header.Get("X-Request-Id") != "pd-1" {
		t.Errorf("PayDunya face: %q", res.Header.Get("X-Request-Id"))
	}

	// The log lines are JSON objects, and the request's line carries its ID.
	want := map[string]bool{"order-42-attempt-1": false, minted: false, "pd-1": false}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(s.log.String()))
		for sc.Scan() {
			var line map[string]any
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("log line is not JSON: %s", sc.Text())
			}
			if id, ok := line["request_id"].(string); ok && line["msg"] == "request" {
				want[id] = true
			}
		}
		if want["order-42-attempt-1"] && want[minted] && want["pd-1"] {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("request lines with IDs %v in:\n%s", want, s.log.String())
}
