-- +goose Up
-- One index for a merchant's payments, newest first, instead of two: the
-- lists (by ID) and the dashboard's statistics (by creation time) had one
-- each, and every change of a payment's status writes a new entry into
-- each of its indexes (a status change is never a HOT update: status is
-- in the predicates of payments_expiry and payments_unsettled). Lists are
-- now ordered by creation time, then ID, which is the order IDs were
-- minted in, and read from this index like the statistics.
CREATE INDEX payments_merchant_created ON payments(merchant_id, mode, created_at, id);
DROP INDEX payments_merchant;
DROP INDEX payments_created;

-- +goose Down
CREATE INDEX payments_merchant ON payments(merchant_id, id);
CREATE INDEX payments_created ON payments(merchant_id, mode, created_at);
DROP INDEX payments_merchant_created;
