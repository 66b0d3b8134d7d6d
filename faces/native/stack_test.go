package native_test

import (
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
// malipo serve's middleware take about 2.9 KiB), creating a payment must
// fit in 16 KiB of stack. It needed 32 KiB while the payment was copied
// by value through every frame: at twice the rate a node sustains, that
// was 40 MB of stacks where it is now about 22.
func TestCreatingAPaymentNeedsLittleStack(t *testing.T) {
	f := setup(t)
	create := func(n int) int {
		body := `{"amount":5000,"currency":"XOF","reference":"stack-` + strconv.Itoa(n) +
			`","description":"Load test","customer":{"name":"Awa Diallo","email":"awa@example.com"},"metadata":{"order":"1"}}`
		req := httptest.NewRequest("POST", "/v1/payments", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		f.mux.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := create(0); code != 201 {
		t.Fatalf("create: %d", code)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection shrinks a stack meanwhile
	runtime.GC()
	const n = 128
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var done sync.WaitGroup
	release := make(chan struct{})
	codes := make(chan int, n)
	for i := range n {
		done.Add(1)
		go func() {
			belowServerFrames(func() { codes <- create(i + 1) })
			done.Done()
			<-release
		}()
	}
	done.Wait()
	runtime.ReadMemStats(&after)
	close(release)
	for range n {
		if code := <-codes; code != 201 {
			t.Fatalf("create: %d", code)
		}
	}
	per := (int64(after.StackInuse) - int64(before.StackInuse)) / n
	t.Logf("stack per create: %d bytes", per)
	// Stacks come in powers of two: 16 KiB each, or 32. The midpoint
	// leaves room for what other goroutines of the process do meanwhile.
	if per > 24<<10 {
		t.Errorf("a create leaves its goroutine %d bytes of stack, want 16 KiB", per)
	}
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
