DROP TABLE outbox_claims;
