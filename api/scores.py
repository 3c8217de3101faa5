"""Exams and target scores (SPEC §6.6): the caller's exam lists and the deprecated target-score routes."""
from __future__ import annotations

from uuid import UUID

import falcon
from pydantic import BaseModel, StrictInt

from api import listing
from api.endpoint import endpoint
from api.schemas.common import Request
from api.schemas.products import EntitlementList
from core.errors import Invalid, NotFound
from models.products import entitlements
from models.scores import ops as scores


class TargetValue(Request):
    value: StrictInt


class ScoreRow(BaseModel):
    id: UUID
    student_id: UUID
    exam_type_id: UUID
    scores: list[dict]
    is_ts_attached_to_pts: bool


def _exam_page(req: falcon.Request, where: tuple) -> dict:
    take, page = listing.take(req), listing.page(req)
    order_by, direction = listing.order(req, entitlements.sortable("exams"), "created_at")
    rows, total = entitlements.list_entitlements(req.context.principal.id, "exams",
                                                 status=req.get_param("filter[status]"), order_by=order_by,
                                                 direction=direction, page=page, take=take, where=where)
    rows = [{k: v for k, v in row.items() if k != "deleted_at"} for row in rows]  # never shown to the student
    return listing.paged(rows, total, page, take)


def _uuid_param(req: falcon.Request, name: str) -> UUID | None:
    raw = req.get_param(name)
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise Invalid(f"{name} must be a UUID.", errors=[{"field": name, "message": "must be a UUID"}]) from None


class Exams:
    @endpoint(guard="student", summary="The caller's exams (X-Student-Course-Id: only that course's)",
              response=EntitlementList, tags=("exams",), errors=(404, 422))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        student_id = req.context.principal.id
        course_id = _course_header(req)
        where = entitlements.exam_filters(exam_type_id=_uuid_param(req, "filter[exam_type_id]"), course_id=course_id,
                                          owner=student_id)
        page = _exam_page(req, where)
        # Ownership is part of the page's query; it is looked at apart only to tell "not yours" from "none".
        if course_id is not None and not page["meta"]["recordsTotal"] and not entitlements.owns_course(
                student_id, course_id):
            raise NotFound("The course is not one of the student's courses.", code="students.course-not-found")
        resp.media = page


def _course_header(req: falcon.Request) -> UUID | None:
    raw = req.get_header("X-Student-Course-Id")
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound("The course is not one of the student's courses.",
                       code="students.course-not-found") from None


class ExamsNav:
    @endpoint(guard="student", summary="The exam navigation: exam types with their exams", tags=("exams",))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = entitlements.exams_nav(req.context.principal.id)


class StandaloneExams:
    @endpoint(guard="student", summary="The caller's exams that belong to no course", response=EntitlementList,
              tags=("exams",), errors=(422,))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = _exam_page(req, entitlements.exam_filters(standalone=True))


class ChangeTarget:
    @endpoint(guard="real_student", summary="Change the total target score (deprecated)", body=TargetValue,
              response=ScoreRow, tags=("exams",), errors=(404,), deprecated="")
    def on_patch(self, req: falcon.Request, resp: falcon.Response, exam_type_id: UUID, body: TargetValue) -> None:
        resp.media = scores.change_target(req.context.principal.id, exam_type_id, body.value)


class ChangeSectionTarget:
    @endpoint(guard="real_student", summary="Change one section's target score (deprecated)", body=TargetValue,
              response=ScoreRow, tags=("exams",), errors=(404,), deprecated="")
    def on_patch(self, req: falcon.Request, resp: falcon.Response, exam_type_id: UUID, section_order: int,
                 body: TargetValue) -> None:
        resp.media = scores.change_section_target(req.context.principal.id, exam_type_id, section_order, body.value)


class ResetTarget:
    @endpoint(guard="real_student", summary="Reset the target scores to the points (deprecated)",
              response=ScoreRow, tags=("exams",), errors=(404,), deprecated="")
    def on_patch(self, req: falcon.Request, resp: falcon.Response, exam_id: UUID) -> None:
        resp.media = scores.reset_target(req.context.principal.id, exam_id)


def routes() -> list[tuple[str, object, None]]:
    return [
        ("/students/exams", Exams(), None),
        ("/students/exams/nav", ExamsNav(), None),
        ("/students/standalone-exams", StandaloneExams(), None),
        ("/students/change-target-score/{exam_type_id:uuid}", ChangeTarget(), None),
        ("/students/change-section-target-score/{exam_type_id:uuid}/{section_order:int(min=1)}",
         ChangeSectionTarget(), None),
        ("/students/reset-target-score/{exam_id:uuid}", ResetTarget(), None),
    ]
