"""The catalogue (products, exam types, course end dates) and the entitlements granted to students."""
from __future__ import annotations

import peewee

from models.base import BaseModel, DateField, JSONField, TimestampField, UUIDField, new_id, utcnow


class ExamType(BaseModel):
    id = UUIDField(primary_key=True, default=new_id)
    title = peewee.TextField()
    sections = JSONField()

    class Meta:
        table_name = "exam_types"


class Product(BaseModel):
    id = UUIDField(primary_key=True, default=new_id)
    external_id = peewee.TextField(unique=True)
    type = peewee.TextField()
    title = peewee.TextField()
    access_days = peewee.IntegerField(default=365)
    is_free_trial = peewee.BooleanField(default=False)
    exam_type_id = UUIDField(null=True)
    course_type = peewee.TextField(null=True)
    course_id = UUIDField(null=True)
    includes = JSONField(default=list)

    class Meta:
        table_name = "products"


class CourseEndDate(BaseModel):
    id = UUIDField(primary_key=True, default=new_id)
    course_id = UUIDField()
    end_date = DateField()
    semester_name = peewee.TextField(default="")

    class Meta:
        table_name = "course_end_dates"


class StudentCourse(BaseModel):
    id = UUIDField(primary_key=True, default=new_id)
    student_id = UUIDField()
    product_id = UUIDField()
    title = peewee.TextField()
    type = peewee.TextField(null=True)
    status = peewee.TextField(default="ongoing")
    accessible_from = TimestampField(null=True)
    accessible_to = TimestampField(null=True)
    end_date_id = UUIDField(null=True)
    transaction_id = peewee.TextField(null=True)
    is_paused = peewee.BooleanField(default=False)
    is_deleted = peewee.BooleanField(default=False)
    site_activity = JSONField(default=dict)
    created_at = TimestampField(default=utcnow)

    class Meta:
        table_name = "student_courses"


class StudentExam(BaseModel):
    id = UUIDField(primary_key=True, default=new_id)
    student_id = UUIDField()
    product_id = UUIDField()
    exam_type_id = UUIDField(null=True)
    title = peewee.TextField()
    external_id = peewee.TextField(null=True)
    status = peewee.TextField(default="scheduled")
    accessible_from = TimestampField(null=True)
    accessible_to = TimestampField(null=True)
    student_course_id = UUIDField(null=True)
    scores = JSONField(null=True)
    completed_at = TimestampField(null=True)
    created_at = TimestampField(default=utcnow)
    deleted_at = TimestampField(null=True)

    class Meta:
        table_name = "student_exams"


class StudentBook(BaseModel):
    id = UUIDField(primary_key=True, default=new_id)
    student_id = UUIDField()
    product_id = UUIDField()
    title = peewee.TextField()
    student_course_id = UUIDField(null=True)
    created_at = TimestampField(default=utcnow)
    deleted_at = TimestampField(null=True)

    class Meta:
        table_name = "student_books"
