-- +goose Up
-- The dashboard's people and their signed-in browsers (only a hash of each
-- session token).
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL,
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    disabled_at    BIGINT NOT NULL DEFAULT 0,
    totp_secret    TEXT NOT NULL DEFAULT '',
    totp_enabled   INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX users_email ON users(email);
CREATE INDEX users_merchant ON users(merchant_id);

CREATE TABLE sessions (
    hash        TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    mode        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE INDEX payments_created ON payments(merchant_id, mode, created_at);
CREATE INDEX events_object ON events(object_id);

-- The operator may suspend a merchant.
ALTER TABLE merchants ADD COLUMN suspended_at BIGINT NOT NULL DEFAULT 0;

-- Keys can be rolled (the old one works for an overlap) and revoked.
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX api_keys_integration ON api_keys(integration_id);

-- +goose Down
DROP INDEX api_keys_integration;
ALTER TABLE api_keys DROP COLUMN expires_at;
ALTER TABLE merchants DROP COLUMN suspended_at;
DROP INDEX events_object;
DROP INDEX payments_created;
DROP TABLE sessions;
DROP TABLE users;
