package bench

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU is a reading of the CPU time used so far: by this process, and by
// the whole machine (every process, the database's included).
type CPU struct {
	Process, Machine time.Duration
	ok               bool
}

// ReadCPU reads the CPU time used so far. Machine time comes from
// /proc/stat; where that cannot be read (not Linux) the reading is marked
// so and Report says nothing of it.
func ReadCPU() CPU {
	var c CPU
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.Process = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return c
	}
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait, in clock ticks (USER_HZ, 100 a second on Linux).
	var ticks int64
	for i, f := range fields[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return c
		}
		ticks += n
	}
	c.Machine, c.ok = time.Duration(ticks)*10*time.Millisecond, true
	return c
}

// ProcessCPU reads the CPU time process pid has used so far, user and
// system, from /proc/PID/stat (Linux); ok is false elsewhere or once the
// process is gone.
func ProcessCPU(pid int) (used time.Duration, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15, the 12th and 13th after it.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0, false
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true
}

// PerOp is the machine's CPU time from start to end per operation, n
// operations; 0 when there were none or machine time cannot be read.
func (start CPU) PerOp(end CPU, n int) time.Duration {
	if n <= 0 || !start.ok || !end.ok {
		return 0
	}
	return (end.Machine - start.Machine) / time.Duration(n)
}

// Used is the CPU time used from start to end: the machine's reading,
// or the processes' own counts (this one's, and others: a server's)
// where those add up to more, as /proc/stat's ticks at times do not on
// a virtual machine.
func (start CPU) Used(end CPU, others time.Duration) time.Duration {
	used := end.Process - start.Process + others
	if start.ok && end.ok {
		used = max(used, end.Machine-start.Machine)
	}
	return used
}

// Busy is the share of the machine's processors in use from start to
// end, wall apart (see Used); 0 without wall time.
func (start CPU) Busy(end CPU, others, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return start.Used(end, others).Seconds() / (wall.Seconds() * float64(runtime.NumCPU()))
}

// Report reports to a benchmark (a *testing.B) the CPU used per operation
// since start, n operations, the process's and the machine's: where a
// benchmark's time goes when the database is another process on the same
// cores.
func (start CPU) Report(b interface{ ReportMetric(float64, string) }, ops int) {
	end := ReadCPU()
	n := float64(ops)
	b.ReportMetric(float64((end.Process-start.Process).Microseconds())/n, "proc-cpu-µs/op")
	if start.ok && end.ok {
		b.ReportMetric(float64((end.Machine-start.Machine).Microseconds())/n, "machine-cpu-µs/op")
	}
}
