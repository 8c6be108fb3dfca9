-- Refunds of Librement purchases asked through the payments API or the console (docs/librement.md,
-- "Refunds of purchases"): the ledger's kind `refund` (a balance refund: seller -> buyer), and each
-- caller's request with the parts it was split into, so that the same Idempotency-Key replays them.
-- SQLite cannot change a CHECK: the transactions table is rebuilt, its ids and triggers kept.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE librement_transactions_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('top_up', 'purchase', 'guest_purchase', 'reversal', 'reversal_cancelled',
                                                  'earnings', 'payout', 'payout_paid', 'payout_rejected', 'refund')),
    created_at      TIMESTAMP NOT NULL
);
INSERT INTO librement_transactions_rebuilt (id, idempotency_key, kind, created_at)
    SELECT id, idempotency_key, kind, created_at FROM librement_transactions;
DROP TABLE librement_transactions;
ALTER TABLE librement_transactions_rebuilt RENAME TO librement_transactions;
CREATE TRIGGER librement_transactions_no_update BEFORE UPDATE ON librement_transactions
BEGIN SELECT RAISE(ABORT, 'librement ledger transactions are append-only'); END;
CREATE TRIGGER librement_transactions_no_delete BEFORE DELETE ON librement_transactions
BEGIN SELECT RAISE(ABORT, 'librement ledger transactions are append-only'); END;

CREATE TABLE librement_refund_requests (
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    idempotency_key    TEXT NOT NULL,
    request_hash       TEXT NOT NULL,
    top_up_id          TEXT REFERENCES payments (id),
    gateway_part_minor BIGINT NOT NULL CHECK (gateway_part_minor >= 0),
    balance_part_minor BIGINT NOT NULL CHECK (balance_part_minor >= 0),
    created_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (payment_id, idempotency_key)
);

COMMIT;
PRAGMA foreign_keys = ON;
