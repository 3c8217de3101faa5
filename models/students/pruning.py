"""Pruning inactive accounts (SPEC §7): soft-delete them in batches and remove their snapshots, scores and
entitlements (the ledger is kept). Frozen accounts are exempt, and so is anyone with a course accessible within the
grace period. **Fix:** the original pruned a student if *any* course was old; here *no* recent course must exist.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from core import db as dbmod
from core.db import db
from models.base import utcnow


@dataclass(frozen=True)
class Rules:
    inactive_days: int = 90
    course_grace_days: int = 180
    max_fraction: float = 0.05


_PREDICATE = """
s.deleted_at IS NULL AND NOT s.is_frozen
AND (s.logged_at < %(inactive)s OR (s.logged_at IS NULL AND s.created_at < %(inactive)s))
AND NOT EXISTS (SELECT 1 FROM student_courses c
                WHERE c.student_id = s.id AND NOT c.is_deleted AND c.accessible_to >= %(grace)s)
"""


def _params(rules: Rules, now: dt.datetime) -> dict:
    return {"inactive": now - dt.timedelta(days=rules.inactive_days),
            "grace": now - dt.timedelta(days=rules.course_grace_days)}


def live_count() -> int:
    """Live students; on PostgreSQL the trigger-kept count (migration 0003)."""
    return int(dbmod.fetch_one("SELECT COALESCE(SUM(n), 0) FROM student_counts" if dbmod.is_postgres()
                               else "SELECT COUNT(*) FROM students WHERE deleted_at IS NULL")[0])


def count(rules: Rules, now: dt.datetime | None = None) -> tuple[int, int]:
    """(students the rules would prune, live students)."""
    params = _params(rules, now or utcnow())
    return dbmod.execute(f"SELECT COUNT(*) FROM students s WHERE {_PREDICATE}", params).fetchone()[0], live_count()


def eligible_ids(rules: Rules, now: dt.datetime | None = None, after: str | None = None) -> list[str]:
    """Every eligible id above `after`, ascending: one pass over the table, which also gives the count."""
    params = _params(rules, now or utcnow()) | {"after": after or NIL}
    return [str(r[0]) for r in dbmod.execute(
        f"SELECT s.id FROM students s WHERE {_PREDICATE} AND s.id > %(after)s ORDER BY s.id", params).fetchall()]


def sample(rules: Rules, limit: int = 20, now: dt.datetime | None = None) -> list[str]:
    params = _params(rules, now or utcnow()) | {"limit": limit}
    return [str(r[0]) for r in dbmod.execute(
        f"SELECT s.id FROM students s WHERE {_PREDICATE} ORDER BY s.id LIMIT %(limit)s", params).fetchall()]


def over_threshold(eligible: int, live: int, rules: Rules) -> bool:
    return live > 0 and eligible > rules.max_fraction * live


NIL = "00000000-0000-0000-0000-000000000000"
# What pruning removes besides soft-deleting the row (the ledger is kept).
REMOVED = ("salty_bucks_daily_log", "student_exam_scores", "student_exams", "student_books", "student_courses")

# PostgreSQL: one statement per batch of ids. It re-checks the rules on each row (they may have changed since the
# ids were collected), locks only those rows (SKIP LOCKED: a row someone else holds is left for the next run),
# soft-deletes them, removes their dependent rows and search entries, and returns only the count. The search rows go
# here rather than through one trigger call per row (migration 0004), so `students.search_sync` is off around it.
_BATCH_PG = f"""
WITH pruned AS (
    UPDATE students SET deleted_at = %(now)s WHERE id IN (
        SELECT s.id FROM students s WHERE s.id = ANY(string_to_array(%(ids)s, ',')::uuid[]) AND {_PREDICATE}
        FOR UPDATE SKIP LOCKED)
    RETURNING id
), gone_search AS (DELETE FROM student_search WHERE student_id IN (SELECT id FROM pruned)),
""" + ",\n".join(f"gone_{t} AS (DELETE FROM {t} WHERE student_id IN (SELECT id FROM pruned))" for t in REMOVED) + """
SELECT COUNT(*) FROM pruned"""


def prune_batch(rules: Rules, ids: Sequence[str], now: dt.datetime | None = None) -> int:
    """Soft-delete those of `ids` that are still eligible (locking only them) and remove what pruning removes;
    returns how many."""
    now = now or utcnow()
    if not ids:
        return 0
    params = _params(rules, now) | {"now": now, "ids": ",".join(ids)}
    with db.atomic():
        if dbmod.is_postgres():
            dbmod.execute("SELECT set_config('students.search_sync', 'off', true)")
            pruned = dbmod.fetch_one(_BATCH_PG, params)[0]
            dbmod.execute("SELECT set_config('students.search_sync', 'on', true)")
            return pruned
        named = {f"id{i}": v for i, v in enumerate(ids)}
        still = [str(r[0]) for r in dbmod.execute(
            f"SELECT s.id FROM students s WHERE {_PREDICATE} AND s.id IN ("
            + ", ".join(f"%({k})s" for k in named) + ")", params | named).fetchall()]
        if still:
            match = "IN (" + ", ".join(["%s"] * len(still)) + ")"
            dbmod.execute(f"UPDATE students SET deleted_at = %s WHERE id {match}", [now.isoformat(), *still])
            for table in REMOVED:
                dbmod.execute(f"DELETE FROM {table} WHERE student_id {match}", still)
        return len(still)
