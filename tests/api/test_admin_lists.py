"""SPEC §6.7 student lists: GET /students (v1), /students/v2 (cursor), /students/v3 (scoped to courses)."""
from __future__ import annotations

import base64
import datetime as dt
import logging
import uuid

import orjson
import pytest

from api.auth import ADMIN_ROLES
from core import db as dbmod
from models.base import utcnow
from models.products import catalogue
from models.products.ops import GrantItem, grant
from models.products.tables import StudentCourse, StudentExam
from models.students.tables import ADMIN_COLUMNS, Student
from tests.factories import make_student, sql_statements

EXAMPLE = orjson.loads(catalogue.EXAMPLE.read_bytes())
PID = {p["external_id"]: p["id"] for p in EXAMPLE["products"]}
SPRING, FALL = (d["id"] for d in EXAMPLE["course_end_dates"])
SORTS = ("created_at", "name", "email", "salty_bucks_balance", "logged_at")


def get(client, path: str, token: str | None, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.simulate_get(path, params=params, headers=headers)


def ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [row["id"] for row in resp.json["data"]]


def student(name: str, email: str, username: str | None = None, **updates) -> str:
    sid = str(make_student(name=name, email=email, username=username)["id"])
    if updates:
        Student.update(**updates).where(Student.id == sid).execute()
    return sid


# -- guards --------------------------------------------------------------------------------------------------
def test_guards(client, tokens, conn):
    sid = student("Guarded", "guarded@example.com")
    for role in sorted(ADMIN_ROLES):
        for path in ("/students", "/students/v3"):
            assert get(client, path, tokens.admin(role)).status_code == 200, (role, path)
    for path in ("/students", "/students/v2", "/students/v3"):
        resp = get(client, path, None)
        assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Bearer"), path
        assert get(client, path, tokens.student(sid)).status_code == 403, path
    assert get(client, "/students/v2", tokens.admin("author_admin")).status_code == 403
    assert get(client, "/students/v2", tokens.admin("igor")).status_code == 403
    assert ids(get(client, "/students/v2", tokens.manager())) == [sid]
    assert ids(get(client, "/students/v2", tokens.master())) == [sid]


# -- filters -------------------------------------------------------------------------------------------------
@pytest.fixture
def people(conn) -> dict[str, str]:
    out = {
        "ann": student("Ann 100% Lee", "ann@example.com", "ann_l"),
        "bob": student("Bob Smith", "bob@example.com", "bobby"),
        "cleo": student("Cleo O'Brien", "cleo@example.com", is_active=False),
        "dan": student("Dan Back\\Slash", "dan@example.com", is_frozen=True),
        "eve": student("Eve", "eve@example.com", "EveMax"),
        "zoe": student("ZOË Müller", "zoe@example.com"),
    }
    make_student(name="Ann Deleted", email="ann.deleted@example.com", deleted=True)
    return out


SEARCHES = [
    ("ann", ["ann"]), ("ANN", ["ann"]), ("EXAMPLE.COM", ["ann", "bob", "cleo", "dan", "eve", "zoe"]),
    ("BOBBY", ["bob"]), ("evemax", ["eve"]), ("zoë", ["zoe"]), ("MÜLLER", ["zoe"]), ("bob@", ["bob"]),
    ("%", ["ann"]), ("100%", ["ann"]), ("_", ["ann"]), ("'", ["cleo"]), ("\\", ["dan"]), ("k\\s", ["dan"]),
    ("a%e", []), ("b_b", []), ('"', []), ("' OR 1=1 --", []), ("%' OR '1'='1", []), ("\\%", []),
    ("x'); DROP TABLE students; --", []),
]


def test_search_is_a_literal_case_insensitive_substring(client, tokens, people):
    token, manager = tokens.admin("author_admin"), tokens.manager()
    for term, expected in SEARCHES:
        for path, tok in (("/students", token), ("/students/v3", token), ("/students/v2", manager)):
            got = ids(get(client, path, tok, **{"filter[search]": term, "limit[take]": "100"}))
            assert sorted(got) == sorted(people[k] for k in expected), (path, term)
    assert Student.select().count() == 7


def test_boolean_filters_and_bad_filter_values(client, tokens, people):
    token = tokens.master()

    def listed(**flt) -> set[str]:
        return set(ids(get(client, "/students", token, **{f"filter[{k}]": v for k, v in flt.items()})))

    live = set(people.values())
    assert listed() == live
    assert listed(is_active="false") == {people["cleo"]}
    assert listed(is_active="true") == live - {people["cleo"]}
    assert listed(is_frozen="1") == {people["dan"]}
    assert listed(is_frozen="0", is_active="1", search="b") == {people["bob"]}
    for name, value in (("is_active", "maybe"), ("is_frozen", "2"), ("is_active", ""), ("course_id", "abc"),
                        ("end_date_id", "3002"), ("search", "x" * 256)):
        for path in ("/students", "/students/v3"):
            resp = get(client, path, token, **{f"filter[{name}]": value})
            assert resp.status_code == 422, (path, name, value, resp.text)
            assert resp.headers["content-type"] == "application/problem+json"


@pytest.fixture
def enrolled(conn) -> dict[str, str]:
    catalogue.load_file(catalogue.EXAMPLE)
    out = {k: student(f"Enrolled {k}", f"{k}@example.com") for k in ("a", "b", "c", "d")}
    grant(out["a"], [GrantItem("course", "3001")])
    grant(out["b"], [GrantItem("course", "3001"), GrantItem("course", "3002", end_date_id=FALL)])
    grant(out["c"], [GrantItem("course", "3002", end_date_id=SPRING)])
    gone = student("Enrolled gone", "gone@example.com")
    grant(gone, [GrantItem("course", "3002", end_date_id=SPRING)])
    Student.update(deleted_at=utcnow()).where(Student.id == gone).execute()
    return out


def test_course_filters(client, tokens, enrolled):
    token = tokens.admin("video_editor")
    cases = [({"course_id": PID["3001"]}, "ab"), ({"course_id": PID["3002"]}, "bc"),
             ({"course_type": "on_demand"}, "ab"), ({"course_type": "live_course"}, "bc"),
             ({"course_type": "book"}, ""), ({"end_date_id": SPRING}, "c"), ({"end_date_id": FALL}, "b"),
             ({"course_id": PID["3001"], "end_date_id": FALL}, ""), ({"course_id": str(uuid.uuid4())}, "")]
    for flt, expected in cases:
        params = {f"filter[{k}]": v for k, v in flt.items()}
        for path in ("/students", "/students/v3"):
            got = sorted(ids(get(client, path, token, **params)))
            assert got == sorted(enrolled[k] for k in expected), flt


# -- order and pages -----------------------------------------------------------------------------------------
@pytest.fixture
def seven(conn) -> list[str]:
    now = utcnow()
    spec = [("delta", 5, None), ("alpha", 5, now - dt.timedelta(days=1)), ("golf", 0, None),
            ("alpha", 10, now - dt.timedelta(days=3)), ("echo", 5, now - dt.timedelta(days=1)),
            ("charlie", 10, None), ("alpha", 3, now - dt.timedelta(days=10))]
    emails = "mcxbqak"
    out = [student(name, f"{emails[i]}{i}@example.com", salty_bucks_balance=balance, logged_at=logged)
           for i, (name, balance, logged) in enumerate(spec)]
    make_student(name="aaa deleted", email="a@example.com", deleted=True)
    return out


def _key(row: dict, by: str):
    value = row[by]
    return dt.datetime.fromisoformat(value) if by.endswith("_at") and value is not None else value


def assert_sorted(rows: list[dict], by: str, direction: str) -> None:
    """Non-null values in `direction` with ties broken by id the same way; NULLs together at one end."""
    nulls = [i for i, r in enumerate(rows) if r[by] is None]
    assert nulls in ([], list(range(len(nulls))), list(range(len(rows) - len(nulls), len(rows)))), (by, nulls)
    present = [(_key(r, by), r["id"]) for r in rows if r[by] is not None]
    assert present == sorted(present, reverse=direction == "desc"), (by, direction)
    null_ids = [rows[i]["id"] for i in nulls]
    assert null_ids == sorted(null_ids, reverse=direction == "desc")


def test_order_default_and_each_sort(client, tokens, seven):
    token = tokens.master()
    assert ids(get(client, "/students", token)) == list(reversed(seven))  # created_at desc by default
    assert ids(get(client, "/students", token, **{"order[dir]": "asc"})) == seven
    for by in SORTS:
        for direction in ("asc", "desc"):
            resp = get(client, "/students", token, **{"order[by]": by, "order[dir]": direction})
            assert len(ids(resp)) == 7
            assert_sorted(resp.json["data"], by, direction)
    for bad in ({"order[by]": "id"}, {"order[by]": "password"}, {"order[by]": "name; DROP TABLE students"},
                {"order[by]": "admin_note"}, {"order[dir]": "sideways"}):
        for path, tok in (("/students", token), ("/students/v2", token), ("/students/v3", token)):
            resp = get(client, path, tok, **bad)
            assert resp.status_code == 422 and resp.json["errors"], (path, bad)


def test_pagination_meta(client, tokens, seven):
    token = tokens.admin("test_admin")
    first = get(client, "/students", token)
    assert first.json["meta"] == {"recordsTotal": 7, "pagesTotal": 1, "page": 1, "take": 10}
    pages = [get(client, "/students", token, **{"limit[take]": "3", "limit[page]": str(n)})
             for n in (1, 2, 3, 4)]
    assert [p.json["meta"] for p in pages] == [
        {"recordsTotal": 7, "pagesTotal": 3, "page": n, "take": 3} for n in (1, 2, 3, 4)]
    assert [sid for p in pages for sid in ids(p)] == list(reversed(seven))
    assert ids(pages[3]) == []
    v3 = get(client, "/students/v3", token, **{"limit[take]": "5", "limit[page]": "2"})
    assert v3.json["meta"] == {"recordsTotal": 7, "pagesTotal": 2, "page": 2, "take": 5}
    empty = get(client, "/students", token, **{"filter[search]": "nobody"})
    assert empty.json == {"data": [], "meta": {"recordsTotal": 0, "pagesTotal": 0, "page": 1, "take": 10}}
    for bad in ({"limit[take]": "0"}, {"limit[take]": "101"}, {"limit[take]": "x"}, {"limit[page]": "0"},
                {"limit[page]": "-1"}):
        assert get(client, "/students", token, **bad).status_code == 422, bad


def walk(client, token: str, **params) -> tuple[list[dict], list[dict]]:
    rows, metas, cursor = [], [], None
    for _ in range(20):
        query = {"limit[take]": "2", **params, **({"cursor": cursor} if cursor else {})}
        resp = get(client, "/students/v2", token, **query)
        assert resp.status_code == 200, resp.text
        rows += resp.json["data"]
        metas.append(resp.json["meta"])
        cursor = resp.json["meta"]["next_cursor"]
        if cursor is None:
            return rows, metas
    raise AssertionError("the cursor walk did not end")


def test_v2_cursor_walk_visits_everyone_once_in_order(client, tokens, seven):
    token = tokens.manager()
    for by in SORTS:
        for direction in ("asc", "desc"):
            params = {"order[by]": by, "order[dir]": direction}
            rows, metas = walk(client, token, **params)
            assert [m["take"] for m in metas] == [2, 2, 2, 2] and set(metas[0]) == {"take", "next_cursor"}
            assert sorted(r["id"] for r in rows) == sorted(seven), (by, direction)
            assert [r["id"] for r in rows] == ids(get(client, "/students", token, **params)), (by, direction)
            assert_sorted(rows, by, direction)
    rows, metas = walk(client, token)
    assert [r["id"] for r in rows] == list(reversed(seven)) and len(metas) == 4
    assert set(rows[0]) == set(ADMIN_COLUMNS)
    rows, metas = walk(client, token, **{"filter[search]": "alpha", "order[by]": "name"})
    assert sorted(r["id"] for r in rows) == sorted(seven[i] for i in (1, 3, 6)) and len(metas) == 2


def _cursor(*values) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


def test_v2_tampered_cursor_is_422(client, tokens, seven):
    token = tokens.manager()
    real = get(client, "/students/v2", token, **{"limit[take]": "2"}).json["meta"]["next_cursor"]
    for bad in ("not-a-cursor!", real[:-3] + "AAA", real[1:], _cursor("x"), _cursor(1, str(uuid.uuid4())),
                _cursor("2024-01-01T00:00:00+00:00", "not-a-uuid"), _cursor("a", "b", "c"),
                base64.urlsafe_b64encode(b'{"a": 1}').decode()):
        resp = get(client, "/students/v2", token, cursor=bad)
        assert resp.status_code == 422, (bad, resp.text)
        assert resp.json["code"] == "request.invalid-cursor"


def test_v2_cursor_with_a_value_of_the_wrong_type_is_422(client, tokens, seven):
    token = tokens.manager()
    by_name = get(client, "/students/v2", token, **{"order[by]": "name", "limit[take]": "2"}).json
    cases = [("created_at", _cursor("not a date", str(uuid.uuid4()))),
             ("logged_at", _cursor("' OR 1=1 --", str(uuid.uuid4()))),
             ("salty_bucks_balance", _cursor("lots", str(uuid.uuid4()))),
             ("salty_bucks_balance", _cursor("9" * 20, str(uuid.uuid4()))),
             ("salty_bucks_balance", by_name["meta"]["next_cursor"])]
    for by, cursor in cases:
        resp = get(client, "/students/v2", token, cursor=cursor, **{"order[by]": by})
        assert resp.status_code == 422, (by, cursor, resp.status_code)


# -- rows ----------------------------------------------------------------------------------------------------
def backdated(sid: str, amount: int, operation: str, ago: dt.timedelta) -> None:
    dbmod.execute("INSERT INTO salty_bucks_logs (student_id, amount, operation_type, operation_subtype, "
                  "balance_after, created_at) VALUES (%s, %s, %s, 'admin_set_balance', 0, %s)",
                  (sid, amount, operation, utcnow() - ago))


def test_rows_carry_the_admin_profile_and_aggregates(client, tokens, conn):
    catalogue.load_file(catalogue.EXAMPLE)
    day = dt.timedelta(days=1)
    a, b, c = (student(f"Agg {k}", f"agg.{k}@example.com") for k in "abc")
    Student.update(admin_note="note for admins", freeze_reason="why").where(Student.id == a).execute()
    hour = dt.timedelta(hours=1)
    for amount, operation, ago in ((1000, "income", 10 * day), (500, "outcome", 6 * day),
                                   (7, "income", 4 * day), (30, "outcome", 2 * day),
                                   (11, "income", 5 * day + hour), (13, "income", 5 * day - hour)):
        backdated(a, amount, operation, ago)
    backdated(c, 150, "outcome", dt.timedelta(hours=1))
    grant(b, [GrantItem("course", "3001")])  # course + exam 1001 + book 2001, and 50 SB
    grant(c, [GrantItem("course", "3002", end_date_id=SPRING), GrantItem("exam", "1001")])
    past = utcnow() - 3 * day
    StudentExam.update(accessible_to=past, status="expired").where(
        StudentExam.student_id == c, StudentExam.product_id == PID["1001"]).execute()
    StudentCourse.update(accessible_to=past, status="scheduled").where(
        StudentCourse.student_id == c).execute()
    rows = {r["id"]: r for r in get(client, "/students", tokens.admin("glossary_admin")).json["data"]}
    assert set(rows[a]) == set(ADMIN_COLUMNS) | {"recently_earning", "active_products", "active_courses"}
    assert rows[a]["admin_note"] == "note for admins" and rows[a]["freeze_reason"] == "why"
    aggregates = {sid: (r["recently_earning"], r["active_products"], r["active_courses"])
                  for sid, r in rows.items()}
    # a: 100 (start) + 7 + 13 - 30; b: 100 + 50 (purchase); c: 100 + 50 - 150, a scheduled course, exam 1003.
    assert aggregates == {a: (90, 0, 0), b: (150, 2, 1), c: (0, 2, 1)}
    v3 = {r["id"]: r for r in get(client, "/students/v3", tokens.master()).json["data"]}
    assert {sid: (r["recently_earning"], r["active_products"], r["active_courses"])
            for sid, r in v3.items()} == aggregates


def test_v3_scoped_admin_sees_only_their_courses(client, tokens, enrolled):
    scoped = tokens.admin("author_admin", course_ids=[PID["3002"]])
    rows = {r["id"]: r for r in get(client, "/students/v3", scoped).json["data"]}
    assert set(rows) == {enrolled["b"], enrolled["c"]}
    course = {"title": "GRE Live Course", "type": "live_course", "status": "ongoing"}
    for key, end_date, semester in (("b", FALL, "Fall 2027"), ("c", SPRING, "Spring 2027")):
        (only,) = rows[enrolled[key]]["courses"]
        own = StudentCourse.get(StudentCourse.student_id == enrolled[key],
                                StudentCourse.product_id == PID["3002"])
        assert only == {"id": str(own.id), **course, "end_date_id": end_date, "semester_name": semester}
    resp = get(client, "/students/v3", scoped, **{"filter[search]": "enrolled c"})
    assert ids(resp) == [enrolled["c"]] and resp.json["meta"]["recordsTotal"] == 1
    both = tokens.admin("author_admin", course_ids=[PID["3001"], PID["3002"]])
    assert sorted(ids(get(client, "/students/v3", both, **{"filter[course_type]": "on_demand"}))) == sorted(
        [enrolled["a"], enrolled["b"]])
    nobody = tokens.admin("author_admin", course_ids=[str(uuid.uuid4())])
    assert get(client, "/students/v3", nobody).json["meta"]["recordsTotal"] == 0


def test_v3_unscoped_admin_sees_everyone_with_all_courses(client, tokens, enrolled):
    rows = {r["id"]: r for r in get(client, "/students/v3", tokens.admin("retail_admin")).json["data"]}
    assert set(rows) == set(enrolled.values())
    titles = {k: sorted(c["title"] for c in rows[sid]["courses"]) for k, sid in enrolled.items()}
    assert titles == {"a": ["GMAT On-Demand Course"], "b": ["GMAT On-Demand Course", "GRE Live Course"],
                      "c": ["GRE Live Course"], "d": []}
    (on_demand,) = rows[enrolled["a"]]["courses"]
    assert on_demand["type"] == "on_demand" and on_demand["end_date_id"] is None
    assert on_demand["semester_name"] is None
    assert "courses" not in get(client, "/students", tokens.master()).json["data"][0]


def test_v3_token_with_malformed_course_ids_is_not_a_500(client, tokens, enrolled):
    for course_ids in (["3002"], [3002], ["x'); --"]):
        resp = get(client, "/students/v3", tokens.admin("author_admin", course_ids=course_ids))
        assert resp.status_code == 401 or (resp.status_code == 200 and resp.json["data"] == []), (
            course_ids, resp.status_code)


# -- cost ----------------------------------------------------------------------------------------------------
def test_list_is_two_statements_for_an_admin(client, tokens, enrolled):
    token, level = tokens.admin("author_admin"), logging.getLogger("peewee").level
    with sql_statements() as seen:
        dbmod.fetch_one("SELECT 1")
        assert seen == ["SELECT 1"]  # the counter sees statements
        seen.clear()
        resp = get(client, "/students", token,
                   **{"filter[course_type]": "live_course", "filter[search]": "e"})
    assert resp.status_code == 200 and len(resp.json["data"]) == 2
    assert 1 <= len(seen) <= 2 and all(s.lstrip().upper().startswith("SELECT") for s in seen), seen
    assert logging.getLogger("peewee").level == level
