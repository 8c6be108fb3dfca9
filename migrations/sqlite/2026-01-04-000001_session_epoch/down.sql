ALTER TABLE librement_users DROP COLUMN session_epoch;
