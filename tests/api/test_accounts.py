"""SPEC §6.1-6.2 over HTTP: SSO sync, token refresh, shop account routes, external ids, profile edits."""
from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest

from models.ledger.tables import SaltyBucksLog
from models.products import catalogue
from models.products.tables import Product, StudentBook, StudentCourse, StudentExam
from models.students.tables import Student
from tests.factories import make_student, problem

SYNC, CREATE = "/students/sync-student", "/students/create-account"
UPSERT = "/students/upsert-with-external-id"
SHOP_EXT, EXISTS = "/students/external-id", "/students/email-exists"
ADMIN = {"id": "a1", "email": "boss@example.com", "role": "master_admin"}
PERSON = {"student_email": "sam@example.com", "student_name": "Sam", "student_phone": "+15550100"}
ACCOUNT = {"external_student_id": 501, "email": "shop.user@example.com", "name": "Shop User",
           "phone_number": "+15550200"}
INITIAL = [(100, "income", "initial_value")]
BIG = 2**63  # one beyond bigint


# -- helpers -------------------------------------------------------------------------------------------------


def invalid(resp, field: str, code: str | None = None) -> None:
    body = problem(resp, 422, code)
    assert any(e["field"] == field for e in body["errors"]), body


def server(client, tokens, kind: str, method: str, path: str, **claims):
    """One call with a fresh (single-use) server token carrying `claims` (a None claim is left out)."""
    token = tokens.server(kind, **{k: v for k, v in claims.items() if v is not None})
    return client.simulate_request(method, path, headers=tokens.proxy(token))


def sync(client, tokens, **claims):
    return server(client, tokens, "sso", "POST", SYNC, **{**PERSON, **claims})


def shop_account(client, tokens, path: str = CREATE, **claims):
    method = "POST" if path == CREATE else "PATCH"
    return server(client, tokens, "shop", method, path, **{**ACCOUNT, **claims})


def ext_by_email(client, tokens, email: str, external_id):
    return server(client, tokens, "shop", "PATCH", SHOP_EXT, email=email, external_student_id=external_id)


def as_master(client, tokens, path: str, body: dict):
    return client.simulate_patch(path, json=body, headers=tokens.bearer(tokens.master()))


def ledger(student_id) -> list[tuple]:
    return [(e.amount, e.operation_type, e.operation_subtype) for e in
            SaltyBucksLog.select().where(SaltyBucksLog.student == student_id).order_by(SaltyBucksLog.id)]


def claims_of(token: str, settings) -> dict:
    return jwt.decode(token, settings.app_key, algorithms=["HS256"])


@pytest.fixture
def products(conn) -> dict[str, str]:
    """The example catalogue; external id -> product id."""
    catalogue.load_file(catalogue.EXAMPLE)
    return {p.external_id: str(p.id) for p in Product.select()}


# -- guards: every route with every kind of caller -----------------------------------------------------------
ROUTES = [  # method, path, guard, body, claims: what the right caller needs for a 200
    ("POST", SYNC, "sso", None, {**PERSON, "student_email": "guard@example.com"}),
    ("POST", "/students/refresh-token", "student", None, None),
    ("POST", CREATE, "shop", None, {**ACCOUNT, "external_student_id": 79}),
    ("PATCH", UPSERT, "shop", None, {**ACCOUNT, "external_student_id": 80}),
    ("PATCH", SHOP_EXT, "shop", None, {"external_student_id": 78, "email": "guard@example.com"}),
    ("GET", EXISTS, "shop", None, {"email": "guard@example.com"}),
    ("PATCH", "/students/{id}/external-id", "master", {"external_id": 77}, None),
    ("PATCH", "/students/{id}/profile", "master", {"name": "Renamed"}, None),
    ("PATCH", "/students/username", "student", {"username": "guard_user"}, None),
    ("GET", "/students/profile", "student", None, None),
]
APP_CALLERS = {"student", "admin", "master"}


