"""Granting products: one operation for every entry point (shop, self, admin, SSO sync, deprecated catalogue ids).

Every item is checked first; if any fails nothing is granted (SPEC §6.4 Fix). Granting is idempotent: an owned
product (same external id and, for courses, transaction id) is a no-op, and a course awards `purchase_course` SB only
when it is newly granted.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from core import db as dbmod
from core.db import db
from core.errors import BadRequest, NotFound
from models import settings as app_settings
from models.base import as_utc, new_id, utcnow
from models.ledger import ops as ledger
from models.products.tables import CourseEndDate, Product
from models.students.tables import Student

KIND_TO_TYPE = {"exam": "exam", "course": "course", "extension": "course_extension", "book": "book"}


@dataclass(frozen=True)
class GrantItem:
    """One requested product: `kind` is the payload list it came from (exam, course, extension, book)."""

    kind: str
    external_id: str
    transaction_id: str | None = None
    end_date_id: str | None = None
    course_external_id: str | None = None
    created_at: dt.datetime | None = None


class GrantFailed(BadRequest):
    """At least one item cannot be granted; `results` says which and why. Nothing was granted."""

    def __init__(self, results: list[dict], code: str):
        super().__init__("Some products cannot be granted; nothing was granted.", code=code,
                         extra={"results": results})
        self.results = results


@dataclass
class GrantOutcome:
    results: list[dict]
    unknown: list[str]
    new_courses: int = 0


def _fail(item: GrantItem, code: str, message: str) -> dict:
    return {"external_id": item.external_id, "success": False, "error": {"code": code, "message": message}}


def by_external_id(items: Iterable[GrantItem]) -> dict[str, Product]:
    ids = {i.external_id for i in items} | {i.course_external_id for i in items if i.course_external_id}
    return {p.external_id: p for p in Product.select().where(Product.external_id.in_(list(ids)))} if ids else {}


def check(student_id: UUID | str, items: list[GrantItem], *, self_grant: bool = False,
          skip_unknown: bool = False) -> tuple[list[dict], list[str], dict[str, Product]]:
    """Per-item results (no writes), the unknown external ids when `skip_unknown`, and the products found."""
    products = by_external_id(items)
    owned_courses = {str(r[0]) for r in dbmod.fetch_all(
        "SELECT product_id FROM student_courses WHERE student_id = %s AND NOT is_deleted", (str(student_id),))}
    # A course granted by the same request counts as owned for its extensions (they are applied after it).
    owned_courses |= {str(products[i.external_id].id) for i in items
                      if i.kind == "course" and i.external_id in products}
    end_dates = {str(c.id): str(c.course_id) for c in CourseEndDate.select().where(
        CourseEndDate.id.in_([i.end_date_id for i in items if i.end_date_id]))} if any(
        i.end_date_id for i in items) else {}
    results, unknown = [], []
    for item in items:
        product = products.get(item.external_id)
        if skip_unknown and (product is None or product.type != KIND_TO_TYPE[item.kind]):
            unknown.append(item.external_id)  # SSO sync: a product it cannot place never blocks the login
            continue
        if product is None:
            results.append(_fail(item, "products.not-found", "No product has this external id."))
        elif product.type != KIND_TO_TYPE[item.kind]:
            results.append(_fail(item, "products.wrong-type", f"This product is a {product.type}, not a {item.kind}."))
        elif self_grant and not product.is_free_trial:
            results.append(_fail(item, "products.not-self-grantable", "Only free-trial products can be self-granted."))
        elif item.kind == "extension" and not _extends_owned(product, item, products, owned_courses):
            results.append(_fail(item, "products.course-not-owned", "The student has no course this extends."))
        elif item.end_date_id and end_dates.get(item.end_date_id) != str(product.id):
            results.append(_fail(item, "products.invalid-end-date", "The end date does not belong to this course."))
        else:
            results.append({"external_id": item.external_id, "success": True})
    return results, unknown, products


def _extends_owned(product: Product, item: GrantItem, products: dict[str, Product], owned: set[str]) -> bool:
    if item.course_external_id:
        course = products.get(item.course_external_id)
        if course is None or str(course.id) != str(product.course_id):
            return False
    return str(product.course_id) in owned


def grant(student_id: UUID | str, items: list[GrantItem], *, self_grant: bool = False, skip_unknown: bool = False,
          failure_code: str = "products.grant-failed") -> GrantOutcome:
    """Grant every item to a non-deleted student in one transaction, or nothing (GrantFailed with the results)."""
    with db.atomic():
        if not Student.select().where(Student.id == student_id, Student.deleted_at.is_null()).exists():
            raise NotFound("Student not found.", code="students.not-found")
        results, unknown, products = check(student_id, items, self_grant=self_grant, skip_unknown=skip_unknown)
        if not all(r["success"] for r in results):
            raise GrantFailed(results, failure_code)
        flags: set[str] = set()
        new_courses = 0
        for item in items:
            product = products.get(item.external_id)
            if product is None or item.external_id in unknown:
                continue
            if item.kind == "course":
                new_courses += _grant_course(student_id, product, item, flags)
            elif item.kind == "exam":
                _grant_exam(student_id, product, None, item.created_at, flags)
            elif item.kind == "book":
                _grant_book(student_id, product, None, item.created_at, flags)
            else:
                _extend(student_id, product)
        if flags:
            Student.update({getattr(Student, f): True for f in flags}).where(Student.id == student_id).execute()
        return GrantOutcome(results, unknown, new_courses)


def _window(product: Product) -> tuple[dt.datetime, dt.datetime]:
    """Access starts now and lasts the product's `access_days`."""
    begin = utcnow()
    return begin, begin + dt.timedelta(days=product.access_days)


