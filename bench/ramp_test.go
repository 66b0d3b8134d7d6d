package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TestMain serves as a target's server when the bench's tests start this
// test binary as one (see coldServer).
func TestMain(m *testing.M) {
	if os.Getenv("MALIPO_BENCH_TEST_SERVER") == "cold" {
		coldServer()
		return
	}
	os.Exit(m.Run())
}

// coldServer answers 503 to every request in the first 100 ms after its
// first, and 200 after that: a server whose first moments are slow.
func coldServer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	var first atomic.Int64
	fmt.Printf("listening on http://%s\n", ln.Addr())
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.CompareAndSwap(0, time.Now().UnixNano())
		if time.Since(time.Unix(0, first.Load())) < 100*time.Millisecond {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
}

// A first step that is not clean is offered again before the target is
// called unable to serve: a server just started may refuse in its first
// moments, and that is not what it sustains.
func TestFirstBadStepIsOfferedAgain(t *testing.T) {
	t.Setenv("MALIPO_BENCH_TEST_SERVER", "cold")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{o: Options{Exe: exe, Step: 300 * time.Millisecond, StartRate: 50, MaxRate: 60, Bound: time.Second}, progress: io.Discard}
	target := httpTarget{name: "cold", want: http.StatusOK, next: func(s *server, n int64, tgt *vegeta.Target) error {
		tgt.Method, tgt.URL = http.MethodGet, s.base+"/"
		return nil
	}}
	res, err := r.ramp(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if res.SustainedRPS == 0 {
		t.Errorf("nothing sustained: %+v", res)
	}
}
