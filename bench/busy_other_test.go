//go:build !linux

package bench

// busyServer needs a thread's CPU clock, read here only on Linux
// (TestStepChargesTheServerItsCPU is skipped elsewhere).
func busyServer() { panic("busyServer runs on Linux only") }
