"""Administration jobs: the CSV export, pruning inactive accounts, and expiring old export files."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from core import config
from core.db import connection
from core.errors import DomainError
from models.base import utcnow
from models.jobs import ops as jobs
from models.jobs.types import STUDENTS_EXPORT, STUDENTS_PRUNE
from models.students import exports, pruning
from models.students.listing import Filter
from tasks.runner import JobContext, celery_app, job_handler, submit_system_job

PRUNE_BATCH = 5000  # rows locked by one pruning statement at most


class PruneThresholdExceeded(DomainError):
    status, title, code = 409, "Conflict", "prune.threshold-exceeded"


def export_path(settings: config.Settings, job_id: str) -> Path:
    return settings.export_dir / f"{job_id}.csv"


def rules(settings: config.Settings) -> pruning.Rules:
    return pruning.Rules(settings.prune_inactive_days, settings.prune_course_grace_days, settings.prune_max_fraction)


@job_handler(STUDENTS_EXPORT)
def export_csv(ctx: JobContext) -> dict:
    """Write the CSV (a re-run after a crash writes it again from scratch), then keep it EXPORT_TTL seconds."""
    params = ctx.params
    rows = exports.export(Filter(**params.get("filter", {})), tuple(params["columns"]),
                          export_path(ctx.settings, str(ctx.job.id)), bom=bool(params.get("bom")))
    ctx.expires_at = utcnow() + dt.timedelta(seconds=ctx.settings.export_ttl)
    jobs.set_total(ctx.job, rows)
    with ctx.chunk(0) as record:  # progress ends at the row count, whatever an interrupted run recorded
        record.done = rows - ctx.job.progress_done
    return {"rows": rows, "succeeded": rows, "failed": 0, "errors": []}


@job_handler(STUDENTS_PRUNE)
def prune(ctx: JobContext) -> None:
    """Soft-delete eligible inactive students in batches, unless that would be more than PRUNE_MAX_FRACTION."""
    current = rules(ctx.settings)
    after = (ctx.job.state or {}).get("after")
    ids = pruning.eligible_ids(current, after=after)  # ascending; a re-run resumes after the last batch done
    live = pruning.live_count()
    if pruning.over_threshold(len(ids), live, current):
        raise PruneThresholdExceeded(f"{len(ids)} of {live} students are eligible, over the "
                                     f"{current.max_fraction:.0%} threshold; nothing was pruned.")
    jobs.set_total(ctx.job, ctx.job.progress_done + len(ids))
    size = max(ctx.settings.job_chunk_size, PRUNE_BATCH)
    for start in range(0, len(ids), size):
        batch = ids[start:start + size]
        with ctx.chunk(0) as record:
            record.done = record.succeeded = pruning.prune_batch(current, batch)
            record.state = {"after": batch[-1]}


@celery_app.task(name="students.schedule_prune", ignore_result=True)
def schedule_prune() -> str:
    """Beat, every 15 minutes: submit a pruning job (once per quarter hour)."""
    now = utcnow()
    slot = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0).isoformat()
    return submit_system_job(STUDENTS_PRUNE, {}, f"prune:{slot}")


@celery_app.task(name="students.expire_exports", ignore_result=True)
def expire_exports() -> int:
    """Beat, hourly: delete export files past EXPORT_TTL (their jobs then answer 410 on /result)."""
    settings = config.get()
    with connection():
        expired = jobs.expired_exports(utcnow())
    removed = 0
    for job_id in expired:
        path = export_path(settings, job_id)
        if path.exists():
            path.unlink()
            removed += 1
    return removed
