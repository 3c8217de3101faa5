"""SPEC §6.4 over HTTP: every product route's guards, validation, all-or-nothing grants, lists and classes."""
from __future__ import annotations

import datetime as dt
import uuid

import orjson
import pytest

from models.base import utcnow
from models.jobs.tables import Job
from models.ledger.tables import SaltyBucksLog
from models.products import catalogue
from models.products.tables import StudentBook, StudentCourse, StudentExam
from models.students.tables import Student
from tests.factories import make_student, problem

EXAMPLE = orjson.loads(catalogue.EXAMPLE.read_bytes())
PID = {p["external_id"]: p["id"] for p in EXAMPLE["products"]}  # external id -> catalogue id
SPRING = EXAMPLE["course_end_dates"][0]["id"]  # a class of course 3002
PURCHASE, SELF = "/students/purchase-products", "/students/attach-products"
FREE = {"exams": [{"external_id": "1002"}]}


@pytest.fixture
def cat(conn) -> None:
    catalogue.load_file(catalogue.EXAMPLE)


def attach(client, tokens, sid, body):
    return client.simulate_post(f"/students/{sid}/attach-products", json=body,
                                headers=tokens.bearer(tokens.manager()))


def purchase(client, tokens, body, **claims):
    return client.simulate_post(PURCHASE, json=body, headers=tokens.proxy(tokens.server("shop", **claims)))


def state(sid) -> tuple:
    """Everything a grant may change: entitlement counts, flags, balance, ledger size."""
    row = Student.get_by_id(sid)
    return (StudentCourse.select().where(StudentCourse.student_id == sid).count(),
            StudentExam.select().where(StudentExam.student_id == sid).count(),
            StudentBook.select().where(StudentBook.student_id == sid).count(),
            row.has_courses, row.has_exams, row.has_books, row.salty_bucks_balance,
            SaltyBucksLog.select().where(SaltyBucksLog.student == sid).count())


FRESH = (0, 0, 0, False, False, False, 100, 1)


def exams_of(sid) -> dict[str, StudentExam]:
    return {str(e.product_id): e for e in StudentExam.select().where(StudentExam.student_id == sid)}


# -- guards --------------------------------------------------------------------------------------------------
ROUTES = [  # method, path, guard, body, success status
    ("POST", PURCHASE, "shop", FREE, 200),
    ("POST", SELF, "student", FREE, 200),
    ("POST", "/students/{id}/attach-products", "students_manager", FREE, 200),
    ("POST", "/students/{id}/products", "students_manager", {"product_ids": [PID["1002"]]}, 200),
    ("POST", "/students/bulk/attach-products", "students_manager", FREE | {"student_ids": ["{id}"]}, 202),
    ("POST", "/students/bulk/products", "students_manager",
     {"student_ids": ["{id}"], "product_ids": [PID["1002"]]}, 202),
    ("POST", "/students/transfer-products/from/{id}/to/{other}", "master", None, 202),
    ("GET", "/students/has-products", "student", None, 200),
    *(("GET", f"/students/{{id}}/{kind}", "students_manager", None, 200)
      for kind in ("courses", "exams", "books", "classes")),
]
PASSES = {"shop": {"shop"}, "student": {"student"}, "students_manager": {"manager", "master"},
          "master": {"master"}}


CALLERS = ("none", "student", "admin", "manager", "master", "shop", "sso", "shop_bearer")


def expected_status(guard: str, caller: str, ok: int) -> int:
    if caller in PASSES[guard]:
        return ok
    return 401 if caller in ("none", "shop", "sso", "shop_bearer") or guard == "shop" else 403


