"""The `students` table."""
from __future__ import annotations

import peewee

from models.base import BaseModel, TimestampField, UUIDField, new_id, utcnow


class Student(BaseModel):
    id = UUIDField(primary_key=True, default=new_id)
    name = peewee.TextField(default="")
    email = peewee.TextField()
    phone_number = peewee.TextField(default="")
    username = peewee.TextField(null=True)
    external_id = peewee.BigIntegerField(null=True)
    created_at = TimestampField(default=utcnow)
    is_active = peewee.BooleanField(default=True)
    deleted_at = TimestampField(null=True)
    has_books = peewee.BooleanField(default=False)
    has_exams = peewee.BooleanField(default=False)
    has_courses = peewee.BooleanField(default=False)
    salty_bucks_balance = peewee.IntegerField(default=0)
    wallet_balance = peewee.IntegerField(default=0)
    activity_streak_2min = TimestampField(null=True)
    activity_streak_30min = TimestampField(null=True)
    flashcard_study_mode = peewee.TextField(default="front")
    support_tab_seen = peewee.BooleanField(default=False)
    timezone = peewee.TextField(null=True)
    use_default_timezone = peewee.BooleanField(default=True)
    video_bg_music_enabled = peewee.BooleanField(default=False)
    cq_animations_enabled = peewee.BooleanField(default=True)
    theme = peewee.TextField(default="light")
    is_onboarding_seen = peewee.BooleanField(default=False)
    is_getting_started_completed = peewee.BooleanField(default=False)
    login_count = peewee.IntegerField(default=0)
    logged_at = TimestampField(null=True)
    is_frozen = peewee.BooleanField(default=False)
    freeze_reason = peewee.TextField(null=True)
    frozen_at = TimestampField(null=True)
    admin_note = peewee.TextField(null=True)

    class Meta:
        table_name = "students"


# Columns never shown to the student themself (SPEC §6: the self profile).
ADMIN_ONLY_COLUMNS = ("admin_note", "freeze_reason", "frozen_at", "deleted_at")
ADMIN_COLUMNS = tuple(Student._meta.sorted_field_names)
SELF_COLUMNS = tuple(c for c in ADMIN_COLUMNS if c not in ADMIN_ONLY_COLUMNS)
