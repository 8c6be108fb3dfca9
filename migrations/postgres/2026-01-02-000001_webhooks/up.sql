-- librement-pay, PostgreSQL: webhook delivery. Keep in step with ../../sqlite.

-- (outbox_claims, created here until 0.1, belongs to the core: payment-buttons/migrations, 2026-12-03-120000.)

-- Webhook endpoints the server has something to remember about (today: that a 410 disabled it).
-- Endpoints are identified by their URL; configured endpoints without a row are enabled.
CREATE TABLE webhook_endpoints (
    url             TEXT PRIMARY KEY NOT NULL,
    disabled_at     TIMESTAMP,
    disabled_reason TEXT
);

-- One row per event and endpoint that wants it, written by the fan-out from the outbox.
CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq       BIGINT NOT NULL REFERENCES events (seq),
    event_id        TEXT NOT NULL,
    payment_id      TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed', 'disabled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until   TIMESTAMP,
    last_attempt_at TIMESTAMP,
    last_status     INTEGER,
    last_error      TEXT,
    finished_at     TIMESTAMP,
    UNIQUE (event_seq, endpoint)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint, next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint, payment_id, event_seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (status, endpoint);

-- Every attempt, for the operator pages. `error` never holds a secret or a response body.
CREATE TABLE webhook_attempts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    attempted_at TIMESTAMP NOT NULL,
    http_status  INTEGER,
    latency_ms   BIGINT NOT NULL,
    error        TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