@pytest.mark.parametrize("method, path, guard, body, ok", ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
def test_guard(client, tokens, cat, method, path, guard, body, ok):
    """Every kind of caller on every route; a shop token passes only in X-Proxy-Authorization, for shop."""
    student, other = make_student(external_id=501), make_student()
    body = orjson.loads(orjson.dumps(body).replace(b"{id}", str(student["id"]).encode())) if body else None
    seen, expected = {}, {}
    for caller in CALLERS:
        headers = {
            "none": dict,
            "student": lambda: tokens.bearer(tokens.student(student["id"])),
            "admin": lambda: tokens.bearer(tokens.admin("author_admin")),  # no can_manage_students
            "manager": lambda: tokens.bearer(tokens.manager()),
            "master": lambda: tokens.bearer(tokens.master()),
            "shop": lambda: tokens.proxy(tokens.server("shop", external_student_id=501)),
            "sso": lambda: tokens.proxy(tokens.server("sso", external_student_id=501)),
            "shop_bearer": lambda: tokens.bearer(tokens.server("shop", external_student_id=501)),
        }[caller]()
        resp = client.simulate_request(method, path.format(id=student["id"], other=other["id"]),
                                       headers=headers, json=body)
        status = expected_status(guard, caller, ok)
        expected[caller] = (status, status >= 400, status == 401)
        seen[caller] = (resp.status_code, resp.headers["content-type"] == "application/problem+json",
                        resp.headers.get("www-authenticate") == "Bearer")
    assert seen == expected


# -- validation ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body, field", [
    ({}, "body"), ({"exams": [], "courses": []}, "body"), ({"extentions": [{}]}, "extentions.0"),
    ({"exams": [{"external_id": ""}]}, "exams.0.external_id"), ({"exams": [{"external_id": True}]}, "exams"),
    ({"exams": [{"external_id": ["1001"]}]}, "exams.0.external_id"), ({"exams": [{}]}, "exams.0.external_id"),
    ({"exams": [{"external_id": "1001", "price": 3}]}, "exams.0.price"),
    ({"courses": [{"external_id": "3002", "end_date_id": "spring"}]}, "courses.0.end_date_id"),
    ({"exams": [{"external_id": "1001"}], "student_id": "x"}, "student_id"),
    ({"exams": [{"external_id": str(n)} for n in range(101)]}, "exams"),
], ids=["empty", "empty-lists", "extension-without-course", "blank-id", "bool-id", "list-id", "no-id",
        "unknown-item-field", "bad-end-date", "unknown-field", "too-many"])
@pytest.mark.parametrize("who", ["admin", "self"])
def test_invalid_payload_is_422(client, tokens, cat, body, field, who):
    student = make_student()
    resp = attach(client, tokens, student["id"], body) if who == "admin" else client.simulate_post(
        SELF, json=body, headers=tokens.bearer(tokens.student(student["id"])))
    errors = problem(resp, 422, "request.invalid")["errors"]
    assert any(e["field"].startswith(field) for e in errors), errors
    assert state(student["id"]) == FRESH


# -- grants --------------------------------------------------------------------------------------------------
def test_exam_grant_opens_access_for_its_days_and_regrant_is_a_no_op(client, tokens, cat):
    sid = make_student()["id"]
    before = utcnow()
    for external_id in ("1001", 1001):  # a JSON number works like its string
        resp = attach(client, tokens, sid, {"exams": [{"external_id": external_id}]})
        assert resp.status_code == 200, resp.text
        assert resp.json == {"results": [{"external_id": "1001", "success": True}]}
    (exam,) = exams_of(sid).values()
    assert (str(exam.product_id), exam.student_course_id, exam.status) == (PID["1001"], None, "scheduled")
    assert before <= exam.accessible_from <= utcnow()
    assert exam.accessible_to - exam.accessible_from == dt.timedelta(days=180)
    assert state(sid) == (0, 1, 0, False, True, False, 100, 1)


