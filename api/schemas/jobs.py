"""The job shape of SPEC §3."""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel

from api.schemas.common import CursorMeta


class Progress(BaseModel):
    done: int
    total: int
    percent: float


class JobError(BaseModel):
    code: str
    message: str


class CreatedBy(BaseModel):
    id: str
    typ: Literal["student", "admin", "system"]


class JobLinks(BaseModel):
    self: str
    result: str | None = None
    cancel: str | None = None


class Job(BaseModel):
    id: UUID
    type: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: Progress
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: JobError | None
    created_by: CreatedBy
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    links: JobLinks


class JobList(BaseModel):
    data: list[Job]
    meta: CursorMeta