@pytest.mark.parametrize("caller", ["none", "student", "admin", "master", "shop", "sso"])
@pytest.mark.parametrize("method, path, guard, body, claims", ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
def test_guard(client, tokens, conn, method, path, guard, body, claims, caller):
    """SPEC §1: 401 without a token of the guard's key, 403 for a valid token of the wrong kind."""
    student = make_student(email="guard@example.com")
    headers = {
        "none": dict,
        "student": lambda: tokens.bearer(tokens.student(student["id"])),
        "admin": lambda: tokens.bearer(tokens.manager()),  # retail_admin with can_manage_students
        "master": lambda: tokens.bearer(tokens.master()),
        "shop": lambda: tokens.proxy(tokens.server("shop", **(claims or {}))),
        "sso": lambda: tokens.proxy(tokens.server("sso", **(claims or {}))),
    }[caller]()
    resp = client.simulate_request(method, path.format(id=student["id"]), headers=headers, json=body)
    if caller == guard:
        assert resp.status_code == 200, resp.text
        return
    status = 403 if caller in APP_CALLERS and guard in APP_CALLERS else 401
    problem(resp, status)
    assert (resp.headers.get("www-authenticate") == "Bearer") is (status == 401)


@pytest.mark.parametrize("state, code", [("inactive", "students.account-inactive"),
                                         ("deleted", "auth.student-not-found")])
@pytest.mark.parametrize("method, path, body", [("GET", "/students/profile", None),
                                                ("PATCH", "/students/username", {"username": "someone"}),
                                                ("POST", "/students/refresh-token", None)])
def test_inactive_or_deleted_students_token_is_refused(client, tokens, conn, method, path, body, state, code):
    student = make_student(**{"is_active": False} if state == "inactive" else {"deleted": True})
    headers = tokens.bearer(tokens.student(student["id"]))
    resp = client.simulate_request(method, path, json=body, headers=headers)
    problem(resp, 401, code)
    assert Student.get_by_id(student["id"]).username is None


# -- POST /students/sync-student -----------------------------------------------------------------------------
@pytest.mark.parametrize("preview", [None, ADMIN], ids=["plain", "preview"])
def test_sync_creates_an_account_with_its_starting_balance(client, tokens, settings, conn, preview):
    resp = sync(client, tokens, student_email=" New.User@Example.COM ", preview_admin=preview)
    assert resp.status_code == 200, resp.text
    body = resp.json
    assert set(body) == {"id", "name", "email", "token", "unknown_products"}
    assert (body["name"], body["email"], body["unknown_products"]) == ("Sam", "new.user@example.com", [])
    row = Student.get_by_id(body["id"])
    assert (row.salty_bucks_balance, row.login_count, row.video_bg_music_enabled) == (100, 1, False)
    assert row.logged_at is not None and row.phone_number == "+15550100" and ledger(row.id) == INITIAL
    claims = claims_of(body["token"], settings)
    assert (claims["sub"], claims["typ"], claims.get("preview_admin")) == (body["id"], "student", preview)
    profile = client.simulate_get("/students/profile", headers=tokens.bearer(body["token"]))
    assert profile.status_code == 200 and profile.json["id"] == body["id"]
    assert (profile.json["is_preview"], profile.json["preview_admin"]) == (preview is not None, preview)
    assert profile.json["is_impersonated"] is False


def test_sync_finds_the_existing_account_without_changing_it(client, tokens, conn):
    known = make_student(email="kept@example.com", name="Kept Name", phone_number="+1000")
    resp = sync(client, tokens, student_email="KEPT@example.com", student_name="Other", student_phone="+2")
    assert resp.status_code == 200, resp.text
    assert [resp.json[k] for k in ("id", "name", "email")] == [str(known["id"]), "Kept Name",
                                                              "kept@example.com"]
    row = Student.get_by_id(known["id"])
    assert (row.name, row.phone_number, row.email) == ("Kept Name", "+1000", "kept@example.com")
    assert Student.select().count() == 1 and ledger(known["id"]) == INITIAL


def test_sync_login_count_cycles_and_logged_at_advances(client, tokens, conn):
    rows = [Student.get_by_id(sync(client, tokens).json["id"]) for _ in range(4)]
    assert [r.login_count for r in rows] == [1, 2, 3, 1]
    stamps = [r.logged_at for r in rows]
    assert None not in stamps and stamps == sorted(stamps)


def test_sync_of_an_inactive_student_is_403(client, tokens, conn):
    student = make_student(email="off@example.com", is_active=False)
    problem(sync(client, tokens, student_email="off@example.com"), 403, "students.account-inactive")
    assert Student.get_by_id(student["id"]).login_count == 0


def test_sync_grants_products_and_awards_a_new_course_once(client, tokens, conn, products):
    first = sync(client, tokens, product_ids="1003,2001,1002", product_type="exam,book",  # 1002: exam
                 date_created="2024-01-02T03:04:05,2024-02-03", course_ids="3001",
                 course_transdate="2024-03-04")
    assert first.status_code == 200, first.text
    sid = first.json["id"]
    assert first.json["unknown_products"] == []
    row = Student.get_by_id(sid)
    assert (row.has_exams, row.has_books, row.has_courses, row.salty_bucks_balance) == (True, True, True, 150)
    exams = {(str(e.product_id), e.student_course_id is None)
             for e in StudentExam.select().where(StudentExam.student_id == sid)}
    assert exams == {(products["1003"], True), (products["1002"], True), (products["1001"], False)}
    standalone = StudentExam.get(StudentExam.student_id == sid, StudentExam.product_id == products["1003"])
    assert standalone.created_at == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    books = {(str(b.product_id), b.student_course_id is None)
             for b in StudentBook.select().where(StudentBook.student_id == sid)}
    assert books == {(products["2001"], True), (products["2001"], False)}  # standalone and with the course
    courses = StudentCourse.select().where(StudentCourse.student_id == sid)
    assert [str(c.product_id) for c in courses] == [products["3001"]]
    assert ledger(sid) == INITIAL + [(50, "income", "purchase_course")]

    again = sync(client, tokens, course_ids="3001")
    assert again.status_code == 200 and again.json["id"] == sid
    assert StudentCourse.select().where(StudentCourse.student_id == sid).count() == 1
    assert ledger(sid) == INITIAL + [(50, "income", "purchase_course")]
    assert Student.get_by_id(sid).salty_bucks_balance == 150


def test_sync_lists_unknown_products_without_failing(client, tokens, conn, products):
    resp = sync(client, tokens, product_ids="1001,9999,2001", product_type="exam,exam,widget",
                course_ids="8888")
    assert resp.status_code == 200, resp.text
    assert sorted(resp.json["unknown_products"]) == ["2001", "8888", "9999"]
    sid = resp.json["id"]
    granted = [str(e.product_id) for e in StudentExam.select().where(StudentExam.student_id == sid)]
    assert granted == [products["1001"]]
    row = Student.get_by_id(sid)
    assert (row.has_exams, row.has_books, row.has_courses) == (True, False, False)


# -- POST /students/refresh-token ----------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [{}, {"impersonated_by": ADMIN}, {"preview_admin": ADMIN}],
                         ids=["plain", "impersonated", "preview"])
