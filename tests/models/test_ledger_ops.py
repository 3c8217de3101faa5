"""Ledger operations against real PostgreSQL: entries, overdraft, idempotency, insert-only, concurrency."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import peewee
import pytest

from core import db
from core.errors import Conflict, NotFound
from models.ledger import ops as ledger
from models.ledger import reports
from models.ledger.tables import SaltyBucksLog
from models.students.tables import Student
from tests.factories import make_student

ROOT = Path(__file__).resolve().parents[2]
COURSE = ledger.Reference("course", "course-1")
MISSING = "00000000-0000-0000-0000-0000000000aa"


def entries(student_id) -> list[SaltyBucksLog]:
    return list(SaltyBucksLog.select().where(SaltyBucksLog.student == student_id).order_by(SaltyBucksLog.id))


def balance(student_id) -> int:
    return Student.get_by_id(student_id).salty_bucks_balance


def income_minus_outcome(student_id) -> int:
    row = db.fetch_one("SELECT COALESCE(SUM(CASE operation_type WHEN 'income' THEN amount ELSE -amount END), "
                       "0) FROM salty_bucks_logs WHERE student_id = %s", (str(student_id),))
    return row[0]


# -- credit and debit ----------------------------------------------------------------------------------------
def test_credit_and_debit_write_exactly_one_entry_each(conn):
    sid = make_student()["id"]
    credit = ledger.credit(sid, 25, subtype="purchase_course", reference=COURSE, metadata={"order": 7})
    assert (credit.amount, credit.operation_type, credit.balance_after) == (25, "income", 125)
    debit = ledger.debit(sid, 125, subtype="purchase_course", reference=COURSE)
    assert (debit.amount, debit.operation_type, debit.balance_after) == (125, "outcome", 0)
    rows = entries(sid)
    assert [(e.operation_subtype, e.operation_type, e.amount, e.balance_after) for e in rows] == [
        ("initial_value", "income", 100, 100), ("purchase_course", "income", 25, 125),
        ("purchase_course", "outcome", 125, 0)]
    assert rows[1].metadata == {"order": 7} and rows[1].reference_type == "course"
    assert rows[1].reference_id == "course-1" and rows[1].source == "platform"
    assert balance(sid) == 0 == income_minus_outcome(sid)


def test_debit_never_goes_below_zero(conn):
    sid = make_student()["id"]
    with pytest.raises(Conflict) as exc:
        ledger.debit(sid, 101, subtype="purchase_course", reference=COURSE)
    assert exc.value.status == 409 and exc.value.code == "salty-bucks.insufficient-balance"
    assert balance(sid) == 100 and len(entries(sid)) == 1


def test_amounts_must_be_positive_and_the_student_must_exist(conn):
    sid = make_student()["id"]
    for op in (ledger.credit, ledger.debit):
        for amount in (0, -5):
            with pytest.raises(ValueError):
                op(sid, amount, subtype="purchase_course", reference=COURSE)
        with pytest.raises(NotFound):
            op(MISSING, 1, subtype="purchase_course", reference=COURSE)
    assert balance(sid) == 100 and len(entries(sid)) == 1
    assert SaltyBucksLog.select().where(SaltyBucksLog.student == MISSING).count() == 0


def test_repeated_idempotency_key_returns_the_first_entry(conn):
    sid = make_student()["id"]
    first = ledger.credit(sid, 10, subtype="purchase_course", reference=COURSE, key="grant:1")
    again = ledger.credit(sid, 10, subtype="purchase_course", reference=COURSE, key="grant:1")
    other_amount = ledger.credit(sid, 99, subtype="purchase_course", reference=COURSE, key="grant:1")
    assert first.id == again.id == other_amount.id and again.amount == 10 and again.balance_after == 110
    spend = ledger.debit(sid, 50, subtype="purchase_course", reference=COURSE, key="spend:1")
    assert ledger.debit(sid, 50, subtype="purchase_course", reference=COURSE, key="spend:1").id == spend.id
    assert balance(sid) == 60 and len(entries(sid)) == 3


def test_set_balance_writes_the_difference(conn):
    sid = make_student()["id"]
    up = ledger.set_balance(sid, 130, admin_id="admin-1")
    down = ledger.set_balance(sid, 20, admin_id="admin-1")
    assert ledger.set_balance(sid, 20, admin_id="admin-1") is None
    assert [(e.operation_type, e.amount, e.reference_type, e.reference_id) for e in (up, down)] == [
        ("income", 30, "admin", "admin-1"), ("outcome", 110, "admin", "admin-1")]
    assert len(entries(sid)) == 3 and balance(sid) == 20
    with pytest.raises(NotFound):
        ledger.set_balance(make_student(deleted=True)["id"], 5, admin_id="admin-1")


def test_credit_many_writes_one_entry_each_with_running_balances(conn):
    a, b = make_student()["id"], make_student()["id"]
    batch = [(str(a), 5, "k:a1", "r1"), (str(a), 7, "k:a2", "r2"), (str(b), 1, "k:b1", None)]
    moved = ledger.credit_many(batch, subtype="active_on_site_2min", reference_type="site_activity")
    assert moved == 3 and (balance(a), balance(b)) == (112, 101)
    assert [(e.amount, e.balance_after, e.idempotency_key) for e in entries(a)[1:]] == [
        (5, 105, "k:a1"), (7, 112, "k:a2")]
    assert reports.reconcile() == []


# -- what the database itself refuses ------------------------------------------------------------------------
def test_database_refuses_a_negative_balance_even_from_raw_sql(conn):
    sid = str(make_student()["id"])
    with pytest.raises(peewee.IntegrityError, match="students_salty_bucks_balance_check"), db.db.atomic():
        db.execute("UPDATE students SET salty_bucks_balance = -1 WHERE id = %s", (sid,))
    with pytest.raises(peewee.IntegrityError), db.db.atomic():
        db.execute("INSERT INTO salty_bucks_logs (student_id, amount, operation_type, operation_subtype, "
                   "balance_after, created_at) VALUES (%s, 0, 'income', 'x', 0, now())", (sid,))
    assert balance(sid) == 100 and len(entries(sid)) == 1


@pytest.mark.parametrize("statement", [
    "UPDATE salty_bucks_logs SET amount = amount + 1 WHERE student_id = %s",
    "UPDATE salty_bucks_logs SET student_id = student_id WHERE student_id = %s",
    "DELETE FROM salty_bucks_logs WHERE student_id = %s",
])
def test_ledger_is_insert_only(conn, statement):
    sid = str(make_student()["id"])
    with pytest.raises(peewee.IntegrityError, match="insert-only"), db.db.atomic():
        db.execute(statement, (sid,))
    assert [(e.amount, e.operation_subtype) for e in entries(sid)] == [(100, "initial_value")]


def test_move_entries_may_change_the_student_only(conn):
    source, target = str(make_student()["id"]), str(make_student()["id"])
    ledger.credit(source, 5, subtype="purchase_course", reference=COURSE)
    before = [(e.id, e.amount, e.balance_after, e.created_at) for e in entries(source)]
    with db.db.atomic():
        assert ledger.move_entries(source, target) == 2
        # The flag is off again once the move is done, even inside the same transaction.
        with pytest.raises(peewee.IntegrityError, match="insert-only"), db.db.atomic():
            db.execute("UPDATE salty_bucks_logs SET student_id = %s WHERE student_id = %s", (source, target))
    assert entries(source) == []
    moved_ids = {b[0] for b in before}
    moved = [(e.id, e.amount, e.balance_after, e.created_at) for e in entries(target) if e.id in moved_ids]
    assert moved == before and len(entries(target)) == 3
    # With the flag on, anything beyond student_id is still refused.
    with pytest.raises(peewee.IntegrityError, match="insert-only"), db.db.atomic():
        db.execute("SELECT set_config('students.ledger_move', 'on', true)")
        db.execute("UPDATE salty_bucks_logs SET student_id = %s, amount = amount + 1 WHERE student_id = %s",
                   (source, target))
    assert len(entries(target)) == 3 and entries(source) == []


# -- concurrency ---------------------------------------------------------------------------------------------
DEBITS = """
import json, os, sys
from core import db
from core.errors import Conflict
from models.ledger import ops

