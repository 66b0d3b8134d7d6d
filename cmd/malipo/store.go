package main

import (
	"context"
	"fmt"
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

type backupCmd struct {
	To string `name:"to" required:"" type:"path" help:"The file to write; it must not exist."`
}

// Run copies the SQLite store at --db to --to while it serves. PostgreSQL
// has its own tools for this, and the error names them.
func (b backupCmd) Run(c *cli, e *env) error {
	if isPostgres(c.DB) {
		return fmt.Errorf("backup copies SQLite stores; back up PostgreSQL with pg_dump (or pg_basebackup and WAL archiving): see the README")
	}
	if err := sqlite.Backup(e.ctx, c.DB, b.To); err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]string{"backup": b.To, "of": c.DB})
}
