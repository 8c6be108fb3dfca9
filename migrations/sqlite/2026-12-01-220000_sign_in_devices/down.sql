DROP INDEX librement_sign_in_failures_device;
ALTER TABLE librement_sign_in_failures DROP COLUMN device;
