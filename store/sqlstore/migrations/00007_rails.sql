-- +goose Up
-- The gateway's live rails: where each serves in the clear, its whole
-- configuration (credentials included) sealed under the master key.
CREATE TABLE rails (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    mode        TEXT NOT NULL,
    countries   TEXT NOT NULL,
    operators   TEXT NOT NULL,
    currencies  TEXT NOT NULL,
    position    INTEGER NOT NULL,
    sealed      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX rails_name ON rails(name);

-- +goose Down
DROP TABLE rails;
