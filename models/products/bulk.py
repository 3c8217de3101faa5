"""Bulk grants: the same rules as `ops.grant`, applied to many students with a handful of set-based statements.

On PostgreSQL a chunk of students is granted with `INSERT ... SELECT ... ON CONFLICT DO NOTHING` per entitlement
table; the embedded SQLite default falls back to `ops.grant` per student.
"""
from __future__ import annotations

import datetime as dt

from core import db as dbmod
from models import settings as app_settings
from models.base import utcnow
from models.ledger import ops as ledger
from models.products.ops import KIND_TO_TYPE, GrantFailed, GrantItem, by_external_id, grant
from models.products.tables import CourseEndDate, Product


def item_to_json(item: GrantItem) -> dict:
    data = {k: v for k, v in item.__dict__.items() if v is not None}
    if item.created_at is not None:
        data["created_at"] = item.created_at.isoformat()
    return data


def item_from_json(data: dict) -> GrantItem:
    values = dict(data)
    if values.get("created_at"):
        values["created_at"] = dt.datetime.fromisoformat(values["created_at"])
    return GrantItem(**values)


def check_catalogue(items: list[GrantItem], *, failure_code: str) -> None:
    """Product-level checks done at submission (unknown ids, wrong type, foreign end date): 400 at once."""
    products = by_external_id(items)
    end_ids = [i.end_date_id for i in items if i.end_date_id]
    end_dates = {str(c.id): str(c.course_id) for c in CourseEndDate.select().where(CourseEndDate.id.in_(end_ids))} \
        if end_ids else {}
    results = []
    for item in items:
        product = products.get(item.external_id)
        error = None
        if product is None:
            error = ("products.not-found", "No product has this external id.")
        elif product.type != KIND_TO_TYPE[item.kind]:
            error = ("products.wrong-type", f"This product is a {product.type}, not a {item.kind}.")
        elif item.kind == "extension" and (item.course_external_id not in products or str(
                products[item.course_external_id].id) != str(product.course_id)):
            error = ("products.course-not-owned", "The extension does not extend this course.")
        elif item.end_date_id and end_dates.get(item.end_date_id) != str(product.id):
            error = ("products.invalid-end-date", "The end date does not belong to this course.")
        results.append({"external_id": item.external_id, "success": True} if error is None else
                       {"external_id": item.external_id, "success": False,
                        "error": {"code": error[0], "message": error[1]}})
    if not all(r["success"] for r in results):
        raise GrantFailed(results, failure_code)


def grant_chunk(student_ids: list[str], items: list[GrantItem]) -> tuple[int, list[dict]]:
    """Grant `items` to each student (inside the caller's transaction); returns (succeeded, per-student errors)."""
    if not dbmod.is_postgres():
        return _grant_each(student_ids, items)
    products = by_external_id(items)
    live = {str(r[0]) for r in dbmod.fetch_all(
        "SELECT id FROM students WHERE id = ANY(%s::uuid[]) AND deleted_at IS NULL", (student_ids,))}
    errors = [_error(s, "students.not-found", "The student is missing or deleted.")
              for s in student_ids if s not in live]
    eligible = [s for s in student_ids if s in live]
    granted_courses = {str(products[i.external_id].id) for i in items if i.kind == "course"}
    for item in (i for i in items if i.kind == "extension"):
        course_id = str(products[item.external_id].course_id)
        if course_id in granted_courses:
            continue  # the same request grants the course first
        owners = {str(r[0]) for r in dbmod.fetch_all(
            "SELECT DISTINCT student_id FROM student_courses WHERE student_id = ANY(%s::uuid[]) "
            "AND product_id = %s AND NOT is_deleted", (eligible, course_id))}
        errors += [_error(s, "products.course-not-owned", f"The student has no course {item.course_external_id}.")
                   for s in eligible if s not in owners]
        eligible = [s for s in eligible if s in owners]
    if not eligible:
        return 0, errors
    now = utcnow()
    flags = set()
    by_kind = {kind: [(products[i.external_id], i) for i in items if i.kind == kind] for kind in KIND_TO_TYPE}
    if by_kind["exam"]:
        _insert_exams(eligible, [(p.id, i.created_at or now) for p, i in by_kind["exam"]], now)
        flags.add("has_exams")
    if by_kind["book"]:
        _insert_books(eligible, [(p.id, i.created_at or now) for p, i in by_kind["book"]], now)
        flags.add("has_books")
    if by_kind["course"]:
        flags |= _insert_courses(eligible, by_kind["course"], now)
    if by_kind["extension"]:
        days: dict[str, int] = {}
        for product, _item in by_kind["extension"]:
            days[str(product.course_id)] = days.get(str(product.course_id), 0) + product.access_days
        dbmod.execute(
            "UPDATE student_courses sc SET accessible_to = GREATEST(sc.accessible_to, %s) "
            "+ make_interval(days => x.days), status = 'ongoing' "
            "FROM unnest(%s::uuid[], %s::int[]) AS x(course_id, days) "
            "WHERE sc.student_id = ANY(%s::uuid[]) AND sc.product_id = x.course_id AND NOT sc.is_deleted",
            (now, list(days), list(days.values()), eligible))
    if flags:
        sets = ", ".join(f"{f} = true" for f in sorted(flags))
        needed = " OR ".join(f"NOT {f}" for f in sorted(flags))
        dbmod.execute(f"UPDATE students SET {sets} WHERE id = ANY(%s::uuid[]) AND ({needed})", (eligible,))
    return len(eligible), errors


