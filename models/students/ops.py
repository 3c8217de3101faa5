"""Account operations: create, read, soft-delete. The rules of SPEC §5 live here and in the database."""
from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from uuid import UUID

import peewee
from email_validator import EmailNotValidError, validate_email

from core import db as dbmod
from core.db import db
from core.errors import Conflict, Invalid, NotFound
from models import settings as app_settings
from models.base import new_id, row_to_dict, select_sql, utcnow
from models.ledger import ops as ledger
from models.students.tables import ADMIN_COLUMNS, SELF_COLUMNS, Student

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,30}$")

# Unique index -> (code, message) for the conflicts SPEC §6.1 names.
_UNIQUE = {
    "students_email_key": ("students.email.already-exists", "A student with this e-mail already exists."),
    "students_username_key": ("students.username.already-exists", "This username is already taken."),
    "students_external_id_key": ("students.external-id.already-exists",
                                 "A student with this external id already exists."),
}


def normalize_email(value: str, field: str = "email") -> str:
    """Trim, validate and lower-case an e-mail address (422 `students.invalid-email`)."""
    candidate = value.strip()
    try:
        validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid("The e-mail address is not valid.", code="students.invalid-email",
                      errors=[{"field": field, "message": str(exc)}]) from None
    return candidate.lower()


def check_username(value: str | None, field: str = "username") -> str | None:
    """A username (3-30 of letters, digits, `_.-`), or None for "none" (null or empty)."""
    if value is None or value == "":
        return None
    if not USERNAME_RE.match(value):
        raise Invalid("A username is 3-30 characters of letters, digits, '_', '.' or '-'.",
                      code="students.invalid-username",
                      errors=[{"field": field, "message": "must match ^[A-Za-z0-9_.-]{3,30}$"}])
    return value


def conflict_from(exc: peewee.IntegrityError) -> Conflict:
    """Translate a broken unique index on `students` into its 409; anything else is re-raised."""
    name = dbmod.integrity_constraint(exc)
    for index, (code, message) in _UNIQUE.items():
        if index in name:
            return Conflict(message, code=code)
    raise exc


def create_student(*, email: str, name: str, phone_number: str, username: str | None = None,
                   external_id: int | None = None, student_id: UUID | None = None) -> dict:
    """Create an account (SPEC §5) with its starting balance entry, in one transaction; returns the admin profile."""
    email = normalize_email(email, "student_email")
    username = check_username(username)
    sid = student_id or new_id()
    starting = app_settings.get_int("salty_bucks_starting_balance")
    with db.atomic():
        try:
            with db.atomic():
                Student.insert(id=sid, email=email, name=name.strip(), phone_number=phone_number.strip(),
                               username=username, external_id=external_id, created_at=utcnow(),
                               video_bg_music_enabled=False, login_count=0).execute()
        except peewee.IntegrityError as exc:
            raise conflict_from(exc) from None
        if starting > 0:
            ledger.credit(sid, starting, subtype="initial_value", reference=ledger.Reference("student", str(sid)))
        return get_admin_profile(sid)


_ADMIN_SELECT = select_sql(Student, ADMIN_COLUMNS) + " WHERE id = %s"


def load(student_id: UUID | str) -> dict | None:
    """Every column of one student (deleted ones too), or None: one primary-key query."""
    row = dbmod.fetch_one(_ADMIN_SELECT, (str(student_id),))
    return None if row is None else row_to_dict(Student, ADMIN_COLUMNS, row)


def get_admin_profile(student_id: UUID | str) -> dict:
    """The admin profile (every column) of a non-deleted student; 404 otherwise."""
    row = load(student_id)
    if row is None or row["deleted_at"] is not None:
        raise NotFound("Student not found.", code="students.not-found")
    return row


def self_profile(row: dict, *, impersonated_by: dict | None, preview_admin: dict | None) -> dict:
    """The student's own view of their row: no admin-only columns, plus who is acting for them."""
    profile = {c: row[c] for c in SELF_COLUMNS}
    profile["is_impersonated"] = impersonated_by is not None
    profile["impersonated_by"] = impersonated_by
    profile["is_preview"] = preview_admin is not None
    profile["preview_admin"] = preview_admin
    return profile


_RETURNING = " RETURNING " + ", ".join(ADMIN_COLUMNS)


def update_student(student_id: UUID | str, values: dict) -> dict:
    """Set `values` on a non-deleted student in one `UPDATE ... RETURNING`; 404 if none, 409 on a taken value.

    Returns the whole row (the admin profile). `values` maps column names (from code, never from a request's keys)
    to plain values.
    """
    fields = Student._meta.fields
    assignments = ", ".join(f"{name} = %s" for name in values)
    params = [fields[name].db_value(value) for name, value in values.items()] + [str(student_id)]
    try:  # one statement: atomic on its own (no BEGIN/COMMIT round trips)
        row = dbmod.fetch_one(f"UPDATE students SET {assignments} WHERE id = %s AND deleted_at IS NULL"
                              + _RETURNING, params)
    except peewee.IntegrityError as exc:
        raise conflict_from(exc) from None
    if row is None:
        raise NotFound("Student not found.", code="students.not-found")
    return row_to_dict(Student, ADMIN_COLUMNS, row)


