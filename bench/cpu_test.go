package bench

import (
	"math"
	"runtime"
	"testing"
	"time"
)

// TestReadCPUCountsWork: a reading after busy work is ahead of one before,
// by about the work, for the process and (on Linux) for the machine.
func TestReadCPUCountsWork(t *testing.T) {
	// Spin until the process has used 100 ms of CPU, not for a while of
	// wall time: on a loaded machine 200 ms of spinning got 65 ms of CPU.
	before := ReadCPU()
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	var after CPU
	for {
		for range 1_000_000 {
			x++
		}
		after = ReadCPU()
		if after.Process-before.Process >= 100*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process CPU grew %v over 10 s of spinning (%d)", after.Process-before.Process, x)
		}
	}
	if runtime.GOOS == "linux" {
		if !before.ok || !after.ok {
			t.Fatal("machine CPU unreadable on Linux")
		}
		// The machine's count includes the process's; /proc/stat counts
		// in ticks of 10 ms.
		if got := after.Machine - before.Machine; got < 80*time.Millisecond {
			t.Errorf("machine CPU grew %v while the process used %v", got, after.Process-before.Process)
		}
	}
	var m metrics
	before.Report(&m, 2)
	if m["proc-cpu-µs/op"] < 50_000 {
		t.Errorf("reported %v, want at least 50,000 µs/op of process CPU over 2 operations", m)
	}
}

type metrics map[string]float64

func (m *metrics) ReportMetric(v float64, unit string) {
	if *m == nil {
		*m = metrics{}
	}
	(*m)[unit] = v
}

// TestPerOp: machine CPU is shared out over the operations, and a step
// with none, or a reading without machine time, gives 0 rather than a
// figure that means nothing.
func TestPerOp(t *testing.T) {
	start := CPU{Machine: time.Second, ok: true}
	end := CPU{Machine: 3 * time.Second, ok: true}
	if got := start.PerOp(end, 4000); got != 500*time.Microsecond {
		t.Errorf("2 s over 4,000 operations = %v, want 500µs", got)
	}
	if got := start.PerOp(end, 0); got != 0 {
		t.Errorf("no operations gave %v, want 0", got)
	}
	if got := (CPU{Machine: time.Second}).PerOp(end, 4000); got != 0 {
		t.Errorf("an unreadable start gave %v, want 0", got)
	}
}

// TestUsedAndBusy: the CPU used is the machine's reading, or the
// processes' own counts where those are more (a virtual machine's
// /proc/stat at times falls short of them); the share of the machine
// busy is that over the wall time and every processor.
func TestUsedAndBusy(t *testing.T) {
	cores := float64(runtime.NumCPU())
	start := CPU{Process: time.Second, Machine: 10 * time.Second, ok: true}
	cases := []struct {
		name   string
		end    CPU
		others time.Duration
		used   time.Duration
	}{
		{"the machine's reading, more than the processes'", CPU{Process: 1500 * time.Millisecond, Machine: 12 * time.Second, ok: true}, 200 * time.Millisecond, 2 * time.Second},
		{"the processes' counts, more than the machine's", CPU{Process: 1500 * time.Millisecond, Machine: 10500 * time.Millisecond, ok: true}, time.Second, 1500 * time.Millisecond},
		{"no machine reading", CPU{Process: 1500 * time.Millisecond}, 100 * time.Millisecond, 600 * time.Millisecond},
	}
	for _, c := range cases {
		if got := start.Used(c.end, c.others); got != c.used {
			t.Errorf("%s: %v used, want %v", c.name, got, c.used)
		}
		want := c.used.Seconds() / 2 / cores
		if got := start.Busy(c.end, c.others, 2*time.Second); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: %v busy, want %v", c.name, got, want)
		}
	}
	if got := start.Busy(cases[0].end, 0, 0); got != 0 {
		t.Errorf("no wall time gave %v, want 0", got)
	}
}
