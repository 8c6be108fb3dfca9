-- Fails while balance refunds are in the ledger (the CHECK refuses them; the ledger is append-only).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
DROP TABLE librement_refund_requests;
CREATE TABLE librement_transactions_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('top_up', 'purchase', 'guest_purchase', 'reversal', 'reversal_cancelled',
                                                  'earnings', 'payout', 'payout_paid', 'payout_rejected')),
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
COMMIT;
PRAGMA foreign_keys = ON;