def test_course_grant_attaches_its_includes_sets_flags_and_awards_once(client, tokens, cat):
    sid = make_student()["id"]
    for _ in range(2):
        assert attach(client, tokens, sid, {"courses": [{"external_id": "3001"}]}).status_code == 200
    (course,) = StudentCourse.select().where(StudentCourse.student_id == sid)
    assert (str(course.product_id), course.type, course.status) == (PID["3001"], "on_demand", "ongoing")
    assert course.accessible_to - course.accessible_from == dt.timedelta(days=180)
    (exam,) = exams_of(sid).values()
    (book,) = StudentBook.select().where(StudentBook.student_id == sid)
    assert (str(exam.product_id), exam.student_course_id) == (PID["1001"], course.id)
    assert (str(book.product_id), book.student_course_id) == (PID["2001"], course.id)
    assert state(sid) == (1, 1, 1, True, True, True, 150, 2)
    award = SaltyBucksLog.get(SaltyBucksLog.student == sid,
                              SaltyBucksLog.operation_subtype == "purchase_course")
    assert (award.amount, award.operation_type, award.reference_type, award.reference_id,
            award.balance_after) == (50, "income", "course", str(course.id), 150)
    # The included exam is also grantable on its own: a standalone row next to the attached one.
    assert attach(client, tokens, sid, {"exams": [{"external_id": "1001"}]}).status_code == 200
    rows = StudentExam.select().where(StudentExam.student_id == sid)
    assert sorted(str(e.student_course_id) for e in rows) == sorted([str(course.id), "None"])
    # Another transaction id is another purchase: a second course row and a second award.
    for _ in range(2):
        resp = attach(client, tokens, sid, {"courses": [{"external_id": 3001, "transaction_id": "t-2"}]})
        assert resp.status_code == 200, resp.text
    courses = StudentCourse.select().where(StudentCourse.student_id == sid)
    assert sorted(str(c.transaction_id) for c in courses) == ["None", "t-2"]
    assert state(sid) == (2, 3, 2, True, True, True, 200, 3)


@pytest.mark.parametrize("key", ["extentions", "extensions"])
def test_extension_pushes_the_owned_course_forward_and_needs_it(client, tokens, cat, key):
    sid = make_student()["id"]
    extension = {key: [{"external_id": "4001", "course_external_id": 3001}]}
    body = problem(attach(client, tokens, sid, extension), 400, "students.attach-products.failed")
    assert body["results"] == [{"external_id": "4001", "success": False, "error": {
        "code": "products.course-not-owned", "message": body["results"][0]["error"]["message"]}}]
    assert state(sid) == FRESH
    attach(client, tokens, sid, {"courses": [{"external_id": "3001"}]})
    before = StudentCourse.get(StudentCourse.student_id == sid).accessible_to
    resp = attach(client, tokens, sid, extension)
    assert resp.status_code == 200 and resp.json["results"] == [{"external_id": "4001", "success": True}]
    assert StudentCourse.get(StudentCourse.student_id == sid).accessible_to == before + dt.timedelta(days=30)
    assert state(sid) == (1, 1, 1, True, True, True, 150, 2)


@pytest.mark.parametrize("bad, code", [
    ({"external_id": "9999"}, "products.not-found"), ({"external_id": "1001"}, "products.wrong-type"),
    ({"external_id": "3001", "end_date_id": SPRING}, "products.invalid-end-date"),
], ids=["unknown", "wrong-type", "foreign-end-date"])
def test_one_bad_item_grants_nothing(client, tokens, cat, bad, code):
    sid = make_student()["id"]
    payload = {"exams": [{"external_id": "1001"}], "courses": [{"external_id": "3002"}, bad]}
    body = problem(attach(client, tokens, sid, payload), 400, "students.attach-products.failed")
    by_id = [(r["external_id"], r["success"], r.get("error", {}).get("code")) for r in body["results"]]
    assert by_id == [("1001", True, None), ("3002", True, None), (bad["external_id"], False, code)]
    assert state(sid) == FRESH


