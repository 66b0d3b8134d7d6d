-- +goose Up
ALTER TABLE merchants ADD COLUMN logo_url TEXT NOT NULL DEFAULT '';
-- Display extras of a payment (invoice items, taxes, lock_phone) as JSON,
-- and the step the customer must take next (three_d_secure).
ALTER TABLE payments ADD COLUMN extra TEXT NOT NULL DEFAULT '{}';
ALTER TABLE payments ADD COLUMN next_action TEXT NOT NULL DEFAULT '';

CREATE TABLE card_setups (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    mode            TEXT NOT NULL,
    customer        TEXT NOT NULL,
    return_url      TEXT NOT NULL,
    lang            TEXT NOT NULL,
    token           TEXT NOT NULL,
    status          TEXT NOT NULL,
    card_token_id   TEXT NOT NULL,
    reference       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);

-- A saved card: the rail's token for it, its scheme, masked number and
-- expiry. Never its number or security code.
CREATE TABLE card_tokens (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    mode            TEXT NOT NULL,
    customer_phone  TEXT NOT NULL,
    customer        TEXT NOT NULL,
    scheme          TEXT NOT NULL,
    masked          TEXT NOT NULL,
    exp_month       INTEGER NOT NULL,
    exp_year        INTEGER NOT NULL,
    rail            TEXT NOT NULL,
    network_token   TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX card_tokens_customer ON card_tokens(merchant_id, mode, customer_phone);

-- +goose Down
DROP TABLE card_tokens;
DROP TABLE card_setups;
ALTER TABLE payments DROP COLUMN next_action;
ALTER TABLE payments DROP COLUMN extra;
ALTER TABLE merchants DROP COLUMN logo_url;
