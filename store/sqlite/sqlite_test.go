package sqlite_test

import (
	"github.com/malipo/malipo/store"
	"testing"

	"github.com/malipo/malipo/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.SQLite(t) })
}
