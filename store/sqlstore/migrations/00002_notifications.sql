-- +goose Up
CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL,
    mode         TEXT NOT NULL,
    type         TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    data         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX events_merchant ON events(merchant_id, mode, id);

CREATE TABLE webhook_endpoints (
    id               TEXT PRIMARY KEY,
    merchant_id      TEXT NOT NULL,
    mode             TEXT NOT NULL,
    url              TEXT NOT NULL,
    events           TEXT NOT NULL,
    secrets          TEXT NOT NULL,
    disabled         INTEGER NOT NULL,
    disabled_reason  TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints(merchant_id, mode);

CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    event_id         TEXT NOT NULL REFERENCES events(id),
    merchant_id      TEXT NOT NULL,
    mode             TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    integration_id   TEXT NOT NULL,
    flavor           TEXT NOT NULL,
    url              TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX deliveries_event ON deliveries(event_id);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'pending';

CREATE TABLE delivery_attempts (
    delivery_id  TEXT NOT NULL REFERENCES deliveries(id),
    number       INTEGER NOT NULL,
    at           BIGINT NOT NULL,
    status_code  INTEGER NOT NULL,
    latency_us   BIGINT NOT NULL,
    response     TEXT NOT NULL,
    error        TEXT NOT NULL,
    PRIMARY KEY (delivery_id, number)
);

-- +goose Down
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE events;
