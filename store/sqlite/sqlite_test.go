package sqlite_test

import (
	"testing"

	"github.com/malipo/malipo/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.SQLite)
}
