"""SPEC §1 authorization matrix over every routed responder, and no admin-only data in student-facing answers."""
from __future__ import annotations

import re
import secrets
import time
import uuid
from typing import NamedTuple

import jwt
import pytest

from api import openapi
from api.app import route_table
from models.products import catalogue
from models.products.ops import GrantItem, grant
from models.products.tables import StudentExam
from tests.factories import make_student

# 68 today: route_table() minus /docs/static/{name} (no @endpoint); /openapi.json is added by create_app, not the table
MIN_ROUTES = 68
SKIP = {"/docs/static/{name}"}
ACTOR = {"id": str(uuid.uuid4()), "email": "boss@example.com", "role": "master_admin"}
STUDENTS = {"student": {}, "impersonating": {"impersonated_by": ACTOR}, "previewing": {"preview_admin": ACTOR}}
ADMINS = {"plain_admin": ("author_admin", False), "manager": ("author_admin", True), "master": ("master_admin", False),
          "igor": ("igor", False), "retail_admin": ("retail_admin", False)}
KINDS = ["none", *STUDENTS, *ADMINS, "shop", "sso", "wrong_key"]
PASSES = {
    None: set(KINDS),
    "student": set(STUDENTS),
    "real_student": {"student"},
    "student_token": set(STUDENTS),  # the same as student, the row checked by the route's UPDATE
    "real_student_token": {"student"},
    "admin": set(ADMINS),
    "master": {"master"},
    "students_manager": {"manager", "master"},
    "ledger_reader": {"master", "igor", "retail_admin"},
    "shop": {"shop"},
    "sso": {"sso"},
    "student_or_admin": set(STUDENTS) | set(ADMINS),
}
NO_BEARER = {"none", "wrong_key", "shop", "sso"}  # kinds that carry no valid APP_KEY Bearer token
PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")
SECRET = "SECRET-NOTE"
GRE = "231c096b-b3c7-5419-a6a0-ffc7f4af2500"  # the example catalogue's GRE exam type (sections 130-170)
# valid bodies for the student-facing routes, so that the leak check sees real answers rather than 422s
BODIES = {
    "/students/username": {"username": "me.user"},
    "/students/timezone": {"timezone": "Europe/Paris"},
    "/students/set-video-bg-music": {"video_bg_music_enabled": True},
    "/students/set-cq-animations": {"cq_animations_enabled": False},
    "/students/set-theme": {"theme": "dark"},
    "/students/bump-site-activity": {"duration": 2},
    "/students/attach-products": {"exams": [{"external_id": "1002"}]},
    "/students/change-target-score/{exam_type_id:uuid}": {"value": 300},
    "/students/change-section-target-score/{exam_type_id:uuid}/{section_order:int(min=1)}": {"value": 150},
}


class Route(NamedTuple):
    method: str
    template: str
    guard: str | None


class World(NamedTuple):
    me: dict  # the caller of every student token
    target: dict  # {id} and {to_student_id}
    source: dict  # {from_student_id}
    exam_id: str  # one of the caller's student exams (GRE)


def routes(settings) -> list[Route]:
    return [Route(method.upper(), template, meta.guard)
            for template, method, _fn, meta in openapi.responders(route_table(settings))]


def make_world() -> World:
    catalogue.load_file(catalogue.EXAMPLE)
    me, target, source = (make_student() for _ in range(3))
    grant(str(me["id"]), [GrantItem("exam", "1003"), GrantItem("course", "3001")])
    exam = StudentExam.get(StudentExam.student_id == me["id"], StudentExam.exam_type_id == GRE)
    return World(me, target, source, str(exam.id))


def fill(template: str, world: World) -> str:
    values = {"id": world.target["id"], "to_student_id": world.target["id"], "from_student_id": world.source["id"],
              "exam_type_id": GRE, "exam_id": world.exam_id, "section_order": 1,
              "mode": "current_week" if "/salty-bucks/" in template else "front"}
    return PARAM.sub(lambda m: str(values[m.group(1)]), template)


