-- payment-buttons core, PostgreSQL. Keep in step with ../../sqlite.
-- The buyer's e-mail from the button, ASCII-lower-cased, in a column of its own with an index: the operator
-- console finds "every payment of this buyer" by it, newest first, without reading every button's JSON.
-- Written once, when the payment is created (the button never changes); NULL when the button gave none.
ALTER TABLE payments ADD COLUMN email TEXT;

-- Existing rows: the same value the code writes. translate(), not lower(): lower() would also fold non-ASCII
-- letters (by the database's locale), and the code folds ASCII letters only.
UPDATE payments
   SET email = translate(btrim(button::jsonb ->> 'email'),
                         'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
 WHERE jsonb_typeof(button::jsonb -> 'email') = 'string';

CREATE INDEX payments_email ON payments (email, created_at, id);
