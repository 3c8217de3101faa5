"""Administration (SPEC §6.7): student lists (v1, v2 cursor, v3 scoped), CSV export, activity, freeze, notes."""
from __future__ import annotations

import datetime as dt
from uuid import UUID

import falcon

from api import listing
from api.endpoint import endpoint
from api.jobs import accept_job
from api.schemas.jobs import Job
from api.schemas.students import (
    AdminNote,
    AdminProfile,
    BulkIsActive,
    ExportRequest,
    Freeze,
    IsActive,
    Updated,
)
from core.errors import Invalid
from models.base import utcnow
from models.jobs.types import STUDENTS_EXPORT
from models.students import exports
from models.students import listing as students_listing
from models.students import ops as students

BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def _uuid(req: falcon.Request, name: str) -> str | None:
    raw = req.get_param(name)
    if raw is None:
        return None
    try:
        return str(UUID(raw))
    except ValueError:
        raise Invalid(f"{name} must be a UUID.", errors=[{"field": name, "message": "must be a UUID"}]) from None


def _bool(req: falcon.Request, name: str) -> bool | None:
    raw = req.get_param(name)
    if raw is None:
        return None
    if raw.lower() not in BOOLEANS:
        raise Invalid(f"{name} must be true or false.", errors=[{"field": name, "message": "must be true or false"}])
    return BOOLEANS[raw.lower()]


def query_filter(req: falcon.Request, scope: tuple[str, ...] | None = None) -> students_listing.Filter:
    """The `filter[...]` parameters shared by the three lists (and, as a body, by the export)."""
    search = req.get_param("filter[search]")
    if search is not None and len(search) > 255:
        raise Invalid("filter[search] is too long.", errors=[{"field": "filter[search]", "message": "max 255"}])
    return students_listing.Filter(
        search=search or None, course_id=_uuid(req, "filter[course_id]"),
        course_type=req.get_param("filter[course_type]"), end_date_id=_uuid(req, "filter[end_date_id]"),
        is_active=_bool(req, "filter[is_active]"), is_frozen=_bool(req, "filter[is_frozen]"), course_scope=scope)


def _page(req: falcon.Request, f: students_listing.Filter, *, courses: bool) -> dict:
    take, page = listing.take(req), listing.page(req)
    order_by, direction = listing.order(req, students_listing.SORTS, "created_at")
    rows, total = students_listing.page(f, order_by=order_by, direction=direction, page_no=page, take=take,
                                        courses=courses)
    return listing.paged(rows, total, page, take)


class StudentsV2:
    @endpoint(guard="students_manager", summary="Walk the students with a cursor (no total)", tags=("administration",),
              errors=(422,))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        take = listing.take(req)
        order_by, direction = listing.order(req, students_listing.SORTS, "created_at")
        after = listing.decode_cursor(req.get_param("cursor"), (_cursor_value_parser(order_by), _cursor_id))
        rows = students_listing.keyset_page(query_filter(req), order_by=order_by, direction=direction,
                                            after=tuple(after) if after else None, take=take + 1)
        next_cursor = None
        if len(rows) > take:
            last = rows[take - 1]
            next_cursor = listing.encode_cursor(_encode_value(students_listing.sort_value(last, order_by)), last["id"])
        resp.media = {"data": rows[:take], "meta": {"take": take, "next_cursor": next_cursor}}


def _encode_value(value) -> str:
    return "\0null" if value is None else str(value)


def _check_timestamp(raw: str) -> None:
    if dt.datetime.fromisoformat(raw).tzinfo is None:
        raise ValueError("a cursor timestamp carries its offset")


def _check_balance(raw: str) -> None:
    if not -(2**31) <= int(raw) < 2**31:
        raise ValueError("out of range")


_CURSOR_CHECKS = {"created_at": _check_timestamp, "logged_at": _check_timestamp,
                  "salty_bucks_balance": _check_balance, "name": str, "email": str}


