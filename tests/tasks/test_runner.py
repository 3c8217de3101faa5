"""The job runner called directly: claims, chunks, lost claims, failures, re-dispatch."""
from __future__ import annotations

import datetime as dt

import pytest

from core.errors import Conflict
from models.base import utcnow
from models.jobs import ops as jobs
from models.jobs.tables import Job
from models.students.tables import Student
from tasks import runner
from tasks.broker import redispatch_stale
from tests.factories import make_student

CREATOR = jobs.Creator("admin-1", "admin")


def submit(job_type: str, params: dict, total: int = 0) -> Job:
    job, _ = jobs.submit(job_type, params, creator=CREATOR, total=total, enqueue=lambda _id: None)
    return job


@pytest.fixture
def handler():
    """Register a handler for a test-only job type; the test sets its body."""
    registered = []

    def register(fn):
        runner.HANDLERS["test.job"] = fn
        registered.append(fn)
        return fn

    yield register
    runner.HANDLERS.pop("test.job", None)


def test_claim_is_exclusive(conn, settings):
    job = submit("test.job", {})
    first = jobs.claim(job.id, heartbeat_timeout=60)
    assert first is not None and first.status == "running" and first.attempts == 1
    assert jobs.claim(job.id, heartbeat_timeout=60) is None


def test_stale_running_job_can_be_reclaimed_and_the_old_claim_is_lost(conn, settings):
    victims = [str(make_student()["id"]) for _ in range(2)]
    job = submit("students.delete", {"ids": victims}, total=2)
    old = jobs.claim(job.id, heartbeat_timeout=60)
    Job.update(heartbeat_at=utcnow() - dt.timedelta(seconds=120)).where(Job.id == job.id).execute()
    new = jobs.claim(job.id, heartbeat_timeout=60)
    assert new is not None and new.attempts == 2
    ctx = runner.JobContext(old, settings)
    with pytest.raises(jobs.LostClaim), ctx.chunk(1) as record:
        Student.update(deleted_at=utcnow()).where(Student.id == victims[0]).execute()
        record.succeeded = 1
    # The lost worker's chunk was rolled back with its progress.
    assert Student.get_by_id(victims[0]).deleted_at is None
    assert Job.get_by_id(job.id).progress_done == 0


def test_resume_skips_committed_chunks(conn, settings):
    victims = [str(make_student()["id"]) for _ in range(5)]
    job = submit("students.delete", {"ids": victims}, total=5)
    claimed = jobs.claim(job.id, heartbeat_timeout=60)
    ctx = runner.JobContext(claimed, settings.with_(job_chunk_size=2))
    first = next(iter(ctx.chunks(victims)))
    assert first == victims[:2]
    with ctx.chunk(len(first)) as record:
        Student.update(deleted_at=utcnow()).where(Student.id.in_(first)).execute()
        record.succeeded = len(first)
    # A crash here; the job is re-claimed after its heartbeat went stale and resumes after the first chunk.
    Job.update(heartbeat_at=utcnow() - dt.timedelta(seconds=120)).where(Job.id == job.id).execute()
    assert runner.execute(str(job.id), settings.with_(job_chunk_size=2, job_heartbeat_timeout=60)) == "succeeded"
    final = Job.get_by_id(job.id)
    assert final.progress_done == 5 and final.result == {"succeeded": 5, "failed": 0, "errors": []}
    assert final.attempts == 2


def test_per_item_errors_do_not_fail_the_job(conn, settings):
    alive = str(make_student()["id"])
    gone = str(make_student(deleted=True)["id"])
    job = submit("students.delete", {"ids": [alive, gone]}, total=2)
    assert runner.execute(str(job.id), settings) == "succeeded"
    result = Job.get_by_id(job.id).result
    assert result["succeeded"] == 1 and result["failed"] == 1
    assert result["errors"] == [{"item": gone, "code": "students.not-found",
                                 "message": "The student is missing or already deleted."}]


def test_unknown_type_fails(conn, settings):
    job = submit("no.such.type", {})
    assert runner.execute(str(job.id), settings) == "failed"
    assert Job.get_by_id(job.id).error["code"] == "jobs.unknown-type"


def test_domain_error_fails_with_its_code(conn, settings, handler):
    @handler
    def _fail(ctx):
        raise Conflict("nope", code="test.conflict")

    job = submit("test.job", {})
    assert runner.execute(str(job.id), settings) == "failed"
    final = Job.get_by_id(job.id)
    assert final.error == {"code": "test.conflict", "message": "nope"} and final.finished_at is not None


def test_crash_fails_without_leaking_details(conn, settings, handler):
    @handler
    def _crash(ctx):
        raise RuntimeError("secret internals")

    job = submit("test.job", {})
    assert runner.execute(str(job.id), settings) == "failed"
    error = Job.get_by_id(job.id).error
    assert error["code"] == "jobs.crashed" and "secret" not in error["message"]


def test_too_many_attempts_fails_the_job(conn, settings):
    job = submit("test.job", {})
    Job.update(status="running", attempts=jobs.MAX_ATTEMPTS,
               heartbeat_at=utcnow() - dt.timedelta(hours=1)).where(Job.id == job.id).execute()
    assert runner.execute(str(job.id), settings) == "failed"
    assert Job.get_by_id(job.id).error["code"] == "jobs.too-many-attempts"


class _Recorder:
    def __init__(self, settings):
        self.settings = settings
        self.sent: list[str] = []

    def send(self, job_id: str) -> bool:
        self.sent.append(job_id)
        return True


def test_redispatch_picks_old_queued_and_stale_running_jobs(conn, settings):
    fresh = submit("test.job", {})
    old = submit("test.job", {})
    stale = submit("test.job", {})
    beating = submit("test.job", {})
    long_ago = utcnow() - dt.timedelta(minutes=5)
    Job.update(created_at=long_ago).where(Job.id.in_([old.id, stale.id, beating.id])).execute()
    Job.update(status="running", heartbeat_at=long_ago).where(Job.id == stale.id).execute()
    Job.update(status="running", heartbeat_at=utcnow()).where(Job.id == beating.id).execute()
    recorder = _Recorder(settings)
    assert sorted(redispatch_stale(recorder, queued_for=60)) == sorted([str(old.id), str(stale.id)])
    assert recorder.sent and str(fresh.id) not in recorder.sent
    # Just re-sent: not again on the next tick.
    assert redispatch_stale(recorder, queued_for=60) == []


def test_beat_schedule_runs_redispatch_every_30_seconds():
    import beat_schedule

    entry = beat_schedule.SCHEDULE["redispatch-lost-jobs"]
    assert entry["task"] == "students.redispatch" and entry["schedule"] == 30.0
    assert entry["task"] in runner.celery_app.tasks
    assert runner.run_job.name == "students.run_job" and runner.run_job.acks_late


def test_merge_rerun_after_its_commit_only_reports(conn, settings):
    """A worker killed between the merge's commit and the job's finish: the re-run must not fail or merge again."""
    source, target = make_student(), make_student()
    job = submit("students.merge", {"from_student_id": str(source["id"]), "to_student_id": str(target["id"])}, 1)
    assert runner.execute(str(job.id), settings) == "succeeded"
    first = Job.get_by_id(job.id).result
    assert first["transferred_salty_bucks"] == 100
    Job.update(status="running", finished_at=None,
               heartbeat_at=utcnow() - dt.timedelta(hours=1)).where(Job.id == job.id).execute()
    assert runner.execute(str(job.id), settings) == "succeeded"
    assert Job.get_by_id(job.id).result == first
    assert Student.get_by_id(target["id"]).salty_bucks_balance == 200
