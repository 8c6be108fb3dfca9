-- payment-buttons core, SQLite. Keep in step with ../../postgres.
-- The buyer's e-mail from the button, ASCII-lower-cased, in a column of its own with an index: the operator
-- console finds "every payment of this buyer" by it, newest first, without reading every button's JSON.
-- Written once, when the payment is created (the button never changes); NULL when the button gave none.
ALTER TABLE payments ADD COLUMN email TEXT;

-- Existing rows: the same value the code writes (SQLite's lower() folds ASCII letters only, as the code does).
UPDATE payments
   SET email = lower(trim(json_extract(button, '$.email')))
 WHERE json_type(button, '$.email') = 'text';

CREATE INDEX payments_email ON payments (email, created_at, id);
