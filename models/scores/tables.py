"""Target scores per (student, exam type)."""
from __future__ import annotations

import peewee

from models.base import BaseModel, JSONField, TimestampField, UUIDField, new_id, utcnow


class StudentExamScore(BaseModel):
    id = UUIDField(primary_key=True, default=new_id)
    student_id = UUIDField()
    exam_type_id = UUIDField()
    scores = JSONField()
    is_ts_attached_to_pts = peewee.BooleanField(default=True)
    created_at = TimestampField(default=utcnow)
    updated_at = TimestampField(default=utcnow)

    class Meta:
        table_name = "student_exam_scores"
