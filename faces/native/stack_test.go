package native_test

import (
	"encoding/json"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// A request's goroutine keeps the deepest stack it reached until a
// collection shrinks it, and under load a node holds one such goroutine
// for every request under way and every open connection. Below 3 KiB of
// frames standing for the server's own (net/http's connection and
// malipo serve's middleware take about 2.9 KiB), creating a payment and
// making one succeed must each fit in 16 KiB of stack. A create needed
// 32 KiB while the payment was copied by value through every frame: at
// twice the rate a node sustains, that was 40 MB of stacks where it is
// now about 22.
func TestRequestsNeedLittleStack(t *testing.T) {
	f := setup(t)
	send := func(method, path, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		f.mux.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	create := func(n int) (int, string) {
		return send("POST", "/v1/payments", `{"amount":5000,"currency":"XOF","reference":"stack-`+strconv.Itoa(n)+
			`","description":"Load test","customer":{"name":"Awa Diallo","email":"awa@example.com"},"metadata":{"order":"1"}}`)
	}
	const n = 128
	ids := make([]string, n+1)
	for i := range ids {
		code, body := create(1000 + i)
		var p struct{ ID string }
		if err := json.Unmarshal([]byte(body), &p); code != 201 || err != nil {
			t.Fatalf("create: %d %s", code, body)
		}
		ids[i] = p.ID
	}
	succeed := func(i int) (int, string) {
		return send("POST", "/v1/sandbox/payments/"+ids[i]+"/outcome", `{"outcome":"succeeded"}`)
	}
	if code, body := succeed(n); code != 200 {
		t.Fatalf("succeed: %d %s", code, body)
	}
	for _, c := range []struct {
		name string
		do   func(i int) (int, string)
		want int
	}{{"create", create, 201}, {"succeed", succeed, 200}} {
		if per := stackPerCall(t, n, c.do, c.want); per > 24<<10 {
			// Stacks come in powers of two: 16 KiB each, or 32. The
			// midpoint leaves room for what other goroutines do meanwhile.
			t.Errorf("%s leaves its goroutine %d bytes of stack, want 16 KiB", c.name, per)
		} else {
			t.Logf("%s: %d bytes of stack", c.name, per)
		}
	}
}

// stackPerCall runs do(0…n-1), each on a goroutine of its own below the
// server's frames, and returns the stack each goroutine holds after.
func stackPerCall(t *testing.T, n int, do func(i int) (int, string), want int) int64 {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection shrinks a stack meanwhile
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var done sync.WaitGroup
	release := make(chan struct{})
	codes := make(chan string, n)
	for i := range n {
		done.Add(1)
		go func() {
			belowServerFrames(func() {
				if code, body := do(i); code != want {
					codes <- strconv.Itoa(code) + " " + body
				}
			})
			done.Done()
			<-release
		}()
	}
	done.Wait()
	runtime.ReadMemStats(&after)
	close(release)
	close(codes)
	for c := range codes {
		t.Fatalf("answer: %s", c)
	}
	return (int64(after.StackInuse) - int64(before.StackInuse)) / int64(n)
}

// belowServerFrames calls fn under 3 KiB of stack frame.
//
//go:noinline
func belowServerFrames(fn func()) {
	var frames [3 << 10]byte
	frames[len(frames)-1] = 1
	fn()
	if frames[len(frames)-1] != 1 {
		panic("frames overwritten")
	}
}
