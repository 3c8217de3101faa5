"""SPEC §6.4 jobs through a real worker: bulk grants (10,000 x 5, a SIGKILLed worker) and account merges."""
from __future__ import annotations

import datetime as dt
import os
import signal
import time
import uuid

import falcon.testing
import orjson
import pytest

from api.app import create_app
from core import db as dbmod
from models.jobs import ops as jobs
from models.jobs import types as job_types
from models.jobs.tables import Job
from models.ledger import ops as ledger
from models.ledger.tables import SaltyBucksLog
from models.products import catalogue
from models.products import ops as products
from models.products.tables import Product, StudentBook, StudentCourse, StudentExam
from models.scores.tables import StudentExamScore
from models.students.seed import seed_students
from models.students.tables import Student
from tasks import runner
from tasks.broker import Dispatcher
from tests.conftest import kill_worker_at, redispatch_when_stale, start_worker, stop_worker, wait_for_job
from tests.factories import make_student

EXAMPLE = orjson.loads(catalogue.EXAMPLE.read_bytes())
PID = {p["external_id"]: p["id"] for p in EXAMPLE["products"]}
GMAT, GRE = (t["id"] for t in EXAMPLE["exam_types"])
BULK = "/students/bulk/attach-products"
ENTITLEMENTS = ("student_courses", "student_exams", "student_books")


@pytest.fixture
def cat(conn) -> None:
    catalogue.load_file(catalogue.EXAMPLE)


def count(sql: str, *params) -> int:
    return dbmod.fetch_one(sql, params)[0]


def rows(table: str, where: str = "TRUE") -> int:
    return count(f"SELECT count(*) FROM {table} WHERE {where}")


def awards() -> int:
    return rows("salty_bucks_logs", "operation_subtype = 'purchase_course'")


def ledger_mismatches() -> int:
    """Students whose balance is not income minus outcome of their ledger."""
    return count("SELECT count(*) FROM students s LEFT JOIN (SELECT student_id, sum(CASE operation_type WHEN "
                 "'income' THEN amount ELSE -amount END) AS net FROM salty_bucks_logs GROUP BY student_id) l "
                 "ON l.student_id = s.id WHERE s.salty_bucks_balance <> COALESCE(l.net, 0)")


def submit(client, token: str, path: str, body: dict | None = None) -> str:
    resp = client.simulate_post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 202, resp.text
    return resp.json["id"]


def state(sid) -> tuple:
    row = Student.get_by_id(sid)
    return (StudentCourse.select().where(StudentCourse.student_id == sid).count(),
            StudentExam.select().where(StudentExam.student_id == sid).count(),
            StudentBook.select().where(StudentBook.student_id == sid).count(),
            row.has_courses, row.has_exams, row.has_books, row.salty_bucks_balance)


# -- bulk grant ----------------------------------------------------------------------------------------------
def test_bulk_grant_reports_missing_students_and_reruns_apply_nothing_twice(client, tokens, cat, worker):
    live = [str(make_student()["id"]) for _ in range(3)]
    deleted, missing = str(make_student(deleted=True)["id"]), str(uuid.uuid4())
    token = tokens.manager()
    payload = {"courses": [{"external_id": "3001"}], "exams": [{"external_id": "1003"}],
               "student_ids": [live[0], missing, live[1], deleted, live[2]]}
    results = []
    for _ in range(2):
        done = wait_for_job(client, submit(client, token, BULK, payload), token)
        assert done["status"] == "succeeded" and done["progress"]["done"] == done["progress"]["total"] == 5
        results.append(done["result"])
        # 1 course, exams 1001 (attached) and 1003, book 2001 (attached); one award of 50 SB over 100.
        assert [state(s) for s in live] == [(1, 2, 1, True, True, True, 150)] * 3
        assert awards() == 3 and rows("salty_bucks_logs") == 3 + 3 + 1
    assert results[0] == results[1]
    assert (results[0]["succeeded"], results[0]["failed"]) == (3, 2)
    assert sorted((e["item"], e["code"]) for e in results[0]["errors"]) == \
        sorted([(missing, "students.not-found"), (deleted, "students.not-found")])
    assert all(set(e) == {"item", "code", "message"} and e["message"] for e in results[0]["errors"])
    assert state(deleted) == (0, 0, 0, False, False, False, 100)
    attached = StudentExam.get(StudentExam.student_id == live[0], StudentExam.product_id == PID["1001"])
    assert attached.student_course_id == StudentCourse.get(StudentCourse.student_id == live[0]).id
    assert ledger_mismatches() == 0


