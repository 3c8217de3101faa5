"""Ledger jobs: the nightly balance snapshot and the weekly reconciliation, and the beat tasks that submit them."""
from __future__ import annotations

import datetime as dt

from core.db import connection
from core.errors import DomainError
from models.jobs.types import LEDGER_RECONCILE, LEDGER_SNAPSHOT
from models.ledger import reports
from tasks.runner import JobContext, celery_app, job_handler, submit_system_job

SNAPSHOT_CHUNK = 50_000


class LedgerMismatch(DomainError):
    status, title, code = 409, "Conflict", "ledger.mismatch"


@job_handler(LEDGER_SNAPSHOT)
def daily_snapshot(ctx: JobContext) -> None:
    """Snapshot every live student's balance for `day`, in keyset chunks of students (resumable, idempotent)."""
    day = dt.date.fromisoformat(ctx.params["day"])
    after = (ctx.job.state or {}).get("after", reports.NIL)
    while after is not None:
        upto = reports.snapshot_boundary(after, SNAPSHOT_CHUNK)
        with ctx.chunk(0) as record:
            record.done = record.succeeded = reports.snapshot_range(day, after=after, upto=upto or reports.MAX_ID)
            record.state = {"after": upto}
        after = upto


@job_handler(LEDGER_RECONCILE)
def reconcile(ctx: JobContext) -> dict:
    """Fail (with the list) if any student's balance differs from income minus outcome."""
    mismatches = reports.reconcile()
    if mismatches:
        with ctx.chunk(0) as record:
            record.errors = [{"item": m["student_id"], "code": "ledger.mismatch",
                              "message": f"balance {m['balance']} but ledger {m['ledger']}"} for m in mismatches]
        raise LedgerMismatch(f"{len(mismatches)} student(s) have a balance that differs from their ledger.")
    return {"succeeded": 1, "failed": 0, "errors": [], "mismatches": 0}


@celery_app.task(name="students.schedule_snapshot", ignore_result=True)
def schedule_snapshot(day: str | None = None) -> str:
    """Beat, 00:05 UTC: submit today's snapshot job."""
    day = day or dt.datetime.now(dt.UTC).date().isoformat()
    with connection():
        total = reports.live_students()
    return submit_system_job(LEDGER_SNAPSHOT, {"day": day}, f"snapshot:{day}", total)


@celery_app.task(name="students.schedule_reconcile", ignore_result=True)
def schedule_reconcile() -> str:
    """Beat, weekly: submit the reconciliation job."""
    week = dt.datetime.now(dt.UTC).strftime("%G-W%V")
    return submit_system_job(LEDGER_RECONCILE, {"week": week}, f"reconcile:{week}")
