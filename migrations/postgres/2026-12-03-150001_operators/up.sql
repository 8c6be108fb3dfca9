-- The operator console (/admin, docs/operations.md), PostgreSQL. Keep in step with ../../sqlite.
CREATE TABLE operators (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stored trimmed and lower-case: uniqueness is case-insensitive.
    email         TEXT NOT NULL UNIQUE CHECK (email = lower(email)),
    role          TEXT NOT NULL CHECK (role IN ('operator', 'viewer')),
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

-- A signed-in browser, known by the SHA-256 digest of its cookie's random token only.
CREATE TABLE operator_sessions (
    digest      TEXT PRIMARY KEY NOT NULL,
    operator_id BIGINT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);

-- Every action an operator took. Append-only: a trigger refuses UPDATE and DELETE.
CREATE TABLE operator_audit (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       TIMESTAMP NOT NULL,
    operator TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    outcome  TEXT NOT NULL
);
CREATE FUNCTION operator_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the operator audit is append-only';
END;
$$;
CREATE TRIGGER operator_audit_append_only BEFORE UPDATE OR DELETE ON operator_audit
FOR EACH ROW EXECUTE FUNCTION operator_audit_append_only();
