"""Preferences, flags and the site-activity award over HTTP (SPEC §6.3): effects, validation, guards, cost."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from models.base import utcnow
from models.ledger.tables import SaltyBucksLog
from models.settings import AppSetting
from models.students.tables import ADMIN_COLUMNS, SELF_COLUMNS, Student
from tests.factories import make_student, sql_statements

PROBLEM = "application/problem+json"
ACTING = {"id": "a-1", "email": "boss@example.com", "role": "master_admin"}
TOKEN_EXTRAS = {"is_impersonated", "impersonated_by", "is_preview", "preview_admin"}
HIDDEN = ("admin_note", "freeze_reason", "frozen_at", "deleted_at")
BUMP = "/students/bump-site-activity"

# (path, body, row before, expected row values after) for every route that answers the self profile.
SELF_CASES = [
    ("/students/timezone", {"timezone": "Europe/Paris"}, {},
     {"timezone": "Europe/Paris", "use_default_timezone": False}),
    ("/students/use-default-timezone", None, {"timezone": "Asia/Tokyo", "use_default_timezone": False},
     {"timezone": "Asia/Tokyo", "use_default_timezone": True}),
    ("/students/dont-use-default-timezone", None, {}, {"use_default_timezone": False}),
    ("/students/set-video-bg-music", {"video_bg_music_enabled": True}, {}, {"video_bg_music_enabled": True}),
    ("/students/set-video-bg-music", {"video_bg_music_enabled": False}, {"video_bg_music_enabled": True},
     {"video_bg_music_enabled": False}),
    ("/students/set-cq-animations", {"cq_animations_enabled": False}, {}, {"cq_animations_enabled": False}),
    ("/students/set-theme", {"theme": "dark"}, {}, {"theme": "dark"}),
    ("/students/set-theme", {"theme": "light"}, {"theme": "dark"}, {"theme": "light"}),
    ("/students/flashcard-study-mode/back", None, {}, {"flashcard_study_mode": "back"}),
    ("/students/flashcard-study-mode/random", None, {}, {"flashcard_study_mode": "random"}),
    ("/students/flashcard-study-mode/front", None, {"flashcard_study_mode": "back"},
     {"flashcard_study_mode": "front"}),
    ("/students/support-tab-seen", None, {}, {"support_tab_seen": True}),
    ("/students/onboarding-seen", None, {}, {"is_onboarding_seen": True}),
    ("/students/getting-started-completed", None, {}, {"is_getting_started_completed": True}),
    ("/students/getting-started-incomplete", None, {"is_getting_started_completed": True},
     {"is_getting_started_completed": False}),
]
ADMIN_CASES = [
    ("/students/{id}/timezone", {"timezone": "America/New_York"}, {"use_default_timezone": True},
     {"timezone": "America/New_York", "use_default_timezone": False}),
    ("/students/{id}/use-default-timezone", None, {"timezone": "Asia/Tokyo", "use_default_timezone": False},
     {"timezone": "Asia/Tokyo", "use_default_timezone": True}),
    ("/students/{id}/dont-use-default-timezone", None, {}, {"use_default_timezone": False}),
]
# One (path, valid body) per route.
SELF_ROUTES = [*{p: (p, b) for p, b, _, _ in reversed(SELF_CASES)}.values(), (BUMP, {"duration": 2})]
ADMIN_ROUTES = [(p, b) for p, b, _, _ in ADMIN_CASES]
REAL_STUDENT_ONLY = ("/students/flashcard-study-mode/", BUMP)


def case_id(case) -> str:
    """`set-theme-theme-dark` for ("/students/set-theme", {"theme": "dark"})."""
    return "-".join([case[0].removeprefix("/students/"), *(f"{k}-{v}" for k, v in (case[1] or {}).items())])


def token_for(tokens, kind: str, sid) -> str | None:
    return {
        "none": lambda: None,
        "student": lambda: tokens.student(sid),
        "impersonated": lambda: tokens.student(sid, impersonated_by=ACTING),
        "preview": lambda: tokens.student(sid, preview_admin=ACTING),
        "master": tokens.master,
        "manager": tokens.manager,
        "plain_admin": lambda: tokens.admin("author_admin", manage=False),
    }[kind]()


def patch(client, path: str, token: str | None, body=None, headers: dict | None = None):
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    return client.simulate_patch(path, json=body, headers={**auth, **(headers or {})})


def call(client, tokens, path: str, sid, body=None, **kw):
    """PATCH `path` as the student `sid` (self routes) or as a students manager (`{id}` routes)."""
    token = tokens.manager() if "{id}" in path else tokens.student(sid)
    return patch(client, path.replace("{id}", str(sid)), token, body, **kw)


def row(sid) -> dict:
    return Student.select().where(Student.id == sid).dicts().get()


def ledger(sid) -> list[SaltyBucksLog]:
    return list(SaltyBucksLog.select().where(SaltyBucksLog.student == sid).order_by(SaltyBucksLog.id))


def student_with(**pre) -> str:
    sid = make_student()["id"]
    if pre:
        Student.update(**pre).where(Student.id == sid).execute()
    return sid


def assert_problem(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM
    if code is not None:
        assert resp.json["code"] == code, resp.json
    return resp.json


def assert_only_changed(before: dict, after: dict, expect: dict) -> None:
    assert any(before[k] != v for k, v in expect.items()), "the case must change something"
    assert after == {**before, **expect}


# -- happy paths ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, body, pre, expect", SELF_CASES, ids=[case_id(c) for c in SELF_CASES])
def test_self_route_sets_the_row_and_answers_the_self_profile(client, tokens, conn, path, body, pre, expect):
    sid = student_with(admin_note="secret", freeze_reason="secret", **pre)
    before = row(sid)
    resp = call(client, tokens, path, sid, body)
    assert resp.status_code == 200, resp.text
    assert_only_changed(before, row(sid), expect)
    profile = resp.json
    assert set(profile) == set(SELF_COLUMNS) | TOKEN_EXTRAS and not set(HIDDEN) & set(profile)
    assert "secret" not in resp.text
    assert profile["id"] == str(sid) and {k: profile[k] for k in expect} == expect
    assert profile["is_impersonated"] is False and profile["is_preview"] is False


@pytest.mark.parametrize("path, body, pre, expect", ADMIN_CASES, ids=[case_id(c) for c in ADMIN_CASES])
@pytest.mark.parametrize("kind", ["manager", "master"])
def test_admin_route_sets_the_row_and_answers_the_admin_profile(client, tokens, conn, kind, path, body, pre,
                                                                expect):
    sid = student_with(admin_note="note", **pre)
    before = row(sid)
    resp = patch(client, path.replace("{id}", str(sid)), token_for(tokens, kind, sid), body)
    assert resp.status_code == 200, resp.text
    assert_only_changed(before, row(sid), expect)
    assert set(resp.json) == set(ADMIN_COLUMNS)
    assert resp.json["id"] == str(sid) and resp.json["admin_note"] == "note"
    assert {k: resp.json[k] for k in expect} == expect


@pytest.mark.parametrize("kind, flag, claim", [("impersonated", "is_impersonated", "impersonated_by"),
                                               ("preview", "is_preview", "preview_admin")])
def test_self_profile_reports_who_is_acting(client, tokens, conn, kind, flag, claim):
    sid = student_with()
    body = patch(client, "/students/set-theme", token_for(tokens, kind, sid), {"theme": "dark"}).json
    assert body[flag] is True and body[claim] == ACTING and body["theme"] == "dark"


def test_onboarding_seen_is_deprecated_with_a_successor(client, tokens, conn):
    sid = student_with()
    resp = call(client, tokens, "/students/onboarding-seen", sid)
    assert resp.status_code == 200 and row(sid)["is_onboarding_seen"] is True
    assert resp.headers["deprecation"] == "true"
    assert resp.headers["link"] == '</students/getting-started-completed>; rel="successor-version"'
    successor = call(client, tokens, "/students/getting-started-completed", sid)
    assert successor.status_code == 200 and "deprecation" not in successor.headers


# -- validation ----------------------------------------------------------------------------------------------

INVALID = "request.invalid"
VALIDATION_CASES = [
    ("/students/timezone", {"timezone": "Mars/Olympus"}, "timezone", "students.invalid-timezone"),
    ("/students/timezone", {"timezone": ""}, "timezone", "students.invalid-timezone"),
    ("/students/timezone", {"timezone": " Europe/Paris"}, "timezone", "students.invalid-timezone"),
    ("/students/timezone", {"timezone": "../../etc/passwd"}, "timezone", "students.invalid-timezone"),
    ("/students/timezone", {"timezone": None}, "timezone", INVALID),
    ("/students/timezone", {}, "timezone", INVALID),
    ("/students/timezone", {"timezone": "UTC", "use_default_timezone": True}, "use_default_timezone",
     INVALID),
    ("/students/{id}/timezone", {"timezone": "Mars/Olympus"}, "timezone", "students.invalid-timezone"),
    ("/students/{id}/timezone", {"timezone": "UTC", "admin_note": "x"}, "admin_note", INVALID),
    ("/students/set-video-bg-music", {"video_bg_music_enabled": "true"}, "video_bg_music_enabled", INVALID),
    ("/students/set-video-bg-music", {"video_bg_music_enabled": 1}, "video_bg_music_enabled", INVALID),
    ("/students/set-video-bg-music", {"video_bg_music_enabled": None}, "video_bg_music_enabled", INVALID),
    ("/students/set-video-bg-music", {}, "video_bg_music_enabled", INVALID),
    ("/students/set-cq-animations", {"cq_animations_enabled": "false"}, "cq_animations_enabled", INVALID),
    ("/students/set-cq-animations", {"cq_animations_enabled": 0}, "cq_animations_enabled", INVALID),
    ("/students/set-theme", {"theme": "blue"}, "theme", INVALID),
    ("/students/set-theme", {"theme": "Dark"}, "theme", INVALID),
    ("/students/set-theme", {"theme": "dark", "salty_bucks_balance": 10 ** 6}, "salty_bucks_balance",
     INVALID),
    ("/students/flashcard-study-mode/sideways", None, "mode", "students.invalid-mode"),
    ("/students/flashcard-study-mode/FRONT", None, "mode", "students.invalid-mode"),
    (BUMP, {"duration": 5}, "duration", INVALID),
    (BUMP, {"duration": "2"}, "duration", INVALID),
    (BUMP, {"duration": True}, "duration", INVALID),
    (BUMP, {}, "duration", INVALID),
    (BUMP, {"duration": 2, "activity_type": 7}, "activity_type", INVALID),
    (BUMP, {"duration": 2, "awarded": 100}, "awarded", INVALID),
]


@pytest.mark.parametrize("path, body, field, code", VALIDATION_CASES,
                         ids=[case_id(c) for c in VALIDATION_CASES])
def test_invalid_input_is_422_and_changes_nothing(client, tokens, conn, path, body, field, code):
    sid = student_with()
    before = row(sid)
    problem = assert_problem(call(client, tokens, path, sid, body), 422, code)
    assert any(e["field"] == field for e in problem["errors"]), problem
    assert row(sid) == before and len(ledger(sid)) == 1


def test_unknown_fields_on_routes_without_a_body_are_422(client, tokens, conn):
    sid = student_with()
    for path in ("/students/support-tab-seen", "/students/flashcard-study-mode/back",
                 "/students/getting-started-completed", "/students/{id}/use-default-timezone"):
        problem = assert_problem(call(client, tokens, path, sid, {"salty_bucks_balance": 10 ** 6}), 422)
        assert {"field": "salty_bucks_balance", "message": "unknown field"} in problem["errors"]


# -- guards --------------------------------------------------------------------------------------------------

SELF_GUARD = {"none": 401, "master": 403, "manager": 403, "student": 200, "impersonated": 200, "preview": 200}
ADMIN_GUARD = {"none": 401, "student": 403, "impersonated": 403, "plain_admin": 403, "manager": 200,
               "master": 200}
GUARD_CASES = [
    pytest.param(path, body, kind, 403 if kind in ("impersonated", "preview")
                 and path.startswith(REAL_STUDENT_ONLY) else status, id=f"{case_id((path, body))}-{kind}")
    for routes, table in ((SELF_ROUTES, SELF_GUARD), (ADMIN_ROUTES, ADMIN_GUARD))
    for path, body in routes for kind, status in table.items()
]


@pytest.mark.parametrize("path, body, kind, status", GUARD_CASES)
def test_guards(client, tokens, conn, path, body, kind, status):
    sid = student_with(flashcard_study_mode="random", use_default_timezone=False,
                       is_getting_started_completed=True)
    before = row(sid)
    resp = patch(client, path.replace("{id}", str(sid)), token_for(tokens, kind, sid), body)
    assert resp.status_code == status, resp.text
    if status == 200:
        return
    assert_problem(resp, status)
    if status == 401:
        assert resp.headers["www-authenticate"].startswith("Bearer")
    assert row(sid) == before and len(ledger(sid)) == 1


@pytest.mark.parametrize("path, body", ADMIN_ROUTES, ids=[case_id(c) for c in ADMIN_ROUTES])
def test_admin_routes_on_a_missing_or_deleted_student_are_404(client, tokens, conn, path, body):
    gone = make_student(deleted=True)["id"]
    for sid in (uuid.uuid4(), gone):
        assert_problem(call(client, tokens, path, sid, body), 404, "students.not-found")
    assert_problem(call(client, tokens, path, "not-a-uuid", body), 404)
    assert row(gone)["timezone"] is None and row(gone)["use_default_timezone"] is True


@pytest.mark.parametrize("state, code", [("inactive", "students.account-inactive"),
                                         ("deleted", "auth.student-not-found")])
@pytest.mark.parametrize("path, body", SELF_ROUTES, ids=[case_id(c) for c in SELF_ROUTES])
def test_an_inactive_or_deleted_students_token_is_401(client, tokens, conn, path, body, state, code):
    sid = make_student(is_active=state != "inactive", deleted=state == "deleted")["id"]
    before = row(sid)
    assert_problem(call(client, tokens, path, sid, body), 401, code)
    assert row(sid) == before and len(ledger(sid)) == 1


# -- bump-site-activity --------------------------------------------------------------------------------------

def bump(client, tokens, sid, duration: int, **headers):
    return patch(client, BUMP, tokens.student(sid), {"duration": duration, "activity_type": "video"}, headers)


def activity_entries(sid) -> list[SaltyBucksLog]:
    return [e for e in ledger(sid) if e.operation_subtype.startswith("active_on_site_")]


@pytest.mark.parametrize("duration, award, other", [(2, 1, 30), (30, 5, 2)])
def test_first_bump_awards_once_per_window(client, tokens, conn, duration, award, other):
    sid = student_with()
    start = utcnow()
    resp = bump(client, tokens, sid, duration)
    assert resp.status_code == 200, resp.text
    assert resp.json == {"awarded": award, "salty_bucks_balance": 100 + award}
    after = row(sid)
    assert after["salty_bucks_balance"] == 100 + award
    assert start <= after[f"activity_streak_{duration}min"] <= utcnow()
    assert after[f"activity_streak_{other}min"] is None
    [entry] = activity_entries(sid)
    assert (entry.amount, entry.operation_type, entry.operation_subtype, entry.reference_type,
            entry.balance_after) == (award, "income", f"active_on_site_{duration}min", "site_activity",
                                     100 + award)

    again = bump(client, tokens, sid, duration)
    assert again.json == {"awarded": 0, "salty_bucks_balance": 100 + award}
    assert len(activity_entries(sid)) == 1 and row(sid)["salty_bucks_balance"] == 100 + award

    streak = getattr(Student, f"activity_streak_{duration}min")
    Student.update({streak: utcnow() - dt.timedelta(minutes=duration, seconds=-30)}).where(
        Student.id == sid).execute()
    assert bump(client, tokens, sid, duration).json["awarded"] == 0, "still inside the window"
    Student.update({streak: utcnow() - dt.timedelta(minutes=duration, seconds=1)}).where(
        Student.id == sid).execute()
    third = bump(client, tokens, sid, duration).json
    assert third == {"awarded": award, "salty_bucks_balance": 100 + 2 * award}
    entries = ledger(sid)
    assert [e.balance_after for e in entries] == [100, 100 + award, 100 + 2 * award]
    assert sum(e.amount if e.operation_type == "income" else -e.amount for e in entries) == 100 + 2 * award


def test_the_two_windows_are_independent_and_the_award_follows_app_settings(client, tokens, conn):
    sid = student_with()
    setting = AppSetting.name == "active_on_site_30min"  # app_settings is not truncated between tests
    default = AppSetting.get(setting).value
    AppSetting.update(value=12).where(setting).execute()
    try:
        assert bump(client, tokens, sid, 2).json == {"awarded": 1, "salty_bucks_balance": 101}
        assert bump(client, tokens, sid, 30).json == {"awarded": 12, "salty_bucks_balance": 113}
    finally:
        AppSetting.update(value=default).where(setting).execute()
    assert [(e.operation_subtype, e.amount) for e in activity_entries(sid)] == [
        ("active_on_site_2min", 1), ("active_on_site_30min", 12)]


@pytest.mark.parametrize("duration, award", [(2, 1), (30, 5)])
def test_concurrent_bumps_award_exactly_once(client, tokens, conn, duration, award):
    sid = student_with()
    token = tokens.student(sid)
    barrier = threading.Barrier(20)

    def attempt(_):
        barrier.wait(timeout=10)
        return patch(client, BUMP, token, {"duration": duration})

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(attempt, range(20)))
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    assert sorted(r.json["awarded"] for r in responses) == [0] * 19 + [award]
    assert len(activity_entries(sid)) == 1 and row(sid)["salty_bucks_balance"] == 100 + award


@pytest.fixture
def courses(conn):
    """A factory of `student_courses` rows for the example catalogue's course product "3001"."""
    from models.products import catalogue
    from models.products.tables import Product, StudentCourse

    catalogue.load_file(catalogue.EXAMPLE)
    product = Product.get(Product.external_id == "3001")

    def make(student_id, **fields) -> str:
        return str(StudentCourse.create(student_id=student_id, product_id=product.id, title=product.title,
                                        type="course", **fields).id)

    make.activity = lambda cid: StudentCourse.get_by_id(cid).site_activity
    return make