def test_bulk_extension_pushes_owned_courses_and_reports_the_others(client, tokens, cat, worker):
    owners, other = [str(make_student()["id"]) for _ in range(2)], str(make_student()["id"])
    for sid in owners:
        products.grant(sid, [products.GrantItem("course", "3001")])
    before = {str(c.student_id): c.accessible_to for c in StudentCourse.select()}
    token = tokens.manager()
    extension = {"extensions": [{"external_id": "4001", "course_external_id": "3001"}]}
    done = wait_for_job(client, submit(client, token, BULK, {**extension, "student_ids": [*owners, other]}),
                        token)
    result = done["result"]
    assert done["status"] == "succeeded" and (result["succeeded"], result["failed"]) == (2, 1)
    assert [(e["item"], e["code"]) for e in result["errors"]] == [(other, "products.course-not-owned")]
    after = {str(c.student_id): c.accessible_to for c in StudentCourse.select()}
    assert {s: after[s] - before[s] for s in owners} == {s: dt.timedelta(days=30) for s in owners}
    assert state(other) == (0, 0, 0, False, False, False, 100)


PLAIN = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"exam-{n}")), "external_id": str(n), "type": "exam",
          "title": f"Extra exam {n}", "access_days": 90, "exam_type_id": GMAT} for n in range(5001, 5006)]


@pytest.mark.parametrize("kind", ["plain", "with-includes"])
def test_bulk_grant_of_5_products_to_10000_students(client, tokens, cat, worker, kind):
    catalogue.load(catalogue.parse(orjson.dumps({"products": PLAIN})))
    seed_students(10_000)
    ids = [str(r[0]) for r in dbmod.fetch_all("SELECT id FROM students")]
    assert len(ids) == 10_000
    entries_before = rows("salty_bucks_logs")
    token = tokens.manager()
    started = time.perf_counter()
    if kind == "plain":
        job_id = submit(client, token, BULK, {"exams": [{"external_id": p["external_id"]} for p in PLAIN],
                                              "student_ids": ids})
    else:  # exams 1001-1003, book 2001 (only catalogue ids can name a book), course 3002 (+ exam 1003)
        job_id = submit(client, token, "/students/bulk/products", {
            "student_ids": ids, "product_ids": [PID[x] for x in ("1001", "1002", "1003", "2001", "3002")]})
    done = wait_for_job(client, job_id, token, timeout=120)
    elapsed = time.perf_counter() - started
    assert done["status"] == "succeeded", done
    assert done["result"] == {"succeeded": 10_000, "failed": 0, "errors": []}
    granted = {t: rows(t) for t in ENTITLEMENTS}
    if kind == "plain":
        assert granted == {"student_courses": 0, "student_exams": 50_000, "student_books": 0}
        assert rows("salty_bucks_logs") == entries_before
        assert rows("students", "has_exams AND NOT has_courses AND NOT has_books") == 10_000
    else:
        # Per student: 3 standalone exams, 1 book, 1 course, and exam 1003 again attached to the course.
        assert granted == {"student_courses": 10_000, "student_exams": 40_000, "student_books": 10_000}
        assert sum(granted.values()) == 60_000
        assert rows("student_exams", "student_course_id IS NOT NULL") == 10_000
        assert awards() == 10_000 and rows("salty_bucks_logs") == entries_before + 10_000
        assert count("SELECT count(DISTINCT student_id) FROM salty_bucks_logs "
                     "WHERE operation_subtype = 'purchase_course'") == 10_000
        assert rows("students", "has_exams AND has_courses AND has_books") == 10_000
    assert ledger_mismatches() == 0
    print(f"\n10,000 x 5 ({kind}): job done in {elapsed:.1f} s")


