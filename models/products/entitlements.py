"""Reading a student's entitlements: courses, exams, books (list format of SPEC §2) and classes."""
from __future__ import annotations

from uuid import UUID

from core import db as dbmod
from core.errors import Invalid
from models.products.tables import StudentBook, StudentCourse, StudentExam

KINDS = {
    "courses": (StudentCourse, StudentCourse.is_deleted == False,  # noqa: E712 - SQL, not Python
                ("created_at", "title", "accessible_to"), ("scheduled", "ongoing", "expired")),
    "exams": (StudentExam, StudentExam.deleted_at.is_null(),
              ("created_at", "title", "accessible_to"), ("scheduled", "in_progress", "completed", "expired")),
    "books": (StudentBook, StudentBook.deleted_at.is_null(), ("created_at", "title"), ()),
}


def sortable(kind: str) -> tuple[str, ...]:
    return KINDS[kind][2]


def list_entitlements(student_id: UUID | str, kind: str, *, status: str | None, order_by: str, direction: str,
                      page: int, take: int) -> tuple[list[dict], int]:
    """One page of a student's `kind` entitlements and the total; one query each."""
    model, live, _sorts, statuses = KINDS[kind]
    query = model.select().where(model.student_id == student_id, live)
    if status is not None:
        if status not in statuses:
            raise Invalid("filter[status] is not a status of these entitlements.",
                          errors=[{"field": "filter[status]", "message": f"must be one of {list(statuses)}"}])
        query = query.where(model.status == status)
    column = getattr(model, order_by)
    ordering = [column.desc(nulls="LAST") if direction == "desc" else column.asc(nulls="LAST"), model.id]
    total = query.count()
    rows = list(query.order_by(*ordering).paginate(page, take).dicts())
    return rows, total


def classes(student_id: UUID | str) -> list[dict]:
    """The course end dates ("classes") that the student's courses point to."""
    return dbmod.fetch_dicts(
        "SELECT ced.id, ced.course_id, ced.end_date, ced.semester_name, sc.id AS student_course_id "
        "FROM student_courses sc JOIN course_end_dates ced ON ced.id = sc.end_date_id "
        "WHERE sc.student_id = %s AND NOT sc.is_deleted ORDER BY ced.end_date, ced.id", (str(student_id),))