def test_bump_with_own_course_logs_minutes_for_today(client, tokens, courses):
    sid = student_with()
    cid = courses(sid, site_activity={"2020-01-01": 7})
    today = utcnow().date().isoformat()
    header = {"X-Student-Course-Id": cid}
    assert bump(client, tokens, sid, 2, **header).json["awarded"] == 1
    assert courses.activity(cid) == {"2020-01-01": 7, today: 2}
    assert bump(client, tokens, sid, 2, **header).json["awarded"] == 0
    assert bump(client, tokens, sid, 30, **header).json["awarded"] == 5
    assert courses.activity(cid) == {"2020-01-01": 7, today: 34}
    assert row(sid)["salty_bucks_balance"] == 106


@pytest.mark.parametrize("whose", ["another-students", "deleted", "unknown-uuid", "not-a-uuid"])
def test_bump_with_a_course_that_is_not_the_callers_is_404_and_awards_nothing(client, tokens, courses, whose):
    sid, other = student_with(), student_with()
    cid = {"another-students": lambda: courses(other), "deleted": lambda: courses(sid, is_deleted=True),
           "unknown-uuid": lambda: str(uuid.uuid4()), "not-a-uuid": lambda: "course-1"}[whose]()
    before = row(sid)
    resp = bump(client, tokens, sid, 2, **{"X-Student-Course-Id": cid})
    assert_problem(resp, 404, "students.course-not-found")
    assert row(sid) == before and len(ledger(sid)) == 1
    if whose in ("another-students", "deleted"):
        assert courses.activity(cid) == {}


# -- cost: at most two SQL statements per request, authentication included -----------------------------------

COST_CASES = [("GET", "/students/profile", None)] + [("PATCH", p, b) for p, b, _, _ in SELF_CASES]


@pytest.mark.parametrize("method, path, body", COST_CASES,
                         ids=[f"{m}-{case_id((p, b))}" for m, p, b in COST_CASES])
def test_profile_and_preference_requests_cost_at_most_two_statements(client, tokens, conn, method, path,
                                                                     body):
    headers, level = tokens.bearer(tokens.student(student_with())), logging.getLogger("peewee").level
    with sql_statements() as statements:
        resp = client.simulate_request(method, path, json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    sql = statements
    assert 0 < len(sql) <= 2, sql
    assert logging.getLogger("peewee").level == level