@pytest.mark.parametrize("payload", [
    {"exams": [{"external_id": 1002}]}, {"exams": [{"external_id": "1001"}]},
    {"exams": [{"external_id": "1002"}, {"external_id": "1003"}]}, {"courses": [{"external_id": "3001"}]},
], ids=["free", "paid", "mixed", "course"])
def test_self_grant_only_of_free_trials(client, tokens, cat, payload):
    sid = make_student()["id"]
    resp = client.simulate_post(SELF, json=payload, headers=tokens.bearer(tokens.student(sid)))
    if payload == {"exams": [{"external_id": 1002}]}:
        assert resp.status_code == 200 and resp.json["results"] == [{"external_id": "1002", "success": True}]
        assert set(exams_of(sid)) == {PID["1002"]}
        return
    results = problem(resp, 400, "students.attach-products.failed")["results"]
    assert [r["error"]["code"] for r in results if not r["success"]] == ["products.not-self-grantable"]
    assert state(sid) == FRESH


# -- purchase ------------------------------------------------------------------------------------------------
def test_purchase_grants_to_the_holder_of_the_external_id(client, tokens, cat):
    holder, other = make_student(external_id=501), make_student(external_id=502)
    resp = purchase(client, tokens, {"courses": [{"external_id": "3002"}]}, external_student_id=501)
    assert resp.status_code == 200, resp.text
    assert resp.json["results"] == [{"external_id": "3002", "success": True}]
    assert state(holder["id"]) == (1, 1, 0, True, True, False, 150, 2)
    assert state(other["id"]) == FRESH


@pytest.mark.parametrize("claims, status, code", [
    ({"external_student_id": 501}, 400, "students.purchase-products.failed"),
    ({"external_student_id": 777}, 404, "students.not-found"), ({}, 422, "request.invalid"),
    ({"external_student_id": "501"}, 422, "request.invalid"),
    ({"external_student_id": True}, 422, "request.invalid")])
def test_purchase_grants_nothing_on_failure(client, tokens, cat, claims, status, code):
    holder = make_student(external_id=501)
    resp = purchase(client, tokens, {"exams": [{"external_id": "1001"}, {"external_id": "404"}],
                                     "courses": [{"external_id": "3001"}]}, **claims)
    body = problem(resp, status, code)
    if status == 400:
        outcome = [(r["external_id"], r["success"], r.get("error", {}).get("code")) for r in body["results"]]
        assert outcome == [("1001", True, None), ("404", False, "products.not-found"), ("3001", True, None)]
    assert state(holder["id"]) == FRESH


def test_purchase_for_a_deleted_holder_recreates_the_account(client, tokens, cat):
    gone = make_student(external_id=503, email="back@example.com", name="Back Again", phone_number="+1555999",
                        deleted=True)
    resp = purchase(client, tokens, {"exams": [{"external_id": "1001"}]}, external_student_id=503)
    assert resp.status_code == 200, resp.text
    new = Student.get(Student.external_id == 503)
    assert new.id != gone["id"] and new.deleted_at is None
    assert (new.email, new.name, new.phone_number) == ("back@example.com", "Back Again", "+1555999")
    assert Student.get_by_id(gone["id"]).external_id is None
    assert set(exams_of(new.id)) == {PID["1001"]} and exams_of(gone["id"]) == {}
    assert state(new.id) == (0, 1, 0, False, True, False, 100, 1)


# -- deprecated catalogue-id routes --------------------------------------------------------------------------
def test_deprecated_catalogue_route_links_to_the_students_successor(client, tokens, cat):
    sid = make_student()["id"]
    resp = client.simulate_post(f"/students/{sid}/products", json={"product_ids": [PID["1002"]]},
                                headers=tokens.bearer(tokens.manager()))
    assert resp.headers["link"] == f'</students/{sid}/attach-products>; rel="successor-version"'


