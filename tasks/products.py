"""Product jobs: bulk grants and account merges."""
from __future__ import annotations

from models.jobs.types import PRODUCTS_BULK_GRANT, STUDENTS_MERGE
from models.products import bulk, merge
from tasks.runner import JobContext, job_handler


@job_handler(PRODUCTS_BULK_GRANT)
def bulk_grant(ctx: JobContext) -> None:
    """Grant the payload to every listed student, a committed chunk at a time; a missing student is an error."""
    items = [bulk.item_from_json(i) for i in ctx.params["items"]]
    for chunk in ctx.chunks(ctx.params["student_ids"]):
        with ctx.chunk(len(chunk)) as record:
            record.succeeded, record.errors = bulk.grant_chunk(list(chunk), items)


@job_handler(STUDENTS_MERGE)
def merge_students(ctx: JobContext) -> dict:
    """Move everything of "from" to "to" and delete "from", in one transaction; a re-run after that transaction
    committed (a worker killed before finishing the job) only reports what it did."""
    if not ctx.job.progress_done:
        with ctx.chunk(1) as record:
            record.state = merge.merge(ctx.params["from_student_id"], ctx.params["to_student_id"])
            record.succeeded = 1
    return {**ctx.job.result, **(ctx.job.state or {})}
