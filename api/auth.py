"""Tokens and the guards of SPEC §1. Each guard names the one key it verifies with; no guard tries several keys."""
from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import redis

from core.config import Settings
from core.errors import Forbidden, Unauthorized, Unavailable
from models.students import ops as students

log = logging.getLogger(__name__)

LEEWAY = 30
VERIFIED_CACHE = 10_000
ADMIN_ROLES = frozenset({"master_admin", "igor", "retail_admin", "author_admin", "flashcard_admin",
                         "content_question_admin", "video_editor", "test_admin", "glossary_admin"})
LEDGER_ROLES = frozenset({"master_admin", "igor", "retail_admin"})


@dataclass
class Principal:
    """Who is calling: a student (with their row), an admin, or a server (shop, sso)."""

    typ: str
    id: str | None
    claims: dict[str, Any]
    student: dict | None = field(default=None, repr=False)

    @property
    def role(self) -> str | None:
        return self.claims.get("admin_role") if self.typ == "admin" else None

    @property
    def is_master(self) -> bool:
        return self.role == "master_admin"

    @property
    def impersonated_by(self) -> dict | None:
        return self.claims.get("impersonated_by") if self.typ == "student" else None

    @property
    def preview_admin(self) -> dict | None:
        return self.claims.get("preview_admin") if self.typ == "student" else None


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class ReplayCache:
    """Server-token ids seen before, kept until the token expires: Redis, or process memory in embedded mode."""

    def __init__(self, redis_url: str | None):
        self._redis = (redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
                       if redis_url else None)
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, key: str, ttl: int) -> bool:
        """Record `key`; True the first time it is seen within `ttl` seconds."""
        ttl = max(1, ttl)
        if self._redis is not None:
            try:
                return bool(self._redis.set(f"students:jti:{key}", 1, nx=True, ex=ttl))
            except redis.RedisError as exc:
                raise Unavailable("The token replay cache (Redis) is not reachable.") from exc
        now = time.time()
        with self._lock:
            if len(self._seen) > 10000:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
            if self._seen.get(key, 0) > now:
                return False
            self._seen[key] = now + ttl
            return True

    def ping(self) -> bool:
        return self._redis.ping() if self._redis is not None else True


