"""Factories for tests: students with traits, and tokens of every kind of SPEC §1."""
from __future__ import annotations

import contextlib
import itertools
import logging
import time
import uuid

import jwt

from api.auth import issue_admin_token, issue_student_token
from core import config
from models.students import ops as students
from models.students.tables import Student

_seq = itertools.count(1)


def make_student(*, is_active: bool = True, deleted: bool = False, **fields) -> dict:
    """Create a student through the real operation; traits: is_active, deleted, any create field."""
    n = next(_seq)
    profile = students.create_student(
        email=fields.pop("email", f"student{n}.{uuid.uuid4().hex[:6]}@example.com"),
        name=fields.pop("name", f"Student {n}"),
        phone_number=fields.pop("phone_number", f"+1555{n:07d}"),
        **fields,
    )
    if not is_active or deleted:
        from models.base import utcnow

        Student.update(is_active=is_active, deleted_at=utcnow() if deleted else None).where(
            Student.id == profile["id"]).execute()
    return profile


class Tokens:
    """Signed tokens for tests; `auth(...)` gives the header dict."""

    def __init__(self, settings: config.Settings):
        self.settings = settings

    def student(self, student_id, email: str = "s@example.com", **extra) -> str:
        return issue_student_token(self.settings, student_id=str(student_id), email=email, **extra)

    def admin(self, role: str = "master_admin", *, manage: bool = False, admin_id: str | None = None,
              course_ids: list[str] | None = None) -> str:
        return issue_admin_token(self.settings, admin_id=admin_id or str(uuid.uuid4()), email="a@example.com",
                                 role=role, can_manage_students=manage, course_ids=course_ids)

    def master(self, **kw) -> str:
        return self.admin("master_admin", **kw)

    def manager(self, **kw) -> str:
        return self.admin("retail_admin", manage=True, **kw)

    def server(self, kind: str, **claims) -> str:
        now = int(time.time())
        payload = {"iat": now, "exp": now + 300, "jti": uuid.uuid4().hex, **claims}
        key = self.settings.shop_key if kind == "shop" else self.settings.sso_key
        return jwt.encode(payload, key, algorithm="HS256")

    @staticmethod
    def bearer(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    @staticmethod
    def proxy(token: str) -> dict:
        return {"X-Proxy-Authorization": token}


@contextlib.contextmanager
def sql_statements():
    """The SQL text of every statement peewee runs inside the block (it logs each one at DEBUG); the logger's
    level and propagation are restored afterwards."""
    logger, seen = logging.getLogger("peewee"), []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(str(record.msg[0]) if isinstance(record.msg, tuple) else str(record.msg))

    handler, saved = Collect(logging.DEBUG), (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def problem(resp, status: int, code: str | None = None) -> dict:
    """Assert a problem+json answer of `status` (and `code`); returns its body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    if code is not None:
        assert resp.json["code"] == code, resp.json
    return resp.json