def test_deprecated_catalogue_route_grants_by_catalogue_id_all_or_nothing(client, tokens, cat):
    sid, unknown, headers = make_student()["id"], str(uuid.uuid4()), tokens.bearer(tokens.manager())
    bad = client.simulate_post(f"/students/{sid}/products", json={"product_ids": [PID["1001"], unknown]},
                               headers=headers)
    results = problem(bad, 400, "students.products.failed")["results"]
    assert [(r["external_id"], r["success"]) for r in results] == [("1001", True), (unknown, False)]
    assert bad.headers["deprecation"] == "true" and state(sid) == FRESH
    resp = client.simulate_post(f"/students/{sid}/products", json={"product_ids": [PID["3001"], PID["1003"]]},
                                headers=headers)
    assert resp.status_code == 200 and resp.headers["deprecation"] == "true", resp.text
    assert resp.headers["link"].endswith('/attach-products>; rel="successor-version"')
    assert [r["external_id"] for r in resp.json["results"]] == ["3001", "1003"]
    assert state(sid) == (1, 2, 1, True, True, True, 150, 2)


def test_deprecated_bulk_route(client, tokens, cat):
    sid = str(make_student()["id"])
    headers = tokens.bearer(tokens.manager())
    resp = client.simulate_post("/students/bulk/products", headers=headers,
                                json={"student_ids": [sid], "product_ids": [PID["1001"]]})
    assert resp.status_code == 202, resp.text
    assert (resp.headers["deprecation"], resp.headers["link"], resp.headers["location"]) == \
        ("true", '</students/bulk/attach-products>; rel="successor-version"', f"/jobs/{resp.json['id']}")
    assert resp.json["params"]["items"] == [{"kind": "exam", "external_id": "1001"}]
    bad = client.simulate_post("/students/bulk/products", headers=headers,
                               json={"student_ids": [sid], "product_ids": [str(uuid.uuid4())]})
    problem(bad, 400, "students.bulk.products.failed")
    assert Job.select().count() == 1


# -- bulk attach ---------------------------------------------------------------------------------------------
def test_bulk_attach_accepts_a_job(client, tokens, cat):
    ids = [str(make_student()["id"]) for _ in range(3)]
    resp = client.simulate_post("/students/bulk/attach-products", headers=tokens.bearer(tokens.manager()),
                                json={"courses": [{"external_id": "3001"}], "student_ids": ids + ids[:1]})
    assert resp.status_code == 202, resp.text
    assert resp.headers["location"] == f"/jobs/{resp.json['id']}" and resp.headers["retry-after"] == "1"
    assert "deprecation" not in resp.headers and Job.select().count() == 1
    assert (resp.json["type"], resp.json["status"], resp.json["progress"]["total"]) == \
        ("products.bulk-grant", "queued", 3)
    assert resp.json["params"]["student_ids"] == ids


@pytest.mark.parametrize("payload, status", [
    ({"exams": [{"external_id": "1001"}, {"external_id": "9999"}]}, 400),
    ({"extentions": [{"external_id": "4001", "course_external_id": "3002"}]}, 400),
    ({"exams": [{"external_id": "1001"}], "student_ids": []}, 422),
    ({"exams": [{"external_id": "1001"}], "student_ids": [str(uuid.uuid4()) for _ in range(10_001)]}, 422),
    ({"exams": [{"external_id": "1001"}], "student_ids": ["not-a-uuid"]}, 422),
    ({"student_ids": None}, 422),
], ids=["unknown-product", "extension-of-another-course", "no-students", "too-many", "bad-id", "no-products"])
def test_bulk_attach_refuses_at_once_without_a_job(client, tokens, cat, payload, status):
    body = {"student_ids": [str(make_student()["id"])]} | payload
    if body["student_ids"] is None:
        del body["student_ids"]
    resp = client.simulate_post("/students/bulk/attach-products", json=body,
                                headers=tokens.bearer(tokens.manager()))
    problem(resp, status, "students.bulk.attach-products.failed" if status == 400 else "request.invalid")
    assert Job.select().count() == 0


