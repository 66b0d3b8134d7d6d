package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is a `malipo` process serving what a target measures: its own
// process, so that its memory is its own and not the load generator's.
type server struct {
	cmd  *exec.Cmd
	base string
	key  string // the demo merchant's test secret key, for `serve`
	out  *lockedBuffer
	done chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	listeningRe = regexp.MustCompile(`listening on (http://\S+)`)
	keyRe       = regexp.MustCompile(`sk_test_[a-z2-7]+`)
)

// startServer runs exe with args (which must make it print "listening on
// URL") and waits until it answers.
func startServer(ctx context.Context, exe string, args ...string) (*server, error) {
	s := &server{out: &lockedBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(exe, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if m := listeningRe.FindStringSubmatch(s.out.String()); m != nil {
			s.base = strings.Replace(m[1], "localhost", "127.0.0.1", 1)
			s.key = keyRe.FindString(s.out.String())
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("%s exited: %v\n%s", exe, err, s.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.stop()
	return nil, fmt.Errorf("%s did not start:\n%s", exe, s.out.String())
}

// stop ends the process (SIGTERM, then SIGKILL after 20 s).
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// sampleRSS samples the resident memory of process pid (0: this process)
// every 50 ms until the returned function is called, which reports the
// peak in MB.
func sampleRSS(pid int) func() float64 {
	done := make(chan struct{})
	peak := make(chan float64, 1)
	go func() {
		high := rssMB(pid)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				peak <- max(high, rssMB(pid))
				return
			case <-tick.C:
				high = max(high, rssMB(pid))
			}
		}
	}()
	return func() float64 {
		close(done)
		return <-peak
	}
}

// rssMB reads VmRSS from /proc (Linux); 0 elsewhere.
func rssMB(pid int) float64 {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(rest)), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