def _cursor_value_parser(order_by: str):
    """The cursor's sort value, checked against the column it sorts (a cursor of another sort is a 422)."""
    check = _CURSOR_CHECKS[order_by]

    def parse(raw: str):
        if raw == "\0null":
            return None
        check(raw)
        return raw

    return parse


def _cursor_id(raw: str) -> str:
    return str(UUID(raw))


class StudentsV3:
    @endpoint(guard="admin", summary="Students with their courses, scoped to the admin's courses",
              tags=("administration",), errors=(422,))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        claimed = req.context.principal.claims.get("course_ids")
        # A token with course_ids (even an empty list) sees only those courses' students.
        scope = tuple(str(UUID(c)) for c in claimed) if isinstance(claimed, list) else None
        resp.media = _page(req, query_filter(req, scope), courses=True)


class ExportCsv:
    @endpoint(guard="students_manager", summary="Export students as CSV (a job)", body=ExportRequest, response=Job,
              status=202, tags=("administration",))
    def on_post(self, req: falcon.Request, resp: falcon.Response, body: ExportRequest) -> None:
        columns = exports.check_columns(body.columns)
        flt = body.filter.model_dump(mode="json", exclude_none=True) if body.filter else {}
        accept_job(req, resp, STUDENTS_EXPORT, {"filter": flt, "columns": list(columns), "bom": body.bom}, total=0)


class IsActiveResource:
    @endpoint(guard="students_manager", summary="Activate or deactivate an account", body=IsActive,
              response=AdminProfile, tags=("administration",), errors=(404,))
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: UUID, body: IsActive) -> None:
        resp.media = students.update_student(id, {"is_active": body.is_active})


class BulkIsActiveResource:
    @endpoint(guard="students_manager", summary="Activate or deactivate several accounts", body=BulkIsActive,
              response=Updated, tags=("administration",), errors=(404,))
    def on_patch(self, req: falcon.Request, resp: falcon.Response, body: BulkIsActive) -> None:
        ids = list(dict.fromkeys(str(i) for i in body.ids))
        resp.media = {"updated": students.set_active_many(ids, body.is_active)}


class FreezeResource:
    @endpoint(guard="master", summary="Freeze an account (exempt from pruning)", body=Freeze, response=AdminProfile,
              tags=("administration",), errors=(404,))
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: UUID, body: Freeze) -> None:
        resp.media = students.update_student(id, {"is_frozen": True, "freeze_reason": body.freeze_reason,
                                                  "frozen_at": utcnow()})


class UnfreezeResource:
    @endpoint(guard="master", summary="Unfreeze an account (reason and time kept)", response=AdminProfile,
              tags=("administration",), errors=(404,))
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        resp.media = students.update_student(id, {"is_frozen": False})


class AdminNoteResource:
    @endpoint(guard="master", summary="Set the note only admins see", body=AdminNote, response=AdminProfile,
              tags=("administration",), errors=(404,))
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: UUID, body: AdminNote) -> None:
        resp.media = students.update_student(id, {"admin_note": body.admin_note})


def list_v1(req: falcon.Request, resp: falcon.Response) -> None:
    """`GET /students` (guard admin): profile rows with recently_earning, active_products, active_courses."""
    resp.media = _page(req, query_filter(req), courses=False)


def routes() -> list[tuple[str, object, None]]:
    return [
        ("/students/v2", StudentsV2(), None),
        ("/students/v3", StudentsV3(), None),
        ("/students/export-csv", ExportCsv(), None),
        ("/students/{id:uuid}/is-active", IsActiveResource(), None),
        ("/students/bulk/is-active", BulkIsActiveResource(), None),
        ("/students/{id:uuid}/freeze", FreezeResource(), None),
        ("/students/{id:uuid}/unfreeze", UnfreezeResource(), None),
        ("/students/{id:uuid}/admin-note", AdminNoteResource(), None),
    ]

