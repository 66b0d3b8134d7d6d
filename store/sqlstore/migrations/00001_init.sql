-- +goose Up
-- One schema for SQLite and PostgreSQL: times are Unix microseconds (BIGINT),
-- money is BIGINT minor units, structured extras are JSON text.
CREATE TABLE merchants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE integrations (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants(id),
    flavor       TEXT NOT NULL,
    mode         TEXT NOT NULL,
    config       TEXT NOT NULL,
    notify_url   TEXT NOT NULL,
    fee_bps      BIGINT NOT NULL,
    fee_fixed    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX integrations_merchant ON integrations(merchant_id);

CREATE TABLE api_keys (
    hash            TEXT PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    hint            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    mode            TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    fee             BIGINT NOT NULL,
    reference       TEXT NOT NULL,
    description     TEXT NOT NULL,
    customer        TEXT NOT NULL,
    channels        TEXT NOT NULL,
    method          TEXT NOT NULL,
    phone           TEXT NOT NULL,
    operator        TEXT NOT NULL,
    return_url      TEXT NOT NULL,
    cancel_url      TEXT NOT NULL,
    notify_url      TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    lang            TEXT NOT NULL,
    status          TEXT NOT NULL,
    failure_code    TEXT NOT NULL,
    failure_reason  TEXT NOT NULL,
    rail_reference  TEXT NOT NULL,
    checkout_token  TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    completed_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX payments_reference ON payments(integration_id, reference);
CREATE INDEX payments_merchant ON payments(merchant_id, id);
CREATE INDEX payments_expiry ON payments(expires_at) WHERE status IN ('pending', 'processing');

CREATE TABLE ledger_entries (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    ref_type    TEXT NOT NULL,
    ref_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
-- An object is posted at most once per kind: a payment cannot be credited twice.
CREATE UNIQUE INDEX ledger_entries_ref ON ledger_entries(kind, ref_type, ref_id);

CREATE TABLE postings (
    entry_id  TEXT NOT NULL REFERENCES ledger_entries(id),
    seq       INTEGER NOT NULL,
    account   TEXT NOT NULL,
    currency  TEXT NOT NULL,
    amount    BIGINT NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (entry_id, seq)
);
CREATE INDEX postings_account ON postings(account);

-- Balances derived from postings, kept in the same transaction so reads and
-- reservations need not sum the whole ledger; `malipo verify` re-derives them.
CREATE TABLE accounts (
    name         TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL,
    mode         TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    currency     TEXT NOT NULL,
    balance      BIGINT NOT NULL
);
CREATE INDEX accounts_merchant ON accounts(merchant_id, mode);

CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    result        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE accounts;
DROP TABLE postings;
DROP TABLE ledger_entries;
DROP TABLE payments;
DROP TABLE api_keys;
DROP TABLE integrations;
DROP TABLE merchants;
