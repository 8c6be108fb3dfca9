-- A sign-in attempt is recorded before its password is checked (and deleted when the password was
-- right): the throttle counts reservations, not finished failures. `device` is the id of the browser's
-- device cookie when it was issued for this account: such a browser has its own bucket (docs/security.md).
ALTER TABLE librement_sign_in_failures ADD COLUMN device TEXT;
CREATE INDEX librement_sign_in_failures_device ON librement_sign_in_failures (email, device, failed_at);