def _insert_exams(students: list[str], exams: list[tuple], now: dt.datetime) -> None:
    dbmod.execute(
        "INSERT INTO student_exams (id, student_id, product_id, exam_type_id, title, external_id, status, "
        "accessible_from, accessible_to, student_course_id, created_at) "
        "SELECT gen_random_uuid(), s.id, p.id, p.exam_type_id, p.title, p.external_id, 'scheduled', %s, "
        "%s + make_interval(days => p.access_days), NULL, x.created_at "
        "FROM unnest(%s::uuid[]) AS s(id) "
        "CROSS JOIN unnest(%s::uuid[], %s::timestamptz[]) AS x(product_id, created_at) "
        "JOIN products p ON p.id = x.product_id ON CONFLICT DO NOTHING",
        (now, now, students, [str(p) for p, _ in exams], [c for _, c in exams]))


def _insert_books(students: list[str], books: list[tuple], now: dt.datetime) -> None:
    dbmod.execute(
        "INSERT INTO student_books (id, student_id, product_id, title, student_course_id, created_at) "
        "SELECT gen_random_uuid(), s.id, p.id, p.title, NULL, x.created_at "
        "FROM unnest(%s::uuid[]) AS s(id) "
        "CROSS JOIN unnest(%s::uuid[], %s::timestamptz[]) AS x(product_id, created_at) "
        "JOIN products p ON p.id = x.product_id ON CONFLICT DO NOTHING",
        (students, [str(p) for p, _ in books], [c for _, c in books]))


def _insert_courses(students: list[str], courses: list[tuple[Product, GrantItem]], now: dt.datetime) -> set[str]:
    """New course rows, their included exams and books, and one `purchase_course` award per new course."""
    new = dbmod.fetch_all(
        "INSERT INTO student_courses (id, student_id, product_id, title, type, status, accessible_from, "
        "accessible_to, end_date_id, transaction_id, created_at) "
        "SELECT gen_random_uuid(), s.id, p.id, p.title, p.course_type, 'ongoing', %s, "
        "%s + make_interval(days => p.access_days), x.end_date_id, x.transaction_id, x.created_at "
        "FROM unnest(%s::uuid[]) AS s(id) "
        "CROSS JOIN unnest(%s::uuid[], %s::uuid[], %s::text[], %s::timestamptz[]) "
        "AS x(product_id, end_date_id, transaction_id, created_at) "
        "JOIN products p ON p.id = x.product_id ON CONFLICT DO NOTHING RETURNING id, student_id",
        (now, now, students, [str(p.id) for p, _ in courses], [i.end_date_id for _, i in courses],
         [i.transaction_id for _, i in courses], [i.created_at or now for _, i in courses]))
    flags = {"has_courses"}
    if not new:
        return flags
    new_ids = [str(r[0]) for r in new]
    for table, kind, flag in (("student_exams", "exam", "has_exams"), ("student_books", "book", "has_books")):
        extra = ("exam_type_id, external_id, status, accessible_from, accessible_to, ", "p.exam_type_id, "
                 "p.external_id, 'scheduled', %(now)s, %(now)s + make_interval(days => p.access_days), ") \
            if kind == "exam" else ("", "")
        inserted = dbmod.fetch_all(
            f"INSERT INTO {table} (id, student_id, product_id, title, {extra[0]}student_course_id, created_at) "
            f"SELECT gen_random_uuid(), sc.student_id, p.id, p.title, {extra[1]}sc.id, sc.created_at "
            "FROM student_courses sc JOIN products c ON c.id = sc.product_id "
            "CROSS JOIN LATERAL jsonb_array_elements_text(c.includes) AS inc(product_id) "
            "JOIN products p ON p.id = inc.product_id::uuid AND p.type = %(kind)s "
            "WHERE sc.id = ANY(%(ids)s::uuid[]) ON CONFLICT DO NOTHING RETURNING 1",
            {"now": now, "kind": kind, "ids": new_ids})
        if inserted:
            flags.add(flag)
    award = app_settings.get_int("purchase_course")
    if award > 0:
        ledger.credit_many([(str(student), award, f"purchase_course:{row}", str(row)) for row, student in new],
                           subtype="purchase_course", reference_type="course")
    return flags


def _grant_each(student_ids: list[str], items: list[GrantItem]) -> tuple[int, list[dict]]:
    """The portable path: the single-student operation, one student at a time (each all-or-nothing)."""
    from core.db import db
    from core.errors import DomainError

    succeeded, errors = 0, []
    for student_id in student_ids:
        try:
            with db.atomic():
                grant(student_id, items)
            succeeded += 1
        except GrantFailed as exc:
            failed = next(r for r in exc.results if not r["success"])
            errors.append(_error(student_id, failed["error"]["code"], failed["error"]["message"]))
        except DomainError as exc:
            errors.append(_error(student_id, exc.code, exc.detail))
    return succeeded, errors


def _error(student_id: str, code: str, message: str) -> dict:
    return {"item": student_id, "code": code, "message": message}
