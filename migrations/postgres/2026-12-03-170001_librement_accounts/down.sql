-- Fails while earnings or payouts are in the ledger (the CHECK refuses them; the ledger is append-only).
DROP TABLE librement_account_top_ups;
DROP TABLE librement_payouts;
DROP TABLE librement_mail;
DROP TABLE librement_mail_requests;
DROP TABLE librement_email_tokens;
DROP TABLE librement_email_verifications;
DROP INDEX librement_entries_account_transaction;
ALTER TABLE librement_transactions DROP CONSTRAINT librement_transactions_kind_check;
ALTER TABLE librement_transactions ADD CONSTRAINT librement_transactions_kind_check
    CHECK (kind IN ('top_up', 'purchase', 'guest_purchase', 'reversal', 'reversal_cancelled'));
