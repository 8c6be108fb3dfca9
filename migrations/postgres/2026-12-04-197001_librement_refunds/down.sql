-- Fails while balance refunds are in the ledger (the CHECK refuses them; the ledger is append-only).
DROP TABLE librement_refund_requests;
ALTER TABLE librement_transactions DROP CONSTRAINT librement_transactions_kind_check;
ALTER TABLE librement_transactions ADD CONSTRAINT librement_transactions_kind_check
    CHECK (kind IN ('top_up', 'purchase', 'guest_purchase', 'reversal', 'reversal_cancelled',
                    'earnings', 'payout', 'payout_paid', 'payout_rejected'));
