-- Fails while earnings or payouts are in the ledger (the CHECK refuses them; the ledger is append-only).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
DROP TABLE librement_account_top_ups;
DROP TABLE librement_payouts;
DROP TABLE librement_mail;
DROP TABLE librement_mail_requests;
DROP TABLE librement_email_tokens;
DROP TABLE librement_email_verifications;
DROP INDEX librement_entries_account_transaction;
CREATE TABLE librement_transactions_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('top_up', 'purchase', 'guest_purchase', 'reversal', 'reversal_cancelled')),
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
