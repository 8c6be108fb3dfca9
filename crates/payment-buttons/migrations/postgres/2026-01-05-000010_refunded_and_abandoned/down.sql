DROP INDEX payments_state_created;
ALTER TABLE payments DROP COLUMN refunded_minor;
UPDATE payments SET state = 'created' WHERE state = 'abandoned';
ALTER TABLE payments DROP CONSTRAINT payments_state_check;
ALTER TABLE payments ADD CONSTRAINT payments_state_check
    CHECK (state IN ('created', 'pending', 'accepted', 'declined', 'refunded', 'cancelled'));
