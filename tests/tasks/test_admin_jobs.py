"""SPEC §6.7 and §7 jobs: CSV export through a real worker, export expiry, pruning, the beat schedule."""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
import uuid

import pytest

import beat_schedule
from core import db as dbmod
from models.base import utcnow
from models.jobs import ops as jobs
from models.jobs.tables import Job
from models.jobs.types import STUDENTS_EXPORT, STUDENTS_PRUNE
from models.ledger.tables import DailyBalance
from models.products import catalogue
from models.products.ops import GrantItem, grant
from models.products.tables import StudentCourse
from models.scores.tables import StudentExamScore
from models.students.tables import Student
from tasks import admin, runner
from tasks.admin import export_path
from tasks.runner import submit_system_job
from tests.conftest import ROOT, wait_for_job
from tests.factories import make_student

BOM = b"\xef\xbb\xbf"
DEFAULT_COLUMNS = ["id", "name", "email", "username", "phone_number", "external_id",
                   "salty_bucks_balance", "is_active", "is_frozen", "has_courses", "has_exams", "has_books",
                   "created_at", "logged_at"]
DAY = dt.timedelta(days=1)
GMAT = "3ef66049-6863-5b4f-89a7-ac8c69a55386"  # an exam type of the example catalogue


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def student(**values) -> str:
    sid = str(make_student()["id"])
    if values:
        Student.update(**values).where(Student.id == sid).execute()
    return sid


def export(client, token: str, body: dict | None = None) -> tuple[dict, bytes]:
    resp = client.simulate_post("/students/export-csv", json=body, headers=auth(token))
    assert resp.status_code == 202, resp.text
    done = wait_for_job(client, resp.json["id"], token)
    assert done["status"] == "succeeded", done
    result = client.simulate_get(f"/jobs/{done['id']}/result", headers=auth(token))
    assert result.status_code == 200, result.text
    assert result.headers["content-type"].startswith("text/csv")
    assert result.headers["content-disposition"].startswith("attachment;")
    assert ".csv" in result.headers["content-disposition"]
    return done, result.content


def parse(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


# -- export -------------------------------------------------------------------------------------------------
DANGEROUS = {"=SUM(A1:A9)": "'=SUM(A1:A9)", "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0", "-2+3": "'-2+3",
             "@import": "'@import", "\tTabbed": "'\tTabbed", "\rCarriage": "'\rCarriage"}


def test_export_writes_every_live_student_safely(client, tokens, conn, worker):
    sids = {name: student(name=name) for name in DANGEROUS}
    zoe = student(name="Zoë Müller", email="zoe@example.com", phone_number="=1+1", username="-zoe.m")
    quoted = student(name='Smith, "Jr"\nsecond line', phone_number="5550001", username="plain_user")
    safe = student(name="a=b+c", phone_number="555 0002")
    student(name="Gone", deleted_at=utcnow())
    token = tokens.manager()
    done, raw = export(client, token)
    assert not raw.startswith(BOM)
    rows = parse(raw)
    assert rows[0] == DEFAULT_COLUMNS
    by_id = {r[0]: dict(zip(DEFAULT_COLUMNS, r)) for r in rows[1:]}
    assert len(rows) - 1 == len(by_id) == 9 and done["result"]["rows"] == 9
    assert set(by_id) == set(sids.values()) | {zoe, quoted, safe}
    for name, sid in sids.items():
        assert by_id[sid]["name"] == DANGEROUS[name]
        assert by_id[sid]["phone_number"].startswith("'+1555")  # factory phones start with "+"
    assert (by_id[zoe]["name"], by_id[zoe]["email"]) == ("Zoë Müller", "zoe@example.com")
    assert (by_id[zoe]["phone_number"], by_id[zoe]["username"]) == ("'=1+1", "'-zoe.m")
    assert by_id[quoted]["name"] == 'Smith, "Jr"\nsecond line'
    assert (by_id[quoted]["phone_number"], by_id[quoted]["username"]) == ("5550001", "plain_user")
    assert [by_id[safe][c] for c in ("name", "phone_number", "username")] == ["a=b+c", "555 0002", ""]
    assert by_id[safe]["salty_bucks_balance"] == "100" and by_id[safe]["external_id"] == ""
    created = dt.datetime.fromisoformat(by_id[safe]["created_at"])
    assert created.utcoffset() == dt.timedelta(0) and abs(created - utcnow()) < dt.timedelta(minutes=5)
    assert by_id[safe]["logged_at"] == ""


@pytest.mark.parametrize("stored, written", [
    (dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2026-01-02T03:04:05+00:00"),
    (dt.datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=dt.UTC), "2026-01-02T03:04:05.12+00:00"),
    (dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC), "1999-12-31T23:59:59.999999+00:00"),
    (dt.datetime(2026, 7, 1, 2, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))),
     "2026-06-30T21:00:00.000001+00:00"),
])
def test_export_writes_times_as_rfc3339_in_utc(conn, tmp_path, stored, written):
    from models.students import exports
    from models.students.listing import Filter

    sid = student(logged_at=stored, created_at=stored)
    dbmod.execute("SET TimeZone = 'America/New_York'")  # the session's zone must not leak into the file
    try:
        exports.export(Filter(), ("id", "created_at", "logged_at"), tmp_path / "t.csv", bom=False)
    finally:
        dbmod.execute("RESET TimeZone")
    assert parse((tmp_path / "t.csv").read_bytes())[1:] == [[sid, written, written]]
    assert dt.datetime.fromisoformat(written) == stored


