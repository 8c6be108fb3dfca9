-- Librement accounts people can live with (docs/librement.md): verified e-mail addresses, the links of the
-- verification and password-reset e-mails, the e-mail queue, payouts, money added to an account without a
-- purchase, and the ledger's new kinds (earnings moved at verification, payouts).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE librement_transactions_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('top_up', 'purchase', 'guest_purchase', 'reversal', 'reversal_cancelled',
                                                  'earnings', 'payout', 'payout_paid', 'payout_rejected')),
    created_at      TIMESTAMP NOT NULL
);
INSERT INTO librement_transactions_rebuilt (id, idempotency_key, kind, created_at)
    SELECT id, idempotency_key, kind, created_at FROM librement_transactions;
DROP TABLE librement_transactions;
ALTER TABLE librement_transactions_rebuilt RENAME TO librement_transactions;
CREATE TRIGGER librement_transactions_no_update BEFORE UPDATE ON librement_transactions
BEGIN SELECT RAISE(ABORT, 'librement ledger transactions are append-only'); END;
CREATE TRIGGER librement_transactions_no_delete BEFORE DELETE ON librement_transactions
BEGIN SELECT RAISE(ABORT, 'librement ledger transactions are append-only'); END;

-- The statement reads an account's entries newest first.
CREATE INDEX librement_entries_account_transaction ON librement_entries (account, transaction_id);

-- An address proven by the link of a verification (or password-reset) e-mail. Only a verified account
-- receives a seller's earnings.
CREATE TABLE librement_email_verifications (
    user_id     BIGINT PRIMARY KEY NOT NULL REFERENCES librement_users (id),
    email       TEXT NOT NULL,
    verified_at TIMESTAMP NOT NULL
);
CREATE INDEX librement_email_verifications_email ON librement_email_verifications (email);

-- The links sent by e-mail, known by the SHA-256 digest of their nonce only; used once.
CREATE TABLE librement_email_tokens (
    digest     TEXT PRIMARY KEY NOT NULL,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
    user_id    BIGINT NOT NULL REFERENCES librement_users (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX librement_email_tokens_user ON librement_email_tokens (user_id, purpose);

-- Requests for those e-mails, counted per typed address and per source address (throttling).
CREATE TABLE librement_mail_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    purpose      TEXT NOT NULL,
    email        TEXT NOT NULL,
    ip           TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL
);
CREATE INDEX librement_mail_requests_email ON librement_mail_requests (purpose, email, requested_at);
CREATE INDEX librement_mail_requests_ip ON librement_mail_requests (purpose, ip, requested_at);

-- The outgoing e-mail queue (and the simulator's mailbox). A receipt is queued in the transaction of the
-- payment it describes; `dedup_key` makes each message unique.
CREATE TABLE librement_mail (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    dedup_key       TEXT NOT NULL UNIQUE,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    secret          BOOLEAN NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP,
    attempts        INTEGER NOT NULL DEFAULT 0,
    sent_at         TIMESTAMP,
    last_error      TEXT
);
CREATE INDEX librement_mail_due ON librement_mail (sent_at, next_attempt_at);

-- Payout requests: held at once in the ledger, paid or rejected by an operator.
CREATE TABLE librement_payouts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id      BIGINT NOT NULL REFERENCES librement_users (id),
    currency     TEXT NOT NULL CHECK (length(currency) = 3),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    state        TEXT NOT NULL CHECK (state IN ('requested', 'paid', 'rejected')),
    requested_at TIMESTAMP NOT NULL,
    decided_at   TIMESTAMP,
    decided_by   TEXT,
    note         TEXT,
    -- The language of the page the request was made on: the decision is e-mailed in it.
    language     TEXT NOT NULL DEFAULT 'en'
);
CREATE INDEX librement_payouts_state ON librement_payouts (state, id);
CREATE INDEX librement_payouts_user ON librement_payouts (user_id, id);

-- Money added to an account through a gateway, with no purchase (/librement/account/top-up).
CREATE TABLE librement_account_top_ups (
    payment_id TEXT PRIMARY KEY NOT NULL REFERENCES payments (id),
    user_id    BIGINT NOT NULL REFERENCES librement_users (id),
    created_at TIMESTAMP NOT NULL
);

COMMIT;
PRAGMA foreign_keys = ON;
