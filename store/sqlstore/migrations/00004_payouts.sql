-- +goose Up
ALTER TABLE integrations ADD COLUMN rules TEXT NOT NULL DEFAULT '{}';
ALTER TABLE payments ADD COLUMN amount_refunded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN available_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN settled_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX payments_unsettled ON payments(available_at) WHERE status = 'succeeded' AND settled_at = 0;

CREATE TABLE payouts (
    id                    TEXT PRIMARY KEY,
    merchant_id           TEXT NOT NULL REFERENCES merchants(id),
    integration_id        TEXT NOT NULL REFERENCES integrations(id),
    mode                  TEXT NOT NULL,
    amount                BIGINT NOT NULL CHECK (amount > 0),
    fee                   BIGINT NOT NULL,
    currency              TEXT NOT NULL,
    reference             TEXT NOT NULL,
    destination_type      TEXT NOT NULL,
    destination_account   TEXT NOT NULL,
    destination_name      TEXT NOT NULL,
    destination_operator  TEXT NOT NULL,
    destination_reference TEXT NOT NULL,
    narration             TEXT NOT NULL,
    status                TEXT NOT NULL,
    failure_code          TEXT NOT NULL,
    failure_reason        TEXT NOT NULL,
    rail_reference        TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    completed_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX payouts_reference ON payouts(integration_id, reference);
CREATE INDEX payouts_destination ON payouts(integration_id, destination_account, created_at);
CREATE INDEX payouts_merchant ON payouts(merchant_id, mode, id);

CREATE TABLE refunds (
    id              TEXT PRIMARY KEY,
    payment_id      TEXT NOT NULL REFERENCES payments(id),
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    mode            TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL,
    failure_code    TEXT NOT NULL,
    failure_reason  TEXT NOT NULL,
    rail_reference  TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    completed_at    BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds(payment_id);

-- +goose Down
DROP TABLE refunds;
DROP TABLE payouts;
DROP INDEX payments_unsettled;
ALTER TABLE payments DROP COLUMN settled_at;
ALTER TABLE payments DROP COLUMN available_at;
ALTER TABLE payments DROP COLUMN amount_refunded;
ALTER TABLE integrations DROP COLUMN rules;
