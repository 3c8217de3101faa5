"""Student accounts: create, profiles, soft delete (a job)."""
from __future__ import annotations

from uuid import UUID

import falcon

from api.admin import list_v1
from api.endpoint import endpoint
from api.jobs import accept_job
from api.schemas.jobs import Job
from api.schemas.students import (
    AdminProfile,
    CreateStudent,
    DeleteStudents,
    ExternalId,
    ProfileChanges,
    SelfProfile,
    Username,
)
from core.errors import NotFound
from models.jobs.types import STUDENTS_DELETE
from models.students import ops as students


class Students:
    @endpoint(guard="admin", summary="List students (page, filters, aggregates)", tags=("administration",),
              errors=(422,))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        list_v1(req, resp)

    @endpoint(guard="master", summary="Create a student account", body=CreateStudent, response=AdminProfile,
              status=201, tags=("accounts",), errors=(409, 422))
    def on_post(self, req: falcon.Request, resp: falcon.Response, body: CreateStudent) -> None:
        profile = students.create_student(
            email=body.student_email, name=body.student_name, phone_number=body.student_phone,
            username=body.username, external_id=body.external_id)
        resp.status = falcon.HTTP_201
        resp.location = f"/students/{profile['id']}/profile"
        resp.media = profile


class SelfProfileResource:
    @endpoint(guard="student", summary="Get the caller's profile", response=SelfProfile, tags=("profiles",))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self_view(req, req.context.principal.student)


class AdminProfileResource:
    @endpoint(guard="students_manager", summary="Get a student's profile (admin view)", response=AdminProfile,
              tags=("profiles",), errors=(404,))
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: UUID) -> None:
        resp.media = students.get_admin_profile(id)

    @endpoint(guard="master", summary="Update a student's name, phone, e-mail, username or external id",
              body=ProfileChanges, response=AdminProfile, tags=("profiles",), errors=(404, 409))
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: UUID, body: ProfileChanges) -> None:
        resp.media = students.update_profile(id, body.model_dump(exclude_unset=True))


class AdminExternalId:
    @endpoint(guard="master", summary="Set or clear a student's external id", body=ExternalId,
              response=AdminProfile, tags=("accounts",), errors=(404, 409))
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: UUID, body: ExternalId) -> None:
        resp.media = students.update_student(id, {"external_id": body.external_id})


class UsernameResource:
    @endpoint(guard="student", summary="Set the caller's username", body=Username, response=SelfProfile,
              tags=("profiles",), errors=(409,))
    def on_patch(self, req: falcon.Request, resp: falcon.Response, body: Username) -> None:
        row = students.update_student(req.context.principal.id, {"username": students.check_username(body.username)})
        resp.media = self_view(req, row)


def self_view(req: falcon.Request, row: dict) -> dict:
    """The self profile of `row` for the calling student (with who is acting for them)."""
    principal = req.context.principal
    return students.self_profile(row, impersonated_by=principal.impersonated_by,
                                 preview_admin=principal.preview_admin)


class DeleteStudentsResource:
    @endpoint(guard="students_manager", summary="Remove student accounts (a job)", body=DeleteStudents,
              response=Job, status=202, tags=("administration",), errors=(404, 422))
    def on_patch(self, req: falcon.Request, resp: falcon.Response, body: DeleteStudents) -> None:
        ids = list(dict.fromkeys(str(i) for i in body.ids))
        missing = students.missing_or_deleted(ids)
        if missing:
            raise NotFound("Some students are missing or already deleted; nothing was changed.",
                           code="students.not-found", extra={"ids": missing})
        accept_job(req, resp, STUDENTS_DELETE, {"ids": ids}, total=len(ids))
