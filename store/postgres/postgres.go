// Package postgres opens Malipo's shared store for many nodes: PostgreSQL
// through pgx, with synchronous_commit on so a commit is durable before it
// is acknowledged, and row locks with SKIP LOCKED so nodes split background
// work without doing any of it twice.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/malipo/malipo/store/sqlstore"
)

// Dialect is PostgreSQL's flavor of the shared SQL store.
var Dialect = sqlstore.Dialect{
	Goose:       goose.DialectPostgres,
	Numbered:    true,
	LockSuffix:  " FOR UPDATE",
	ClaimSuffix: " FOR UPDATE SKIP LOCKED",
	Committers:  4,
	IsUnique: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505"
	},
	IsRetryable: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01")
	},
}

// Open connects to the database at url (postgres://…), runs the
// migrations under an advisory lock so that nodes starting together do not
// race, and returns the store.
func Open(ctx context.Context, url string) (*sqlstore.DB, error) {
	db, err := openPool(ctx, url)
	if err != nil {
		return nil, err
	}
	return sqlstore.Open(db, db, Dialect), nil
}

// Migrate brings the schema at url up to date.
func Migrate(ctx context.Context, url string) error {
	db, err := openPool(ctx, url)
	if err != nil {
		return err
	}
	return db.Close()
}

func openPool(ctx context.Context, url string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse postgres url: %w", err)
	}
	cfg.RuntimeParams["synchronous_commit"] = "on"
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := sqlstore.Migrate(ctx, db, Dialect.Goose, goose.WithSessionLocker(locker)); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}
