-- Raised by "sign out": a session cookie carries the value it was issued with and is honoured only while
-- they are equal, so signing out ends the account's sessions in every browser, copied cookies included.
ALTER TABLE librement_users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