db.init(os.environ["DATABASE_URL"], pool_size=1)
done = rejected = 0
with db.connection():
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(200):
        try:
            ops.debit(sys.argv[1], 10, subtype="purchase_course", reference=ops.Reference("course", "race"))
            done += 1
        except Conflict as exc:
            assert exc.code == "salty-bucks.insufficient-balance", exc.code
            rejected += 1
print(json.dumps({"done": done, "rejected": rejected}), flush=True)
"""


def test_two_processes_racing_debits_never_overdraw(conn):
    sid = str(make_student()["id"])
    ledger.credit(sid, 900, subtype="purchase_course", reference=COURSE)
    procs = [subprocess.Popen([sys.executable, "-c", DEBITS, sid], cwd=ROOT, env=os.environ.copy(), text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    for proc in procs:  # both connected before either starts
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=60) for proc in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0 and "Traceback" not in err, err
    counts = [json.loads(out) for out, _ in outputs]
    assert sum(c["done"] for c in counts) == 100 and sum(c["rejected"] for c in counts) == 300
    assert balance(sid) == 0
    outcomes = SaltyBucksLog.select().where(SaltyBucksLog.student == sid,
                                            SaltyBucksLog.operation_type == "outcome")
    assert outcomes.count() == 100 and sorted(e.balance_after for e in outcomes) == list(range(0, 1000, 10))
    assert reports.reconcile() == []


def _race(*workers) -> list[BaseException]:
    """Run each worker on its own thread and connection, started together; returns what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def run(fn):
        try:
            with db.connection():
                barrier.wait()
                fn()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_credits_racing_with_admin_set_balance_keep_balance_equal_to_the_ledger(database):
    with db.connection():
        sid = str(make_student()["id"])

    def credits():
        for _ in range(150):
            ledger.credit(sid, 3, subtype="active_on_site_2min", reference=ledger.Reference("site_activity"))

    def sets():
        for value in [0, 500, 20, 1000, 7, 7, 300] * 5:
            ledger.set_balance(sid, value, admin_id="admin-1")

    assert _race(credits, sets) == []
    with db.connection():
        assert balance(sid) == income_minus_outcome(sid) and reports.reconcile() == []
        awards = SaltyBucksLog.select().where(SaltyBucksLog.operation_subtype == "active_on_site_2min")
        assert awards.count() == 150


def test_concurrent_credits_with_one_idempotency_key_apply_once(database):
    with db.connection():
        sid = str(make_student()["id"])
    seen: list[int] = []

    def grant():
        seen.append(ledger.credit(sid, 40, subtype="purchase_course", reference=COURSE, key="same-key").id)

    assert _race(grant, grant) == []
    with db.connection():
        assert len(set(seen)) == 1 and len(seen) == 2
        assert balance(sid) == 140 and len(entries(sid)) == 2 and reports.reconcile() == []
