-- Back to the table of 2026-01-01-000001_initial; abandoned payments become created again.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE payments_old (
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
INSERT INTO payments_old (id, gateway, order_reference, button, option_index, amount_minor, currency, state,
                          receiver, subscription_id, gateway_reference, details, created_at, updated_at)
    SELECT id, gateway, order_reference, button, option_index, amount_minor, currency,
           CASE WHEN state = 'abandoned' THEN 'created' ELSE state END,
           receiver, subscription_id, gateway_reference, details, created_at, updated_at
    FROM payments;
DROP TABLE payments;
ALTER TABLE payments_old RENAME TO payments;
CREATE INDEX payments_subscription_cycle ON payments (subscription_id, gateway_reference);
COMMIT;
PRAGMA foreign_keys = ON;