def test_bulk_grant_survives_a_sigkilled_worker(settings, tokens, cat):
    queue = f"products-kill-{uuid.uuid4().hex[:8]}"
    local = settings.with_(queue=queue)
    dispatcher = Dispatcher(local)
    client = falcon.testing.TestClient(create_app(local, dispatcher=dispatcher))
    slow = start_worker({"CELERY_QUEUE": queue, "JOB_CHUNK_SIZE": "10", "JOB_CHUNK_PAUSE": "0.2"},
                        concurrency=1)
    fresh = None
    try:
        seed_students(200)
        ids = [str(r[0]) for r in dbmod.fetch_all("SELECT id FROM students")]
        entries_before, token = rows("salty_bucks_logs"), tokens.manager()
        job_id = submit(client, token, BULK, {"courses": [{"external_id": "3001"}],
                                              "exams": [{"external_id": "1003"}], "student_ids": ids})
        killed = kill_worker_at(slow, job_id, 40)
        assert killed.status == "running" and 40 <= killed.progress_done < 200
        n = killed.progress_done  # effects and progress commit together
        assert [rows(t) for t in ENTITLEMENTS] == [n, 2 * n, n] and awards() == n

        fresh = start_worker({"CELERY_QUEUE": queue})
        redispatch_when_stale(dispatcher, job_id)
        done = wait_for_job(client, job_id, token, timeout=60)
        assert done["status"] == "succeeded" and done["progress"]["done"] == 200
        assert done["result"] == {"succeeded": 200, "failed": 0, "errors": []}
        assert Job.get_by_id(job_id).attempts == 2
        # Per student: course 3001, exam 1001 and book 2001 attached, exam 1003 standalone; one award each.
        assert [rows(t) for t in ENTITLEMENTS] == [200, 400, 200]
        assert awards() == 200 and rows("salty_bucks_logs") == entries_before + 200
        assert count("SELECT count(DISTINCT student_id) FROM salty_bucks_logs "
                     "WHERE operation_subtype = 'purchase_course'") == 200
        assert ledger_mismatches() == 0
    finally:
        stop_worker(slow, kill=True)
        if fresh is not None:
            stop_worker(fresh)
        dispatcher.close()


# -- merge ---------------------------------------------------------------------------------------------------
@pytest.fixture
def pair(cat) -> tuple[str, str]:
    """From: course 3001 (exam 1001, book 2001), exam 1003, a GMAT score, 25 SB from an admin: 175 SB.
    To: course 3002 (exam 1003), exam 1003, a GRE score: 150 SB."""
    src, dst = str(make_student()["id"]), str(make_student()["id"])
    exam = products.GrantItem("exam", "1003")
    products.grant(src, [products.GrantItem("course", "3001"), exam])
    products.grant(dst, [products.GrantItem("course", "3002"), exam])
    ledger.credit(src, 25, subtype="admin_set_balance", reference=ledger.Reference("admin", "a1"))
    for sid, exam_type in ((src, GMAT), (dst, GRE)):
        StudentExamScore.create(student_id=sid, exam_type_id=exam_type,
                                scores=[{"order": 0, "name": "total", "target_score": 700, "pts": None}])
    return src, dst