def test_export_columns_bom_and_filters(client, tokens, conn, worker):
    zoe = student(name="Zoë Müller", email="zoe@example.com")
    idle = student(name="Idle Person", is_active=False)
    frozen = student(name="Frozen Person", is_frozen=True)
    odd = student(name="Cleo O'Brien 100%_\\ x")
    student(name="Other Person")
    student(name="Zoë Deleted", deleted_at=utcnow())
    token = tokens.master()
    done, raw = export(client, token, {"columns": ["email", "name", "id"], "bom": True,
                                       "filter": {"search": "MÜLLER"}})
    assert raw.startswith(BOM) and not raw[3:].startswith(BOM)
    assert parse(raw[3:]) == [["email", "name", "id"], ["zoe@example.com", "Zoë Müller", zoe]]
    assert done["params"]["columns"] == ["email", "name", "id"]
    for flt, expected in (({"is_active": False}, [idle]), ({"is_frozen": True, "search": "person"}, [frozen]),
                          ({"search": "o'brien 100%_\\"}, [odd]), ({"search": "100%_\\%"}, []),
                          ({"course_id": str(uuid.uuid4())}, [])):
        done, raw = export(client, token, {"filter": flt, "columns": ["id"]})
        assert parse(raw) == [["id"]] + [[sid] for sid in expected], flt
        assert done["result"]["rows"] == len(expected)


def test_result_is_409_until_the_job_succeeds(client, tokens, conn):
    admin_id = str(uuid.uuid4())
    token = tokens.manager(admin_id=admin_id)
    job, _ = jobs.submit(STUDENTS_EXPORT, {"filter": {}, "columns": ["id"], "bom": False},
                         creator=jobs.Creator(admin_id, "admin"), enqueue=lambda _job_id: None)
    for status in ("queued", "running", "failed"):
        Job.update(status=status).where(Job.id == job.id).execute()
        resp = client.simulate_get(f"/jobs/{job.id}/result", headers=auth(token))
        assert resp.status_code == 409, (status, resp.text)
        assert resp.json["code"] == "jobs.not-finished"


def test_expired_export_is_deleted_and_answers_410(client, tokens, settings, conn, worker):
    student(name="Someone")
    token = tokens.manager()
    old, _ = export(client, token)
    new, _ = export(client, token)
    expires = Job.get_by_id(old["id"]).expires_at
    assert abs(expires - (utcnow() + dt.timedelta(seconds=settings.export_ttl))) < dt.timedelta(minutes=1)
    paths = {j["id"]: export_path(settings, j["id"]) for j in (old, new)}
    assert all(p.is_file() for p in paths.values())
    Job.update(expires_at=utcnow() - dt.timedelta(seconds=1)).where(Job.id == old["id"]).execute()
    assert client.simulate_get(f"/jobs/{old['id']}/result", headers=auth(token)).status_code == 410
    assert admin.expire_exports() == 1
    assert not paths[old["id"]].exists() and paths[new["id"]].is_file()
    resp = client.simulate_get(f"/jobs/{old['id']}/result", headers=auth(token))
    assert resp.status_code == 410 and resp.json["code"] == "jobs.result-expired"
    assert client.simulate_get(f"/jobs/{new['id']}/result", headers=auth(token)).status_code == 200
    assert admin.expire_exports() == 0


# -- pruning ------------------------------------------------------------------------------------------------
@pytest.fixture
def quiet(monkeypatch):
    """Jobs submitted here are run in-process: keep them off the broker (the session worker would race)."""
    monkeypatch.setattr(runner.dispatcher, "send", lambda _job_id: True)


def prune(settings, fraction: float | None = 1.0) -> Job:
    job_id = submit_system_job(STUDENTS_PRUNE, {}, f"prune:test:{uuid.uuid4().hex}")
    runner.execute(job_id, settings if fraction is None else settings.with_(prune_max_fraction=fraction))
    return Job.get_by_id(job_id)