def record_login(student_id: UUID | str) -> dict:
    """Advance `login_count` (1, 2, 3, 1, ...) and set `logged_at`; returns the row."""
    with db.atomic():
        row = dbmod.fetch_one(
            "UPDATE students SET login_count = CASE WHEN login_count >= 3 THEN 1 ELSE login_count + 1 END, "
            "logged_at = %s WHERE id = %s AND deleted_at IS NULL" + _RETURNING,
            (Student.logged_at.db_value(utcnow()), str(student_id)))
    if row is None:
        raise NotFound("Student not found.", code="students.not-found")
    return row_to_dict(Student, ADMIN_COLUMNS, row)


_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})  # files of the zoneinfo tree, not IANA zone names


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def update_self(student_id: UUID | str, values: dict) -> dict | None:
    """A student's own write: one `UPDATE ... RETURNING` that also checks the account is live and active (the
    authentication of the request); None when it is not."""
    fields = Student._meta.fields
    assignments = ", ".join(f"{name} = %s" for name in values)
    params = [fields[name].db_value(value) for name, value in values.items()] + [str(student_id)]
    try:
        row = dbmod.fetch_one(f"UPDATE students SET {assignments} WHERE id = %s AND deleted_at IS NULL AND is_active"
                              + _RETURNING, params)
    except peewee.IntegrityError as exc:
        raise conflict_from(exc) from None
    return None if row is None else row_to_dict(Student, ADMIN_COLUMNS, row)


def check_timezone(value: str, field: str = "timezone") -> str:
    """An IANA time zone name known to zoneinfo (422 `students.invalid-timezone`)."""
    if value in _zones():
        return value
    raise Invalid("The time zone is not a known IANA name.", code="students.invalid-timezone",
                  errors=[{"field": field, "message": "not an IANA time zone name"}])


def update_profile(student_id: UUID | str, changes: dict) -> dict:
    """Admin edit of name, phone, e-mail, username and external id: validated, unique, all or nothing."""
    values = dict(changes)
    if "email" in values:
        values["email"] = normalize_email(values["email"])
    if "username" in values:
        values["username"] = check_username(values["username"])
    for text in ("name", "phone_number"):
        if text in values:
            values[text] = values[text].strip()
    if not values:
        return get_admin_profile(student_id)
    return update_student(student_id, values)


def find_by_email(email: str) -> dict | None:
    """The non-deleted student with this e-mail (case-insensitive), or None."""
    row = dbmod.fetch_one(_ADMIN_SELECT.replace("WHERE id = %s", "WHERE lower(email) = %s AND deleted_at IS NULL"),
                          (email.strip().lower(),))
    return None if row is None else row_to_dict(Student, ADMIN_COLUMNS, row)


def find_by_external_id(external_id: int, *, for_update: bool = False) -> dict | None:
    """The non-deleted student holding this shop customer id, or None."""
    sql = _ADMIN_SELECT.replace("WHERE id = %s", "WHERE external_id = %s AND deleted_at IS NULL")
    if for_update and dbmod.is_postgres():
        sql += " FOR UPDATE"
    row = dbmod.fetch_one(sql, (external_id,))
    return None if row is None else row_to_dict(Student, ADMIN_COLUMNS, row)


def email_exists(email: str) -> bool:
    return Student.select().where(peewee.fn.lower(Student.email) == email.strip().lower(),
                                  Student.deleted_at.is_null()).exists()


def set_active_many(ids: Sequence[str], is_active: bool) -> int:
    """Activate or deactivate many students in one statement; all or nothing (404 listing the unknown ids)."""
    with db.atomic():
        if dbmod.is_postgres():  # one array parameter plans far faster than 10,000 IN placeholders
            updated = dbmod.execute("UPDATE students SET is_active = %s WHERE id = ANY(%s::uuid[]) "
                                    "AND deleted_at IS NULL", (is_active, list(ids))).rowcount
        else:
            updated = (Student.update(is_active=is_active)
                       .where(Student.id.in_(list(ids)), Student.deleted_at.is_null()).execute())
        if updated != len(ids):
            # Leaving the block with the error rolls the update back.
            raise NotFound("Some students are missing or deleted; nothing was changed.",
                           code="students.not-found", extra={"ids": missing_or_deleted(ids)})
    return updated


def missing_or_deleted(ids: Sequence[UUID]) -> list[str]:
    """The ids among `ids` that name no non-deleted student, in the order given."""
    found: set[str] = set()
    for chunk in _chunks([str(i) for i in ids], 5000):
        found.update(str(r[0]) for r in Student.select(Student.id)
                     .where(Student.id.in_(chunk), Student.deleted_at.is_null()).tuples())
    return [str(i) for i in ids if str(i) not in found]


def soft_delete_returning(ids: Iterable[UUID | str]) -> list[str]:
    """Set `deleted_at` on the given non-deleted students (deleted ones are left alone); returns the ids changed."""
    rows = (Student.update(deleted_at=utcnow())
            .where(Student.id.in_([str(i) for i in ids]), Student.deleted_at.is_null())
            .returning(Student.id).tuples().execute())
    return [str(r[0]) for r in rows]


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]
