-- payment-buttons core, SQLite. Keep in step with ../../postgres.
-- Which instance holds an undispatched event for its in-process listeners, until when. A row whose lease
-- has passed is free again; rows are removed when the event is dispatched or released.
-- Until 0.1 the server's webhooks migration (2026-01-02-000001) created this table; it belongs to the
-- core's outbox. A database made by that release has it already: IF NOT EXISTS leaves it, and its rows, as
-- they are.
CREATE TABLE IF NOT EXISTS outbox_claims (
    seq           BIGINT PRIMARY KEY NOT NULL REFERENCES events (seq),
    claimed_until TIMESTAMP NOT NULL
);
