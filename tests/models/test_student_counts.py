"""The trigger-kept counts behind `recordsTotal` stay exact through every kind of change to `students`."""
from __future__ import annotations

from core import db
from models.ledger import ops as ledger
from models.students import ops as students
from models.students.tables import Student
from tests.factories import make_student


def _kept() -> dict:
    return {(a, f): n for a, f, n in db.fetch_all("SELECT is_active, is_frozen, n FROM student_counts") if n}


def _actual() -> dict:
    return {(a, f): n for a, f, n in db.fetch_all(
        "SELECT is_active, is_frozen, count(*) FROM students WHERE deleted_at IS NULL GROUP BY 1, 2")}


def test_counts_follow_inserts_updates_deletes_and_truncate(conn):
    made = [make_student() for _ in range(6)]
    assert _kept() == _actual() == {(True, False): 6}
    students.set_active_many([str(m["id"]) for m in made[:2]], False)
    students.update_student(made[2]["id"], {"is_frozen": True})
    students.update_student(made[3]["id"], {"theme": "dark"})  # a preference moves no count
    students.soft_delete_returning([str(made[4]["id"])])
    assert _kept() == _actual() == {(False, False): 2, (True, True): 1, (True, False): 2}
    with db.db.atomic():  # a hard delete, as the merge does it: the ledger moves first
        ledger.move_entries(made[5]["id"], made[3]["id"])
        Student.delete().where(Student.id == made[5]["id"]).execute()
    assert _kept() == _actual() == {(False, False): 2, (True, True): 1, (True, False): 1}
    db.execute("TRUNCATE students CASCADE")
    assert _kept() == _actual() == {}


def test_list_total_uses_the_counts_and_matches_count_star(client, tokens, conn):
    for i in range(5):
        make_student(is_active=i % 2 == 0)
    headers = tokens.bearer(tokens.admin("igor"))
    for params, expected in (({}, 5), ({"filter[is_active]": "true"}, 3), ({"filter[is_active]": "false"}, 2),
                             ({"filter[is_frozen]": "true"}, 0), ({"filter[search]": "student"}, 5)):
        assert client.simulate_get("/students", params=params, headers=headers).json["meta"]["recordsTotal"] \
            == expected, params
