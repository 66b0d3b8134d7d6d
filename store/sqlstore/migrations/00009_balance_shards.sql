-- +goose Up
-- An account's balance is the sum of its shards. Each committer adds to a
-- shard of its own, so batches committing side by side (several
-- committers on PostgreSQL, several nodes) never wait on one another's
-- balance rows: a merchant's balance is no longer one hot row.
CREATE TABLE balances (
    account      TEXT NOT NULL,
    shard        INTEGER NOT NULL,
    merchant_id  TEXT NOT NULL,
    mode         TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    currency     TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    PRIMARY KEY (account, shard)
);
CREATE INDEX balances_merchant ON balances(merchant_id, mode);
CREATE INDEX balances_bucket ON balances(bucket);
INSERT INTO balances (account, shard, merchant_id, mode, bucket, currency, amount)
    SELECT name, 0, merchant_id, mode, bucket, currency, balance FROM accounts;
DROP TABLE accounts;

-- +goose Down
CREATE TABLE accounts (
    name         TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL,
    mode         TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    currency     TEXT NOT NULL,
    balance      BIGINT NOT NULL
);
CREATE INDEX accounts_merchant ON accounts(merchant_id, mode);
INSERT INTO accounts (name, merchant_id, mode, bucket, currency, balance)
    SELECT account, MIN(merchant_id), MIN(mode), MIN(bucket), MIN(currency), SUM(amount) FROM balances GROUP BY account;
DROP TABLE balances;
