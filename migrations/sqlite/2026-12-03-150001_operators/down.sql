DROP TRIGGER operator_audit_no_delete;
DROP TRIGGER operator_audit_no_update;
DROP TABLE operator_audit;
DROP INDEX operator_sessions_operator;
DROP TABLE operator_sessions;
DROP TABLE operators;