def snapshot(*ids: str) -> dict[str, list[str]]:
    tables = {"students": "id", "salty_bucks_logs": "student_id", "student_exam_scores": "student_id",
              **{t: "student_id" for t in ENTITLEMENTS}}
    return {t: sorted(map(repr, dbmod.fetch_all(f"SELECT * FROM {t} WHERE {c} = ANY(%s::uuid[])",
                                                (list(ids),)))) for t, c in tables.items()}


def ledger_entries(sid) -> list[SaltyBucksLog]:
    return list(SaltyBucksLog.select().where(SaltyBucksLog.student == sid).order_by(SaltyBucksLog.id))


def test_merge_moves_everything_and_deletes_from(client, tokens, pair, worker):
    src, dst = pair
    src_entries = [e.id for e in ledger_entries(src)]
    token = tokens.master()
    job_id = submit(client, token, f"/students/transfer-products/from/{src}/to/{dst}")
    done = wait_for_job(client, job_id, token)
    assert done["status"] == "succeeded", done
    assert done["result"]["transferred_salty_bucks"] == 175
    assert Student.get_or_none(Student.id == src) is None
    assert all(v == [] for v in snapshot(src).values())
    assert state(dst) == (2, 3, 1, True, True, True, 325)
    courses = {str(c.product_id): c.id for c in StudentCourse.select().where(StudentCourse.student_id == dst)}
    exams = sorted((str(e.product_id), str(e.student_course_id)) for e in
                   StudentExam.select().where(StudentExam.student_id == dst))
    assert exams == sorted([(PID["1001"], str(courses[PID["3001"]])),
                            (PID["1003"], str(courses[PID["3002"]])), (PID["1003"], "None")])
    assert StudentBook.get(StudentBook.student_id == dst).student_course_id == courses[PID["3001"]]
    assert sorted(str(s.exam_type_id) for s in StudentExamScore.select().where(
        StudentExamScore.student_id == dst)) == sorted([GMAT, GRE])
    entries = ledger_entries(dst)
    assert set(src_entries) < {e.id for e in entries}
    credit = entries[-1]
    assert (credit.amount, credit.operation_type, credit.operation_subtype, credit.reference_type,
            credit.reference_id, credit.balance_after) == \
        (175, "income", "transfering_products", "student", src, 325)
    assert sum(e.amount if e.operation_type == "income" else -e.amount for e in entries) == 325
    assert ledger_mismatches() == 0


