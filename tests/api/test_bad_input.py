"""Malformed and hostile input at the HTTP edge: each refusal is problem+json with a stable code, not 500."""
from __future__ import annotations

import base64
import uuid

import falcon
import falcon.testing
import orjson
import pytest

from api import errors
from tests.factories import make_student

PROBLEM = "application/problem+json"
JOB_ID = "00000000-0000-4000-8000-000000000000"


def assert_problem(resp, status: int, code: str | None = None) -> dict:
    """`resp` is a problem+json answer with `status` (and `code`), a request id and no traceback."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM
    assert "Traceback" not in resp.text
    assert resp.headers.get("x-request-id")
    body = resp.json
    assert {"type", "title", "status", "detail", "code"} <= body.keys(), body
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture
def master(tokens):
    return tokens.bearer(tokens.master())


@pytest.fixture
def manager(tokens):
    return tokens.bearer(tokens.manager())


def post_raw(client, path, body: bytes, headers: dict, content_type: str = "application/json", method="POST"):
    return client.simulate_request(method, path, body=body, headers={**headers, "Content-Type": content_type})


# -- body: syntax, shape, types, unknown fields --------------------------------------------------------------

@pytest.mark.parametrize("raw", [b'{"a":', b"{", b"[1, 2", b"nope", b'{"student_email": "x",}', b"\xff\xfe"])
def test_malformed_json_is_400(client, master, raw):
    body = assert_problem(post_raw(client, "/students", raw, master), 400, "request.malformed-json")
    assert body["title"] == "Bad Request"


def test_malformed_json_on_patch_is_400(client, manager):
    resp = post_raw(client, "/students/delete", b'{"ids": [', manager, method="PATCH")
    assert_problem(resp, 400, "request.malformed-json")


@pytest.mark.parametrize("raw", [b"[]", b'[{"student_email": "a@b.c"}]', b'"a string"', b"42", b"3.5",
                                 b"true", b"null"])
def test_non_object_body_is_422(client, master, manager, raw):
    for method, path, headers in (("POST", "/students", master), ("PATCH", "/students/delete", manager)):
        body = assert_problem(post_raw(client, path, raw, headers, method=method), 422, "request.invalid")
        assert body["errors"] and all({"field", "message"} <= e.keys() for e in body["errors"]), body


_OK = {"student_email": "a@b.co", "student_name": "A", "student_phone": "1"}


@pytest.mark.parametrize("payload, field", [
    ({**_OK, "student_email": 1}, "student_email"), ({**_OK, "student_name": ["A"]}, "student_name"),
    ({**_OK, "student_phone": {"n": 1}}, "student_phone"), ({**_OK, "external_id": 1.5}, "external_id"),
    ({**_OK, "username": 7}, "username"), ({**_OK, "student_email": None}, "student_email"),
])
def test_wrong_types_on_create_name_the_field(client, master, payload, field):
    resp = client.simulate_post("/students", json=payload, headers=master)
    body = assert_problem(resp, 422, "request.invalid")
    assert any(e["field"] == field for e in body["errors"]), body


@pytest.mark.parametrize("payload, field", [({"ids": 5}, "ids"), ({"ids": [1]}, "ids.0"),
                                            ({"ids": None}, "ids"), ({"ids": [JOB_ID, "x"]}, "ids.1")])
def test_wrong_types_on_delete_name_the_field(client, manager, payload, field):
    resp = client.simulate_patch("/students/delete", json=payload, headers=manager)
    body = assert_problem(resp, 422, "request.invalid")
    assert any(e["field"] == field for e in body["errors"]), body


def test_unknown_fields_are_422_and_nothing_is_written(client, master, conn):
    from models.students.tables import Student

    payload = {"student_email": "u@example.com", "student_name": "U", "student_phone": "1",
               "salty_bucks_balance": 10 ** 6, "admin_note": "x"}
    body = assert_problem(client.simulate_post("/students", json=payload, headers=master), 422)
    unknown = {e["field"] for e in body["errors"] if e["message"] == "unknown field"}
    assert unknown == {"salty_bucks_balance", "admin_note"}
    assert Student.select().count() == 0


def test_unknown_field_on_delete(client, manager, conn):
    student = make_student()
    resp = client.simulate_patch("/students/delete", json={"ids": [str(student["id"])], "hard": True},
                                 headers=manager)
    body = assert_problem(resp, 422)
    assert {"field": "hard", "message": "unknown field"} in body["errors"]


# -- size and media type -------------------------------------------------------------------------------------

def test_declared_content_length_over_1_mib_is_413(client, master):
    headers = {**master, "Content-Type": "application/json", "Content-Length": str(1024 * 1024 + 1)}
    resp = client.simulate_post("/students", body=b"{}", headers=headers)
    assert_problem(resp, 413, "request.too-large")


@pytest.mark.parametrize("path, method", [("/students", "POST"), ("/students/delete", "PATCH")])
def test_large_body_is_413(client, master, path, method):
    big = orjson.dumps({"student_name": "x" * (1024 * 1024)})
    assert_problem(post_raw(client, path, big, master, method=method), 413, "request.too-large")


def test_body_of_exactly_1_mib_is_not_refused_for_size(client, master):
    raw = b'{"student_name": "' + b"x" * (1024 * 1024 - 20) + b'"}'
    raw += b" " * (1024 * 1024 - len(raw))
    assert len(raw) == 1024 * 1024
    resp = post_raw(client, "/students", raw, master)
    assert_problem(resp, 422)


def test_large_body_is_refused_before_authentication(client):
    big = b"[" + b"1," * 600_000 + b"1]"
    assert_problem(post_raw(client, "/students", big, {}), 413, "request.too-large")


def test_deeply_nested_json_is_refused_not_500(client, master):
    resp = post_raw(client, "/students", b"[" * 5000 + b"]" * 5000, master)
    assert_problem(resp, resp.status_code)
    assert resp.status_code in (400, 422)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "text/xml"])
def test_wrong_content_type_is_415(client, master, content_type):
    resp = post_raw(client, "/students", b'{"student_email": "a@b.co"}', master, content_type=content_type)
    assert_problem(resp, 415, "request.unsupported-media-type")


def test_json_with_charset_and_plus_json_suffix_are_accepted(client, master):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        resp = post_raw(client, "/students", b'{"bogus": 1}', master, content_type=content_type)
        assert_problem(resp, 422)


def test_guard_runs_before_body_checks(client, tokens):
    assert_problem(post_raw(client, "/students", b'{"a":', {}), 401)
    not_master = tokens.bearer(tokens.admin("retail_admin"))
    assert_problem(post_raw(client, "/students", b"x", not_master, content_type="text/plain"), 403)


# -- paths, routes, methods ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("GET", "/students/xyz/profile"), ("GET", "/students/123/profile"), ("GET", "/jobs/123"),
    ("GET", "/jobs/not-a-uuid/result"), ("POST", "/jobs/123/cancel"), ("GET", f"/jobs/{JOB_ID[:-1]}"),
    ("GET", "/jobs/%00"), ("GET", "/students/'; DROP TABLE students;--/profile"),
])
def test_non_uuid_path_ids_are_404_problem(client, tokens, method, path):
    resp = client.simulate_request(method, path, headers=tokens.bearer(tokens.master()))
    assert_problem(resp, 404, "route.not-found")


@pytest.mark.parametrize("path", ["/nope", "/students/profile/extra", "/jobs/" + JOB_ID + "/nope", "/"])
def test_unknown_route_is_404_problem(client, path):
    assert_problem(client.simulate_get(path), 404, "route.not-found")


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/students/profile", "GET"), ("PUT", "/students", "POST"),
    ("GET", "/students/delete", "PATCH"), ("POST", "/jobs", "GET"), ("GET", f"/jobs/{JOB_ID}/cancel", "POST"),
    ("PATCH", "/healthz", "GET"),
])
def test_wrong_method_is_405_with_allow(client, method, path, allowed):
    resp = client.simulate_request(method, path)
    assert_problem(resp, 405, "route.method-not-allowed")
    assert allowed in [m.strip() for m in resp.headers["allow"].split(",")]


# -- request ids ---------------------------------------------------------------------------------------------

def test_every_response_has_a_request_id(client, master):
    for resp in (client.simulate_get("/healthz"), client.simulate_get("/nope"),
                 post_raw(client, "/students", b'{"a":', master)):
        rid = resp.headers.get("x-request-id")
        assert rid and len(rid) <= 128


def test_sane_client_request_id_is_echoed(client, master):
    for rid in ("abc-123", "A.b_c-1", "x" * 128):
        assert client.simulate_get("/healthz", headers={"X-Request-Id": rid}).headers["x-request-id"] == rid
    resp = post_raw(client, "/students", b'{"a":', {**master, "X-Request-Id": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"


@pytest.mark.parametrize("rid", ["x" * 300, "x" * 129, "has spaces", "new\tline", "<script>", "a/b", "ü"])
def test_absurd_client_request_id_is_replaced(client, rid):
    resp = client.simulate_get("/healthz", headers={"X-Request-Id": rid})
    got = resp.headers["x-request-id"]
    assert got != rid and len(got) == 32 and int(got, 16) >= 0


def test_generated_request_ids_differ(client):
    assert len({client.simulate_get("/healthz").headers["x-request-id"] for _ in range(3)}) == 3


# -- list queries --------------------------------------------------------------------------------------------

def _cursor(values) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


@pytest.mark.parametrize("query, field", [
    ("limit%5Btake%5D=0", "limit[take]"), ("limit%5Btake%5D=101", "limit[take]"),
    ("limit%5Btake%5D=abc", "limit[take]"), ("limit%5Btake%5D=-1", "limit[take]"),
    ("limit%5Btake%5D=1.5", "limit[take]"), ("limit%5Btake%5D=", "limit[take]"),
    ("limit%5Btake%5D=%C2%B2", "limit[take]"),
    ("filter%5Bstatus%5D=bogus", "filter[status]"), ("filter%5Bstatus%5D=QUEUED", "filter[status]"),
    ("cursor=%21%21%21", "cursor"), ("cursor=bm9wZQ", "cursor"), ("cursor=" + _cursor(["a"]), "cursor"),
    ("cursor=" + _cursor([1, 2]), "cursor"), ("cursor=" + _cursor({"a": "b"}), "cursor"),
    ("cursor=" + _cursor(["not-a-date", JOB_ID]), "cursor"),
    ("cursor=" + _cursor(["2024-01-01T00:00:00+00:00", "nope"]), "cursor"),
])
def test_bad_job_list_query_is_422(client, tokens, query, field):
    resp = client.simulate_get("/jobs", query_string=query, headers=tokens.bearer(tokens.master()))
    body = assert_problem(resp, 422)
    assert any(e["field"] == field for e in body["errors"]), body


def test_good_job_list_query_still_works(client, tokens):
    resp = client.simulate_get("/jobs", params={"limit[take]": "100", "filter[status]": "queued"},
                               headers=tokens.bearer(tokens.master()))
    assert resp.status_code == 200, resp.text
    assert resp.json == {"data": [], "meta": {"take": 100, "next_cursor": None}}


# -- unexpected failures -------------------------------------------------------------------------------------

class _Boom:
    def on_get(self, req, resp):
        raise RuntimeError("secret database password is hunter2")

    def on_post(self, req, resp):
        raise KeyError("internal-key")


def test_unexpected_exception_is_500_problem_without_details_but_logged(caplog):
    app = falcon.App()
    errors.register(app)
    app.add_route("/boom", _Boom())
    client = falcon.testing.TestClient(app)
    with caplog.at_level("ERROR", logger="api.errors"):
        for resp in (client.simulate_get("/boom"), client.simulate_post("/boom")):
            assert resp.status_code == 500
            assert resp.headers["content-type"] == PROBLEM
            assert resp.json == {"type": "about:blank", "title": "Internal Server Error", "status": 500,
                                 "detail": "An unexpected error occurred.", "code": "internal-error"}
            for leak in ("Traceback", "hunter2", "RuntimeError", "internal-key", "KeyError"):
                assert leak not in resp.text
    logged = [r.exc_info[0] for r in caplog.records if r.name == "api.errors" and r.exc_info]
    assert logged == [RuntimeError, KeyError]


def test_500_inside_the_service_is_problem_json_with_the_request_id(client, master, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("hunter2")

    monkeypatch.setattr("models.jobs.ops.list_jobs", boom)
    resp = client.simulate_get("/jobs", headers={**master, "X-Request-Id": "abc-123"})
    assert_problem(resp, 500, "internal-error")
    assert resp.headers["x-request-id"] == "abc-123" and "hunter2" not in resp.text


def test_http_errors_raised_in_a_responder_keep_their_status():
    class Teapot:
        def on_get(self, req, resp):
            raise falcon.HTTPError(falcon.HTTP_418)

    app = falcon.App()
    errors.register(app)
    app.add_route("/tea", Teapot())
    client = falcon.testing.TestClient(app)
    resp = client.simulate_get("/tea")
    assert resp.status_code == 418 and resp.json["code"] == "http.418"
    assert client.simulate_get(f"/{uuid.uuid4()}").json["code"] == "route.not-found"


def test_nul_characters_are_422_not_500(client, tokens):
    headers = tokens.bearer(tokens.master())
    resp = client.simulate_get("/students", query_string="filter%5Bsearch%5D=a%00b", headers=headers)
    assert resp.status_code == 422 and resp.headers["content-type"] == "application/problem+json"
    body = {"student_email": "nul@example.com", "student_name": "a\u0000b", "student_phone": "1"}
    resp = client.simulate_post("/students", json=body, headers=headers)
    assert resp.status_code == 422 and "NUL" in resp.json["detail"]
