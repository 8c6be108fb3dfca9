-- Fails while reversals are in the ledger: they cannot be removed (the ledger is append-only).
ALTER TABLE librement_transactions DROP CONSTRAINT librement_transactions_kind_check;
ALTER TABLE librement_transactions ADD CONSTRAINT librement_transactions_kind_check
    CHECK (kind IN ('top_up', 'purchase', 'guest_purchase'));
