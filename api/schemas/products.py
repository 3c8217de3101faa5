"""Product payloads (compatible with the original, including its `extentions` spelling) and entitlement shapes."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, Field, RootModel, StrictStr, model_validator

from api.schemas.common import Request


def _as_text(value: Any) -> Any:
    """A JSON number in a request is compared as its decimal string (SPEC §4)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


ExternalRef = Annotated[StrictStr, BeforeValidator(_as_text), Field(min_length=1, max_length=64)]


class ExamRef(Request):
    external_id: ExternalRef
    external_created_at: dt.datetime | None = None


class CourseRef(Request):
    external_id: ExternalRef
    transaction_id: Annotated[StrictStr, BeforeValidator(_as_text), Field(max_length=128)] | None = None
    end_date_id: UUID | None = None


class ExtensionRef(Request):
    external_id: ExternalRef
    course_external_id: ExternalRef


class ProductsPayload(Request):
    exams: list[ExamRef] = Field(default_factory=list, max_length=100)
    courses: list[CourseRef] = Field(default_factory=list, max_length=100)
    extentions: list[ExtensionRef] = Field(default_factory=list, max_length=100)
    extensions: list[ExtensionRef] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _not_empty(self):
        if not (self.exams or self.courses or self.extentions or self.extensions):
            raise ValueError("name at least one product in exams, courses or extentions")
        return self


class BulkProductsPayload(ProductsPayload):
    student_ids: list[UUID] = Field(min_length=1, max_length=10_000)


class CatalogueIds(Request):
    product_ids: list[UUID] = Field(min_length=1, max_length=100)


class BulkCatalogueIds(CatalogueIds):
    student_ids: list[UUID] = Field(min_length=1, max_length=10_000)


class ItemError(BaseModel):
    code: str
    message: str


class ItemResult(BaseModel):
    external_id: str
    success: bool
    error: ItemError | None = None


class GrantResults(BaseModel):
    results: list[ItemResult]


class HasProducts(BaseModel):
    has_courses: bool
    has_exams: bool


class ListMeta(BaseModel):
    recordsTotal: int
    pagesTotal: int
    page: int
    take: int


class Entitlement(BaseModel):
    id: UUID
    product_id: UUID
    title: str
    status: str | None = None
    accessible_from: dt.datetime | None = None
    accessible_to: dt.datetime | None = None
    created_at: dt.datetime


class EntitlementList(BaseModel):
    data: list[dict[str, Any]]
    meta: ListMeta


class ClassRow(BaseModel):
    id: UUID
    course_id: UUID
    end_date: dt.date
    semester_name: str
    student_course_id: UUID


class ClassList(RootModel[list[ClassRow]]):
    """A bare array, as SPEC §6.4 shows it."""


