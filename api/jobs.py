"""Jobs: submit helper for job-creating routes, and GET/list/result/cancel (SPEC §3)."""
from __future__ import annotations

import datetime as dt
from uuid import UUID

import falcon

from api import listing
from api.endpoint import endpoint
from api.schemas.jobs import Job, JobList
from core.errors import Conflict, Gone, Invalid
from models.jobs import ops as jobs
from models.jobs.tables import STATUSES
from models.jobs.types import STUDENTS_EXPORT


def _creator(req: falcon.Request) -> jobs.Creator:
    principal = req.context.principal
    return jobs.Creator(id=str(principal.id), typ=principal.typ)


def accept_job(req: falcon.Request, resp: falcon.Response, job_type: str, params: dict, *, total: int) -> None:
    """Write the job and answer 202 with `Location`; the same Idempotency-Key returns the first job."""
    key = req.get_header("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 255:
        raise Invalid("Idempotency-Key must be 1-255 characters.", code="idempotency.invalid-key",
                      errors=[{"field": "Idempotency-Key", "message": "must be 1-255 characters"}])
    job, _created = jobs.submit(job_type, params, creator=_creator(req), total=total, idempotency_key=key,
                                enqueue=req.context.dispatcher.send)
    resp.status = falcon.HTTP_202
    resp.location = f"/jobs/{job.id}"
    resp.set_header("Retry-After", "1")
    resp.media = jobs.to_json(job)


def _visible(req: falcon.Request, job_id: UUID):
    principal = req.context.principal
    return jobs.get_visible(job_id, creator=_creator(req), is_master=principal.is_master)


class JobResource:
    @endpoint(guard="student_or_admin", summary="Get a job", response=Job, tags=("jobs",), errors=(404,))
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        resp.media = jobs.to_json(_visible(req, id))


class JobsResource:
    @endpoint(guard="admin", summary="List jobs (own jobs; master admins: all)", response=JobList, tags=("jobs",))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        take = listing.take(req)
        after = listing.decode_cursor(req.get_param("cursor"), (dt.datetime.fromisoformat, UUID))
        principal = req.context.principal
        page = jobs.list_jobs(
            creator=None if principal.is_master else _creator(req),
            job_type=req.get_param("filter[type]"),
            status=listing.one_of(req, "filter[status]", STATUSES),
            after=(after[0], str(after[1])) if after else None,
            take=take + 1)
        next_cursor = listing.encode_cursor(page[take - 1].created_at, page[take - 1].id) if len(page) > take else None
        resp.media = {"data": [jobs.to_json(j) for j in page[:take]],
                      "meta": {"take": take, "next_cursor": next_cursor}}


class JobResultResource:
    @endpoint(guard="student_or_admin", summary="Get a finished job's result", tags=("jobs",),
              errors=(404, 409, 410))
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        job = _visible(req, id)
        if job.status != "succeeded":
            raise Conflict("The job has not succeeded (yet).", code="jobs.not-finished",
                           extra={"job_status": job.status})
        if job.expires_at is not None and job.expires_at <= dt.datetime.now(dt.UTC):
            raise Gone("The job's result has expired.", code="jobs.result-expired")
        if job.type == STUDENTS_EXPORT:
            path = req.context.auth.settings.export_dir / f"{job.id}.csv"
            if not path.is_file():
                raise Gone("The export file is gone.", code="jobs.result-expired")
            resp.content_type = "text/csv; charset=utf-8"
            resp.set_header("Content-Disposition",
                            f'attachment; filename="students-{job.created_at:%Y%m%d-%H%M%S}.csv"')
            resp.set_stream(open(path, "rb"), path.stat().st_size)
            return
        resp.media = job.result


class JobCancelResource:
    @endpoint(guard="student_or_admin", summary="Cancel a job", response=Job, tags=("jobs",), errors=(404, 409))
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        principal = req.context.principal
        resp.media = jobs.to_json(jobs.request_cancel(id, creator=_creator(req), is_master=principal.is_master))
