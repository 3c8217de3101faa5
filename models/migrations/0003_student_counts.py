"""Exact counts of live students by (is_active, is_frozen), kept by statement-level triggers (PostgreSQL).

`GET /students` needs an exact `recordsTotal`; `count(*)` over a million live rows takes ~100 ms, this table one
index lookup. Every INSERT, UPDATE, DELETE and TRUNCATE of `students` moves the counts in the same transaction, from
the statement's transition tables, so the counts are exact whatever path changed the rows. An UPDATE that changes
none of deleted_at / is_active / is_frozen (a preference) writes nothing here.
"""
from peewee import SqliteDatabase

STATEMENTS = [
    """CREATE TABLE student_counts (
        is_active boolean NOT NULL,
        is_frozen boolean NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (is_active, is_frozen)
    )""",
    """INSERT INTO student_counts (is_active, is_frozen, n)
       SELECT v.a, v.f, (SELECT count(*) FROM students s
                         WHERE s.deleted_at IS NULL AND s.is_active = v.a AND s.is_frozen = v.f)
       FROM (VALUES (true, true), (true, false), (false, true), (false, false)) AS v(a, f)""",
    """CREATE FUNCTION student_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE student_counts c SET n = c.n + d.n
            FROM (SELECT is_active, is_frozen, count(*) AS n FROM new_rows WHERE deleted_at IS NULL
                  GROUP BY is_active, is_frozen) d
            WHERE c.is_active = d.is_active AND c.is_frozen = d.is_frozen;
        ELSIF TG_OP = 'DELETE' THEN
            UPDATE student_counts c SET n = c.n - d.n
            FROM (SELECT is_active, is_frozen, count(*) AS n FROM old_rows WHERE deleted_at IS NULL
                  GROUP BY is_active, is_frozen) d
            WHERE c.is_active = d.is_active AND c.is_frozen = d.is_frozen;
        ELSE
            UPDATE student_counts c SET n = c.n + d.n
            FROM (SELECT is_active, is_frozen, sum(delta) AS n FROM (
                      SELECT is_active, is_frozen, 1 AS delta FROM new_rows WHERE deleted_at IS NULL
                      UNION ALL
                      SELECT is_active, is_frozen, -1 FROM old_rows WHERE deleted_at IS NULL) AS x
                  GROUP BY is_active, is_frozen HAVING sum(delta) <> 0) d
            WHERE c.is_active = d.is_active AND c.is_frozen = d.is_frozen;
        END IF;
        RETURN NULL;
    END
    $$""",
    """CREATE FUNCTION student_counts_reset() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE student_counts SET n = 0;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER students_counts_insert AFTER INSERT ON students REFERENCING NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION student_counts_apply()""",
    """CREATE TRIGGER students_counts_update AFTER UPDATE ON students
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION student_counts_apply()""",
    """CREATE TRIGGER students_counts_delete AFTER DELETE ON students REFERENCING OLD TABLE AS old_rows
       FOR EACH STATEMENT EXECUTE FUNCTION student_counts_apply()""",
    """CREATE TRIGGER students_counts_truncate AFTER TRUNCATE ON students
       FOR EACH STATEMENT EXECUTE FUNCTION student_counts_reset()""",
]


def up(migrator, db):
    if isinstance(db, SqliteDatabase):
        return  # the embedded default counts with count(*)
    for statement in STATEMENTS:
        db.execute_sql(statement)


def down(migrator, db):
    if isinstance(db, SqliteDatabase):
        return
    for trigger in ("insert", "update", "delete", "truncate"):
        db.execute_sql(f"DROP TRIGGER IF EXISTS students_counts_{trigger} ON students")
    db.execute_sql("DROP FUNCTION IF EXISTS student_counts_apply()")
    db.execute_sql("DROP FUNCTION IF EXISTS student_counts_reset()")
    db.execute_sql("DROP TABLE IF EXISTS student_counts")
