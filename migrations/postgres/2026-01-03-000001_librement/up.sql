-- Librement, PostgreSQL. Keep in step with ../../sqlite (same tables, columns and meaning).

CREATE TABLE librement_users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stored trimmed and lower-case: uniqueness is case-insensitive.
    email         TEXT NOT NULL UNIQUE CHECK (email = lower(email)),
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

-- One row per account: the row a posting locks (FOR UPDATE) before it checks a balance.
CREATE TABLE librement_accounts (
    key        TEXT PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE librement_transactions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('top_up', 'purchase', 'guest_purchase')),
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE librement_entries (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id BIGINT NOT NULL REFERENCES librement_transactions (id),
    account        TEXT NOT NULL REFERENCES librement_accounts (key),
    currency       TEXT NOT NULL CHECK (length(currency) = 3),
    amount_minor   BIGINT NOT NULL CHECK (amount_minor <> 0)
);
CREATE INDEX librement_entries_account ON librement_entries (account, currency);

-- The ledger is append-only, whatever the application does.
CREATE FUNCTION librement_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'librement ledger rows are append-only';
END;
$$;
CREATE TRIGGER librement_entries_append_only BEFORE UPDATE OR DELETE ON librement_entries
    FOR EACH ROW EXECUTE FUNCTION librement_append_only();
CREATE TRIGGER librement_transactions_append_only BEFORE UPDATE OR DELETE ON librement_transactions
    FOR EACH ROW EXECUTE FUNCTION librement_append_only();

-- Failed sign-ins, for throttling (per account and per address).
CREATE TABLE librement_sign_in_failures (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email     TEXT NOT NULL,
    ip        TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX librement_sign_in_failures_email ON librement_sign_in_failures (email, failed_at);
CREATE INDEX librement_sign_in_failures_ip ON librement_sign_in_failures (ip, failed_at);

-- A payment through a gateway made for a Librement purchase: a top-up of a user's account by the part
-- the balance does not cover, or (user_id NULL) a guest's payment of the whole price. When the core
-- applies an outcome to it, the purchase is completed in the same transaction (docs/librement.md).
CREATE TABLE librement_top_ups (
    payment_id  TEXT PRIMARY KEY NOT NULL REFERENCES payments (id),
    purchase_id TEXT NOT NULL REFERENCES payments (id),
    user_id     BIGINT REFERENCES librement_users (id),
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX librement_top_ups_purchase ON librement_top_ups (purchase_id);
