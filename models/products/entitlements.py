"""Reading a student's entitlements: courses, exams, books (list format of SPEC §2) and classes."""
from __future__ import annotations

from uuid import UUID

from core import db as dbmod
from core.errors import Invalid
from models.base import as_utc
from models.products.tables import StudentBook, StudentCourse, StudentExam

KINDS = {
    "courses": (StudentCourse, StudentCourse.is_deleted == False,
                ("created_at", "title", "accessible_to"), ("scheduled", "ongoing", "expired")),
    "exams": (StudentExam, StudentExam.deleted_at.is_null(),
              ("created_at", "title", "accessible_to"), ("scheduled", "in_progress", "completed", "expired")),
    "books": (StudentBook, StudentBook.deleted_at.is_null(), ("created_at", "title"), ()),
}


def sortable(kind: str) -> tuple[str, ...]:
    return KINDS[kind][2]


def list_entitlements(student_id: UUID | str, kind: str, *, status: str | None, order_by: str, direction: str,
                      page: int, take: int, where: tuple = ()) -> tuple[list[dict], int]:
    """One page of a student's `kind` entitlements and the total (one query each); `where` adds conditions."""
    model, live, _sorts, statuses = KINDS[kind]
    query = model.select().where(model.student_id == student_id, live, *where)
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




def exam_filters(*, exam_type_id: UUID | None = None, course_id: UUID | None = None, owner: str | None = None,
                 standalone: bool = False) -> tuple:
    """Conditions for the student's exam lists: by exam type, by one of `owner`'s live courses, or standalone."""
    where = []
    if exam_type_id is not None:
        where.append(StudentExam.exam_type_id == exam_type_id)
    if course_id is not None:
        where.append(StudentExam.student_course_id.in_(StudentCourse.select(StudentCourse.id).where(
            StudentCourse.id == course_id, StudentCourse.student_id == owner,
            StudentCourse.is_deleted == False)))
    if standalone:
        where.append(StudentExam.student_course_id.is_null())
    return tuple(where)


def owns_course(student_id: UUID | str, course_id: UUID | str) -> bool:
    return StudentCourse.select().where(StudentCourse.id == course_id, StudentCourse.student_id == student_id,
                                        StudentCourse.is_deleted == False).exists()


def exams_nav(student_id: UUID | str) -> list[dict]:
    """The student's exams grouped by exam type: types by title, exams by title (one query)."""
    rows = dbmod.fetch_all(
        "SELECT et.id, et.title, e.id, e.title, e.status, e.accessible_to FROM student_exams e "
        "JOIN exam_types et ON et.id = e.exam_type_id "
        "WHERE e.student_id = %s AND e.deleted_at IS NULL ORDER BY et.title, et.id, e.title, e.id",
        (str(student_id),))
    nav: list[dict] = []
    for type_id, type_title, exam_id, title, status, accessible_to in rows:
        if not nav or nav[-1]["exam_type_id"] != type_id:
            nav.append({"exam_type_id": type_id, "title": type_title, "exams": []})
        nav[-1]["exams"].append({"id": exam_id, "title": title, "status": status,
                                 "accessible_to": as_utc(accessible_to)})
    return nav
