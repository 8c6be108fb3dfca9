-- librement-pay, SQLite. Keep in step with ../../postgres (same tables, columns and meaning).
-- Timestamps are UTC, written by Diesel as 'YYYY-MM-DD HH:MM:SS[.fff]' text: comparing it as text compares times.

CREATE TABLE payments (
    id                TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 12),
    gateway           TEXT NOT NULL,
    order_reference   TEXT NOT NULL,
    button            TEXT NOT NULL,
    option_index      INTEGER NOT NULL CHECK (option_index >= 0),
    amount_minor      BIGINT NOT NULL,
    currency          TEXT NOT NULL CHECK (length(currency) = 3),
    state             TEXT NOT NULL
        CHECK (state IN ('created', 'pending', 'accepted', 'declined', 'refunded', 'cancelled')),
    receiver          TEXT,
    subscription_id   TEXT REFERENCES payments (id),
    gateway_reference TEXT,
    details           TEXT NOT NULL DEFAULT '{}',
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX payments_subscription_cycle ON payments (subscription_id, gateway_reference);

-- The gateway log: no constraint here depends on what a gateway sends, so a row is never refused.
CREATE TABLE gateway_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    gateway      TEXT NOT NULL,
    remote_addr  TEXT,
    method       TEXT NOT NULL,
    content_type TEXT,
    body         BLOB NOT NULL,
    fields       TEXT NOT NULL DEFAULT '{}',
    verification TEXT NOT NULL DEFAULT 'pending'
        CHECK (verification IN ('pending', 'verified', 'invalid', 'bad_mac', 'error')),
    flags        TEXT NOT NULL DEFAULT '[]',
    payment_id   TEXT,
    outcome      TEXT
);
CREATE INDEX gateway_messages_payment ON gateway_messages (payment_id);

CREATE TABLE message_queue (
    message_id      BIGINT PRIMARY KEY NOT NULL REFERENCES gateway_messages (id),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until   TIMESTAMP,
    last_error      TEXT
);
CREATE INDEX message_queue_due ON message_queue (next_attempt_at);

CREATE TABLE applied_notifications (
    gateway         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    message_id      BIGINT NOT NULL REFERENCES gateway_messages (id),
    -- Deferred: the key is recorded before a new subscription cycle it points to is inserted.
    payment_id      TEXT NOT NULL REFERENCES payments (id) DEFERRABLE INITIALLY DEFERRED,
    applied_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (gateway, idempotency_key)
);

CREATE TABLE events (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    id                 TEXT NOT NULL UNIQUE,
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    kind               TEXT NOT NULL,
    payload            TEXT NOT NULL,
    gateway_message_id BIGINT REFERENCES gateway_messages (id),
    created_at         TIMESTAMP NOT NULL,
    dispatched_at      TIMESTAMP
);
CREATE INDEX events_undispatched ON events (seq) WHERE dispatched_at IS NULL;
CREATE INDEX events_payment ON events (payment_id, seq);
