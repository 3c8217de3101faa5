"""SPEC §6.6 over HTTP: the caller's exam lists and navigation, and the deprecated target-score routes."""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import NamedTuple

import orjson
import pytest

from models.base import utcnow
from models.products import catalogue
from models.products.ops import GrantItem, grant
from models.products.tables import StudentCourse, StudentExam
from models.scores.tables import StudentExamScore
from tests.factories import make_student, problem, sql_statements

EXAMPLE = orjson.loads(catalogue.EXAMPLE.read_bytes())
TYPES = {t["title"]: t["id"] for t in EXAMPLE["exam_types"]}
GMAT, GRE = TYPES["GMAT Focus"], TYPES["GRE"]
GMAT_FREE, GMAT_1, GRE_1 = "GMAT Free Practice Exam", "GMAT Practice Exam 1", "GRE Practice Exam 1"
ADMIN = {"id": str(uuid.uuid4()), "email": "boss@example.com", "role": "master_admin"}


class World(NamedTuple):
    sid: str
    other: str
    exams: dict[str, str]  # the caller's exams: title -> student exam id
    course: str  # the caller's student_courses.id of course 3001
    other_course: str
    other_exams: set[str]


def exams_of(sid) -> dict[str, StudentExam]:
    return {e.title: e for e in StudentExam.select().where(StudentExam.student_id == sid)}


@pytest.fixture
def world(conn) -> World:
    """Caller: GRE 1 and GMAT free standalone, GMAT 1 via course 3001. Other: GMAT free, GRE 1 via course 3002."""
    catalogue.load_file(catalogue.EXAMPLE)
    sid, other = (str(make_student()["id"]) for _ in range(2))
    grant(sid, [GrantItem("exam", "1003"), GrantItem("exam", "1002"), GrantItem("course", "3001")])
    grant(other, [GrantItem("exam", "1002"), GrantItem("course", "3002")])
    now = utcnow()
    # created_at: GMAT 1 < GRE 1 < GMAT free; accessible_to: GRE 1 < GMAT free < GMAT 1; GRE 1 completed
    for title, created, until, status in ((GMAT_1, 1, 9, "scheduled"), (GRE_1, 2, 3, "completed"),
                                          (GMAT_FREE, 3, 5, "scheduled")):
        StudentExam.update(created_at=now - dt.timedelta(days=10 - created),
                           accessible_to=now + dt.timedelta(days=until),
                           status=status).where(StudentExam.student_id == sid, StudentExam.title == title).execute()
    course = StudentCourse.get(StudentCourse.student_id == sid)
    other_course = StudentCourse.get(StudentCourse.student_id == other)
    return World(sid, other, {t: str(e.id) for t, e in exams_of(sid).items()}, str(course.id),
                 str(other_course.id), {str(e.id) for e in exams_of(other).values()})


def get(client, tokens, sid, path, headers=None, **params):
    return client.simulate_get(path, params=params, headers={**tokens.bearer(tokens.student(sid)), **(headers or {})})


