"""Site activity: the SB award for being active, at most once per window, and the per-course activity log."""
from __future__ import annotations

import datetime as dt
from uuid import UUID

from core import db as dbmod
from core.db import db
from core.errors import NotFound
from models import settings as app_settings
from models.base import utcnow
from models.ledger import ops as ledger
from models.students.tables import Student

STREAK = {2: Student.activity_streak_2min, 30: Student.activity_streak_30min}


def bump_site_activity(student_id: UUID | str, duration: int, *, course_id: UUID | str | None = None) -> dict:
    """Award `active_on_site_<duration>min` SB if the last award is older than `duration` minutes.

    The conditional UPDATE on the student row serialises concurrent bumps: one wins the window, the others see the
    new time and award nothing. With a course, `duration` minutes are added to today's `site_activity`.
    """
    streak = STREAK[duration]
    now = utcnow()
    with db.atomic():
        if course_id is not None:
            _log_course_activity(student_id, course_id, now.date(), duration)
        won = (Student.update({streak: now})
               .where(Student.id == student_id, Student.deleted_at.is_null(),
                      streak.is_null() | (streak <= now - dt.timedelta(minutes=duration)))
               .execute())
        amount = app_settings.get_int(f"active_on_site_{duration}min") if won else 0
        if amount > 0:
            entry = ledger.credit(student_id, amount, subtype=f"active_on_site_{duration}min",
                                  reference=ledger.Reference("site_activity"),
                                  metadata={"duration": duration})
            return {"awarded": amount, "salty_bucks_balance": entry.balance_after}
        balance = Student.select(Student.salty_bucks_balance).where(Student.id == student_id).scalar()
        return {"awarded": 0, "salty_bucks_balance": balance}


def _log_course_activity(student_id, course_id, day: dt.date, minutes: int) -> None:
    key = day.isoformat()
    if dbmod.is_postgres():
        sql = ("UPDATE student_courses SET site_activity = jsonb_set(site_activity, ARRAY[%s], "
               "to_jsonb(COALESCE((site_activity ->> %s)::int, 0) + %s)) "
               "WHERE id = %s AND student_id = %s AND NOT is_deleted RETURNING id")
        params = (key, key, minutes, str(course_id), str(student_id))
    else:
        path = f'$."{key}"'
        sql = ("UPDATE student_courses SET site_activity = json_set(site_activity, %s, "
               "COALESCE(json_extract(site_activity, %s), 0) + %s) "
               "WHERE id = %s AND student_id = %s AND NOT is_deleted RETURNING id")
        params = (path, path, minutes, str(course_id), str(student_id))
    if dbmod.fetch_one(sql, params) is None:
        raise NotFound("The course is not one of the student's courses.", code="students.course-not-found")