def test_refresh_token(client, tokens, settings, conn, extra):
    student = make_student(external_id=55)
    old = tokens.student(student["id"], **extra)
    resp = client.simulate_post("/students/refresh-token", headers=tokens.bearer(old))
    assert resp.status_code == 200, resp.text
    body = resp.json
    token = body.pop("token")
    assert body == {"id": str(student["id"]), "name": student["name"], "email": student["email"],
                    "external_id": 55}
    claims = claims_of(token, settings)
    assert claims["sub"] == str(student["id"]) and claims["jti"] != claims_of(old, settings)["jti"]
    assert {k: claims.get(k) for k in ("impersonated_by", "preview_admin")} == {
        "impersonated_by": extra.get("impersonated_by"), "preview_admin": extra.get("preview_admin")}
    profile = client.simulate_get("/students/profile", headers=tokens.bearer(token)).json
    assert profile["is_impersonated"] is ("impersonated_by" in extra)
    assert profile["is_preview"] is ("preview_admin" in extra)


# -- shop: create-account and upsert-with-external-id --------------------------------------------------------
@pytest.mark.parametrize("path", [CREATE, UPSERT])
def test_shop_creates_an_account_with_the_external_id(client, tokens, conn, path):
    resp = shop_account(client, tokens, path, email=" Shop.User@Example.COM ")
    assert resp.status_code == 200, resp.text
    assert resp.json["created"] is True and set(resp.json) == {"id", "created"}
    row = Student.get_by_id(resp.json["id"])
    assert (row.external_id, row.email, row.name, row.salty_bucks_balance) == (
        501, "shop.user@example.com", "Shop User", 100)
    assert ledger(row.id) == INITIAL


