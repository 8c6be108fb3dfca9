DROP INDEX webhook_deliveries_payment;
DROP INDEX payments_order_reference;
DROP INDEX payments_created_id;