def test_merge_failing_midway_changes_nothing(settings, pair, monkeypatch):
    src, dst = pair
    before = snapshot(src, dst)

    def boom(*_args, **_kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(ledger, "move_entries", boom)
    job, _ = jobs.submit(job_types.STUDENTS_MERGE, {"from_student_id": src, "to_student_id": dst},
                         creator=jobs.Creator(str(uuid.uuid4()), "admin"), total=1, enqueue=lambda _id: None)
    assert runner.execute(str(job.id), settings) == "failed"
    failed = Job.get_by_id(job.id)
    assert (failed.status, failed.error["code"], failed.progress_done) == ("failed", "jobs.crashed", 0)
    assert snapshot(src, dst) == before
    assert [state(s)[-1] for s in (src, dst)] == [175, 150]
    assert Product.select().count() == len(PID) and ledger_mismatches() == 0


def _merge_harness(settings, **worker_env):
    queue = f"merge-kill-{uuid.uuid4().hex[:8]}"
    local = settings.with_(queue=queue)
    dispatcher = Dispatcher(local)
    client = falcon.testing.TestClient(create_app(local, dispatcher=dispatcher))
    slow = start_worker({"CELERY_QUEUE": queue, **worker_env}, concurrency=1)
    return dispatcher, client, slow, {"CELERY_QUEUE": queue}


def _blocked_backend(timeout: float = 20) -> int:
    """The worker's backend once its merge waits for the row lock the test holds on the scores of "from"."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        row = dbmod.fetch_one("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
                              "wait_event_type = 'Lock' AND query LIKE 'UPDATE student_exam_scores%%'")
        if row:
            return row[0]
        time.sleep(0.05)
    raise AssertionError("the merge never reached the locked scores")


def _assert_merged_once(src: str, dst: str) -> None:
    assert Student.get_or_none(Student.id == src) is None
    assert all(v == [] for v in snapshot(src).values())
    assert state(dst) == (2, 3, 1, True, True, True, 325)
    moved = [(e.amount, e.operation_type) for e in ledger_entries(dst) if e.operation_subtype == "transfering_products"]
    assert moved == [(175, "outcome"), (175, "income")], "one pay-out of from, one credit of to"
    assert ledger_mismatches() == 0


def test_merge_survives_a_worker_sigkilled_inside_its_transaction(settings, tokens, pair):
    """SIGKILL while the merge has moved half of the rows: PostgreSQL rolls all of it back, a new worker merges once."""
    import psycopg2

    src, dst = pair
    before = snapshot(src, dst)
    dispatcher, client, slow, env = _merge_harness(settings)
    fresh = None
    holder = psycopg2.connect(settings.database_url)
    try:
        with holder.cursor() as cur:  # the merge will wait here, its debit and entitlement moves not committed
            cur.execute("SELECT 1 FROM student_exam_scores WHERE student_id = %s FOR UPDATE", (src,))
        token = tokens.master()
        job_id = submit(client, token, f"/students/transfer-products/from/{src}/to/{dst}")
        backend = _blocked_backend()
        assert dbmod.fetch_one("SELECT count(*) FROM salty_bucks_logs WHERE student_id = %s", (dst,))[0] \
            == len(before["salty_bucks_logs"]) - len(ledger_entries(src)), "nothing is visible before the commit"
        os.killpg(slow.pid, signal.SIGKILL)
        slow.wait(10)
        holder.rollback()  # the orphaned backend finishes its statement, finds its client gone and rolls back
        deadline = time.time() + 20
        while dbmod.fetch_one("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (backend,))[0]:
            assert time.time() < deadline, "the killed worker's backend stayed"
            time.sleep(0.05)
        killed = Job.get_by_id(job_id)
        assert (killed.status, killed.progress_done) == ("running", 0)
        assert snapshot(src, dst) == before

        fresh = start_worker(env)
        redispatch_when_stale(dispatcher, job_id)
        done = wait_for_job(client, job_id, token, timeout=60)
        assert done["status"] == "succeeded", done
        assert done["result"]["transferred_salty_bucks"] == 175
        assert Job.get_by_id(job_id).attempts == 2
        _assert_merged_once(src, dst)
    finally:
        holder.close()
        stop_worker(slow, kill=True)
        if fresh is not None:
            stop_worker(fresh)
        dispatcher.close()


def test_merge_survives_a_worker_sigkilled_after_its_commit(settings, tokens, pair):
    """SIGKILL after the merge committed but before the job finished: the re-run reports and merges nothing again."""
    src, dst = pair
    dispatcher, client, slow, env = _merge_harness(settings, JOB_CHUNK_PAUSE="5")  # sleeps after the commit
    fresh = None
    try:
        token = tokens.master()
        job_id = submit(client, token, f"/students/transfer-products/from/{src}/to/{dst}")
        killed = kill_worker_at(slow, job_id, 1)
        assert (killed.status, killed.progress_done) == ("running", 1)
        _assert_merged_once(src, dst)

        fresh = start_worker(env)
        redispatch_when_stale(dispatcher, job_id)
        done = wait_for_job(client, job_id, token, timeout=60)
        assert done["status"] == "succeeded", done
        assert done["result"]["transferred_salty_bucks"] == 175
        assert done["result"]["moved"]["student_courses"] == 1
        assert Job.get_by_id(job_id).attempts == 2
        _assert_merged_once(src, dst)
    finally:
        stop_worker(slow, kill=True)
        if fresh is not None:
            stop_worker(fresh)
        dispatcher.close()
