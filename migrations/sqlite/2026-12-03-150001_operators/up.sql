-- The operator console (/admin, docs/operations.md): operator accounts, their sessions, and the audit of
-- every action they take. Separate from Librement's users: an operator is not a buyer.
CREATE TABLE operators (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    -- Stored trimmed and lower-case: uniqueness is case-insensitive.
    email         TEXT NOT NULL UNIQUE CHECK (email = lower(email)),
    role          TEXT NOT NULL CHECK (role IN ('operator', 'viewer')),
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

-- A signed-in browser, known by the SHA-256 digest of its cookie's random token only. `csrf` is the
-- token its forms carry. Removing the operator removes its sessions.
CREATE TABLE operator_sessions (
    digest      TEXT PRIMARY KEY NOT NULL,
    operator_id BIGINT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);

-- Every action an operator took: who (the e-mail, kept when the operator is removed), what, on what, when,
-- and how it ended. Append-only: triggers refuse UPDATE and DELETE.
CREATE TABLE operator_audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    at       TIMESTAMP NOT NULL,
    operator TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    outcome  TEXT NOT NULL
);
CREATE TRIGGER operator_audit_no_update BEFORE UPDATE ON operator_audit
BEGIN SELECT RAISE(ABORT, 'the operator audit is append-only'); END;
CREATE TRIGGER operator_audit_no_delete BEFORE DELETE ON operator_audit
BEGIN SELECT RAISE(ABORT, 'the operator audit is append-only'); END;
