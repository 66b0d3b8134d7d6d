-- +goose Up
-- An outcome whose application keeps failing waits longer after each try,
-- and the retries take the item due longest first, not the oldest
-- received (their index is migration 13's): before, the oldest items
-- failing for good were claimed first on every round, and once a round's
-- worth of them failed, no newer outcome was applied at all.
ALTER TABLE inbox ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN retry_at BIGINT NOT NULL DEFAULT 0;
-- An item kept unapplied was tried once, and was retried 5 s after it
-- was received.
UPDATE inbox SET tries = 1, retry_at = received_at + 5000000 WHERE applied_at = 0;

-- +goose Down
ALTER TABLE inbox DROP COLUMN retry_at;
ALTER TABLE inbox DROP COLUMN tries;