# -- transfer ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["ok", "from-missing", "to-missing", "from-deleted", "to-deleted", "same"])
def test_transfer_accepts_a_job_or_refuses_at_once(client, tokens, conn, which):
    live = str(make_student()["id"])
    other = {"ok": lambda: str(make_student()["id"]), "missing": lambda: str(uuid.uuid4()),
             "deleted": lambda: str(make_student(deleted=True)["id"]),
             "same": lambda: live}[which.split("-")[-1]]()
    a, b = (other, live) if which.startswith("from") else (live, other)
    resp = client.simulate_post(f"/students/transfer-products/from/{a}/to/{b}",
                                headers=tokens.bearer(tokens.master()))
    assert resp.headers["deprecation"] == "true" and "link" not in resp.headers
    if which == "ok":
        assert resp.status_code == 202 and resp.headers["location"] == f"/jobs/{resp.json['id']}"
        assert (resp.json["type"], resp.json["params"]) == ("students.merge", {"from_student_id": a,
                                                                               "to_student_id": b})
    else:
        problem(resp, 422 if which == "same" else 404,
                "students.merge.same-student" if which == "same" else "students.not-found")
        assert Job.select().count() == 0


# -- reading -------------------------------------------------------------------------------------------------
def test_has_products(client, tokens, cat):
    sid = make_student()["id"]
    seen, headers = [], tokens.bearer(tokens.student(sid))
    for step in ({}, {"exams": [{"external_id": "1001"}]}, {"courses": [{"external_id": "3002"}]}, "delete"):
        if isinstance(step, dict) and step:
            attach(client, tokens, sid, step)
        elif step == "delete":
            StudentExam.update(deleted_at=utcnow()).where(StudentExam.student_id == sid).execute()
            StudentCourse.update(is_deleted=True).where(StudentCourse.student_id == sid).execute()
        seen.append(client.simulate_get("/students/has-products", headers=headers).json)
    assert seen == [{"has_courses": False, "has_exams": False}, {"has_courses": False, "has_exams": True},
                    {"has_courses": True, "has_exams": True}, {"has_courses": False, "has_exams": False}]


@pytest.fixture
def owner(client, tokens, cat) -> str:
    """A student with exams 1001 (Mar), 1002 (Jan), 1003 (Feb) standalone, and courses 3001 and 3002."""
    sid = str(make_student()["id"])
    resp = attach(client, tokens, sid, {
        "exams": [{"external_id": x, "external_created_at": f"2024-{m}-01T00:00:00Z"}
                  for x, m in (("1001", "03"), ("1002", "01"), ("1003", "02"))],
        "courses": [{"external_id": "3001"}, {"external_id": "3002", "end_date_id": SPRING}]})
    assert resp.status_code == 200, resp.text
    StudentExam.update(deleted_at=utcnow()).where(StudentExam.student_id == sid,
                                                  StudentExam.student_course_id.is_null(False)).execute()
    return sid


def listing(client, tokens, sid, kind: str, **params):
    return client.simulate_get(f"/students/{sid}/{kind}", params=params,
                               headers=tokens.bearer(tokens.manager()))