@pytest.mark.parametrize("path", [CREATE, UPSERT])
def test_shop_updates_the_holder_of_the_external_id(client, tokens, conn, path):
    holder = make_student(external_id=501, email="old@example.com", name="Old")
    resp = shop_account(client, tokens, path, email="NEW@example.com", name="New", phone_number="+9")
    assert resp.status_code == 200, resp.text
    assert resp.json == {"id": str(holder["id"]), "created": False}
    row = Student.get_by_id(holder["id"])
    assert (row.email, row.name, row.phone_number) == ("new@example.com", "New", "+9")
    assert Student.select().count() == 1 and ledger(holder["id"]) == INITIAL


@pytest.mark.parametrize("path", [CREATE, UPSERT])
@pytest.mark.parametrize("holder", [True, False], ids=["holder-exists", "new-external-id"])
def test_shop_email_of_another_student_is_409(client, tokens, conn, path, holder):
    make_student(email="taken@example.com")
    if holder:
        make_student(external_id=501, email="holder@example.com", name="Holder")
    resp = shop_account(client, tokens, path, email="TAKEN@example.com")
    problem(resp, 409, "students.email.already-exists")
    assert Student.select().count() == 1 + holder
    assert not Student.select().where(Student.name == "Shop User").exists()


@pytest.mark.parametrize("route", ["sync", "shop"])
def test_a_deleted_students_email_is_free_for_a_new_account(client, tokens, conn, route):
    gone = make_student(email="again@example.com", deleted=True)
    call = sync if route == "sync" else shop_account
    resp = call(client, tokens, **{"student_email" if route == "sync" else "email": "again@example.com"})
    assert resp.status_code == 200 and resp.json["id"] != str(gone["id"])
    assert Student.select().where(Student.deleted_at.is_null()).count() == 1


# -- PATCH /students/external-id (shop) ----------------------------------------------------------------------
def test_shop_sets_the_external_id_once_and_refuses_conflicts(client, tokens, conn):
    student = make_student(email="ext@example.com")
    for _ in range(2):
        resp = ext_by_email(client, tokens, "EXT@example.com", 601)
        assert resp.status_code == 200, resp.text
        assert resp.json == {"id": str(student["id"]), "external_id": 601}
    assert Student.get_by_id(student["id"]).external_id == 601
    make_student(email="has@example.com", external_id=602)
    make_student(email="free@example.com")
    make_student(email="gone@example.com", deleted=True)
    problem(ext_by_email(client, tokens, "nobody@example.com", 603), 404, "students.not-found")
    problem(ext_by_email(client, tokens, "gone@example.com", 603), 404, "students.not-found")
    for email, external_id, code in [("has@example.com", 603, "students.external-id.already-assigned"),
                                     ("free@example.com", 602, "students.external-id.already-exists")]:
        problem(ext_by_email(client, tokens, email, external_id), 409, code)
    assert Student.get(Student.email == "free@example.com").external_id is None


# -- GET /students/email-exists (shop) -----------------------------------------------------------------------
@pytest.mark.parametrize("email, exists", [("here@example.com", True), ("HERE@Example.COM", True),
                                           ("nobody@example.com", False), ("gone@example.com", False)])
def test_email_exists(client, tokens, conn, email, exists):
    make_student(email="here@example.com")
    make_student(email="gone@example.com", deleted=True)
    resp = server(client, tokens, "shop", "GET", EXISTS, email=email)
    assert resp.status_code == 200 and resp.json == {"email_exists": exists}


# -- claims of server tokens (SSO and shop) ------------------------------------------------------------------
A = {"email": "a@example.com"}


