package main

import (
	"context"
	"strings"

	"github.com/malipo/malipo/store"
	"github.com/malipo/malipo/store/postgres"
	"github.com/malipo/malipo/store/sqlite"
)

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// openStore opens (and migrates) the store a --db value names.
func openStore(ctx context.Context, url string) (store.Store, error) {
	if isPostgres(url) {
		return postgres.Open(ctx, url)
	}
	return sqlite.Open(ctx, url)
}

// describeStore names the store for people without leaking a password.
func describeStore(url string) string {
	if isPostgres(url) {
		if at := strings.LastIndex(url, "@"); at >= 0 {
			return "postgres://…@" + url[at+1:]
		}
		return url
	}
	return "sqlite " + url
}
