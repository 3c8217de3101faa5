"""Student request bodies and profile shapes."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from api.schemas.common import Request


def _empty_is_none(value):
    return None if value == "" else value


# The shop's customer id: an integer that fits the `bigint` column.
ExternalIdInt = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]

# An integer, null, or "" (which the original clients send for "none").
OptionalExternalId = Annotated[ExternalIdInt | None, BeforeValidator(_empty_is_none)]


class CreateStudent(Request):
    student_email: StrictStr = Field(max_length=320)
    student_name: StrictStr = Field(max_length=255)
    student_phone: StrictStr = Field(max_length=64)
    external_id: OptionalExternalId = None
    username: StrictStr | None = None


class DeleteStudents(Request):
    ids: list[UUID] = Field(min_length=1, max_length=10_000)


class ActingAdmin(BaseModel):
    id: str | int
    email: str | None = None
    role: str | None = None


class SelfProfile(BaseModel):
    """The student's own view: every column but the admin-only ones, plus who is acting for them."""

    id: UUID
    name: str
    email: str
    phone_number: str
    username: str | None
    external_id: int | None
    created_at: dt.datetime
    is_active: bool
    has_books: bool
    has_exams: bool
    has_courses: bool
    salty_bucks_balance: int
    wallet_balance: int
    activity_streak_2min: dt.datetime | None
    activity_streak_30min: dt.datetime | None
    flashcard_study_mode: Literal["front", "back", "random"]
    support_tab_seen: bool
    timezone: str | None
    use_default_timezone: bool
    video_bg_music_enabled: bool
    cq_animations_enabled: bool
    theme: Literal["light", "dark"]
    is_onboarding_seen: bool
    is_getting_started_completed: bool
    login_count: int
    logged_at: dt.datetime | None
    is_frozen: bool
    is_impersonated: bool
    impersonated_by: ActingAdmin | None
    is_preview: bool
    preview_admin: ActingAdmin | None


class AdminProfile(BaseModel):
    """Every column of the student."""

    id: UUID
    name: str
    email: str
    phone_number: str
    username: str | None
    external_id: int | None
    created_at: dt.datetime
    is_active: bool
    deleted_at: dt.datetime | None
    has_books: bool
    has_exams: bool
    has_courses: bool
    salty_bucks_balance: int
    wallet_balance: int
    activity_streak_2min: dt.datetime | None
    activity_streak_30min: dt.datetime | None
    flashcard_study_mode: Literal["front", "back", "random"]
    support_tab_seen: bool
    timezone: str | None
    use_default_timezone: bool
    video_bg_music_enabled: bool
    cq_animations_enabled: bool
    theme: Literal["light", "dark"]
    is_onboarding_seen: bool
    is_getting_started_completed: bool
    login_count: int
    logged_at: dt.datetime | None
    is_frozen: bool
    freeze_reason: str | None
    frozen_at: dt.datetime | None
    admin_note: str | None


class Username(Request):
    username: StrictStr | None


class ExternalId(Request):
    external_id: ExternalIdInt | None


class ProfileChanges(Request):
    """Any of the editable identity fields; omitted ones are left as they are."""

    name: StrictStr | None = Field(default=None, max_length=255)
    phone_number: StrictStr | None = Field(default=None, max_length=64)
    email: StrictStr | None = Field(default=None, max_length=320)
    username: StrictStr | None = None
    external_id: ExternalIdInt | None = None

    @field_validator("name", "phone_number", "email")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        """Omitted means unchanged; an explicit null is not a value for these columns."""
        if value is None:
            raise ValueError("must be a string, not null")
        return value


class Timezone(Request):
    timezone: StrictStr = Field(max_length=64)


class VideoBgMusic(Request):
    video_bg_music_enabled: StrictBool


class CqAnimations(Request):
    cq_animations_enabled: StrictBool


class Theme(Request):
    theme: Literal["light", "dark"]


class SiteActivity(Request):
    duration: Literal[2, 30]
    activity_type: StrictStr | None = Field(default=None, max_length=64)


class SiteActivityResult(BaseModel):
    awarded: int
    salty_bucks_balance: int


class SyncResult(BaseModel):
    id: UUID
    name: str
    email: str
    token: str
    unknown_products: list[str]


class TokenResult(BaseModel):
    id: UUID
    name: str
    email: str
    external_id: int | None
    token: str


class UpsertResult(BaseModel):
    id: UUID
    created: bool


class ExternalIdResult(BaseModel):
    id: UUID
    external_id: int | None


class EmailExists(BaseModel):
    email_exists: bool


# -- claims of server tokens (extra claims are allowed and ignored) ------------------------------------------

class _Claims(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SyncClaims(_Claims):
    student_email: StrictStr = Field(max_length=320)
    student_name: StrictStr = Field(max_length=255)
    student_phone: StrictStr = Field(max_length=64)
    product_ids: StrictStr | None = None
    product_type: StrictStr | None = None
    date_created: StrictStr | None = None
    course_ids: StrictStr | None = None
    course_transdate: StrictStr | None = None
    username: StrictStr | None = None
    preview_admin: ActingAdmin | None = None


class ShopAccountClaims(_Claims):
    external_student_id: ExternalIdInt
    email: StrictStr = Field(max_length=320)
    name: StrictStr = Field(max_length=255)
    phone_number: StrictStr = Field(max_length=64)


class ShopExternalIdClaims(_Claims):
    external_student_id: ExternalIdInt
    email: StrictStr = Field(max_length=320)


class ShopEmailClaims(_Claims):
    email: StrictStr = Field(max_length=320)


class SaltyBucksBalance(Request):
    salty_bucks_balance: StrictInt = Field(ge=0, le=2_000_000_000)


class CashOutResult(BaseModel):
    cashed_out: int
    salty_bucks_balance: int


class IsActive(Request):
    is_active: StrictBool


class BulkIsActive(Request):
    ids: list[UUID] = Field(min_length=1, max_length=10_000)
    is_active: StrictBool


class Updated(BaseModel):
    updated: int


class Freeze(Request):
    freeze_reason: StrictStr | None = Field(default=None, max_length=1000)


class AdminNote(Request):
    admin_note: StrictStr | None = Field(max_length=10_000)


class ExportFilter(Request):
    search: StrictStr | None = Field(default=None, max_length=255)
    course_id: UUID | None = None
    course_type: StrictStr | None = Field(default=None, max_length=64)
    end_date_id: UUID | None = None
    is_active: StrictBool | None = None
    is_frozen: StrictBool | None = None


class ExportRequest(Request):
    filter: ExportFilter | None = None
    columns: list[StrictStr] | None = Field(default=None, min_length=1, max_length=40)
    bom: StrictBool = False
