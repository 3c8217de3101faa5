"""The narrow search table behind `filter[search]` (migration 0004) stays exact through every kind of change."""
from __future__ import annotations

import datetime as dt

from core import db
from models.base import utcnow
from models.ledger import ops as ledger
from models.students import ops as students
from models.students import pruning
from models.students.seed import seed_students
from models.students.tables import Student
from tests.factories import make_student


def _kept() -> dict[str, str]:
    return {str(i): d for i, d in db.fetch_all("SELECT student_id, doc FROM student_search")}


def _actual() -> dict[str, str]:
    return {str(i): d for i, d in db.fetch_all(
        "SELECT id, lower(name || chr(31) || email || chr(31) || coalesce(username, '')) FROM students "
        "WHERE deleted_at IS NULL")}


def test_search_rows_follow_inserts_updates_deletes_and_truncate(conn):
    made = [str(make_student(name=f"Ada Smith {i}")["id"]) for i in range(6)]
    assert _kept() == _actual() and len(_kept()) == 6
    seed_students(30, batch=10, workers=1)  # bulk INSERT ... SELECT statements
    assert _kept() == _actual() and len(_kept()) == 36

    students.update_student(made[0], {"name": "Grace Hopper"})
    students.update_student(made[1], {"email": "NEW.Address@Example.com"})
    students.update_student(made[2], {"username": "Lovelace"})
    assert _kept()[made[0]].startswith("grace hopper\x1f")
    assert _kept()[made[1]].split("\x1f")[1] == "new.address@example.com"
    assert _kept()[made[2]].endswith("\x1flovelace")

    students.update_student(made[3], {"theme": "dark"})  # a preference does not touch the search row
    students.soft_delete_returning([made[4]])
    assert made[4] not in _kept() and _kept() == _actual()
    Student.update(deleted_at=None).where(Student.id == made[4]).execute()  # restored: searchable again
    assert made[4] in _kept() and _kept() == _actual()

    with db.db.atomic():  # a hard delete, as the merge does it
        ledger.move_entries(made[5], made[3])
        Student.delete().where(Student.id == made[5]).execute()
    assert made[5] not in _kept() and _kept() == _actual()
    db.execute("TRUNCATE students CASCADE")
    assert _kept() == _actual() == {}


def test_pruning_removes_the_search_rows_of_its_batch_only(conn):
    old = utcnow() - dt.timedelta(days=200)
    gone = [str(make_student(name=f"Old {i}")["id"]) for i in range(5)]
    kept = [str(make_student(name=f"New {i}")["id"]) for i in range(3)]
    Student.update(logged_at=old).where(Student.id.in_(gone)).execute()
    rules = pruning.Rules(max_fraction=1)
    ids = pruning.eligible_ids(rules)
    assert ids == sorted(gone)
    assert pruning.prune_batch(rules, ids[:3]) == 3
    assert _kept() == _actual() and len(_kept()) == 5
    # The flag that skips the per-row trigger is transaction-local and back on: a later soft delete still syncs.
    students.soft_delete_returning([kept[0]])
    assert _kept() == _actual() and kept[0] not in _kept()
    assert pruning.eligible_ids(rules, after=ids[2]) == ids[3:]
    assert pruning.prune_batch(rules, ids[3:] + kept[1:2]) == 2, "a batch re-checks the rules on each row"
    assert _kept() == _actual() and set(_kept()) == set(kept[1:])


def test_search_total_is_the_exact_count_of_matching_live_students(client, tokens, conn):
    for i in range(4):
        make_student(name=f"Jo Smith {i}", is_active=i % 2 == 0)
    make_student(name="Ann Smithers", deleted=True)
    make_student(name="Bob Jones", email="smith.bob@example.com")
    make_student(name="100% Real_Name")
    headers = tokens.bearer(tokens.admin("igor"))

    def total(**params) -> int:
        return client.simulate_get("/students", params=params, headers=headers).json["meta"]["recordsTotal"]

    assert total(**{"filter[search]": "SMITH"}) == 5  # name or e-mail, not the deleted one
    assert total(**{"filter[search]": "smith", "filter[is_active]": "true"}) == 3  # the general count path
    assert total(**{"filter[search]": "100%"}) == 1 and total(**{"filter[search]": "l_n"}) == 1
    assert total(**{"filter[search]": "0%r"}) == 0 and total(**{"filter[search]": "r_al"}) == 0  # "real" as a wildcard
