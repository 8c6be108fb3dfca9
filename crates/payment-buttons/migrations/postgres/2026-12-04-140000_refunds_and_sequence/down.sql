-- Reverts 2026-12-04-140000 as far as it can: partly refunded payments become 'refunded' again.
UPDATE payments SET state = 'refunded' WHERE state = 'accepted' AND refunded_minor > 0;
UPDATE events
SET payload = jsonb_set(payload::jsonb #- '{details,refund_amount}', '{details,refunded_amount}',
                        payload::jsonb -> 'details' -> 'refund_amount')::text
WHERE payload::jsonb -> 'details' ? 'refund_amount';
UPDATE events SET payload = (payload::jsonb - 'sequence')::text;
DROP INDEX events_payment_sequence;
ALTER TABLE events DROP COLUMN sequence;
ALTER TABLE gateway_messages DROP COLUMN headers;
ALTER TABLE gateway_messages DROP COLUMN direction;
DROP TABLE refunds;
