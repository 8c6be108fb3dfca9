-- payment-buttons core, SQLite. Keep in step with ../../postgres.
-- Issue 14: refunds started by the service, answers of gateways to our calls in the log, event sequences,
-- and partial refunds that leave a payment accepted.

-- A refund we asked a gateway for (origin api or console), or one the gateway told us about (origin gateway:
-- made on its own site). At most one pending refund per payment, so that a later notification of a refund
-- always matches it. The caller's Idempotency-Key is unique per payment; request_hash tells a replay (same
-- body) from a different request under the same key.
CREATE TABLE refunds (
    id                TEXT PRIMARY KEY NOT NULL,
    payment_id        TEXT NOT NULL REFERENCES payments (id),
    amount_minor      BIGINT NOT NULL CHECK (amount_minor > 0),
    currency          TEXT NOT NULL CHECK (length(currency) = 3),
    reason            TEXT,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed', 'unknown')),
    origin            TEXT NOT NULL CHECK (origin IN ('api', 'console', 'gateway')),
    idempotency_key   TEXT,
    request_hash      TEXT,
    gateway_refund_id TEXT,
    failure_reason    TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    first_sent_at     TIMESTAMP,
    next_attempt_at   TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    UNIQUE (payment_id, idempotency_key)
);
CREATE UNIQUE INDEX refunds_one_pending ON refunds (payment_id) WHERE state = 'pending';
CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE state = 'pending';

-- The log also holds the answers of gateways to calls we make (a refund, a cancellation), and the request
-- headers a verification needs.
ALTER TABLE gateway_messages ADD COLUMN direction TEXT NOT NULL DEFAULT 'incoming'
    CHECK (direction IN ('incoming', 'answer'));
ALTER TABLE gateway_messages ADD COLUMN headers TEXT;

-- Events are numbered 1, 2, 3... per payment, in the order written (column and payload).
ALTER TABLE events ADD COLUMN sequence BIGINT NOT NULL DEFAULT 0;
UPDATE events SET sequence = (
    SELECT n FROM (SELECT seq AS s, row_number() OVER (PARTITION BY payment_id ORDER BY seq) AS n FROM events)
    WHERE s = events.seq
);
UPDATE events SET payload = json_set(payload, '$.sequence', sequence);
CREATE UNIQUE INDEX events_payment_sequence ON events (payment_id, sequence);

-- details.refunded_amount (this refund's amount) is now details.refund_amount.
UPDATE events
SET payload = json_set(json_remove(payload, '$.details.refunded_amount'), '$.details.refund_amount',
                       json_extract(payload, '$.details.refunded_amount'))
WHERE json_type(payload, '$.details.refunded_amount') IS NOT NULL;

-- A partly refunded payment stays accepted: only the whole amount refunded makes it refunded.
UPDATE payments SET state = 'accepted' WHERE state = 'refunded' AND refunded_minor < amount_minor;
