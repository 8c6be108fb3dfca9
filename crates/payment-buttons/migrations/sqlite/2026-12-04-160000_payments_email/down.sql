DROP INDEX payments_email;
ALTER TABLE payments DROP COLUMN email;
