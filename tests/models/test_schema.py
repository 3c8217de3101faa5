"""The schema: migrations are idempotent and the database itself enforces the rules of SPEC §4."""
from __future__ import annotations

import peewee
import pytest

from core import db
from models import schema
from models.students.tables import Student
from tests.factories import make_student


def test_migrate_twice_is_a_no_op(conn):
    assert schema.migrate() == []
    assert schema.pending() == []


def test_balance_can_never_go_negative_even_from_raw_sql(conn):
    student = make_student()
    with pytest.raises(peewee.IntegrityError), db.db.atomic():
        db.execute("UPDATE students SET salty_bucks_balance = -1 WHERE id = %s", (str(student["id"]),))
    assert Student.get_by_id(student["id"]).salty_bucks_balance == 100


@pytest.mark.parametrize("column,first,second", [
    ("email", "Same@Example.com", "same@example.com"),
    ("username", "Alice", "alice"),
    ("external_id", 5, 5),
])
def test_uniqueness_among_live_students_is_enforced_by_the_database(conn, column, first, second):
    a = make_student()
    b = make_student()
    Student.update(**{column: first}).where(Student.id == a["id"]).execute()
    with pytest.raises(peewee.IntegrityError), db.db.atomic():
        Student.update(**{column: second}).where(Student.id == b["id"]).execute()
    # Once the holder is soft-deleted the value is free.
    Student.update(deleted_at=Student.created_at).where(Student.id == a["id"]).execute()
    Student.update(**{column: second}).where(Student.id == b["id"]).execute()


def test_search_uses_a_trigram_index(conn):
    names = {r[0] for r in db.fetch_all("SELECT indexname FROM pg_indexes WHERE tablename = 'students'")}
    assert "students_search_trgm_idx" not in names  # moved to the narrow table (migration 0004)
    assert "student_search_doc_trgm_idx" in {r[0] for r in db.fetch_all(
        "SELECT indexname FROM pg_indexes WHERE tablename = %s", ("student_search",))}
    assert db.fetch_one("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'") is not None


def test_sqlite_schema_builds_twice(tmp_path):
    """The embedded default gets the same tables from the same migration file."""
    import subprocess
    import sys

    script = (
        "from core import db; from models import schema; "
        f"db.init('sqlite:///{tmp_path / 'x.db'}'); "
        "print(schema.migrate(), schema.migrate())"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=schema.MIGRATIONS.parents[1])
    assert out.stdout.strip() == str([m.stem for m in sorted(schema.MIGRATIONS.glob("0*.py"))]) + " []"
    assert "0004_student_search" in out.stdout