def headers(kind: str, tokens, world: World) -> dict:
    if kind == "none":
        return {}
    if kind in STUDENTS:
        return tokens.bearer(tokens.student(world.me["id"], world.me["email"], **STUDENTS[kind]))
    if kind in ADMINS:
        role, manage = ADMINS[kind]
        return tokens.bearer(tokens.admin(role, manage=manage))
    if kind in ("shop", "sso"):
        return tokens.proxy(tokens.server(kind))  # a fresh jti per call: never refused as a replay
    now = int(time.time())  # wrong_key: a well-formed master admin / server token under an unknown key, both headers
    claims = {"sub": str(uuid.uuid4()), "typ": "admin", "email": "a@example.com", "admin_role": "master_admin",
              "can_manage_students": True, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
    token = jwt.encode(claims, secrets.token_hex(32), algorithm="HS256")
    return {**tokens.bearer(token), **tokens.proxy(token)}


def expected(guard: str | None, kind: str) -> int | None:
    """None: passes the guard (neither 401 nor 403); else the refusal status SPEC §1 implies."""
    if kind in PASSES[guard]:
        return None
    if guard in ("shop", "sso") or kind in NO_BEARER:
        return 401
    return 403


def call(client, route: Route, world: World, hdrs: dict, body: dict | None = None):
    return client.simulate_request(route.method, fill(route.template, world), headers=hdrs,
                                   json=(body or {}) if route.method != "GET" else None)


def verdict(resp, want: int | None) -> str | None:
    """Why `resp` departs from `want`, or None."""
    status = resp.status_code
    if status >= 500:
        return f"{status} (5xx): {resp.text[:200]}"
    if want is None and status in (401, 403):
        return f"{status}, expected to pass the guard: {resp.text[:200]}"
    if want is not None and status != want:
        return f"{status}, expected {want}: {resp.text[:200]}"
    if status == 401 and resp.headers.get("www-authenticate") != "Bearer":
        return f"401 without WWW-Authenticate: Bearer ({resp.headers.get('www-authenticate')!r})"
    return None


def test_router_enumeration_is_complete_and_every_guard_is_known(settings):
    table = routes(settings)
    pairs = {(r.method, r.template) for r in table}
    assert len(pairs) == len(table) >= MIN_ROUTES
    assert {r.guard for r in table} <= set(PASSES), "a guard this matrix does not know"
    known = {"id", "to_student_id", "from_student_id", "exam_type_id", "exam_id", "section_order", "mode"}
    for route in table:
        if route.template not in SKIP:
            assert set(PARAM.findall(route.template)) <= known, route


@pytest.mark.parametrize("kind", KINDS)
def test_authorization_matrix(client, tokens, conn, settings, kind):
    world = make_world()
    failures, checked = [], 0
    for route in routes(settings):
        if route.template in SKIP:
            continue
        resp = call(client, route, world, headers(kind, tokens, world))
        checked += 1
        problem = verdict(resp, expected(route.guard, kind))
        if problem:
            failures.append(f"{route.method} {route.template} [guard {route.guard}, {kind}]: {problem}")
    assert not failures, f"{len(failures)} of {checked} departures:\n" + "\n".join(failures)
    assert checked >= MIN_ROUTES


@pytest.fixture
def hidden(client, tokens, conn) -> tuple[World, dict]:
    """The world, plus another student; both carry SECRET as admin note and freeze reason (set by a master)."""
    world = make_world()
    other = make_student(email=f"other.{uuid.uuid4().hex[:8]}@example.com")
    grant(str(other["id"]), [GrantItem("exam", "1003"), GrantItem("course", "3002")])
    master = tokens.bearer(tokens.master())
    for sid in (other["id"], world.me["id"]):  # the caller's own note and freeze reason are hidden from it too
        for path, body in (("admin-note", {"admin_note": SECRET}), ("freeze", {"freeze_reason": SECRET})):
            resp = client.simulate_patch(f"/students/{sid}/{path}", json=body, headers=master)
            assert resp.status_code == 200 and resp.json[next(iter(body))] == SECRET, resp.text
    return world, other


def student_routes(settings) -> list[Route]:
    return [r for r in routes(settings) if r.guard in ("student", "real_student", "student_token",
                                                       "real_student_token")]


def assert_hidden(name: str, resp, other: dict) -> None:
    assert 200 <= resp.status_code < 300, f"{name}: {resp.status_code} {resp.text[:300]}"
    needles = ("admin_note", "freeze_reason", "frozen_at", "deleted_at", SECRET, other["email"], str(other["id"]))
    shown = [needle for needle in needles if needle.lower() in resp.text.lower()]
    assert not shown, f"{name} shows {shown}: {resp.text[:500]}"


def test_student_facing_answers_never_show_admin_fields_or_other_students(client, tokens, settings, hidden):
    world, other = hidden
    student = tokens.bearer(tokens.student(world.me["id"], world.me["email"]))
    checked = 0
    for route in student_routes(settings):
        assert_hidden(f"{route.method} {route.template}", call(client, route, world, student,
                                                                 BODIES.get(route.template)), other)
        checked += 1
    sync = tokens.server("sso", student_email=world.me["email"], student_name="Me", student_phone="+15550000000")
    assert_hidden("POST /students/sync-student",
                  client.simulate_post("/students/sync-student", json={}, headers=tokens.proxy(sync)), other)
    assert checked >= 20
