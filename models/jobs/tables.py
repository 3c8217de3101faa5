"""The `jobs` table: the source of truth for every background job (no Celery result backend)."""
from __future__ import annotations

import peewee

from models.base import BaseModel, JSONField, TimestampField, UUIDField, new_id, utcnow

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")


class Job(BaseModel):
    id = UUIDField(primary_key=True, default=new_id)
    type = peewee.TextField()
    status = peewee.TextField(default="queued")
    params = JSONField()
    result = JSONField(null=True)
    error = JSONField(null=True)
    progress_done = peewee.IntegerField(default=0)
    progress_total = peewee.IntegerField(default=0)
    state = JSONField(null=True)
    created_by_id = peewee.TextField()
    created_by_typ = peewee.TextField()
    idempotency_key = peewee.TextField(null=True)
    request_hash = peewee.TextField(null=True)
    cancel_requested = peewee.BooleanField(default=False)
    attempts = peewee.IntegerField(default=0)
    created_at = TimestampField(default=utcnow)
    dispatched_at = TimestampField(null=True)
    started_at = TimestampField(null=True)
    heartbeat_at = TimestampField(null=True)
    finished_at = TimestampField(null=True)
    expires_at = TimestampField(null=True)

    class Meta:
        table_name = "jobs"
