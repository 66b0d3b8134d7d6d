package dashboard

import "testing"

// SetMaxExport bounds the CSV exports' rows to n for one test.
func SetMaxExport(t testing.TB, n int) {
	old := maxExport
	maxExport = n
	t.Cleanup(func() { maxExport = old })
}
