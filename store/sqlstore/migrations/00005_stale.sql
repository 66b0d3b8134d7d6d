-- +goose Up
-- Payouts and refunds committed but never handed to a rail are found by
-- the resend worker through these.
CREATE INDEX payouts_stale ON payouts(updated_at) WHERE status = 'queued';
CREATE INDEX refunds_stale ON refunds(updated_at) WHERE status = 'pending';

-- +goose Down
DROP INDEX refunds_stale;
DROP INDEX payouts_stale;
