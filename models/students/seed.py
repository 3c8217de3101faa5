"""Demo data: N realistic students with their ledgers, set-based so that a million rows take well under a minute."""
from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from core import db as dbmod
from core.db import db
from models import settings as app_settings
from models.base import new_id, utcnow

FIRST = ["Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas", "Mia", "Mateo",
         "Amelia", "Levi", "Harper", "Ethan", "Zoë", "Aarav", "Chloé", "Mohammed", "Yuki", "Priya", "Sven", "Ana"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Nguyen", "Kim", "Patel", "Müller", "O'Brien", "Kowalski", "Rossi", "Silva", "Tanaka", "Haddad"]
AWARD = 5  # each extra ledger entry is an `active_on_site_30min` award of this many SB

_PG_BATCH = """
WITH names AS (SELECT %s::text[] AS first, %s::text[] AS last),
s AS (
    INSERT INTO students (id, name, email, phone_number, created_at, is_active, salty_bucks_balance,
                          logged_at, login_count, theme, flashcard_study_mode)
    -- UUIDv7-shaped ids (time-ordered, as models.base.new_id makes them): index inserts stay local.
    SELECT (lpad(to_hex(%s::bigint + g), 12, '0') || '7' || substr(md5(%s || g), 1, 3) || '8'
            || substr(md5(%s || g), 4, 15))::uuid,
           first[1 + (g * 7) %% array_length(first, 1)] || ' ' || last[1 + (g * 13) %% array_length(last, 1)],
           'student' || g || '.' || %s || '@example.com',
           '+1555' || lpad((g %% 10000000)::text, 7, '0'),
           now() - make_interval(days => (g * 37) %% 720, secs => (g::bigint * 7919 %% 86400)::int),
           (g %% 50) <> 0,
           %s + %s * (g %% 4),
           CASE WHEN g %% 5 = 0 THEN NULL ELSE now() - make_interval(days => (g * 11) %% 200) END,
           CASE WHEN g %% 5 = 0 THEN 0 ELSE 1 + g %% 3 END,
           CASE WHEN g %% 3 = 0 THEN 'dark' ELSE 'light' END,
           (ARRAY['front', 'back', 'random'])[1 + g %% 3]
    FROM names, generate_series(%s, %s) AS g
    RETURNING id, created_at, salty_bucks_balance
)
INSERT INTO salty_bucks_logs (student_id, amount, operation_type, operation_subtype, reference_id, reference_type,
                              balance_after, created_at)
SELECT s.id, CASE WHEN i = 0 THEN %s ELSE %s END, 'income',
       CASE WHEN i = 0 THEN 'initial_value' ELSE 'active_on_site_30min' END,
       CASE WHEN i = 0 THEN s.id::text END, CASE WHEN i = 0 THEN 'student' ELSE 'site_activity' END,
       %s + %s * i, s.created_at + make_interval(hours => i)
FROM s CROSS JOIN LATERAL generate_series(0, (s.salty_bucks_balance - %s) / %s) AS i
"""


def seed_students(count: int, *, batch: int = 50_000, workers: int = 2) -> int:
    """Insert `count` students (balances = starting balance + site-activity awards, each with its ledger entry).

    On PostgreSQL the batches run on `workers` connections at once (one per core is the sweet spot here).
    """
    starting = app_settings.get_int("salty_bucks_starting_balance")
    tag = secrets.token_hex(3)
    base_ms = time.time_ns() // 1_000_000
    ranges = [(first, min(first + batch - 1, count)) for first in range(1, count + 1, batch)]
    if not dbmod.is_postgres():
        for first, last in ranges:
            with db.atomic():
                _sqlite_batch(first, last, tag, starting)
        return count

    def run(bounds: tuple[int, int]) -> None:
        with dbmod.connection(), db.atomic():
            dbmod.execute("SET LOCAL synchronous_commit TO off")
            dbmod.execute(_PG_BATCH, (FIRST, LAST, base_ms, tag, tag, tag, starting, AWARD, bounds[0], bounds[1],
                                      starting, AWARD, starting, AWARD, starting, AWARD))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, ranges))
    return count


def _sqlite_batch(first: int, last: int, tag: str, starting: int) -> None:
    """The portable fallback for the embedded default (small N)."""
    now = utcnow()
    students, ledger = [], []
    for g in range(first, last + 1):
        sid = str(new_id())
        extra = g % 4
        name = f"{FIRST[(g * 7) % len(FIRST)]} {LAST[(g * 13) % len(LAST)]}"
        students.append((sid, name, f"student{g}.{tag}@example.com", f"+1555{g % 10_000_000:07d}",
                         now.isoformat(), 1, starting + AWARD * extra, 0))
        for i in range(extra + 1):
            ledger.append((sid, starting if i == 0 else AWARD, "income",
                           "initial_value" if i == 0 else "active_on_site_30min",
                           sid if i == 0 else None, "student" if i == 0 else "site_activity",
                           starting + AWARD * i, now.isoformat()))
    db.execute_sql("SELECT 1")
    cursor = db.cursor()
    cursor.executemany("INSERT INTO students (id, name, email, phone_number, created_at, is_active, "
                       "salty_bucks_balance, login_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", students)
    cursor.executemany("INSERT INTO salty_bucks_logs (student_id, amount, operation_type, operation_subtype, "
                       "reference_id, reference_type, balance_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       ledger)
