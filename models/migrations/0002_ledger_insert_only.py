"""The ledger is insert-only: PostgreSQL refuses UPDATE and DELETE on salty_bucks_logs.

The one exception is the account merge, which re-homes entries (student_id only) after setting the transaction-local
`students.ledger_move` flag (models.ledger.ops.move_entries).
"""
from peewee import SqliteDatabase

GUARD = """
CREATE FUNCTION salty_bucks_logs_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('students.ledger_move', true) = 'on'
       AND (to_jsonb(NEW) - 'student_id') = (to_jsonb(OLD) - 'student_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING MESSAGE = 'salty_bucks_logs is insert-only: ' || TG_OP || ' refused',
                          ERRCODE = 'restrict_violation';
END
$$
"""
TRIGGER = """
CREATE TRIGGER salty_bucks_logs_insert_only BEFORE UPDATE OR DELETE ON salty_bucks_logs
    FOR EACH ROW EXECUTE FUNCTION salty_bucks_logs_guard()
"""


def up(migrator, db):
    if isinstance(db, SqliteDatabase):
        db.execute_sql("CREATE TRIGGER salty_bucks_logs_no_delete BEFORE DELETE ON salty_bucks_logs "
                       "BEGIN SELECT RAISE(ABORT, 'salty_bucks_logs is insert-only'); END")
        return
    db.execute_sql(GUARD)
    db.execute_sql(TRIGGER)


def down(migrator, db):
    if isinstance(db, SqliteDatabase):
        db.execute_sql("DROP TRIGGER IF EXISTS salty_bucks_logs_no_delete")
        return
    db.execute_sql("DROP TRIGGER IF EXISTS salty_bucks_logs_insert_only ON salty_bucks_logs")
    db.execute_sql("DROP FUNCTION IF EXISTS salty_bucks_logs_guard()")