def titles(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [row["title"] for row in resp.json["data"]]




# -- lists -----------------------------------------------------------------------------------------------------
def test_exams_list_format_and_only_the_callers_rows(client, tokens, world):
    resp = get(client, tokens, world.sid, "/students/exams")
    assert titles(resp) == [GMAT_FREE, GRE_1, GMAT_1]  # default: created_at desc
    assert resp.json["meta"] == {"recordsTotal": 3, "pagesTotal": 1, "page": 1, "take": 10}
    assert {row["id"] for row in resp.json["data"]} == set(world.exams.values())
    assert all(row["student_id"] == world.sid for row in resp.json["data"])
    page = get(client, tokens, world.sid, "/students/exams", **{"limit[take]": "2", "limit[page]": "2"})
    assert titles(page) == [GMAT_1]
    assert page.json["meta"] == {"recordsTotal": 3, "pagesTotal": 2, "page": 2, "take": 2}
    other = get(client, tokens, world.other, "/students/exams")
    assert {row["id"] for row in other.json["data"]} == world.other_exams


@pytest.mark.parametrize("by, asc", [("created_at", [GMAT_1, GRE_1, GMAT_FREE]),
                                     ("title", [GMAT_FREE, GMAT_1, GRE_1]),
                                     ("accessible_to", [GRE_1, GMAT_FREE, GMAT_1])])
def test_exams_order(client, tokens, world, by, asc):
    for direction, expected in (("asc", asc), ("desc", asc[::-1])):
        resp = get(client, tokens, world.sid, "/students/exams", **{"order[by]": by, "order[dir]": direction})
        assert titles(resp) == expected


def test_exams_filters(client, tokens, world):
    assert titles(get(client, tokens, world.sid, "/students/exams", **{"filter[status]": "completed"})) == [GRE_1]
    assert titles(get(client, tokens, world.sid, "/students/exams", **{"filter[status]": "expired"})) == []
    by_type = get(client, tokens, world.sid, "/students/exams", **{"filter[exam_type_id]": GMAT, "order[by]": "title",
                                                                 "order[dir]": "asc"})
    assert titles(by_type) == [GMAT_FREE, GMAT_1] and by_type.json["meta"]["recordsTotal"] == 2
    none = get(client, tokens, world.sid, "/students/exams", **{"filter[exam_type_id]": str(uuid.uuid4())})
    assert titles(none) == [] and none.json["meta"] == {"recordsTotal": 0, "pagesTotal": 0, "page": 1, "take": 10}


BAD_QUERIES = [({"order[by]": "status"}, "order[by]"), ({"order[by]": "student_id"}, "order[by]"),
               ({"order[dir]": "sideways"}, "order[dir]"), ({"filter[status]": "ongoing"}, "filter[status]"),
               ({"limit[take]": "101"}, "limit[take]"), ({"limit[page]": "0"}, "limit[page]")]


@pytest.mark.parametrize("path", ["/students/exams", "/students/standalone-exams"])
def test_list_validation(client, tokens, world, path):
    for params, field in BAD_QUERIES:
        body = problem(get(client, tokens, world.sid, path, **params), 422)
        assert [e["field"] for e in body["errors"]] == [field], params


def test_exam_type_filter_must_be_a_uuid(client, tokens, world):
    body = problem(get(client, tokens, world.sid, "/students/exams", **{"filter[exam_type_id]": "gmat"}), 422)
    assert [e["field"] for e in body["errors"]] == ["filter[exam_type_id]"]


def test_course_header_shows_only_that_courses_exams(client, tokens, world):
    resp = get(client, tokens, world.sid, "/students/exams", headers={"X-Student-Course-Id": world.course})
    assert titles(resp) == [GMAT_1] and resp.json["data"][0]["student_course_id"] == world.course
    assert resp.json["meta"]["recordsTotal"] == 1
    StudentCourse.update(is_deleted=True).where(StudentCourse.id == world.course).execute()
    for course in (world.other_course, "not-a-uuid", str(uuid.uuid4()), world.course):
        resp = get(client, tokens, world.sid, "/students/exams", headers={"X-Student-Course-Id": course})
        problem(resp, 404, "students.course-not-found")
        assert world.other_exams.isdisjoint(resp.text.split('"'))


def test_standalone_exams(client, tokens, world):
    resp = get(client, tokens, world.sid, "/students/standalone-exams", **{"order[by]": "title", "order[dir]": "asc"})
    assert titles(resp) == [GMAT_FREE, GRE_1] and resp.json["meta"]["recordsTotal"] == 2
    assert all(row["student_course_id"] is None for row in resp.json["data"])
    other = get(client, tokens, world.other, "/students/standalone-exams")
    assert [row["id"] for row in other.json["data"]] == [str(exams_of(world.other)[GMAT_FREE].id)]


def test_exams_nav(client, tokens, world):
    StudentExam.update(deleted_at=utcnow()).where(StudentExam.id == world.exams[GRE_1]).execute()
    resp = get(client, tokens, world.sid, "/students/exams/nav")
    assert resp.status_code == 200, resp.text
    rows = exams_of(world.sid)

    def entry(title):
        e = rows[title]
        return {"id": str(e.id), "title": title, "status": e.status,
                "accessible_to": e.accessible_to.astimezone(dt.UTC).isoformat()}

    assert resp.json == [{"exam_type_id": GMAT, "title": "GMAT Focus", "exams": [entry(GMAT_FREE), entry(GMAT_1)]}]
    StudentExam.update(deleted_at=None).where(StudentExam.id == world.exams[GRE_1]).execute()
    resp = get(client, tokens, world.sid, "/students/exams/nav")
    assert [(t["title"], [e["title"] for e in t["exams"]]) for t in resp.json] == [
        ("GMAT Focus", [GMAT_FREE, GMAT_1]), ("GRE", [GRE_1])]
    other = get(client, tokens, world.other, "/students/exams/nav").json
    assert {e["id"] for t in other for e in t["exams"]} == world.other_exams
    assert get(client, tokens, str(make_student()["id"]), "/students/exams/nav").json == []


@pytest.mark.parametrize("path", ["/students/exams", "/students/exams/nav", "/students/standalone-exams"])
def test_lists_guard(client, tokens, world, path):
    problem(client.simulate_get(path), 401)
    problem(client.simulate_get(path, headers=tokens.bearer(tokens.master())), 403)
    impersonated = tokens.bearer(tokens.student(world.sid, impersonated_by=ADMIN))
    assert client.simulate_get(path, headers=impersonated).status_code == 200  # `student` guard


# -- cost: one statement for the page, one for the count, one for authentication -------------------------------
@pytest.mark.parametrize("path, most, course", [
    ("/students/exams", 3, False), ("/students/standalone-exams", 3, False), ("/students/exams/nav", 2, False),
    ("/students/exams", 3, True),
])
def test_list_cost(client, tokens, world, path, most, course):
    level = logging.getLogger("peewee").level
    params = {} if path.endswith("nav") else {"filter[status]": "scheduled"}
    headers = {"X-Student-Course-Id": world.course} if course else None
    with sql_statements() as statements:
        resp = get(client, tokens, world.sid, path, headers=headers, **params)
    assert resp.status_code == 200 and resp.json
    sql = statements
    assert any("student_exams" in s for s in sql) and any("FROM students" in s for s in sql), sql
    assert 1 < len(sql) <= most, sql
    assert logging.getLogger("peewee").level == level


# -- target scores ---------------------------------------------------------------------------------------------
def patch(client, tokens, sid, path, body=None, token=None):
    token = token or tokens.student(sid)
    return client.simulate_patch(path, json=body, headers=tokens.bearer(token))


def sections(resp) -> list[int]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["deprecation"] == "true"
    scores = resp.json["scores"]
    assert [s["order"] for s in scores] == list(range(len(scores))) and scores[0]["name"] == "total"
    assert scores[0]["target_score"] == sum(s["target_score"] for s in scores[1:])
    return [s["target_score"] for s in scores]


def test_change_target_scores(client, tokens, world):
    resp = patch(client, tokens, world.sid, f"/students/change-target-score/{GMAT}", {"value": 230})
    assert sections(resp) == [230, 77, 77, 76] and resp.json["is_ts_attached_to_pts"] is False
    assert resp.json["student_id"] == world.sid and resp.json["exam_type_id"] == GMAT
    row_id = resp.json["id"]
    resp = patch(client, tokens, world.sid, f"/students/change-section-target-score/{GMAT}/3", {"value": 90})
    assert sections(resp) == [244, 77, 77, 90] and resp.json["id"] == row_id
    resp = patch(client, tokens, world.sid, f"/students/reset-target-score/{world.exams[GMAT_1]}")
    assert sections(resp) == [225, 75, 75, 75] and resp.json["is_ts_attached_to_pts"] is True
    assert StudentExamScore.select().count() == 1
    row = StudentExamScore.get_by_id(row_id)
    assert row.scores == resp.json["scores"] and row.is_ts_attached_to_pts is True


def test_reset_target_uses_the_points(client, tokens, world):
    patch(client, tokens, world.sid, f"/students/change-target-score/{GRE}", {"value": 260})
    row = StudentExamScore.get()
    row.scores = [dict(s, pts=161 if s["order"] == 2 else None) for s in row.scores]
    row.save()
    resp = patch(client, tokens, world.sid, f"/students/reset-target-score/{world.exams[GRE_1]}")
    assert sections(resp) == [311, 150, 161] and resp.json["is_ts_attached_to_pts"] is True


BAD_BODIES = [{"value": 179}, {"value": 271}, {"value": "230"}, {"value": 230.0}, {"value": 230.5}, {"value": True},
              {"value": None}, {}, {"value": 230, "is_ts_attached_to_pts": True}, {"value": 230, "scores": []}]


def test_change_target_validation(client, tokens, world):
    for body in BAD_BODIES:
        problem(patch(client, tokens, world.sid, f"/students/change-target-score/{GMAT}", body), 422)
        section = {**body, "value": body["value"] - 120} if body.get("value") in (179, 271) else body
        problem(patch(client, tokens, world.sid, f"/students/change-section-target-score/{GMAT}/1", section), 422)
    assert StudentExamScore.select().count() == 0


def test_out_of_range_code_and_not_found(client, tokens, world):
    problem(patch(client, tokens, world.sid, f"/students/change-target-score/{GRE}", {"value": 341}), 422,
            "scores.out-of-range")
    problem(patch(client, tokens, world.sid, f"/students/change-section-target-score/{GRE}/2", {"value": 129}), 422,
            "scores.out-of-range")
    problem(patch(client, tokens, world.sid, f"/students/change-section-target-score/{GRE}/3", {"value": 150}), 404)
    problem(patch(client, tokens, world.sid, f"/students/change-target-score/{uuid.uuid4()}", {"value": 1}), 404)
    problem(patch(client, tokens, world.sid, "/students/change-target-score/gre", {"value": 300}), 404)
    problem(patch(client, tokens, world.sid, f"/students/change-section-target-score/{GRE}/0", {"value": 150}), 404)
    assert StudentExamScore.select().count() == 0


def test_reset_with_another_students_or_an_unknown_exam_is_404(client, tokens, world):
    patch(client, tokens, world.other, f"/students/change-target-score/{GRE}", {"value": 330})
    for exam_id in (*world.other_exams, str(uuid.uuid4()), "not-a-uuid"):
        problem(patch(client, tokens, world.sid, f"/students/reset-target-score/{exam_id}"), 404)
    assert StudentExamScore.select().where(StudentExamScore.student_id == world.sid).count() == 0
    assert StudentExamScore.get().is_ts_attached_to_pts is False  # the other student's row is untouched


def test_scores_are_per_student(client, tokens, world):
    patch(client, tokens, world.other, f"/students/change-target-score/{GRE}", {"value": 330})
    resp = patch(client, tokens, world.sid, f"/students/change-target-score/{GRE}", {"value": 270})
    assert sections(resp) == [270, 135, 135]
    theirs = StudentExamScore.get(StudentExamScore.student_id == world.other)
    assert [s["target_score"] for s in theirs.scores] == [330, 165, 165]


@pytest.mark.parametrize("route", ["change", "section", "reset"])
def test_only_the_real_student_may_change_targets(client, tokens, world, route):
    path, body = {"change": (f"/students/change-target-score/{GMAT}", {"value": 230}),
                  "section": (f"/students/change-section-target-score/{GMAT}/1", {"value": 80}),
                  "reset": (f"/students/reset-target-score/{world.exams[GMAT_1]}", None)}[route]
    for token in (tokens.student(world.sid, impersonated_by=ADMIN), tokens.student(world.sid, preview_admin=ADMIN),
                  tokens.master(), tokens.manager()):
        problem(patch(client, tokens, world.sid, path, body, token=token), 403)
    problem(client.simulate_patch(path, json=body), 401)
    assert client.simulate_patch(path, json=body).headers["www-authenticate"].startswith("Bearer")
    assert StudentExamScore.select().count() == 0
    assert patch(client, tokens, world.sid, path, body).status_code == 200
