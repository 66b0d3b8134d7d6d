package bench

import (
	"net/http"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// busyServer spends 2 ms of CPU on every request (Linux only).
func busyServer() {
	serveTest(func(w http.ResponseWriter, r *http.Request) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		start := threadCPU()
		for threadCPU()-start < 2*time.Millisecond {
		}
		w.WriteHeader(http.StatusOK)
	})
}

// threadCPU is the CPU time the calling thread has used, to the
// nanosecond (Linux's CLOCK_THREAD_CPUTIME_ID; getrusage's figure for a
// running thread moves only at the scheduler's ticks).
func threadCPU() time.Duration {
	const clockThreadCPUTime = 3
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		panic(errno)
	}
	return time.Duration(ts.Nano())
}
