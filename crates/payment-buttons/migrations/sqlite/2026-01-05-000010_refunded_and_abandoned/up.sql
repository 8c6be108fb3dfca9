-- Payments gain the state 'abandoned' (created and never paid within server.abandon_after; never deleted) and
-- refunded_minor: the sum of the refunds and reversals applied, in minor units. The planner refuses any
-- refund that would take it past amount_minor. A payment already refunded before this column existed is
-- counted as wholly refunded (its earlier partial refunds cannot be added up again): a further refund is
-- refused and an operator decides.
-- SQLite's procedure for changing a CHECK constraint (https://www.sqlite.org/lang_altertable.html, section 7).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE payments_new (
    id                TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 12),
    gateway           TEXT NOT NULL,
    order_reference   TEXT NOT NULL,
    button            TEXT NOT NULL,
    option_index      INTEGER NOT NULL CHECK (option_index >= 0),
    amount_minor      BIGINT NOT NULL,
    currency          TEXT NOT NULL CHECK (length(currency) = 3),
    state             TEXT NOT NULL
        CHECK (state IN ('created', 'pending', 'accepted', 'declined', 'refunded', 'cancelled', 'abandoned')),
    receiver          TEXT,
    subscription_id   TEXT REFERENCES payments (id),
    gateway_reference TEXT,
    details           TEXT NOT NULL DEFAULT '{}',
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    refunded_minor    BIGINT NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor)
);
INSERT INTO payments_new (id, gateway, order_reference, button, option_index, amount_minor, currency, state,
                          receiver, subscription_id, gateway_reference, details, created_at, updated_at,
                          refunded_minor)
    SELECT id, gateway, order_reference, button, option_index, amount_minor, currency, state,
           receiver, subscription_id, gateway_reference, details, created_at, updated_at,
           CASE WHEN state = 'refunded' THEN amount_minor ELSE 0 END
    FROM payments;
DROP TABLE payments;
ALTER TABLE payments_new RENAME TO payments;
CREATE INDEX payments_subscription_cycle ON payments (subscription_id, gateway_reference);
-- The periodic sweep that marks created payments nobody paid as abandoned.
CREATE INDEX payments_state_created ON payments (state, created_at);
COMMIT;
PRAGMA foreign_keys = ON;
