-- +goose Up
-- A ledger's reads by reference and by account without a scan of the
-- ledger: the same number of indexes, each led by what is looked up.
--
-- An object's entries (a payment's story, GET …/entries) are looked up by
-- ref_id alone, which the unique index on (kind, ref_type, ref_id) could
-- not serve: each read scanned every entry. The same columns in another
-- order keep the rule (an object is posted at most once per kind).
CREATE UNIQUE INDEX ledger_entries_ref_id ON ledger_entries(ref_id, kind, ref_type);
DROP INDEX ledger_entries_ref;
-- An account's statement is read newest entry first, a page at a time,
-- and its running balance sums the postings since an entry: by account
-- alone, each read fetched and sorted every posting of the account.
CREATE INDEX postings_account_entry ON postings(account, entry_id, seq);
DROP INDEX postings_account;

-- +goose Down
CREATE INDEX postings_account ON postings(account);
DROP INDEX postings_account_entry;
CREATE UNIQUE INDEX ledger_entries_ref ON ledger_entries(kind, ref_type, ref_id);
DROP INDEX ledger_entries_ref_id;
