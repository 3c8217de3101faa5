"""Shapes shared by every area: problems, list metadata."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Request(BaseModel):
    """Base of every request body: an unknown field is a 422, so nothing is ever mass-assigned."""

    model_config = ConfigDict(extra="forbid")


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details with a stable `code`."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None


class CursorMeta(BaseModel):
    take: int
    next_cursor: str | None