def _grant_exam(student_id, product: Product, course_row_id: str | None, created_at, flags: set[str]) -> None:
    start, end = _window(product)
    dbmod.execute(
        "INSERT INTO student_exams (id, student_id, product_id, exam_type_id, title, external_id, status, "
        "accessible_from, accessible_to, student_course_id, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, 'scheduled', %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        _params(new_id(), student_id, product.id, product.exam_type_id, product.title, product.external_id,
                start, end, course_row_id, created_at or start))
    flags.add("has_exams")


def _grant_book(student_id, product: Product, course_row_id: str | None, created_at, flags: set[str]) -> None:
    now = utcnow()
    dbmod.execute(
        "INSERT INTO student_books (id, student_id, product_id, title, student_course_id, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        _params(new_id(), student_id, product.id, product.title, course_row_id, created_at or now))
    flags.add("has_books")


def _grant_course(student_id, product: Product, item: GrantItem, flags: set[str]) -> int:
    """Insert the course (a no-op when owned); when new, its included products and the purchase award."""
    start, end = _window(product)
    row = dbmod.fetch_one(
        "INSERT INTO student_courses (id, student_id, product_id, title, type, status, accessible_from, "
        "accessible_to, end_date_id, transaction_id, created_at) "
        "VALUES (%s, %s, %s, %s, %s, 'ongoing', %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
        _params(new_id(), student_id, product.id, product.title, product.course_type, start, end, item.end_date_id,
                item.transaction_id, item.created_at or start))
    flags.add("has_courses")
    if row is None:
        return 0
    course_row_id = str(row[0])
    included = list(Product.select().where(Product.id.in_([str(i) for i in product.includes or []])))
    for extra in included:
        if extra.type == "exam":
            _grant_exam(student_id, extra, course_row_id, item.created_at, flags)
        elif extra.type == "book":
            _grant_book(student_id, extra, course_row_id, item.created_at, flags)
    award = app_settings.get_int("purchase_course")
    if award > 0:
        ledger.credit(student_id, award, subtype="purchase_course",
                      reference=ledger.Reference("course", course_row_id), key=f"purchase_course:{course_row_id}")
    return 1


def _extend(student_id, extension: Product) -> None:
    """Push the student's matching course(s) `accessible_to` forward by the extension's days."""
    rows = dbmod.fetch_all("SELECT id, accessible_to FROM student_courses "
                           "WHERE student_id = %s AND product_id = %s AND NOT is_deleted",
                           (str(student_id), str(extension.course_id)))
    for row_id, accessible_to in rows:
        base = max(as_utc(accessible_to) or utcnow(), utcnow())
        dbmod.execute("UPDATE student_courses SET accessible_to = %s, status = 'ongoing' WHERE id = %s",
                      _params(base + dt.timedelta(days=extension.access_days), row_id))


def _params(*values) -> list:
    """Plain values for raw SQL: ids as text, datetimes as the backend wants them."""
    out = []
    for value in values:
        if isinstance(value, UUID):
            value = str(value)
        elif isinstance(value, dt.datetime) and not dbmod.is_postgres():
            value = value.isoformat()
        out.append(value)
    return out


def has_products(student_id: UUID | str) -> dict[str, bool]:
    """Whether the student has a non-deleted course / exam entitlement."""
    row = dbmod.fetch_one(
        "SELECT EXISTS (SELECT 1 FROM student_courses WHERE student_id = %s AND NOT is_deleted), "
        "EXISTS (SELECT 1 FROM student_exams WHERE student_id = %s AND deleted_at IS NULL)",
        (str(student_id), str(student_id)))
    return {"has_courses": bool(row[0]), "has_exams": bool(row[1])}


def items_for_catalogue_ids(product_ids: list[UUID], *, failure_code: str) -> list[GrantItem]:
    """The deprecated way of naming products (catalogue ids) as grant items; an unknown id fails the request."""
    found = {str(p.id): p for p in Product.select().where(Product.id.in_([str(i) for i in product_ids]))}
    if len(found) != len({str(i) for i in product_ids}):
        raise GrantFailed([{"external_id": found[str(i)].external_id, "success": True} if str(i) in found else
                           {"external_id": str(i), "success": False,
                            "error": {"code": "products.not-found", "message": "No product has this id."}}
                           for i in product_ids], failure_code)
    parents = {str(p.id): p.external_id for p in Product.select().where(
        Product.id.in_([str(p.course_id) for p in found.values() if p.course_id]))}
    kinds = {v: k for k, v in KIND_TO_TYPE.items()}
    return [GrantItem(kinds[found[str(i)].type], found[str(i)].external_id,
                      course_external_id=parents.get(str(found[str(i)].course_id))) for i in product_ids]


def grant_catalogue_ids(student_id: UUID | str, product_ids: list[UUID], *, failure_code: str) -> GrantOutcome:
    """The deprecated single-student grant by catalogue ids."""
    return grant(student_id, items_for_catalogue_ids(product_ids, failure_code=failure_code),
                 failure_code=failure_code)


def purchase(external_student_id: int, items: list[GrantItem], *, failure_code: str) -> GrantOutcome:
    """The shop's purchase: grant to the holder of the external id, re-creating a soft-deleted account first."""
    from models.students import ops as students

    with db.atomic():
        holder = students.find_by_external_id(external_student_id, for_update=True)
        if holder is None:
            gone = (Student.select().where(Student.external_id == external_student_id,
                                           Student.deleted_at.is_null(False))
                    .order_by(Student.deleted_at.desc()).first())
            if gone is None:
                raise NotFound("No student has this external id.", code="students.not-found")
            Student.update(external_id=None).where(Student.external_id == external_student_id,
                                                   Student.deleted_at.is_null(False)).execute()
            holder = students.create_student(email=gone.email, name=gone.name, phone_number=gone.phone_number,
                                             external_id=external_student_id)
        return grant(holder["id"], items, failure_code=failure_code)
