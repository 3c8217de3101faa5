"""The baseline for the load benchmark: a bare Falcon app doing the same primary-key query and update.

No framework of ours, no authentication, no validation: psycopg2 on one connection per thread, orjson out. Served by
gunicorn with the same settings as the service (`gunicorn bench.bare_app:app -c gunicorn.conf.py`).
"""
from __future__ import annotations

import os
import threading

import falcon
import orjson
import psycopg2

_local = threading.local()
COLUMNS = ("id, name, email, phone_number, username, external_id, created_at, is_active, has_books, has_exams, "
           "has_courses, salty_bucks_balance, wallet_balance, activity_streak_2min, activity_streak_30min, "
           "flashcard_study_mode, support_tab_seen, timezone, use_default_timezone, video_bg_music_enabled, "
           "cq_animations_enabled, theme, is_onboarding_seen, is_getting_started_completed, login_count, logged_at, "
           "is_frozen")
NAMES = [c.strip() for c in COLUMNS.split(",")]


def _conn():
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg2.connect(os.environ["DATABASE_URL"], options="-c timezone=UTC")
        conn.autocommit = True
    return conn


def _answer(resp: falcon.Response, row) -> None:
    if row is None:
        resp.status = falcon.HTTP_404
        return
    resp.content_type = falcon.MEDIA_JSON
    resp.data = orjson.dumps(dict(zip(NAMES, row)))


class Profile:
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: str) -> None:
        with _conn().cursor() as cur:
            cur.execute(f"SELECT {COLUMNS} FROM students WHERE id = %s", (id,))
            _answer(resp, cur.fetchone())


class Theme:
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: str) -> None:
        theme = orjson.loads(req.bounded_stream.read())["theme"]
        with _conn().cursor() as cur:
            cur.execute(f"UPDATE students SET theme = %s WHERE id = %s RETURNING {COLUMNS}", (theme, id))
            _answer(resp, cur.fetchone())


app = falcon.App()
app.add_route("/profile/{id}", Profile())
app.add_route("/theme/{id}", Theme())