@pytest.mark.parametrize("kind, method, path, claims, field", [
    ("sso", "POST", SYNC, {**PERSON, "student_email": "not-an-email"}, "student_email"),
    ("sso", "POST", SYNC, {**PERSON, "student_name": None}, "student_name"),
    ("sso", "POST", SYNC, {**PERSON, "student_phone": 5550100}, "student_phone"),
    ("sso", "POST", SYNC, {**PERSON, "product_ids": [1001]}, "product_ids"),
    ("sso", "POST", SYNC, {**PERSON, "preview_admin": "boss"}, "preview_admin"),
    ("shop", "POST", CREATE, {**ACCOUNT, "external_student_id": "501"}, "external_student_id"),
    ("shop", "PATCH", UPSERT, {**ACCOUNT, "external_student_id": 5.5}, "external_student_id"),
    ("shop", "POST", CREATE, {**ACCOUNT, "email": None}, "email"),
    ("shop", "PATCH", UPSERT, {**ACCOUNT, "email": "nope"}, "email"),
    ("shop", "POST", CREATE, {**ACCOUNT, "name": 7}, "name"),
    ("shop", "PATCH", SHOP_EXT, {**A, "external_student_id": "6"}, "external_student_id"),
    ("shop", "PATCH", SHOP_EXT, A, "external_student_id"),
    pytest.param("shop", "PATCH", SHOP_EXT, {**A, "external_student_id": BIG}, "external_student_id"),
    pytest.param("shop", "POST", CREATE, {**ACCOUNT, "external_student_id": BIG}, "external_student_id"),
    ("shop", "GET", EXISTS, {"mail": A["email"]}, "email"),
])
def test_invalid_claims_are_422(client, tokens, conn, kind, method, path, claims, field):
    make_student(**A)
    invalid(server(client, tokens, kind, method, path, **claims), field)
    assert Student.select().count() == 1 and Student.get().external_id is None


# -- PATCH /students/{id}/external-id (master) ---------------------------------------------------------------
def test_master_sets_clears_and_conflicts_on_external_id(client, tokens, conn):
    student = make_student()
    make_student(external_id=702)
    path = f"/students/{student['id']}/external-id"
    resp = as_master(client, tokens, path, {"external_id": 701})
    assert resp.status_code == 200, resp.text
    assert resp.json["external_id"] == 701 and "admin_note" in resp.json
    assert as_master(client, tokens, path, {"external_id": None}).json["external_id"] is None
    problem(as_master(client, tokens, path, {"external_id": 702}), 409, "students.external-id.already-exists")
    assert Student.get_by_id(student["id"]).external_id is None
    problem(as_master(client, tokens, f"/students/{uuid.uuid4()}/external-id", {"external_id": 703}), 404,
            "students.not-found")
    resp = client.simulate_patch(path, json={"external_id": 704}, headers=tokens.bearer(tokens.admin("igor")))
    problem(resp, 403, "auth.master-only")


# -- PATCH /students/{id}/profile (master); validation of both master routes ---------------------------------
def test_master_profile_edit_is_partial_and_lowercases_email(client, tokens, conn):
    student = make_student(name="Old Name", phone_number="+1000", email="old@example.com", username="olduser")
    path = f"/students/{student['id']}/profile"
    resp = as_master(client, tokens, path, {"phone_number": "+2000"})
    assert resp.status_code == 200, resp.text
    assert [resp.json[k] for k in ("name", "phone_number", "email")] == ["Old Name", "+2000",
                                                                        "old@example.com"]
    resp = as_master(client, tokens, path, {"email": " New.Mail@Example.COM ", "username": "New_User"})
    assert [resp.json[k] for k in ("email", "username", "name")] == ["new.mail@example.com", "New_User",
                                                                    "Old Name"]
    assert Student.get_by_id(student["id"]).email == "new.mail@example.com"


def test_master_profile_edit_is_all_or_nothing(client, tokens, conn):
    make_student(email="taken@example.com", username="Taken")
    student = make_student(name="Keep")
    path = f"/students/{student['id']}/profile"
    problem(as_master(client, tokens, path, {"name": "Changed", "email": "TAKEN@example.com"}), 409,
            "students.email.already-exists")
    problem(as_master(client, tokens, path, {"name": "Changed", "username": "TAKEN"}), 409,
            "students.username.already-exists")
    invalid(as_master(client, tokens, path, {"name": "Changed", "username": "a b"}), "username",
            "students.invalid-username")
    row = Student.get_by_id(student["id"])
    assert (row.name, row.email, row.username) == ("Keep", student["email"], None)
    missing = as_master(client, tokens, f"/students/{uuid.uuid4()}/profile", {"name": "X"})
    problem(missing, 404, "students.not-found")