@pytest.mark.parametrize("params, expected", [
    ({}, ["1001", "1003", "1002"]),
    ({"limit[take]": "2"}, ["1001", "1003"]),
    ({"limit[take]": "2", "limit[page]": "2"}, ["1002"]),
    ({"limit[take]": "2", "limit[page]": "3"}, []),
    ({"order[by]": "created_at", "order[dir]": "asc"}, ["1002", "1003", "1001"]),
    ({"order[by]": "title", "order[dir]": "asc"}, ["1002", "1001", "1003"]),
    ({"order[by]": "title", "order[dir]": "desc"}, ["1003", "1001", "1002"]),
    ({"order[by]": "accessible_to", "order[dir]": "asc"}, ["1002", "1001", "1003"]),
    ({"order[by]": "accessible_to", "order[dir]": "desc"}, ["1003", "1001", "1002"]),
    ({"filter[status]": "scheduled"}, ["1001", "1003", "1002"]),
    ({"filter[status]": "completed"}, []),
])
def test_exam_list_order_and_filter(client, tokens, owner, params, expected):
    resp = listing(client, tokens, owner, "exams", **params)
    assert resp.status_code == 200, resp.text
    assert [e["external_id"] for e in resp.json["data"]] == expected
    take, total = int(params.get("limit[take]", 10)), 0 if params.get("filter[status]") == "completed" else 3
    assert resp.json["meta"] == {"recordsTotal": total, "pagesTotal": -(-total // take),
                                 "page": int(params.get("limit[page]", 1)), "take": take}


def test_course_and_book_lists(client, tokens, owner):
    StudentCourse.update(status="expired").where(StudentCourse.product_id == PID["3002"]).execute()
    by_title = {"order[by]": "title"}
    titles = {k: [r["title"] for r in listing(client, tokens, owner, k, **by_title).json["data"]]
              for k in ("courses", "books")}
    assert titles == {"courses": ["GRE Live Course", "GMAT On-Demand Course"],
                      "books": ["GMAT Official Guide"]}
    by_end = listing(client, tokens, owner, "courses", **{"order[by]": "accessible_to", "order[dir]": "asc"})
    assert [str(c["product_id"]) for c in by_end.json["data"]] == [PID["3002"], PID["3001"]]
    expired = listing(client, tokens, owner, "courses", **{"filter[status]": "expired"}).json
    assert [c["title"] for c in expired["data"]] == ["GRE Live Course"]
    assert expired["meta"]["recordsTotal"] == 1


@pytest.mark.parametrize("kind, params", [
    ("exams", {"order[by]": "email"}), ("courses", {"order[by]": "status"}),
    ("books", {"order[by]": "accessible_to"}), ("exams", {"order[dir]": "up"}),
    ("exams", {"filter[status]": "ongoing"}), ("courses", {"filter[status]": "completed"}),
    ("books", {"filter[status]": "scheduled"}), ("courses", {"limit[take]": "101"}),
    ("books", {"limit[take]": "0"}), ("exams", {"limit[page]": "0"}), ("exams", {"limit[page]": "x"}),
])
def test_list_bad_query_is_422(client, tokens, owner, kind, params):
    errors = problem(listing(client, tokens, owner, kind, **params), 422)["errors"]
    assert [e["field"] for e in errors] == list(params)


@pytest.mark.parametrize("method, kind, body", [
    *(("GET", k, None) for k in ("courses", "exams", "books", "classes")), ("POST", "attach-products", FREE),
    ("POST", "products", {"product_ids": [PID["1002"]]})])
def test_an_unknown_or_deleted_student_is_404(client, tokens, cat, method, kind, body):
    for sid in (uuid.uuid4(), make_student(deleted=True)["id"]):
        resp = client.simulate_request(method, f"/students/{sid}/{kind}", json=body,
                                       headers=tokens.bearer(tokens.manager()))
        problem(resp, 404, "students.not-found")


def classes(client, tokens, sid) -> list:
    resp = listing(client, tokens, sid, "classes")
    assert resp.status_code == 200, resp.text
    return resp.json["data"] if isinstance(resp.json, dict) else resp.json


def test_classes_list_the_end_dates_of_the_students_courses(client, tokens, owner):
    course = StudentCourse.get(StudentCourse.student_id == owner, StudentCourse.product_id == PID["3002"])
    assert classes(client, tokens, owner) == [{
        "id": SPRING, "course_id": PID["3002"], "end_date": "2027-05-31",
        "semester_name": "Spring 2027", "student_course_id": str(course.id)}]
    assert classes(client, tokens, make_student()["id"]) == []


def test_classes_answer_is_the_array_of_the_spec(client, tokens, owner):
    assert isinstance(listing(client, tokens, owner, "classes").json, list)