def course_ended(sid: str, external_id: str, days_ago: int) -> None:
    grant(sid, [GrantItem("course", external_id)])
    product = catalogue_id(external_id)
    StudentCourse.update(accessible_to=utcnow() - days_ago * DAY).where(
        StudentCourse.student_id == sid, StudentCourse.product_id == product).execute()


def catalogue_id(external_id: str) -> str:
    return str(dbmod.fetch_one("SELECT id FROM products WHERE external_id = %s", (external_id,))[0])


CASES = {  # name: (student values, courses [(external id, accessible_to days ago)], pruned?)
    "logged in 91 days ago": ({"logged_at": 91, "created_at": 400}, [], True),
    "logged in 89 days ago": ({"logged_at": 89, "created_at": 400}, [], False),
    "never logged in, created 91 days ago": ({"created_at": 91}, [], True),
    "never logged in, created 80 days ago": ({"created_at": 80}, [], False),
    "recently logged in": ({"logged_at": 2, "created_at": 400}, [], False),
    "still-accessible course": ({"logged_at": 120}, [("3001", -30)], False),
    "course ended 100 days ago": ({"logged_at": 120}, [("3001", 100)], False),
    "course ended 200 days ago": ({"logged_at": 120}, [("3001", 200)], True),
    "one old and one recent course": ({"logged_at": 120}, [("3001", 200), ("3002", 100)], False),
    "frozen": ({"logged_at": 300, "is_frozen": True}, [], False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_prune_rules(settings, conn, quiet, case):
    values, courses, pruned = CASES[case]
    catalogue.load_file(catalogue.EXAMPLE)
    target = student(**{k: utcnow() - v * DAY if k.endswith("_at") else v for k, v in values.items()})
    for external_id, days_ago in courses:
        course_ended(target, external_id, days_ago)
    bystander = student()
    job = prune(settings)
    assert job.status == "succeeded", job.error
    assert (Student.get_by_id(target).deleted_at is not None) is pruned
    assert Student.get_by_id(bystander).deleted_at is None
    assert (job.progress_done, job.progress_total) == (int(pruned), int(pruned))


def counts(sid: str) -> dict[str, int]:
    tables = ("salty_bucks_daily_log", "student_exam_scores", "student_courses", "student_exams",
              "student_books", "salty_bucks_logs")
    return {t: dbmod.fetch_one(f"SELECT count(*) FROM {t} WHERE student_id = %s", (sid,))[0] for t in tables}


def test_a_pruned_student_is_soft_deleted_and_loses_all_but_the_ledger(client, tokens, settings, conn, quiet):
    catalogue.load_file(catalogue.EXAMPLE)
    gone, kept = student(logged_at=utcnow() - 100 * DAY), student(logged_at=utcnow() - DAY)
    earlier = student(logged_at=utcnow() - 300 * DAY, deleted_at=utcnow() - 10 * DAY)
    for sid in (gone, kept):
        course_ended(sid, "3001", 200)
        for days in (1, 2):
            DailyBalance.create(student_id=sid, created_at=(utcnow() - days * DAY).date(), balance=150)
        StudentExamScore.create(student_id=sid, exam_type_id=GMAT, scores=[])
    before = {sid: counts(sid) for sid in (gone, kept)}
    assert before[gone] == {"salty_bucks_daily_log": 2, "student_exam_scores": 1, "student_courses": 1,
                            "student_exams": 1, "student_books": 1, "salty_bucks_logs": 2}
    earlier_deleted_at = Student.get_by_id(earlier).deleted_at
    job = prune(settings)
    assert job.status == "succeeded" and job.progress_done == 1, job.error
    assert Student.get_by_id(gone).deleted_at is not None  # the row is kept: a soft delete
    assert counts(gone) == dict.fromkeys(before[gone], 0) | {"salty_bucks_logs": 2}
    assert counts(kept) == before[kept] and Student.get_by_id(kept).deleted_at is None
    assert Student.get_by_id(earlier).deleted_at == earlier_deleted_at
    listed = client.simulate_get("/jobs", params={"filter[type]": STUDENTS_PRUNE},
                                 headers=auth(tokens.master()))
    assert [(j["id"], j["status"]) for j in listed.json["data"]] == [(str(job.id), "succeeded")]


def test_prune_threshold(settings, conn, quiet):
    sids = [student() for _ in range(20)]
    old = utcnow() - 100 * DAY
    Student.update(logged_at=old).where(Student.id.in_(sids[:2])).execute()
    job = prune(settings, fraction=None)  # the default 5 %: 2 of 20 is over it
    assert job.status == "failed"
    assert job.error["code"] == "prune.threshold-exceeded" and "2 of 20" in job.error["message"]
    assert Student.select().where(Student.deleted_at.is_null(False)).count() == 0
    Student.update(logged_at=utcnow()).where(Student.id == sids[1]).execute()
    job = prune(settings, fraction=None)  # 1 of 20 is exactly 5 %: not more than the threshold
    assert job.status == "succeeded", job.error
    assert [str(s.id) for s in Student.select().where(Student.deleted_at.is_null(False))] == [sids[0]]


def test_prune_walks_the_table_in_batches_and_records_each(settings, conn, quiet, monkeypatch):
    monkeypatch.setattr(admin, "PRUNE_BATCH", 2)
    sids = sorted(student(logged_at=utcnow() - 100 * DAY) for _ in range(5))
    bystanders = [student() for _ in range(3)]
    job_id = submit_system_job(STUDENTS_PRUNE, {}, f"prune:test:{uuid.uuid4().hex}")
    chunks = []
    real = jobs.record_chunk
    monkeypatch.setattr(jobs, "record_chunk", lambda job, **kw: chunks.append(kw["done"]) or real(job, **kw))
    runner.execute(job_id, settings.with_(prune_max_fraction=1.0, job_chunk_size=1))
    job = Job.get_by_id(job_id)
    assert job.status == "succeeded", job.error
    assert chunks == [2, 2, 1], "batches of PRUNE_BATCH, each committed with its progress"
    assert (job.progress_done, job.progress_total, job.state) == (5, 5, {"after": sids[-1]})
    assert {str(s.id) for s in Student.select().where(Student.deleted_at.is_null(False))} == set(sids)
    assert Student.select().where(Student.id.in_(bystanders), Student.deleted_at.is_null()).count() == 3


def test_prune_skips_a_row_someone_else_holds_instead_of_waiting(settings, conn, quiet):
    import threading

    import psycopg2

    sids = sorted(student(logged_at=utcnow() - 100 * DAY) for _ in range(3))
    holder = psycopg2.connect(settings.database_url)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1 FROM students WHERE id = %s FOR UPDATE", (sids[1],))
        done: list[Job] = []

        def in_thread() -> None:
            with dbmod.connection():
                done.append(prune(settings))

        run = threading.Thread(target=in_thread, daemon=True)
        run.start()
        run.join(20)
        assert done, "the prune waited for a locked row"
        assert done[0].status == "succeeded" and done[0].progress_done == 2
    finally:
        holder.rollback()
        holder.close()
    deleted = {str(s.id) for s in Student.select().where(Student.deleted_at.is_null(False))}
    assert deleted == {sids[0], sids[2]}  # the held one is left for the next run
    assert prune(settings).progress_done == 1


def test_cli_prune_dry_run_prints_and_changes_nothing(conn):
    sids = [student(logged_at=utcnow() - 100 * DAY) for _ in range(2)] + [student()]
    out = subprocess.run([sys.executable, "-m", "tasks.cli", "prune", "--dry-run"], cwd=ROOT,
                         env=os.environ.copy(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "2 of 3 live students are eligible" in out.stdout
    assert sids[0] in out.stdout and sids[1] in out.stdout and sids[2] not in out.stdout
    assert Student.select().where(Student.deleted_at.is_null(False)).count() == 0
    assert Job.select().count() == 0


# -- beat ---------------------------------------------------------------------------------------------------
def test_beat_runs_the_prune_every_15_minutes_and_expiry_hourly():
    by_task = {entry["task"]: entry["schedule"] for entry in beat_schedule.SCHEDULE.values()}
    every_15, hourly = by_task["students.schedule_prune"], by_task["students.expire_exports"]
    assert every_15.minute == {0, 15, 30, 45} and every_15.hour == set(range(24))
    assert len(hourly.minute) == 1 and hourly.hour == set(range(24))
    for schedule in (every_15, hourly):
        assert schedule.day_of_week == set(range(7)) and schedule.day_of_month == set(range(1, 32))
    assert runner.celery_app.conf.beat_schedule == beat_schedule.SCHEDULE
    for name in ("students.schedule_prune", "students.expire_exports", "students.run_job"):
        assert name in runner.celery_app.tasks, name


def test_scheduled_prune_submits_one_job_per_quarter_hour(conn, quiet):
    first, second = admin.schedule_prune(), admin.schedule_prune()
    assert second == first  # one job per quarter-hour slot, however often beat fires
    job = Job.get_by_id(first)
    assert (job.type, job.created_by_typ, job.status) == (STUDENTS_PRUNE, "system", "queued")