@pytest.mark.parametrize("route, body, field, code", [
    ("profile", {"is_active": False}, "is_active", "request.invalid"),
    ("profile", {"email": "not-an-email"}, "email", "students.invalid-email"),
    ("profile", {"username": "ab"}, "username", "students.invalid-username"),
    ("profile", {"name": 5}, "name", "request.invalid"),
    ("profile", {"external_id": "5"}, "external_id", "request.invalid"),
    ("external-id", {"external_id": "701"}, "external_id", "request.invalid"),
    ("external-id", {}, "external_id", "request.invalid"),
    ("external-id", {"external_id": 1, "name": "x"}, "name", "request.invalid"),
    pytest.param("external-id", {"external_id": BIG}, "external_id", None),
    pytest.param("profile", {"external_id": BIG}, "external_id", None),
    *(pytest.param("profile", {f: None}, f, None) for f in ("name", "phone_number", "email")),
])
def test_master_routes_validation(client, tokens, conn, route, body, field, code):
    student = make_student()
    invalid(as_master(client, tokens, f"/students/{student['id']}/{route}", body), field, code)
    assert Student.get_by_id(student["id"]).external_id is None


# -- PATCH /students/username (student) ----------------------------------------------------------------------
def test_student_sets_username_unless_taken_case_insensitively(client, tokens, conn):
    make_student(username="Taken")
    student = make_student()
    headers = tokens.bearer(tokens.student(student["id"]))
    resp = client.simulate_patch("/students/username", json={"username": "Sam.Lee-1"}, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json["username"] == "Sam.Lee-1" and "admin_note" not in resp.json
    problem(client.simulate_patch("/students/username", json={"username": "tAKEN"}, headers=headers), 409,
            "students.username.already-exists")
    assert Student.get_by_id(student["id"]).username == "Sam.Lee-1"


@pytest.mark.parametrize("body, code", [
    ({"username": "ab"}, "students.invalid-username"), ({"username": "a b"}, "students.invalid-username"),
    ({"username": "x" * 31}, "students.invalid-username"), ({"username": "émi"}, "students.invalid-username"),
    ({"username": 123}, "request.invalid"), ({}, "request.invalid"),
    ({"username": "valid_name", "email": "x@example.com"}, "request.invalid"),
])
def test_student_username_validation(client, tokens, conn, body, code):
    student = make_student()
    headers = tokens.bearer(tokens.student(student["id"]))
    resp = client.simulate_patch("/students/username", json=body, headers=headers)
    assert problem(resp, 422, code)["errors"]
    assert Student.get_by_id(student["id"]).username is None


# -- concurrency (SPEC acceptance) ---------------------------------------------------------------------------
def race(n: int, call) -> list:
    """Run `call(i)` for i in range(n) in `n` threads released together; the responses in order."""
    barrier = threading.Barrier(n)

    def run(i: int):
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def test_concurrent_create_account_with_the_same_external_id(client, tokens, conn):
    claims = {**ACCOUNT, "external_student_id": 900}
    headers = [tokens.proxy(tokens.server("shop", **claims)) for _ in range(8)]
    statuses = [r.status_code for r in race(8, lambda i: client.simulate_post(CREATE, headers=headers[i]))]
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses
    rows = list(Student.select().where(Student.external_id == 900))
    assert len(rows) == 1 and Student.select().count() == 1 and ledger(rows[0].id) == INITIAL


def test_concurrent_syncs_with_the_same_new_email(client, tokens, conn):
    headers = [tokens.proxy(tokens.server("sso", **PERSON)) for _ in range(6)]
    responses = race(6, lambda i: client.simulate_post(SYNC, headers=headers[i]))
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    assert Student.select().count() == 1 and len({r.json["id"] for r in responses}) == 1
    row = Student.get()
    assert ledger(row.id) == INITIAL
    assert row.login_count == 3  # six logins: 1, 2, 3, 1, 2, 3
