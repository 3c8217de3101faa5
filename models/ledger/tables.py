"""The Salty Bucks ledger (insert-only) and the daily balance snapshot."""
from __future__ import annotations

import peewee

from models.base import BaseModel, DateField, JSONField, TimestampField, UUIDField, utcnow
from models.students.tables import Student


class SaltyBucksLog(BaseModel):
    id = peewee.BigAutoField()
    student = peewee.ForeignKeyField(Student, column_name="student_id", field=Student.id, backref="ledger")
    amount = peewee.IntegerField()
    operation_type = peewee.TextField()
    operation_subtype = peewee.TextField()
    source = peewee.TextField(default="platform")
    reference_id = peewee.TextField(null=True)
    reference_type = peewee.TextField(null=True)
    metadata = JSONField(null=True)
    balance_after = peewee.IntegerField()
    idempotency_key = peewee.TextField(null=True, unique=True)
    created_at = TimestampField(default=utcnow)

    class Meta:
        table_name = "salty_bucks_logs"


class DailyBalance(BaseModel):
    student_id = UUIDField()
    created_at = DateField()
    balance = peewee.IntegerField()
    balance_diff_1 = peewee.IntegerField(default=0)
    balance_diff_7 = peewee.IntegerField(default=0)
    balance_diff_30 = peewee.IntegerField(default=0)

    class Meta:
        table_name = "salty_bucks_daily_log"
        primary_key = peewee.CompositeKey("student_id", "created_at")
