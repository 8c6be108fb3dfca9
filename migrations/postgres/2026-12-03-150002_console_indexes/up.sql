-- The console's reads at any size (docs/operations.md): the payments list newest first by its keyset
-- (created_at, id), a payment by the shop's order reference, a payment's webhook deliveries.
CREATE INDEX payments_created_id ON payments (created_at, id);
CREATE INDEX payments_order_reference ON payments (order_reference);
CREATE INDEX webhook_deliveries_payment ON webhook_deliveries (payment_id, id);