class Authenticator:
    """Decodes the three kinds of token and applies a guard by name."""

    def __init__(self, settings: Settings, replay: ReplayCache, on_failure: Callable[[str], None] | None = None):
        self.settings = settings
        self.replay = replay
        self.on_failure = on_failure or (lambda reason: None)
        self._verified: dict[str, dict] = {}
        self.guards: dict[str, Callable[[Any], Principal]] = {
            "student": self.student,
            "real_student": self.real_student,
            "admin": self.admin,
            "master": self.master,
            "students_manager": self.students_manager,
            "ledger_reader": self.ledger_reader,
            "shop": self.shop,
            "sso": self.sso,
            "student_or_admin": self.student_or_admin,
            "student_token": self.student_token,
            "real_student_token": self.real_student_token,
        }

    # -- decoding -----------------------------------------------------------------------------------------------
    def _decode(self, token: str, key: str, require: list[str]) -> dict:
        try:
            return jwt.decode(token, key, algorithms=["HS256"], options={"require": require}, leeway=LEEWAY)
        except jwt.ExpiredSignatureError:
            self._fail("expired", token)
            raise Unauthorized("The token has expired.", code="auth.token-expired") from None
        except jwt.InvalidTokenError:
            self._fail("invalid", token)
            raise Unauthorized("The token is missing, malformed or not signed with the expected key.") from None

    def _fail(self, reason: str, token: str) -> None:
        log.info("token refused", extra={"reason": reason, "fingerprint": fingerprint(token)})
        self.on_failure(reason)

    def _bearer(self, req) -> str:
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self.on_failure("missing")
            raise Unauthorized("A Bearer token is required.", code="auth.missing-token")
        return token.strip()

    def _app_claims(self, req) -> dict:
        token = self._bearer(req)
        cached = self._verified.get(token)
        if cached is not None and cached["exp"] + LEEWAY > time.time():
            return cached
        claims = self._decode(token, self.settings.app_key, ["exp", "iat", "sub"])
        typ = claims.get("typ")
        if typ == "admin":
            if claims.get("admin_role") not in ADMIN_ROLES:
                self._fail("bad-role", token)
                raise Unauthorized("The admin token has no valid admin_role.")
            course_ids = claims.get("course_ids")
            if course_ids is not None and not (isinstance(course_ids, list) and all(
                    isinstance(c, str) and _is_uuid(c) for c in course_ids)):
                self._fail("bad-course-ids", token)
                raise Unauthorized("The admin token's course_ids must be a list of course ids (UUIDs).")
        elif typ != "student":
            self._fail("bad-typ", token)
            raise Unauthorized("The token type is not accepted here.")
        self._remember(token, claims)
        return claims

    def _remember(self, token: str, claims: dict) -> None:
        """Keep a verified APP_KEY token's claims (keyed by the whole token, so no altered token can match);
        a client sends the same token for hours, and the HMAC check then runs once per process."""
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()
        self._verified[token] = claims

    def _student_principal(self, claims: dict) -> Principal:
        row = students.load(claims["sub"]) if _is_uuid(claims["sub"]) else None
        if row is None or row["deleted_at"] is not None:
            self.on_failure("student-gone")
            raise Unauthorized("The student account no longer exists.", code="auth.student-not-found")
        if not row["is_active"]:
            self.on_failure("student-inactive")
            raise Unauthorized("The student account is inactive.", code="students.account-inactive")
        return Principal("student", str(row["id"]), claims, student=row)

    def _server(self, req, key: str, typ: str) -> Principal:
        token = (req.get_header("X-Proxy-Authorization") or "").strip()
        if not token:
            self.on_failure("missing")
            raise Unauthorized("An X-Proxy-Authorization token is required.", code="auth.missing-token")
        claims = self._decode(token, key, ["exp", "iat"])
        iat = claims.get("iat")
        if not isinstance(iat, (int, float)) or time.time() - iat > self.settings.server_token_max_age + LEEWAY:
            self._fail("too-old", token)
            raise Unauthorized("The token is too old.", code="auth.token-too-old")
        replay_key = str(claims.get("jti") or hashlib.sha256(token.encode()).hexdigest())
        ttl = int(claims["exp"] - time.time()) + LEEWAY
        if not self.replay.first_use(f"{typ}:{replay_key}", ttl):
            self._fail("replayed", token)
            raise Unauthorized("The token was already used.", code="auth.token-replayed")
        return Principal(typ, None, claims)

    # -- guards -------------------------------------------------------------------------------------------------
    def student(self, req) -> Principal:
        claims = self._app_claims(req)
        if claims["typ"] != "student":
            raise Forbidden("This route is for students.", code="auth.students-only")
        return self._student_principal(claims)

    def real_student(self, req) -> Principal:
        principal = self.student(req)
        if principal.impersonated_by or principal.preview_admin:
            raise Forbidden("Not allowed while impersonating or previewing.", code="auth.real-student-only")
        return principal

    def student_token(self, req) -> Principal:
        """`student` without loading the row: for writes whose single UPDATE re-checks that the student is live
        and active (see `refuse_gone`), so the request costs one statement."""
        claims = self._app_claims(req)
        if claims["typ"] != "student":
            raise Forbidden("This route is for students.", code="auth.students-only")
        if not _is_uuid(claims["sub"]):
            raise Unauthorized("The student account no longer exists.", code="auth.student-not-found")
        return Principal("student", str(claims["sub"]), claims)

    def real_student_token(self, req) -> Principal:
        principal = self.student_token(req)
        if principal.impersonated_by or principal.preview_admin:
            raise Forbidden("Not allowed while impersonating or previewing.", code="auth.real-student-only")
        return principal

    def refuse_gone(self, student_id: str) -> None:
        """After a `student_token` write matched no live, active row: the 401 the full guard would have given."""
        self._student_principal({"sub": student_id})
        raise Unauthorized("The student account no longer exists.", code="auth.student-not-found")

    def admin(self, req) -> Principal:
        claims = self._app_claims(req)
        if claims["typ"] != "admin":
            raise Forbidden("This route is for admins.", code="auth.admins-only")
        return Principal("admin", str(claims["sub"]), claims)

    def master(self, req) -> Principal:
        principal = self.admin(req)
        if not principal.is_master:
            raise Forbidden("This route is for master admins.", code="auth.master-only")
        return principal

    def students_manager(self, req) -> Principal:
        principal = self.admin(req)
        if not (principal.is_master or principal.claims.get("can_manage_students") is True):
            raise Forbidden("This route needs can_manage_students.", code="auth.students-manager-only")
        return principal

    def ledger_reader(self, req) -> Principal:
        principal = self.admin(req)
        if principal.role not in LEDGER_ROLES:
            raise Forbidden("This route needs a ledger reader role.", code="auth.ledger-reader-only")
        return principal

    def student_or_admin(self, req) -> Principal:
        """Jobs routes: the student or admin who created the job (checked by the operation)."""
        claims = self._app_claims(req)
        if claims["typ"] == "student":
            return self._student_principal(claims)
        return Principal("admin", str(claims["sub"]), claims)

    def shop(self, req) -> Principal:
        return self._server(req, self.settings.shop_key, "shop")

    def sso(self, req) -> Principal:
        return self._server(req, self.settings.sso_key, "sso")


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def issue_student_token(settings: Settings, *, student_id: str, email: str, impersonated_by: dict | None = None,
                        preview_admin: dict | None = None, ttl: int | None = None) -> str:
    """A student token signed with APP_KEY (SPEC §1)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": str(student_id), "typ": "student", "email": email, "iat": now,
                              "exp": now + (ttl or settings.token_ttl), "jti": uuid.uuid4().hex}
    if impersonated_by:
        claims["impersonated_by"] = impersonated_by
    if preview_admin:
        claims["preview_admin"] = preview_admin
    return jwt.encode(claims, settings.app_key, algorithm="HS256")


def issue_admin_token(settings: Settings, *, admin_id: str, email: str, role: str, can_manage_students: bool = False,
                      course_ids: list[str] | None = None, ttl: int | None = None) -> str:
    """An admin token as the admin panel would sign it (for operators and tests)."""
    if role not in ADMIN_ROLES:
        raise ValueError(f"unknown admin role {role!r}")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": str(admin_id), "typ": "admin", "email": email, "admin_role": role,
                              "can_manage_students": can_manage_students, "iat": now,
                              "exp": now + (ttl or settings.token_ttl)}
    if course_ids:
        claims["course_ids"] = list(course_ids)
    return jwt.encode(claims, settings.app_key, algorithm="HS256")
