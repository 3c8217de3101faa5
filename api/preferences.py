"""Preferences and flags (SPEC §6.3): self routes answer the self profile, admin routes the admin profile."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import falcon
import pydantic

from api.endpoint import endpoint
from api.schemas.students import (
    AdminProfile,
    CqAnimations,
    SelfProfile,
    SiteActivity,
    SiteActivityResult,
    Theme,
    Timezone,
    VideoBgMusic,
)
from api.students import self_view
from core.errors import Invalid, NotFound
from models.students import ops as students
from models.students import preferences

Values = Callable[[Any, dict], dict]
FLASHCARD_MODES = ("front", "back", "random")


def self_update(summary: str, values: Values, *, body: type[pydantic.BaseModel] | None = None,
                guard: str = "student_token", deprecated: str | None = None):
    """A resource whose PATCH sets `values(body, path params)` on the caller and answers the self profile.

    The guard checks the token only; the one UPDATE also checks that the student is live and active, so a
    preference write is a single statement (a gone or inactive student still gets the guard's 401).
    """

    class SelfUpdate:
        @endpoint(guard=guard, summary=summary, body=body, response=SelfProfile, tags=("preferences",),
                  deprecated=deprecated, errors=(422,))
        def on_patch(self, req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
            changes = values(params.pop("body", None), params)
            student_id = req.context.principal.id
            row = students.update_self(student_id, changes)
            if row is None:
                req.context.auth.refuse_gone(student_id)
            resp.media = self_view(req, row)

    return SelfUpdate()


def admin_update(summary: str, values: Values, *, body: type[pydantic.BaseModel] | None = None):
    """The `/students/{id}/...` twin of a self route, for students managers; answers the admin profile."""

    class AdminUpdate:
        @endpoint(guard="students_manager", summary=summary, body=body, response=AdminProfile,
                  tags=("preferences",), errors=(404, 422))
        def on_patch(self, req: falcon.Request, resp: falcon.Response, id: UUID, **params: Any) -> None:
            resp.media = students.update_student(id, values(params.pop("body", None), params))

    return AdminUpdate()


def _timezone(body: Timezone, _params) -> dict:
    return {"timezone": students.check_timezone(body.timezone), "use_default_timezone": False}


def _flashcard_mode(_body, params: dict) -> dict:
    mode = params["mode"]
    if mode not in FLASHCARD_MODES:
        raise Invalid("The flashcard study mode must be front, back or random.", code="students.invalid-mode",
                      errors=[{"field": "mode", "message": "must be one of front, back, random"}])
    return {"flashcard_study_mode": mode}


def _const(**values) -> Values:
    return lambda _body, _params: values


class BumpSiteActivity:
    @endpoint(guard="real_student", summary="Signal that the student is active; awards SB once per window",
              body=SiteActivity, response=SiteActivityResult, tags=("preferences",), errors=(404,))
    def on_patch(self, req: falcon.Request, resp: falcon.Response, body: SiteActivity) -> None:
        course = req.get_header("X-Student-Course-Id")
        if course is not None:
            try:
                course = UUID(course)
            except ValueError:
                raise NotFound("The course is not one of the student's courses.",
                               code="students.course-not-found") from None
        resp.media = preferences.bump_site_activity(req.context.principal.id, body.duration, course_id=course)


def routes() -> list[tuple[str, object, None]]:
    timezone_summary = "Set the time zone (and stop using the default one)"
    return [
        ("/students/timezone", self_update(timezone_summary, _timezone, body=Timezone), None),
        ("/students/{id:uuid}/timezone", admin_update(timezone_summary, _timezone, body=Timezone), None),
        ("/students/use-default-timezone",
         self_update("Use the default time zone", _const(use_default_timezone=True)), None),
        ("/students/{id:uuid}/use-default-timezone",
         admin_update("Use the default time zone", _const(use_default_timezone=True)), None),
        ("/students/dont-use-default-timezone",
         self_update("Do not use the default time zone", _const(use_default_timezone=False)), None),
        ("/students/{id:uuid}/dont-use-default-timezone",
         admin_update("Do not use the default time zone", _const(use_default_timezone=False)), None),
        ("/students/set-video-bg-music", self_update(
            "Toggle video background music", lambda b, _: {"video_bg_music_enabled": b.video_bg_music_enabled},
            body=VideoBgMusic), None),
        ("/students/set-cq-animations", self_update(
            "Toggle content question animations", lambda b, _: {"cq_animations_enabled": b.cq_animations_enabled},
            body=CqAnimations), None),
        ("/students/set-theme", self_update("Set the colour theme", lambda b, _: {"theme": b.theme}, body=Theme),
         None),
        ("/students/flashcard-study-mode/{mode}",
         self_update("Set the flashcard study mode", _flashcard_mode, guard="real_student_token"), None),
        ("/students/support-tab-seen", self_update("Mark the support tab as seen", _const(support_tab_seen=True)),
         None),
        ("/students/onboarding-seen", self_update("Mark the onboarding as seen (deprecated)",
                                                  _const(is_onboarding_seen=True),
                                                  deprecated="/students/getting-started-completed"), None),
        ("/students/getting-started-completed",
         self_update("Set getting started as complete", _const(is_getting_started_completed=True)), None),
        ("/students/getting-started-incomplete",
         self_update("Set getting started as incomplete", _const(is_getting_started_completed=False)), None),
        ("/students/bump-site-activity", BumpSiteActivity(), None),
    ]
