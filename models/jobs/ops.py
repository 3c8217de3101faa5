"""Job operations: submit (enqueue after commit), claim, chunk progress, heartbeat, cancel, finish, re-dispatch.

The row in `jobs` is the promise made to the client: it is written before anything is sent to the broker, and the
re-dispatch schedule re-sends whatever the broker lost.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
import peewee

from core.db import after_commit, db
from core.errors import Conflict, Invalid, NotFound
from models.base import utcnow
from models.jobs.tables import FINISHED, Job

IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Creator:
    """Who submitted a job: a student or admin id and the token type."""

    id: str
    typ: str


def request_hash(job_type: str, params: dict) -> str:
    return hashlib.sha256(job_type.encode() + b"\0" + orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest()


def submit(job_type: str, params: dict, *, creator: Creator, total: int = 0, idempotency_key: str | None = None,
           enqueue: Callable[[str], None]) -> tuple[Job, bool]:
    """Write a queued job and send it to the broker once committed; returns (job, created).

    The same `idempotency_key` from the same creator with the same params within 24 h returns the first job;
    with other params it is a 422 `idempotency.key-reused`.
    """
    digest = request_hash(job_type, params)
    with db.atomic():
        if idempotency_key is not None:
            existing = _by_key(creator, idempotency_key)
            if existing is not None:
                if existing.created_at >= utcnow() - IDEMPOTENCY_WINDOW:
                    if existing.request_hash != digest:
                        raise Invalid("This Idempotency-Key was used with a different request.",
                                      code="idempotency.key-reused")
                    return existing, False
                # Expired: the key is free again.
                Job.update(idempotency_key=None).where(Job.id == existing.id).execute()
        try:
            with db.atomic():
                job = Job.create(type=job_type, params=params, progress_total=total, created_by_id=creator.id,
                                 created_by_typ=creator.typ, idempotency_key=idempotency_key, request_hash=digest,
                                 result=None)
        except peewee.IntegrityError:
            # A concurrent request with the same key won the insert.
            existing = _by_key(creator, idempotency_key)
            if existing is None or existing.request_hash != digest:
                raise Invalid("This Idempotency-Key was used with a different request.",
                              code="idempotency.key-reused") from None
            return existing, False
        job_id = str(job.id)
        after_commit(lambda: enqueue(job_id))
        return job, True


def _by_key(creator: Creator, key: str | None) -> Job | None:
    return (Job.select().where(Job.created_by_typ == creator.typ, Job.created_by_id == creator.id,
                               Job.idempotency_key == key).first())


def get(job_id: UUID | str) -> Job:
    job = Job.get_or_none(Job.id == job_id)
    if job is None:
        raise NotFound("Job not found.", code="jobs.not-found")
    return job


def get_visible(job_id: UUID | str, *, creator: Creator, is_master: bool) -> Job:
    """The job if `creator` submitted it (or is a master admin); 404 otherwise, so ids cannot be probed."""
    job = get(job_id)
    if not is_master and (job.created_by_id != creator.id or job.created_by_typ != creator.typ):
        raise NotFound("Job not found.", code="jobs.not-found")
    return job


def list_jobs(*, creator: Creator | None, job_type: str | None, status: str | None,
              after: tuple[dt.datetime, str] | None, take: int) -> list[Job]:
    """A page of jobs, newest first, strictly after the (created_at, id) keyset `after`; all creators when None."""
    query = Job.select()
    if creator is not None:
        query = query.where(Job.created_by_typ == creator.typ, Job.created_by_id == creator.id)
    if job_type:
        query = query.where(Job.type == job_type)
    if status:
        query = query.where(Job.status == status)
    if after is not None:
        created_at, last_id = after
        query = query.where((Job.created_at < created_at) | ((Job.created_at == created_at) & (Job.id < last_id)))
    return list(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(take))


def request_cancel(job_id: UUID | str, *, creator: Creator, is_master: bool) -> Job:
    """Cancel a queued job at once, or ask a running one to stop at its next chunk; 409 if it has finished."""
    job = get_visible(job_id, creator=creator, is_master=is_master)
    with db.atomic():
        cancelled = (Job.update(status="cancelled", finished_at=utcnow(), cancel_requested=True)
                     .where(Job.id == job.id, Job.status == "queued").execute())
        if not cancelled:
            asked = (Job.update(cancel_requested=True)
                     .where(Job.id == job.id, Job.status == "running").execute())
            if not asked:
                raise Conflict("The job has already finished.", code="jobs.already-finished")
    return get(job.id)


def claim(job_id: UUID | str, *, heartbeat_timeout: int) -> Job | None:
    """Take a queued job, or a running one whose worker stopped beating; None if someone else holds it."""
    stale = utcnow() - dt.timedelta(seconds=heartbeat_timeout)
    now = utcnow()
    rows = list(Job.update(status="running", started_at=peewee.fn.COALESCE(Job.started_at, now), heartbeat_at=now,
                           attempts=Job.attempts + 1)
                .where(Job.id == job_id,
                       (Job.status == "queued") | ((Job.status == "running") & (Job.heartbeat_at < stale)))
                .returning(Job).execute())
    return rows[0] if rows else None


class LostClaim(Exception):
    """Another worker took over this job (our heartbeat went stale): stop without committing anything."""


def record_chunk(job: Job, *, done: int, succeeded: int, errors: list[dict], state: dict | None = None) -> bool:
    """Inside the chunk's transaction: add its progress and errors; returns whether a cancel was requested.

    The update is conditional on our claim (`attempts`), so a worker that lost the job rolls its chunk back.
    """
    result = dict(job.result or {"succeeded": 0, "failed": 0, "errors": []})
    result["succeeded"] = result.get("succeeded", 0) + succeeded
    result["failed"] = result.get("failed", 0) + len(errors)
    result["errors"] = list(result.get("errors", [])) + errors
    rows = list(Job.update(progress_done=Job.progress_done + done, result=result, heartbeat_at=utcnow(),
                           state=state if state is not None else Job.state)
                .where(Job.id == job.id, Job.status == "running", Job.attempts == job.attempts)
                .returning(Job.progress_done, Job.cancel_requested).tuples().execute())
    if not rows:
        raise LostClaim(str(job.id))
    job.progress_done, cancel = rows[0]
    job.result = result
    if state is not None:
        job.state = state
    return bool(cancel)


def set_total(job: Job, total: int) -> None:
    """Record how many items a job will process once the job itself has counted them."""
    Job.update(progress_total=total).where(Job.id == job.id).execute()
    job.progress_total = total


def heartbeat(job: Job) -> bool:
    """Refresh the heartbeat of a job we hold; False if we no longer hold it."""
    return bool(Job.update(heartbeat_at=utcnow())
                .where(Job.id == job.id, Job.status == "running", Job.attempts == job.attempts).execute())


def finish(job: Job, status: str, *, result: Any = None, error: dict | None = None,
           expires_at: dt.datetime | None = None) -> bool:
    """Close a job we hold as succeeded, failed or cancelled; False if we no longer hold it."""
    assert status in FINISHED
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "error": error}
    if result is not None:
        values["result"] = result
    if expires_at is not None:
        values["expires_at"] = expires_at
    return bool(Job.update(**values)
                .where(Job.id == job.id, Job.status == "running", Job.attempts == job.attempts).execute())


def fail_exhausted(job_id: UUID | str) -> bool:
    """Fail a job that has been claimed too many times (a poison job must not loop for ever)."""
    return bool(Job.update(status="failed", finished_at=utcnow(),
                           error={"code": "jobs.too-many-attempts",
                                  "message": f"The job was started {MAX_ATTEMPTS} times without finishing."})
                .where(Job.id == job_id, Job.status.in_(["queued", "running"]), Job.attempts >= MAX_ATTEMPTS)
                .execute())


def stale_job_ids(*, queued_for: int, heartbeat_timeout: int, limit: int = 500) -> list[str]:
    """Jobs the broker may have lost: queued (or last re-sent) over `queued_for` s ago, or running with a stale
    heartbeat. Marks them re-sent now, so that two schedulers do not both send them."""
    now = utcnow()
    queued_before = now - dt.timedelta(seconds=queued_for)
    stale = now - dt.timedelta(seconds=heartbeat_timeout)
    with db.atomic():
        ids = [str(r[0]) for r in Job.select(Job.id).where(
            ((Job.status == "queued") & (peewee.fn.COALESCE(Job.dispatched_at, Job.created_at) < queued_before))
            | ((Job.status == "running") & (Job.heartbeat_at < stale)
               & (peewee.fn.COALESCE(Job.dispatched_at, Job.created_at) < stale))
        ).order_by(Job.created_at).limit(limit).tuples()]
        if ids:
            Job.update(dispatched_at=now).where(Job.id.in_(ids)).execute()
    return ids


def expired_exports(now) -> list[str]:
    """Succeeded export jobs whose file has expired."""
    return [str(r[0]) for r in Job.select(Job.id).where(Job.type == "students.export-csv", Job.status == "succeeded",
                                                         Job.expires_at < now).tuples()]


def counts_by_type_and_status() -> list[tuple[str, str, int]]:
    return list(Job.select(Job.type, Job.status, peewee.fn.COUNT(Job.id))
                .group_by(Job.type, Job.status).tuples())


def to_json(job: Job) -> dict:
    """The job as SPEC §3 shows it."""
    total = job.progress_total or 0
    done = job.progress_done or 0
    base = f"/jobs/{job.id}"
    links = {"self": base}
    if job.status == "succeeded":
        links["result"] = base + "/result"
    if job.status in ("queued", "running"):
        links["cancel"] = base + "/cancel"
    return {
        "id": str(job.id),
        "type": job.type,
        "status": job.status,
        "progress": {"done": done, "total": total,
                     "percent": round(100.0 * done / total, 1) if total else (100.0 if job.status == "succeeded"
                                                                              else 0.0)},
        "params": job.params,
        "result": job.result,
        "error": job.error,
        "created_by": {"id": job.created_by_id, "typ": job.created_by_typ},
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "links": links,
    }
