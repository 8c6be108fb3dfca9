DROP TRIGGER operator_audit_append_only ON operator_audit;
DROP FUNCTION operator_audit_append_only();
DROP TABLE operator_audit;
DROP TABLE operator_sessions;
DROP TABLE operators;
