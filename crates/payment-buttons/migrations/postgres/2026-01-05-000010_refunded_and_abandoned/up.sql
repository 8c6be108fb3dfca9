-- Payments gain the state 'abandoned' (created and never paid within server.abandon_after; never deleted) and
-- refunded_minor: the sum of the refunds and reversals applied, in minor units. The planner refuses any
-- refund that would take it past amount_minor. A payment already refunded before this column existed is
-- counted as wholly refunded (its earlier partial refunds cannot be added up again): a further refund is
-- refused and an operator decides.
ALTER TABLE payments DROP CONSTRAINT payments_state_check;
ALTER TABLE payments ADD CONSTRAINT payments_state_check
    CHECK (state IN ('created', 'pending', 'accepted', 'declined', 'refunded', 'cancelled', 'abandoned'));
ALTER TABLE payments ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0;
UPDATE payments SET refunded_minor = amount_minor WHERE state = 'refunded';
ALTER TABLE payments ADD CONSTRAINT payments_refunded_check
    CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor);
-- The periodic sweep that marks created payments nobody paid as abandoned.
CREATE INDEX payments_state_created ON payments (state, created_at);
