-- Reverts 2026-12-04-140000 as far as it can: partly refunded payments become 'refunded' again.
UPDATE payments SET state = 'refunded' WHERE state = 'accepted' AND refunded_minor > 0;
UPDATE events
SET payload = json_set(json_remove(payload, '$.details.refund_amount'), '$.details.refunded_amount',
                       json_extract(payload, '$.details.refund_amount'))
WHERE json_type(payload, '$.details.refund_amount') IS NOT NULL;
UPDATE events SET payload = json_remove(payload, '$.sequence');
DROP INDEX events_payment_sequence;
ALTER TABLE events DROP COLUMN sequence;
ALTER TABLE gateway_messages DROP COLUMN headers;
ALTER TABLE gateway_messages DROP COLUMN direction;
DROP TABLE refunds;
