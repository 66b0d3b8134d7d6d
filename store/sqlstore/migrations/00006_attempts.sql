-- +goose Up
-- A payment's latest rail attempt, how long its rail call may still be
-- under way, and whether it succeeded after it had expired.
ALTER TABLE payments ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN in_flight_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN late INTEGER NOT NULL DEFAULT 0;

-- Every call to a rail for a payment, payout or refund, claimed before the
-- call is made. Its id is the idempotency key the rail is given.
CREATE TABLE rail_attempts (
    id              TEXT PRIMARY KEY,
    object_type     TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    number          INTEGER NOT NULL,
    merchant_id     TEXT NOT NULL,
    mode            TEXT NOT NULL,
    rail            TEXT NOT NULL,
    method          TEXT NOT NULL,
    status          TEXT NOT NULL,
    rail_reference  TEXT NOT NULL,
    failure_code    TEXT NOT NULL,
    failure_reason  TEXT NOT NULL,
    checks          INTEGER NOT NULL,
    next_check_at   BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    completed_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX rail_attempts_object ON rail_attempts(object_id, number);
CREATE INDEX rail_attempts_due ON rail_attempts(next_check_at) WHERE status IN ('sending', 'pending');

-- Whatever a rail reported, stored before it is applied.
CREATE TABLE inbox (
    id              TEXT PRIMARY KEY,
    rail            TEXT NOT NULL,
    mode            TEXT NOT NULL,
    attempt_id      TEXT NOT NULL,
    source          TEXT NOT NULL,
    verdict         TEXT NOT NULL,
    rail_reference  TEXT NOT NULL,
    failure_code    TEXT NOT NULL,
    failure_reason  TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    body            TEXT NOT NULL,
    received_at     BIGINT NOT NULL,
    applied_at      BIGINT NOT NULL,
    result          TEXT NOT NULL,
    error           TEXT NOT NULL
);
CREATE INDEX inbox_attempt ON inbox(attempt_id);
CREATE INDEX inbox_unapplied ON inbox(received_at) WHERE applied_at = 0;

-- The sandbox rails' memory: what they were given and what they will say.
CREATE TABLE sandbox_transactions (
    key             TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    reference       TEXT NOT NULL,
    status          TEXT NOT NULL,
    answer          TEXT NOT NULL,
    failure_code    TEXT NOT NULL,
    failure_reason  TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    answer_at       BIGINT NOT NULL,
    reported        INTEGER NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX sandbox_transactions_due ON sandbox_transactions(answer_at) WHERE reported = 0;

-- What was in flight before attempts existed becomes an attempt the
-- reconciler asks about at once. Only the sandbox had rails then.
UPDATE payments SET attempt = 1 WHERE method <> '';
INSERT INTO rail_attempts (id, object_type, object_id, number, merchant_id, mode, rail, method, status, rail_reference,
    failure_code, failure_reason, checks, next_check_at, created_at, updated_at, completed_at)
SELECT id || '-1', 'payment', id, 1, merchant_id, mode, 'sandbox', method, 'pending', rail_reference, '', '', 0, 0,
    updated_at, updated_at, 0
FROM payments WHERE status = 'processing' OR (status = 'pending' AND next_action <> '');
INSERT INTO rail_attempts (id, object_type, object_id, number, merchant_id, mode, rail, method, status, rail_reference,
    failure_code, failure_reason, checks, next_check_at, created_at, updated_at, completed_at)
SELECT id || '-1', 'payout', id, 1, merchant_id, mode, 'sandbox', 'payout',
    CASE WHEN status = 'queued' THEN 'sending' ELSE 'pending' END, rail_reference, '', '', 0, 0, updated_at, updated_at, 0
FROM payouts WHERE status IN ('queued', 'processing');
INSERT INTO rail_attempts (id, object_type, object_id, number, merchant_id, mode, rail, method, status, rail_reference,
    failure_code, failure_reason, checks, next_check_at, created_at, updated_at, completed_at)
SELECT id || '-1', 'refund', id, 1, merchant_id, mode, 'sandbox', 'refund', 'sending', '', '', '', 0, 0, updated_at, updated_at, 0
FROM refunds WHERE status = 'pending';

DROP INDEX payouts_stale;
DROP INDEX refunds_stale;

-- A delivery's claims are counted, so that an attempt made under a lease
-- that ran out cannot move the delivery on behind its new holder's back.
ALTER TABLE deliveries ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE deliveries DROP COLUMN lease;
CREATE INDEX payouts_stale ON payouts(updated_at) WHERE status = 'queued';
CREATE INDEX refunds_stale ON refunds(updated_at) WHERE status = 'pending';
DROP TABLE sandbox_transactions;
DROP TABLE inbox;
DROP TABLE rail_attempts;
ALTER TABLE payments DROP COLUMN late;
ALTER TABLE payments DROP COLUMN in_flight_until;
ALTER TABLE payments DROP COLUMN attempt;
