-- Refunds of Librement purchases asked through the payments API or the console (docs/librement.md,
-- "Refunds of purchases"): the ledger's kind `refund` (a balance refund: seller -> buyer), and each
-- caller's request with the parts it was split into, so that the same Idempotency-Key replays them.
ALTER TABLE librement_transactions DROP CONSTRAINT librement_transactions_kind_check;
ALTER TABLE librement_transactions ADD CONSTRAINT librement_transactions_kind_check
    CHECK (kind IN ('top_up', 'purchase', 'guest_purchase', 'reversal', 'reversal_cancelled',
                    'earnings', 'payout', 'payout_paid', 'payout_rejected', 'refund'));

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
