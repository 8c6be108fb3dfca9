-- Refunds and reversals (chargebacks) of top-ups and guest payments, and their cancellation, are ledger
-- transactions of their own kinds (docs/librement.md, "Chargebacks and refunds of top-ups").
ALTER TABLE librement_transactions DROP CONSTRAINT librement_transactions_kind_check;
ALTER TABLE librement_transactions ADD CONSTRAINT librement_transactions_kind_check
    CHECK (kind IN ('top_up', 'purchase', 'guest_purchase', 'reversal', 'reversal_cancelled'));
