"""Bulk account jobs: soft-deleting students."""
from __future__ import annotations

from models.jobs.types import STUDENTS_DELETE
from models.students import ops as students
from tasks.runner import JobContext, job_handler


@job_handler(STUDENTS_DELETE)
def delete_students(ctx: JobContext) -> dict | None:
    """Set `deleted_at` on every listed student, a chunk at a time; one already deleted is a per-item error."""
    ids: list[str] = ctx.params["ids"]
    for chunk in ctx.chunks(ids):
        with ctx.chunk(len(chunk)) as record:
            deleted = set(students.soft_delete_returning(chunk))
            record.succeeded = len(deleted)
            for student_id in chunk:
                if student_id not in deleted:
                    record.fail(student_id, "students.not-found", "The student is missing or already deleted.")
    return None
