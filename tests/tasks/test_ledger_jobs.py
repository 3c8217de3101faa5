"""Ledger jobs (SPEC §7): daily snapshot, reconciliation, `students ledger check`, the beat schedule."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery.schedules import crontab

from core import db
from models.jobs.tables import Job
from models.jobs.types import LEDGER_RECONCILE, LEDGER_SNAPSHOT
from models.ledger import ops as ledger
from models.ledger import reports
from models.ledger.tables import DailyBalance
from tasks import ledger as ledger_jobs
from tasks import runner
from tests.conftest import wait_for_job
from tests.factories import make_student

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 3, 10)


def days_ago(n: int) -> dt.date:
    return DAY - dt.timedelta(days=n)


@pytest.fixture
def sent(monkeypatch) -> list[str]:
    """Keep in-process jobs away from the broker (a session worker may be running); record the sends."""
    ids: list[str] = []
    stub = SimpleNamespace(send=lambda job_id: ids.append(job_id) or True)
    monkeypatch.setattr(runner, "dispatcher", stub)
    return ids


def snapshot_job(key: str, day: dt.date = DAY) -> str:
    total = reports.live_students()
    return ledger_jobs.submit_system_job(LEDGER_SNAPSHOT, {"day": day.isoformat()}, key, total)


def rows(day: dt.date = DAY) -> dict[str, tuple[int, int, int, int]]:
    return {str(r.student_id): (r.balance, r.balance_diff_1, r.balance_diff_7, r.balance_diff_30)
            for r in DailyBalance.select().where(DailyBalance.created_at == day)}


def snap(student_id, day: dt.date, balance: int) -> None:
    DailyBalance.create(student_id=student_id, created_at=day, balance=balance)


def set_raw_balance(student_id, value: int) -> None:
    db.execute("UPDATE students SET salty_bucks_balance = %s WHERE id = %s", (value, str(student_id)))


# -- the daily snapshot --------------------------------------------------------------------------------------
def test_snapshot_writes_balance_and_diffs_for_live_students(conn, settings, sent):
    a, b, c = (str(make_student()["id"]) for _ in range(3))
    gone = str(make_student(deleted=True)["id"])
    ledger.credit(b, 50, subtype="purchase_course", reference=ledger.Reference("course"))  # b: 150
    ledger.set_balance(c, 0, admin_id="admin-1")  # c: 0
    snap(a, days_ago(1), 80)
    snap(a, days_ago(7), 60)  # a has no snapshot 30 days ago: counts as 0
    snap(b, days_ago(7), 200)
    snap(b, days_ago(30), 150)
    snap(b, days_ago(2), 999)  # neither 1, 7 nor 30 days ago: ignored
    snap(gone, days_ago(1), 5)
    job_id = snapshot_job("snapshot:test")
    assert sent == [job_id]
    assert runner.execute(job_id, settings) == "succeeded"
    assert rows() == {a: (100, 20, 40, 100), b: (150, 150, -50, 0), c: (0, 0, 0, 0)}
    job = Job.get_by_id(job_id)
    assert (job.type, job.status) == (LEDGER_SNAPSHOT, "succeeded")
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert (job.created_by_id, job.created_by_typ) == ("beat", "system") and job.error is None
    assert DailyBalance.select().where(DailyBalance.student_id == gone).count() == 1  # only its old one


def test_rerun_the_same_day_updates_instead_of_duplicating(conn, settings, sent):
    a, b = (str(make_student()["id"]) for _ in range(2))
    snap(a, days_ago(1), 30)
    assert runner.execute(snapshot_job("snapshot:first"), settings) == "succeeded"
    assert rows() == {a: (100, 70, 100, 100), b: (100, 100, 100, 100)}
    ledger.set_balance(a, 45, admin_id="admin-1")
    make_student()  # a student created since the first run is added
    assert runner.execute(snapshot_job("snapshot:second"), settings) == "succeeded"
    after = rows()
    assert len(after) == 3 and after[a] == (45, 15, 45, 45) and after[b] == (100, 100, 100, 100)
    assert DailyBalance.select().count() == 4  # 3 for the day and a's earlier one


def test_same_idempotency_key_gives_the_same_job(conn, settings, sent):
    make_student()
    first = snapshot_job("snapshot:2026-03-10")
    assert snapshot_job("snapshot:2026-03-10") == first and sent == [first]
    assert ledger_jobs.schedule_snapshot(DAY.isoformat()) == first  # the beat task uses the same key
    assert Job.select().count() == 1
    other_day = ledger_jobs.schedule_snapshot("2026-03-11")
    assert other_day != first and Job.get_by_id(other_day).params == {"day": "2026-03-11"}


def test_resumed_snapshot_covers_the_rest_without_redoing_the_first_chunk(conn, settings, sent, monkeypatch):
    monkeypatch.setattr(ledger_jobs, "SNAPSHOT_CHUNK", 2)
    ids = sorted(str(make_student()["id"]) for _ in range(5))
    make_student(deleted=True)
    job_id = snapshot_job("snapshot:resume")
    # As if a worker crashed right after committing the first chunk: its rows and its progress are there.
    boundary = reports.snapshot_boundary(reports.NIL, 2)
    assert boundary == ids[1]
    assert reports.snapshot_range(DAY, upto=boundary) == 2
    Job.update(state={"after": boundary}, progress_done=2).where(Job.id == job_id).execute()
    for sid in ids:  # a redone first chunk would show these new balances
        ledger.credit(sid, 1, subtype="purchase_course", reference=ledger.Reference("course"))
    assert runner.execute(job_id, settings) == "succeeded"
    assert rows() == {sid: ((100, 100, 100, 100) if sid in ids[:2] else (101, 101, 101, 101)) for sid in ids}
    job = Job.get_by_id(job_id)
    assert job.progress_done == job.progress_total == 5 and job.state == {"after": None}


def test_snapshot_job_through_the_worker(client, tokens, conn, worker, settings):
    a, b = (str(make_student()["id"]) for _ in range(2))
    ledger.credit(a, 11, subtype="purchase_course", reference=ledger.Reference("course"))
    snap(b, days_ago(7), 40)
    job_id = snapshot_job(f"snapshot:worker:{os.getpid()}")
    body = wait_for_job(client, job_id, tokens.master())
    assert body["status"] == "succeeded" and body["type"] == LEDGER_SNAPSHOT, body
    assert body["progress"] == {"done": 2, "total": 2, "percent": 100.0}
    assert body["created_by"] == {"id": "beat", "typ": "system"}
    assert body["params"] == {"day": DAY.isoformat()}
    assert rows() == {a: (111, 111, 111, 111), b: (100, 100, 60, 100)}


# -- reconciliation ------------------------------------------------------------------------------------------
def reconcile_job(key: str) -> str:
    return ledger_jobs.submit_system_job(LEDGER_RECONCILE, {"week": key}, f"reconcile:{key}")


def _busy_ledger() -> list[str]:
    ids = [str(make_student()["id"]) for _ in range(3)]
    ledger.credit(ids[0], 40, subtype="purchase_course", reference=ledger.Reference("course"))
    ledger.debit(ids[1], 60, subtype="purchase_course", reference=ledger.Reference("course"))
    ledger.set_balance(ids[2], 7, admin_id="admin-1")
    return ids


def test_reconcile_succeeds_on_a_consistent_ledger(conn, settings, sent):
    _busy_ledger()
    job_id = reconcile_job("2026-W10")
    assert runner.execute(job_id, settings) == "succeeded"
    job = Job.get_by_id(job_id)
    assert job.error is None and job.result["mismatches"] == 0 and job.result["errors"] == []


def test_reconcile_fails_listing_a_tampered_student(conn, settings, sent):
    ids = _busy_ledger()
    set_raw_balance(ids[1], 45)  # the ledger says 40
    job_id = reconcile_job("2026-W11")
    assert runner.execute(job_id, settings) == "failed"
    job = Job.get_by_id(job_id)
    assert job.error["code"] == "ledger.mismatch" and "1 student" in job.error["message"]
    assert job.result["errors"] == [{"item": ids[1], "code": "ledger.mismatch",
                                     "message": "balance 45 but ledger 40"}]
    assert reports.reconcile() == [{"student_id": ids[1], "balance": 45, "ledger": 40}]


# -- `students ledger check` ---------------------------------------------------------------------------------
def ledger_check() -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tasks.cli", "ledger", "check"], cwd=ROOT,
                          env=os.environ.copy(), capture_output=True, text=True, timeout=120, check=False)


def test_ledger_check_cli(conn):
    ids = _busy_ledger()
    ok = ledger_check()
    assert ok.returncode == 0 and "ledger consistent" in ok.stdout, ok.stderr
    set_raw_balance(ids[0], 0)
    bad = ledger_check()
    assert bad.returncode == 1, bad.stderr
    assert f"{ids[0]}: balance 0 but income - outcome = 140" in bad.stdout and ids[1] not in bad.stdout
    assert "1 mismatch" in bad.stdout


# -- the beat schedule ---------------------------------------------------------------------------------------
def test_beat_schedule_has_the_ledger_jobs():
    import beat_schedule

    snapshot = beat_schedule.SCHEDULE["daily-salty-bucks-snapshot"]
    assert snapshot["task"] == "students.schedule_snapshot"
    assert snapshot["schedule"] == crontab(minute=5, hour=0)
    assert snapshot["schedule"].minute == {5} and snapshot["schedule"].hour == {0}
    weekly = beat_schedule.SCHEDULE["weekly-ledger-reconciliation"]
    assert weekly["task"] == "students.schedule_reconcile"
    assert isinstance(weekly["schedule"], crontab) and len(weekly["schedule"].day_of_week) == 1
    assert len(weekly["schedule"].hour) == 1 and len(weekly["schedule"].minute) == 1
    for entry in (snapshot, weekly):
        assert entry["task"] in runner.celery_app.tasks
    assert runner.celery_app.conf.timezone == "UTC" and runner.celery_app.conf.enable_utc
    assert runner.celery_app.conf.beat_schedule is beat_schedule.SCHEDULE
    assert set(runner.HANDLERS) >= {LEDGER_SNAPSHOT, LEDGER_RECONCILE}


def test_tasks_ledger_imports_alone():
    done = subprocess.run([sys.executable, "-c", "import tasks.ledger"], cwd=ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
