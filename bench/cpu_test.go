package bench

import (
	"runtime"
	"testing"
	"time"
)

// TestReadCPUCountsWork: a reading after busy work is ahead of one before,
// by about the work, for the process and (on Linux) for the machine.
func TestReadCPUCountsWork(t *testing.T) {
	before := ReadCPU()
	spin := time.Now().Add(200 * time.Millisecond)
	x := 0
	for time.Now().Before(spin) {
		x++
	}
	after := ReadCPU()
	if got := after.Process - before.Process; got < 100*time.Millisecond {
		t.Errorf("process CPU grew %v over 200 ms of spinning (%d)", got, x)
	}
	if runtime.GOOS == "linux" {
		if !before.ok || !after.ok {
			t.Fatal("machine CPU unreadable on Linux")
		}
		if got := after.Machine - before.Machine; got < 100*time.Millisecond {
			t.Errorf("machine CPU grew %v over 200 ms of spinning", got)
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
